package mtasts_test

import (
	"context"
	"fmt"

	"github.com/smtpkit/smtp/client/mtasts"
)

func ExampleParsePolicy() {
	p, err := mtasts.ParsePolicy([]byte("version: STSv1\nmode: enforce\nmx: *.mail.example.com\nmax_age: 604800\n"))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Mode, p.MaxAge, p.Match("mx1.mail.example.com"), p.Match("mail.example.com"))
	// Output: enforce 168h0m0s true false
}

func ExampleResolver_Lookup() {
	r := &mtasts.Resolver{
		// A relay keeps policies on disk across restarts (RFC 8461 10.2):
		// Store: &mtasts.FileStore{Dir: "/var/spool/relay/mta-sts"},
		// TXT: &dane.Resolver{Server: "127.0.0.1:53"},
	}
	res := r.Lookup(context.Background(), "example.com")
	switch {
	case res.Enforce():
		// Deliver only to MX hosts with res.Policy.Match(host), over TLS
		// with res.Policy.TLSConfig(base, host); otherwise defer.
	case res.Testing():
		// Deliver as usual; report failures (TLS-RPT).
	}
	if res.Err != nil {
		// Count the failure for the domain's TLS report.
	}
}
