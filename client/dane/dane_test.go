package dane_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/internal/dnsstub/dnstest"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// TestVerifyRFC7672 is the matching of RFC 7672 3 and RFC 6698 2.1, over a
// real TLS handshake with the policy's tls.Config: DANE-EE ignores names
// and dates, DANE-TA checks both, PKIX usages are unusable, the trust
// anchor must be in the chain above the leaf.
func TestVerifyRFC7672(t *testing.T) {
	const mx = "mx.example.com"
	root := smtptest.NewCA(t, "Root")
	inter := root.Intermediate(t, "Intermediate")
	good := inter.Issue(t, smtptest.CertOptions{DNSNames: []string{mx}})
	wrongName := inter.Issue(t, smtptest.CertOptions{DNSNames: []string{"other.example.net"}})
	expired := inter.Issue(t, smtptest.CertOptions{DNSNames: []string{mx},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	wildcard := inter.Issue(t, smtptest.CertOptions{DNSNames: []string{"*.example.com"}})
	selfSigned := smtptest.SelfSigned(t, smtptest.CertOptions{DNSNames: []string{"nothing.invalid"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	other := smtptest.SelfSigned(t, smtptest.CertOptions{DNSNames: []string{mx}})
	leafOnly := good.TLS
	leafOnly.Certificate = leafOnly.Certificate[:1]

	rec := dane.Record
	cases := []struct {
		name    string
		cert    tls.Certificate
		records []dane.TLSA
		result  string // "" for success, else the RFC 8460 result type
	}{
		{"EE-SPKI-SHA256", good.TLS, []dane.TLSA{rec(3, 1, 1, good.Leaf)}, ""},
		{"EE-Cert-SHA256", good.TLS, []dane.TLSA{rec(3, 0, 1, good.Leaf)}, ""},
		{"EE-SPKI-SHA512", good.TLS, []dane.TLSA{rec(3, 1, 2, good.Leaf)}, ""},
		{"EE-Cert-Full", good.TLS, []dane.TLSA{rec(3, 0, 0, good.Leaf)}, ""},
		{"EE-IgnoresNameAndExpiry", selfSigned.TLS, []dane.TLSA{rec(3, 1, 1, selfSigned.Leaf)}, ""},
		{"EE-WrongKey", other.TLS, []dane.TLSA{rec(3, 1, 1, good.Leaf)}, dane.ResultValidationFailure},
		{"EE-OneOfSeveral", good.TLS, []dane.TLSA{rec(3, 1, 1, other.Leaf), rec(3, 1, 1, good.Leaf)}, ""},
		{"TA-Intermediate", good.TLS, []dane.TLSA{rec(2, 0, 1, inter.Cert)}, ""},
		{"TA-Root", good.TLS, []dane.TLSA{rec(2, 1, 1, root.Cert)}, ""},
		{"TA-Wildcard", wildcard.TLS, []dane.TLSA{rec(2, 0, 1, inter.Cert)}, ""},
		{"TA-WrongName", wrongName.TLS, []dane.TLSA{rec(2, 0, 1, inter.Cert)}, dane.ResultHostMismatch},
		{"TA-Expired", expired.TLS, []dane.TLSA{rec(2, 0, 1, inter.Cert)}, dane.ResultExpired},
		{"TA-NotSentByServer", leafOnly, []dane.TLSA{rec(2, 0, 1, inter.Cert)}, dane.ResultValidationFailure},
		{"TA-IsTheLeaf", selfSigned.TLS, []dane.TLSA{rec(2, 0, 1, selfSigned.Leaf)}, dane.ResultValidationFailure},
		{"TA-OtherCA", other.TLS, []dane.TLSA{rec(2, 0, 1, inter.Cert)}, dane.ResultValidationFailure},
		{"PKIX-EE-Unusable", good.TLS, []dane.TLSA{rec(1, 1, 1, good.Leaf)}, dane.ResultTLSAInvalid},
		{"PKIX-TA-Unusable", good.TLS, []dane.TLSA{rec(0, 0, 1, root.Cert)}, dane.ResultTLSAInvalid},
		{"UnusableIgnoredBesideUsable", good.TLS, []dane.TLSA{rec(1, 1, 1, other.Leaf), rec(3, 1, 1, good.Leaf)}, ""},
		{"BadDigestLength", good.TLS, []dane.TLSA{{Usage: 3, Selector: 1, MatchingType: 1, Data: make([]byte, 20)}}, dane.ResultTLSAInvalid},
		{"UnknownMatchingType", good.TLS, []dane.TLSA{{Usage: 3, Selector: 1, MatchingType: 9, Data: []byte{1}}}, dane.ResultTLSAInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Records holds unusable ones too: Verify itself must skip them.
			p := &dane.HostPolicy{Mode: dane.Authenticate, Host: mx, BaseDomain: mx, Records: tc.records}
			err := smtptest.Handshake(t, tc.cert, p.TLSConfig(nil))
			if tc.result == "" {
				if err != nil {
					t.Fatalf("handshake failed: %v", err)
				}
				return
			}
			var ve *dane.VerifyError
			if !errors.As(err, &ve) || ve.ResultType() != tc.result {
				t.Fatalf("err %v, want a *VerifyError with result %s", err, tc.result)
			}
		})
	}
}

// TestVerifyNames: DANE-TA's reference identifiers are the TLSA base
// domain and the MX host name (RFC 7672 3.2.2), not the recipient domain.
func TestVerifyNames(t *testing.T) {
	ca := smtptest.NewCA(t, "Root")
	base := ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"mx.hosting.example"}})
	host := ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"mx.example.com"}})
	domain := ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"example.com"}})
	records := []dane.TLSA{dane.Record(2, 1, 1, ca.Cert)}
	p := &dane.HostPolicy{Mode: dane.Authenticate, Host: "mx.example.com", BaseDomain: "mx.hosting.example", Records: records}
	for _, c := range []struct {
		cert *smtptest.Certificate
		ok   bool
	}{{base, true}, {host, true}, {domain, false}} {
		err := dane.Verify(records, []*x509.Certificate{c.cert.Leaf, ca.Cert}, p.Names(), time.Now())
		if (err == nil) != c.ok {
			t.Errorf("%v: %v", c.cert.Leaf.DNSNames, err)
		}
	}
	if err := dane.Verify(records, nil, p.Names(), time.Now()); err == nil {
		t.Error("no certificate accepted")
	}
}

// zone sets up the DNS of RFC 7672 2.2's cases: MX, addresses and TLSA
// records, each secure or not.
func zone(t *testing.T, leaf *x509.Certificate) *dnstest.Server {
	srv := dnstest.NewServer(t)
	tlsa := dane.Record(3, 1, 1, leaf)
	add := func(host string, records ...dane.TLSA) {
		srv.AddA(host, "192.0.2.10")
		srv.AddA(host, "2001:db8::10")
		for _, r := range records {
			srv.AddTLSA("_25._tcp."+host, r.Usage, r.Selector, r.MatchingType, r.Data)
		}
	}
	add("dane.example", tlsa)
	add("insecure-a.example", tlsa)
	srv.Insecure("insecure-a.example")
	add("insecure-tlsa.example", tlsa)
	srv.Insecure("_25._tcp.insecure-tlsa.example")
	add("no-tlsa.example")
	add("servfail.example", tlsa)
	srv.ServFail("_25._tcp.servfail.example", dnstest.TypeTLSA)
	add("pkix-only.example", dane.Record(1, 1, 1, leaf))
	add("bad-length.example", dane.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: []byte{1, 2, 3}})
	srv.AddTLSA("_25._tcp.bad-length.example", 3, 1, 1, tlsa.Data) // and a good one
	add("malformed.example")
	srv.AddRaw("_25._tcp.malformed.example", dnstest.TypeTLSA, []byte{3, 1})
	srv.AddCNAME("alias.example", "target.example")
	add("target.example", tlsa)
	srv.AddCNAME("alias-own.example", "target-none.example")
	add("target-none.example")
	srv.AddTLSA("_25._tcp.alias-own.example", 3, 1, 1, tlsa.Data)
	srv.AddCNAME("alias-insecure.example", "target-insecure.example")
	add("target-insecure.example", tlsa)
	srv.Insecure("target-insecure.example")
	srv.ServFail("addr-fail.example", dnsmessage.TypeA)
	return srv
}

// TestHostRFC7672 is RFC 7672 2.2 as a table: when DANE applies to an MX
// host, and what it requires.
func TestHostRFC7672(t *testing.T) {
	leaf := smtptest.SelfSigned(t, smtptest.CertOptions{DNSNames: []string{"dane.example"}}).Leaf
	srv := zone(t, leaf)
	r := &dane.Resolver{Server: srv.Addr}
	cases := []struct {
		name     string
		host     string
		mxSecure bool
		mode     dane.Mode
		base     string
		records  int
		err      string // "lookup" (*LookupError) or "dns" (*net.DNSError)
	}{
		{"UsableRecords", "dane.example", true, dane.Authenticate, "dane.example", 1, ""},
		{"InsecureMX", "dane.example", false, dane.NotApplicable, "dane.example", 0, ""},
		{"InsecureAddresses", "insecure-a.example", true, dane.NotApplicable, "insecure-a.example", 0, ""},
		{"InsecureTLSA", "insecure-tlsa.example", true, dane.NotApplicable, "insecure-tlsa.example", 0, ""},
		{"SecurelyNoTLSA", "no-tlsa.example", true, dane.NotApplicable, "no-tlsa.example", 0, ""},
		{"TLSALookupFails", "servfail.example", true, dane.NotApplicable, "servfail.example", 0, "lookup"},
		{"OnlyUnusableRecords", "pkix-only.example", true, dane.Encrypt, "pkix-only.example", 0, ""},
		{"BadLengthIgnored", "bad-length.example", true, dane.Authenticate, "bad-length.example", 1, ""},
		{"MalformedRecordOnly", "malformed.example", true, dane.Encrypt, "malformed.example", 0, ""},
		{"CNAMETargetFirst", "alias.example", true, dane.Authenticate, "target.example", 1, ""},
		{"CNAMEThenOwnName", "alias-own.example", true, dane.Authenticate, "alias-own.example", 1, ""},
		{"InsecureCNAMETarget", "alias-insecure.example", true, dane.NotApplicable, "alias-insecure.example", 0, ""},
		{"AddressLookupFails", "addr-fail.example", true, dane.NotApplicable, "addr-fail.example", 0, "dns"},
		{"UpperCaseAndDot", "DANE.Example.", true, dane.Authenticate, "dane.example", 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := r.Host(context.Background(), tc.host, 25, tc.mxSecure)
			switch tc.err {
			case "lookup":
				var le *dane.LookupError
				if !errors.As(err, &le) || le.ResultType() != dane.ResultDNSSECInvalid {
					t.Fatalf("err %v, want *LookupError", err)
				}
				return
			case "dns":
				var de *net.DNSError
				if !errors.As(err, &de) || !de.IsTemporary {
					t.Fatalf("err %v, want a temporary *net.DNSError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Mode != tc.mode || p.BaseDomain != tc.base || len(p.Records) != tc.records {
				t.Fatalf("mode %v base %q records %v, want %v %q %d", p.Mode, p.BaseDomain, p.Records, tc.mode, tc.base, tc.records)
			}
			if p.RequireTLS() != (tc.mode != dane.NotApplicable) {
				t.Errorf("RequireTLS %v", p.RequireTLS())
			}
			if len(p.Addrs) != 2 {
				t.Errorf("addresses %v", p.Addrs)
			}
		})
	}
	// RFC 7672 2.2.2: no TLSA query for a host whose addresses are insecure.
	for _, q := range srv.Queries() {
		if strings.HasSuffix(q.Name, "insecure-a.example") && q.Type == dnstest.TypeTLSA {
			t.Errorf("TLSA query %s for a host with insecure addresses", q.Name)
		}
	}
}

// TestPolicyErr: what a failed secure connection reports.
func TestPolicyErr(t *testing.T) {
	p := &dane.HostPolicy{Mode: dane.Authenticate, Host: "mx.example"}
	var ve *dane.VerifyError
	if err := p.Err(nil); !errors.As(err, &ve) || ve.ResultType() != dane.ResultStartTLSMissing {
		t.Errorf("no STARTTLS: %v", err)
	}
	if err := p.Err(errors.New("handshake failure")); !errors.As(err, &ve) || ve.ResultType() != dane.ResultValidationFailure {
		t.Errorf("handshake: %v", err)
	}
	if err := (&dane.HostPolicy{}).Err(nil); err != nil {
		t.Errorf("not applicable: %v", err)
	}
}

// TestResolverAsNetResolver: the lookups shared with client.Resolver and
// MTA-STS behave like net.Resolver's, with IsNotFound for NXDOMAIN.
func TestResolverAsNetResolver(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddMX("example.org", 10, "mx1.example.org")
	srv.AddMX("example.org", 20, "mx2.example.org")
	srv.AddTXT("_mta-sts.example.org", "v=STSv1; ", "id=1")
	srv.Insecure("example.org")
	r := &dane.Resolver{Server: srv.Addr}
	ctx := context.Background()
	mxs, secure, err := r.LookupMXSecure(ctx, "example.org")
	if err != nil || secure || len(mxs) != 2 || mxs[0].Host != "mx1.example.org." || mxs[1].Pref != 20 {
		t.Fatalf("MX %v %v %v", mxs, secure, err)
	}
	txt, err := r.LookupTXT(ctx, "_mta-sts.example.org")
	if err != nil || len(txt) != 1 || txt[0] != "v=STSv1; id=1" {
		t.Fatalf("TXT %q %v", txt, err)
	}
	_, err = r.LookupMX(ctx, "nx.example.org")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("NXDOMAIN: %v", err)
	}
	ips, err := r.LookupIPAddr(ctx, "192.0.2.1")
	if err != nil || len(ips) != 1 || ips[0].IP.String() != "192.0.2.1" {
		t.Fatalf("literal: %v %v", ips, err)
	}
}
