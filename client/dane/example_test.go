package dane_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/server/smtptest"
)

// Deciding DANE for an MX host needs a DNSSEC-validating resolver the host
// trusts (this Example is not run: it needs one on 127.0.0.1:53).
func ExampleResolver_Host() {
	r := &dane.Resolver{Server: "127.0.0.1:53"}
	// mxSecure: the MX lookup (r.LookupMXSecure) was secure.
	p, err := r.Host(context.Background(), "mx.example.com", 25, true)
	if err != nil {
		fmt.Println("defer:", err)
		return
	}
	fmt.Println(p.Mode, p.RequireTLS(), len(p.Records))
	// Dial, STARTTLS with p.TLSConfig(nil); without STARTTLS or on a
	// failed handshake, report p.Err(err) and try the next MX or defer.
}

// Verify matches the chain a server presented against its TLSA records
// (RFC 7672 3). A DANE-EE record pins the server's own key: the names and
// dates of the certificate do not matter.
func ExampleVerify() {
	cert, err := smtptest.NewCertificate() // the MX's certificate, for "localhost"
	if err != nil {
		panic(err)
	}
	tlsa := dane.Record(dane.UsageDANEEE, dane.SelectorSPKI, dane.MatchSHA256, cert.Leaf)
	names := []string{"mx.example.com"}

	err = dane.Verify([]dane.TLSA{tlsa}, []*x509.Certificate{cert.Leaf}, names, time.Now())
	fmt.Println(err)

	// Another key: the mail must wait, and the failure is reported.
	other, err := smtptest.NewCertificate()
	if err != nil {
		panic(err)
	}
	err = dane.Verify([]dane.TLSA{tlsa}, []*x509.Certificate{other.Leaf}, names, time.Now())
	var ve *dane.VerifyError
	fmt.Println(errors.As(err, &ve))
	// Output:
	// <nil>
	// true
}
