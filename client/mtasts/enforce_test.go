package mtasts_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/client/mtasts"
	"github.com/smtpkit/smtp/internal/dnsstub/dnstest"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// TestPolicyTLSConfig: under a policy the MX's certificate must chain to
// a trusted root, be current and name the MX host (RFC 8461 4.2), checked
// over a real handshake.
func TestPolicyTLSConfig(t *testing.T) {
	ca := smtptest.NewCA(t, "Root")
	p, err := mtasts.ParsePolicy([]byte(policyText))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cert tls.Certificate
		ok   bool
	}{
		{"Matching", ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"mx.example.com"}}).TLS, true},
		{"OtherName", ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"mx.example.org"}}).TLS, false},
		{"Expired", ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"mx.example.com"},
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}).TLS, false},
		{"SelfSigned", smtptest.SelfSigned(t, smtptest.CertOptions{DNSNames: []string{"mx.example.com"}}).TLS, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The base configuration's roots are kept; InsecureSkipVerify
			// in it is overridden.
			base := &tls.Config{RootCAs: ca.Pool, InsecureSkipVerify: true}
			err := smtptest.Handshake(t, tc.cert, p.TLSConfig(base, "mx.example.com."))
			if (err == nil) != tc.ok {
				t.Fatalf("handshake: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestWithDNSResolver: the TXT record comes through the DNS stub of
// package dane and the fake resolver, as a relay would set it up.
func TestWithDNSResolver(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddTXT("_mta-sts.example.com", "v=STSv1; ", "id=20260101T000000;")
	ps := newPolicyServer(t, wildcardCert(t))
	ps.serve("mta-sts.example.com", text(policyText))
	r := &mtasts.Resolver{TXT: &dane.Resolver{Server: srv.Addr}, HTTPClient: ps.client()}
	res := r.Lookup(context.Background(), "example.com")
	if !res.Enforce() || res.ID != "20260101T000000" || res.Err != nil {
		t.Fatalf("%+v", res)
	}
	// No record at all: no policy, nothing to report.
	res = r.Lookup(context.Background(), "example.org")
	if res.Policy != nil || res.Err != nil {
		t.Fatalf("%+v", res)
	}
}
