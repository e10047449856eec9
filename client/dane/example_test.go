package dane_test

import (
	"context"
	"fmt"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/internal/dnsstub/dnstest"
	"github.com/smtpkit/smtp/internal/smtptest"
)

func ExampleResolver_Host() {
	// A fake validating resolver stands in for the one on 127.0.0.1:53.
	srv, err := dnstest.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	cert, err := smtptest.NewCertificate() // the MX's certificate, for "localhost"
	if err != nil {
		panic(err)
	}
	srv.AddA("mx.example.com", "192.0.2.25")
	tlsa := dane.Record(dane.UsageDANEEE, dane.SelectorSPKI, dane.MatchSHA256, cert.Leaf)
	srv.AddTLSA("_25._tcp.mx.example.com", tlsa.Usage, tlsa.Selector, tlsa.MatchingType, tlsa.Data)

	r := &dane.Resolver{Server: srv.Addr}
	// mxSecure: the MX lookup (r.LookupMXSecure) was secure.
	var p *dane.HostPolicy
	p, err = r.Host(context.Background(), "mx.example.com", 25, true)
	if err != nil {
		fmt.Println("defer:", err)
		return
	}
	fmt.Println(p.Mode, p.RequireTLS(), len(p.Records))
	// Dial, STARTTLS with p.TLSConfig(nil); without STARTTLS or on a
	// failed handshake, report p.Err(err) and try the next MX or defer.
	// Output: authenticate true 1
}
