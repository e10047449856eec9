package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/client/mtasts"
	"github.com/smtpkit/smtp/client/tlsrpt"
	"github.com/smtpkit/smtp/internal/dnsstub/dnstest"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
	kit "github.com/smtpkit/smtp/server/smtptest"
)

// Tests of the Deliverer's transport security (issue 20): DANE (RFC 7672),
// MTA-STS (RFC 8461), REQUIRETLS's verified path (RFC 8689 4.2.1) and
// TLS-RPT counting (RFC 8460), over real sockets: a fake validating
// resolver on loopback (dnstest) serving MX, A, TXT and TLSA records with
// or without the AD bit, an HTTPS policy server with a test CA, and MX
// servers (server/smtptest) with certificates that match, do not match,
// or are self-signed.

// world is the Internet of one test: a DNS zone, a Web PKI root, MX
// servers behind fake addresses, MTA-STS policy hosts.
type world struct {
	t      *testing.T
	dns    *dnstest.Server
	ca     *smtptest.CA // the Web PKI: MX certificates, policy hosts
	dialer *mapDialer   // "10.0.0.n:25" -> an MX server
	nextIP int
	// noRequireTLS makes the next servers not announce REQUIRETLS.
	noRequireTLS bool

	https *httptest.Server
	mu    sync.Mutex
	// policies and certificates of the mta-sts.<domain> hosts
	policies map[string]string
	certs    map[string]*tls.Certificate
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, dns: dnstest.NewServer(t), ca: smtptest.NewCA(t, "Web PKI Root"),
		dialer: &mapDialer{routes: map[string]string{}}, policies: map[string]string{}, certs: map[string]*tls.Certificate{}}
	w.https = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		body, ok := w.policies[strings.TrimPrefix(hostOnly(r.Host), "mta-sts.")]
		w.mu.Unlock()
		if !ok || r.URL.Path != mtasts.WellKnownPath {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(rw, body)
	}))
	w.https.TLS = &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if c := w.certs[hello.ServerName]; c != nil {
			return c, nil
		}
		return nil, errors.New("no certificate for " + hello.ServerName)
	}}
	w.https.StartTLS()
	t.Cleanup(w.https.Close)
	return w
}

// mx publishes host as an exchanger of domain (pref) with an address
// that leads to srv (nil: nothing listens there).
func (w *world) mx(domain string, pref uint16, host string, srv *kit.Server) {
	if domain != host {
		w.dns.AddMX(domain, pref, host)
	}
	w.nextIP++
	ip := fmt.Sprintf("10.0.0.%d", w.nextIP)
	w.dns.AddA(host, ip)
	if srv != nil {
		w.dialer.mu.Lock()
		w.dialer.routes[ip+":25"] = srv.Addr
		w.dialer.mu.Unlock()
	}
}

// tlsa publishes TLSA records for host's port 25.
func (w *world) tlsa(host string, recs ...dane.TLSA) {
	for _, r := range recs {
		w.dns.AddTLSA("_25._tcp."+host, r.Usage, r.Selector, r.MatchingType, r.Data)
	}
}

// sts publishes an MTA-STS policy for domain (RFC 8461 3.1, 3.2).
func (w *world) sts(domain, mode string, mx ...string) {
	w.dns.AddTXT("_mta-sts."+domain, "v=STSv1; id=20260101;")
	body := "version: STSv1\nmode: " + mode + "\n"
	for _, m := range mx {
		body += "mx: " + m + "\n"
	}
	body += "max_age: 86400\n"
	w.mu.Lock()
	defer w.mu.Unlock()
	w.policies[domain] = body
	w.certs["mta-sts."+domain] = &w.ca.Issue(w.t, smtptest.CertOptions{DNSNames: []string{"mta-sts." + domain}}).TLS
}

// certificate kinds of an MX server.
const (
	certNone       = iota // no STARTTLS (or stripped by an attacker)
	certWebPKI            // issued by the Web PKI root for the MX name
	certOtherName         // issued by the root for another name
	certSelfSigned        // self-signed for the MX name
	certExpired           // issued by the root for the MX name, expired
)

// server starts an MX server for host with a certificate of kind, and
// returns it with its leaf (nil for certNone).
func (w *world) server(host string, kind int) (*kit.Server, *tls.Certificate) {
	s := kit.NewUnstartedServer(w.t)
	s.Config.Hostname = host
	s.Config.EnableRequireTLS = !w.noRequireTLS
	var c *smtptest.Certificate
	switch kind {
	case certWebPKI:
		c = w.ca.Issue(w.t, smtptest.CertOptions{DNSNames: []string{host}})
	case certOtherName:
		c = w.ca.Issue(w.t, smtptest.CertOptions{DNSNames: []string{"other.example"}})
	case certSelfSigned:
		c = smtptest.SelfSigned(w.t, smtptest.CertOptions{DNSNames: []string{host}})
	case certExpired:
		c = w.ca.Issue(w.t, smtptest.CertOptions{DNSNames: []string{host},
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	}
	if c == nil {
		s.Start()
		return s, nil
	}
	s.Config.TLSConfig = &tls.Config{Certificates: []tls.Certificate{c.TLS}}
	s.Start()
	return s, &c.TLS
}

// deliverer is a Deliverer of this world: DNS through the fake resolver,
// the Web PKI root trusted, with DANE, MTA-STS and a TLS-RPT collector
// when asked.
func (w *world) deliverer(withDANE, withSTS bool) *Deliverer {
	r := &dane.Resolver{Server: w.dns.Addr}
	d := &Deliverer{
		Options:   &Options{LocalName: "relay.example", Dialer: w.dialer, TLSConfig: &tls.Config{RootCAs: w.ca.Pool}},
		TLSReport: &tlsrpt.Collector{},
	}
	if withDANE {
		d.DANE = r
	} else {
		d.Resolver = r // the same DNS, without DANE
	}
	if withSTS {
		addr := w.https.Listener.Addr().String()
		d.MTASTS = &mtasts.Resolver{TXT: r, HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
			TLSClientConfig: &tls.Config{RootCAs: w.ca.Pool},
		}}}
	}
	return d
}

// deliver sends one message to rcpt and returns its outcome.
func deliverOne(t *testing.T, d *Deliverer, rcpt string, requireTLS bool) RecipientOutcome {
	e := env("sender@relay.example", rcpt)
	e.Mail.RequireTLS = requireTLS
	msg := strings.NewReader("Subject: secret\r\n\r\nhello\r\n")
	return d.Deliver(testCtx(t), e, msg, msg.Size())[0]
}

// counts is what TLS-RPT counted for one policy domain: "<type>
// success" and "<type> <result-type>" for each failure, with counts.
func counts(c *tlsrpt.Collector, domain string) map[string]int64 {
	out := map[string]int64{}
	r := c.Report(time.Now(), domain, tlsrpt.Organization{Name: "relay.example"})
	if r == nil {
		return out
	}
	for _, p := range r.Policies {
		if p.Summary.Successful > 0 {
			out[p.Policy.Type+" success"] += p.Summary.Successful
		}
		for _, f := range p.FailureDetails {
			out[p.Policy.Type+" "+f.ResultType] += f.FailedSessionCount
		}
	}
	return out
}

// tally builds the expected counts: "sts success", "tlsa validation-failure"...
func tally(keys ...string) map[string]int64 {
	out := map[string]int64{}
	for _, k := range keys {
		out[k]++
	}
	return out
}

// checkReports checks what TLS-RPT counted for each policy domain of want
// (nil: nothing).
func checkReports(t *testing.T, c *tlsrpt.Collector, want map[string]map[string]int64) {
	t.Helper()
	for dom, w := range want {
		if got := counts(c, dom); !equalCounts(got, orEmpty(w)) {
			t.Errorf("TLS-RPT for %s: %v, want %v", dom, got, w)
		}
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// sawMail reports whether a transaction reached the server: a MAIL
// command, in clear or not.
func sawMail(s *kit.Server) bool {
	return strings.Contains(s.Trace(), "C: MAIL FROM")
}

// outcome is what a case expects of one delivery.
type outcome int

const (
	wantTLS      outcome = iota // the message reached the first MX
	wantClear                   // reached it without TLS
	wantDeferred                // transient failure, nothing sent
	wantRefused                 // permanent failure (REQUIRETLS), nothing sent
)

// deliverCheck delivers one message to rcpt and checks its outcome
// against want, with srv the server it concerns.
func deliverCheck(t *testing.T, d *Deliverer, rcpt string, requireTLS bool, srv *kit.Server, want outcome) RecipientOutcome {
	t.Helper()
	o := deliverOne(t, d, rcpt, requireTLS)
	checkOutcome(t, o, srv, want)
	return o
}

// checkOutcome checks o against want, with srv the server it concerns.
func checkOutcome(t *testing.T, o RecipientOutcome, srv *kit.Server, want outcome) {
	t.Helper()
	msgs := srv.Messages()
	switch want {
	case wantTLS, wantClear:
		if !o.Delivered() || len(msgs) != 1 {
			t.Fatalf("not delivered: %+v (%v), %d messages", o, o.Err, len(msgs))
		}
		if msgs[0].TLS != (want == wantTLS) {
			t.Errorf("delivered with TLS=%v", msgs[0].TLS)
		}
	case wantDeferred, wantRefused:
		if o.Delivered() || (want == wantDeferred) != o.Temporary() || (want == wantRefused) != o.Permanent() {
			t.Fatalf("outcome %v: %+v (%v)", o.Status(), o, o.Err)
		}
		if sawMail(srv) || len(msgs) != 0 {
			t.Fatalf("a transaction reached the server:\n%s", srv.Trace())
		}
	}
}

// TestDeliverRFC7672 is each case of RFC 7672 for delivery, as a table:
// when DANE applies to an exchanger (MX, address and TLSA records all
// DNSSEC-signed), a certificate that fails the TLSA records or a stripped
// STARTTLS defers the mail (never clear text), DANE-EE ignores names and
// dates, DANE-TA checks them, only unusable records mean TLS without
// authentication, a failed TLSA lookup skips the exchanger; and what
// TLS-RPT counted in each case.
func TestDeliverRFC7672(t *testing.T) {
	const dom, host = "dane.example", "mx.dane.example"
	cases := []struct {
		name    string
		cert    int
		records func(w *world, leaf *tls.Certificate) []dane.TLSA
		setup   func(w *world)
		want    outcome
		report  map[string]int64 // counted for the TLSA base domain (host)
		noPol   map[string]int64 // counted as no-policy-found for dom
	}{
		{name: "EE-SPKI-match", cert: certSelfSigned, // 2.2, 3.1.1: names and dates ignored
			records: func(w *world, l *tls.Certificate) []dane.TLSA { return []dane.TLSA{dane.Record(3, 1, 1, l.Leaf)} },
			want:    wantTLS, report: tally("tlsa success")},
		{name: "EE-Cert-SHA512-match", cert: certExpired,
			records: func(w *world, l *tls.Certificate) []dane.TLSA { return []dane.TLSA{dane.Record(3, 0, 2, l.Leaf)} },
			want:    wantTLS, report: tally("tlsa success")},
		{name: "EE-mismatch", cert: certSelfSigned, // 2.2: a failed match defers
			records: func(w *world, l *tls.Certificate) []dane.TLSA {
				other := smtptest.SelfSigned(w.t, smtptest.CertOptions{DNSNames: []string{host}})
				return []dane.TLSA{dane.Record(3, 1, 1, other.Leaf)}
			},
			want: wantDeferred, report: tally("tlsa validation-failure")},
		{name: "TA-match", cert: certWebPKI, // 3.1.2: a trust anchor in the chain, names checked
			records: func(w *world, l *tls.Certificate) []dane.TLSA { return []dane.TLSA{dane.Record(2, 0, 1, w.ca.Cert)} },
			want:    wantTLS, report: tally("tlsa success")},
		{name: "TA-name-mismatch", cert: certOtherName, // 3.2.2: reference identifiers
			records: func(w *world, l *tls.Certificate) []dane.TLSA { return []dane.TLSA{dane.Record(2, 0, 1, w.ca.Cert)} },
			want:    wantDeferred, report: tally("tlsa certificate-host-mismatch")},
		{name: "STARTTLS-stripped", cert: certNone, // 2.2: TLS required, never clear text
			records: func(w *world, l *tls.Certificate) []dane.TLSA {
				other := smtptest.SelfSigned(w.t, smtptest.CertOptions{DNSNames: []string{host}})
				return []dane.TLSA{dane.Record(3, 1, 1, other.Leaf)}
			},
			want: wantDeferred, report: tally("tlsa starttls-not-supported")},
		{name: "only-unusable-records", cert: certSelfSigned, // 3.1.3: TLS required, not authenticated
			records: func(w *world, l *tls.Certificate) []dane.TLSA { return []dane.TLSA{dane.Record(1, 1, 1, l.Leaf)} },
			want:    wantTLS, report: tally("tlsa tlsa-invalid")},
		{name: "only-unusable-records-stripped", cert: certNone,
			records: func(w *world, l *tls.Certificate) []dane.TLSA {
				return []dane.TLSA{{Usage: 0, Selector: 0, MatchingType: 1, Data: make([]byte, 32)}}
			},
			want: wantDeferred, report: tally("tlsa starttls-not-supported")},
		{name: "insecure-MX", cert: certSelfSigned, // 2.2: an unsigned MX answer, no DANE
			records: mismatching(host),
			setup:   func(w *world) { w.dns.Insecure(dom) },
			want:    wantTLS, noPol: tally("no-policy-found success")},
		{name: "insecure-addresses", cert: certSelfSigned, // 2.2: unsigned A records, no DANE
			records: mismatching(host),
			setup:   func(w *world) { w.dns.Insecure(host) },
			want:    wantTLS, noPol: tally("no-policy-found success")},
		{name: "insecure-TLSA", cert: certSelfSigned, // 2.2: unsigned TLSA records, no DANE
			records: mismatching(host),
			setup:   func(w *world) { w.dns.Insecure("_25._tcp." + host) },
			want:    wantTLS, noPol: tally("no-policy-found success")},
		{name: "no-TLSA", cert: certNone, // securely none: opportunistic, may be clear
			want: wantClear, noPol: tally("no-policy-found starttls-not-supported")},
		{name: "TLSA-lookup-fails", cert: certSelfSigned, // 2.2.1: the exchanger waits
			records: func(w *world, l *tls.Certificate) []dane.TLSA { return []dane.TLSA{dane.Record(3, 1, 1, l.Leaf)} },
			setup:   func(w *world) { w.dns.ServFail("_25._tcp."+host, dnstest.TypeTLSA) },
			want:    wantDeferred, report: tally("tlsa dnssec-invalid")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			srv, leaf := w.server(host, tc.cert)
			w.mx(dom, 10, host, srv)
			if tc.records != nil {
				l := leaf
				if l == nil { // no TLS: records for some other key
					l = &smtptest.SelfSigned(t, smtptest.CertOptions{DNSNames: []string{host}}).TLS
				}
				w.tlsa(host, tc.records(w, l)...)
			}
			if tc.setup != nil {
				tc.setup(w)
			}
			d := w.deliverer(true, false)
			o := deliverCheck(t, d, "rcpt@"+dom, false, srv, tc.want)
			if tc.want == wantDeferred {
				var pe *TLSPolicyError
				var le *dane.LookupError
				if !errors.As(o.Err, &pe) && !errors.As(o.Err, &le) {
					t.Errorf("err = %v, want a *TLSPolicyError or *dane.LookupError cause", o.Err)
				}
			}
			if tc.report["tlsa success"] > 0 && !o.TLS.Verified {
				t.Errorf("DANE-authenticated TLS reported %v", o.TLS)
			}
			checkReports(t, d.TLSReport, map[string]map[string]int64{host: tc.report, dom: tc.noPol})
		})
	}
}

// mismatching returns TLSA records that no server of the test presents.
func mismatching(host string) func(w *world, l *tls.Certificate) []dane.TLSA {
	return func(w *world, _ *tls.Certificate) []dane.TLSA {
		other := smtptest.SelfSigned(w.t, smtptest.CertOptions{DNSNames: []string{host}})
		return []dane.TLSA{dane.Record(3, 1, 1, other.Leaf)}
	}
}

func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// TestDeliverDANEFallback: an exchanger that fails DANE is skipped and the
// next one tried (RFC 7672 2.2: "try the next MX host"); when every one
// fails, the mail waits with a 4.7.x error; the implicit MX of a domain
// without MX records gets DANE from the secure denial.
func TestDeliverDANEFallback(t *testing.T) {
	const dom = "dane.example"
	t.Run("next-MX", func(t *testing.T) {
		w := newWorld(t)
		bad, _ := w.server("mx1.dane.example", certNone)
		good, leaf := w.server("mx2.dane.example", certSelfSigned)
		w.mx(dom, 10, "mx1.dane.example", bad)
		w.mx(dom, 20, "mx2.dane.example", good)
		w.tlsa("mx1.dane.example", dane.Record(3, 1, 1, leaf.Leaf))
		w.tlsa("mx2.dane.example", dane.Record(3, 1, 1, leaf.Leaf))
		o := deliverCheck(t, w.deliverer(true, false), "rcpt@"+dom, false, good, wantTLS)
		if sawMail(bad) || o.Host != "mx2.dane.example" {
			t.Errorf("host %s; stripped server trace:\n%s", o.Host, bad.Trace())
		}
	})
	t.Run("all-fail", func(t *testing.T) {
		w := newWorld(t)
		s1, _ := w.server("mx1.dane.example", certNone)
		s2, _ := w.server("mx2.dane.example", certSelfSigned)
		w.mx(dom, 10, "mx1.dane.example", s1)
		w.mx(dom, 20, "mx2.dane.example", s2)
		for _, h := range []string{"mx1.dane.example", "mx2.dane.example"} {
			w.tlsa(h, mismatching(h)(w, nil)...)
		}
		o := deliverCheck(t, w.deliverer(true, false), "rcpt@"+dom, false, s1, wantDeferred)
		checkOutcome(t, o, s2, wantDeferred)
		var e *Error
		if !errors.As(o.Err, &e) || e.Code != 451 || e.Enhanced.Class != 4 || e.Enhanced.Subject != 7 {
			t.Errorf("err = %v, want a 451 4.7.x", o.Err)
		}
	})
	t.Run("MX-lookup-bogus", func(t *testing.T) {
		// RFC 7672 2.2.1: a failed (bogus) MX lookup defers the mail.
		w := newWorld(t)
		srv, _ := w.server("mx.dane.example", certNone)
		w.mx(dom, 10, "mx.dane.example", srv)
		w.dns.ServFail(dom, dnsmessage.TypeMX)
		o := deliverCheck(t, w.deliverer(true, false), "rcpt@"+dom, false, srv, wantDeferred)
		var e *Error
		if !errors.As(o.Err, &e) || e.Enhanced != (reply.EnhancedCode{Class: 4, Subject: 4, Detail: 3}) || srv.Trace() != "" {
			t.Errorf("err = %v", o.Err)
		}
	})
	t.Run("CNAME-base-domain", func(t *testing.T) {
		// RFC 7672 2.2.2: the TLSA records of the end of the CNAME chain
		// (and it is the policy domain of the report, RFC 8460 3).
		w := newWorld(t)
		srv, leaf := w.server("mx.hosting.example", certSelfSigned)
		w.dns.AddMX(dom, 10, "mx.dane.example")
		w.dns.AddCNAME("mx.dane.example", "mx.hosting.example")
		w.mx("mx.hosting.example", 0, "mx.hosting.example", srv)
		w.tlsa("mx.hosting.example", dane.Record(3, 1, 1, leaf.Leaf))
		d := w.deliverer(true, false)
		deliverCheck(t, d, "rcpt@"+dom, false, srv, wantTLS)
		checkReports(t, d.TLSReport, map[string]map[string]int64{"mx.hosting.example": tally("tlsa success")})
	})
	t.Run("implicit-MX", func(t *testing.T) {
		w := newWorld(t)
		srv, leaf := w.server(dom, certSelfSigned)
		w.mx(dom, 0, dom, srv) // an address, no MX record
		w.tlsa(dom, mismatching(dom)(w, nil)...)
		deliverCheck(t, w.deliverer(true, false), "rcpt@"+dom, false, srv, wantDeferred)
		w.tlsa(dom, dane.Record(3, 1, 1, leaf.Leaf)) // now one record matches
		deliverCheck(t, w.deliverer(true, false), "rcpt@"+dom, false, srv, wantTLS)
	})
}

// TestDeliverRFC8461 is each case of RFC 8461 for delivery, as a table:
// in mode enforce only MX hosts that match the policy, over STARTTLS with
// a certificate valid for the MX name under the Web PKI (4.1, 4.2), the
// others skipped and the mail wantDeferred when none qualifies (a stripped
// STARTTLS never gets the mail in clear); in mode testing the same checks
// reported and the mail wantTLS (5); mode none, no policy, or a policy
// that cannot be fetched: TLSPolicy decides. And what TLS-RPT counted.
func TestDeliverRFC8461(t *testing.T) {
	const dom, host = "sts.example", "mx.sts.example"
	cases := []struct {
		name   string
		mode   string // "" for no policy
		mx     string // the policy's mx pattern
		cert   int
		setup  func(w *world)
		want   outcome
		report map[string]int64 // counted for dom
	}{
		{"enforce-match", "enforce", host, certWebPKI, nil, wantTLS, tally("sts success")},
		{"enforce-wildcard", "enforce", "*.sts.example", certWebPKI, nil, wantTLS, tally("sts success")},
		{"enforce-stripped", "enforce", host, certNone, nil, wantDeferred, tally("sts starttls-not-supported")},
		{"enforce-self-signed", "enforce", host, certSelfSigned, nil, wantDeferred, tally("sts certificate-not-trusted")},
		{"enforce-other-name", "enforce", host, certOtherName, nil, wantDeferred, tally("sts certificate-host-mismatch")},
		{"enforce-expired", "enforce", host, certExpired, nil, wantDeferred, tally("sts certificate-expired")},
		{"enforce-MX-not-in-policy", "enforce", "mx.elsewhere.example", certWebPKI, nil, wantDeferred, tally("sts validation-failure")},
		{"enforce-wildcard-one-label-only", "enforce", "*.example", certWebPKI, nil, wantDeferred, tally("sts validation-failure")},
		{"testing-match", "testing", host, certWebPKI, nil, wantTLS, tally("sts success")},
		{"testing-stripped", "testing", host, certNone, nil, wantClear, tally("sts starttls-not-supported")},
		{"testing-self-signed", "testing", host, certSelfSigned, nil, wantTLS, tally("sts certificate-not-trusted")},
		// The policy's failure is counted, the session that follows is not
		// counted again (as for every failed check in mode testing).
		{"testing-MX-not-in-policy", "testing", "mx.elsewhere.example", certSelfSigned, nil, wantTLS, tally("sts validation-failure")},
		{"none", "none", host, certNone, nil, wantClear, tally("no-policy-found starttls-not-supported")},
		{"no-policy", "", "", certSelfSigned, nil, wantTLS, tally("no-policy-found success")},
		{"fetch-fails", "", "", certNone, func(w *world) {
			w.dns.AddTXT("_mta-sts."+dom, "v=STSv1; id=1;") // the record, but no policy host
		}, wantClear, tally("sts sts-policy-fetch-error", "no-policy-found starttls-not-supported")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			srv, _ := w.server(host, tc.cert)
			w.mx(dom, 10, host, srv)
			if tc.mode != "" {
				w.sts(dom, tc.mode, tc.mx)
			}
			if tc.setup != nil {
				tc.setup(w)
			}
			d := w.deliverer(false, true)
			o := deliverCheck(t, d, "rcpt@"+dom, false, srv, tc.want)
			if tc.want == wantDeferred {
				var pe *TLSPolicyError
				if !errors.As(o.Err, &pe) || pe.Policy != PolicyMTASTS || pe.Host != host {
					t.Errorf("err = %v, want a *TLSPolicyError of MTA-STS", o.Err)
				}
			}
			checkReports(t, d.TLSReport, map[string]map[string]int64{dom: tc.report})
		})
	}
}

// TestDeliverMTASTSNextMX: under a policy in mode enforce, an MX host the
// policy does not list is never contacted, and the next one that matches
// gets the mail.
func TestDeliverMTASTSNextMX(t *testing.T) {
	const dom = "sts.example"
	w := newWorld(t)
	rogue, _ := w.server("mx.attacker.example", certWebPKI)
	good, _ := w.server("mx.sts.example", certWebPKI)
	w.mx(dom, 5, "mx.attacker.example", rogue) // preferred, not in the policy
	w.mx(dom, 10, "mx.sts.example", good)
	w.sts(dom, "enforce", "mx.sts.example")
	deliverCheck(t, w.deliverer(false, true), "rcpt@"+dom, false, good, wantTLS)
	if rogue.Trace() != "" {
		t.Errorf("the MX host outside the policy was contacted:\n%s", rogue.Trace())
	}
}

// TestDeliverStrippedSTARTTLS is issue 20's "done when": a Deliverer with
// MTASTS and DANE refuses a stripped STARTTLS for a domain with a policy
// (mode enforce), and delivers where the policy allows; the same
// Deliverer delivers in clear to a domain with no policy.
func TestDeliverStrippedSTARTTLS(t *testing.T) {
	w := newWorld(t)
	stripped, _ := w.server("mx.sts.example", certNone)
	w.mx("sts.example", 10, "mx.sts.example", stripped)
	w.sts("sts.example", "enforce", "mx.sts.example")
	allowed, _ := w.server("mx.ok.example", certWebPKI)
	w.mx("ok.example", 10, "mx.ok.example", allowed)
	w.sts("ok.example", "enforce", "mx.ok.example")
	plain, _ := w.server("mx.plain.example", certNone)
	w.mx("plain.example", 10, "mx.plain.example", plain)
	d := w.deliverer(true, true)

	e := env("sender@relay.example", "a@sts.example", "b@ok.example", "c@plain.example")
	msg := strings.NewReader("Subject: x\r\n\r\nhello\r\n")
	out := d.Deliver(testCtx(t), e, msg, msg.Size())
	checkOutcome(t, out[0], stripped, wantDeferred)
	checkOutcome(t, out[1], allowed, wantTLS)
	checkOutcome(t, out[2], plain, wantClear)
	want := map[string]map[string]int64{
		"sts.example":   tally("sts starttls-not-supported"),
		"ok.example":    tally("sts success"),
		"plain.example": tally("no-policy-found starttls-not-supported"),
	}
	checkReports(t, d.TLSReport, want)
	// RFC 8460 4.3: the failure's details name the exchanger and both
	// ends of the session.
	r := d.TLSReport.Report(time.Now(), "sts.example", tlsrpt.Organization{Name: "relay.example"})
	f := r.Policies[0].FailureDetails[0]
	if f.ReceivingMXHostname != "mx.sts.example" || f.ReceivingIP != "10.0.0.1" || f.SendingMTAIP != "127.0.0.1" ||
		r.Policies[0].Policy.MXHost[0] != "mx.sts.example" || len(r.Policies[0].Policy.String) != 4 {
		t.Errorf("report %+v", r.Policies[0])
	}
}

// TestDeliverDANEPrecedence: where DANE applies, MTA-STS is not consulted
// (RFC 8461 2): it neither rules out an exchanger DANE authenticates nor
// lets a policy-valid certificate override a failed TLSA match; an
// exchanger without DANE still gets the domain's policy.
func TestDeliverDANEPrecedence(t *testing.T) {
	const dom = "both.example"
	t.Run("DANE-passes-policy-would-refuse", func(t *testing.T) {
		w := newWorld(t)
		srv, leaf := w.server("mx.both.example", certSelfSigned)
		w.mx(dom, 10, "mx.both.example", srv)
		w.tlsa("mx.both.example", dane.Record(3, 1, 1, leaf.Leaf))
		w.sts(dom, "enforce", "mx.elsewhere.example")
		d := w.deliverer(true, true)
		deliverCheck(t, d, "rcpt@"+dom, false, srv, wantTLS)
		// MTA-STS not consulted: nothing counted for the domain.
		checkReports(t, d.TLSReport, map[string]map[string]int64{"mx.both.example": tally("tlsa success"), dom: nil})
	})
	t.Run("DANE-fails-policy-would-allow", func(t *testing.T) {
		w := newWorld(t)
		srv, _ := w.server("mx.both.example", certWebPKI)
		w.mx(dom, 10, "mx.both.example", srv)
		w.tlsa("mx.both.example", mismatching("mx.both.example")(w, nil)...)
		w.sts(dom, "enforce", "mx.both.example")
		deliverCheck(t, w.deliverer(true, true), "rcpt@"+dom, false, srv, wantDeferred)
	})
	t.Run("DANE-host-then-policy-host", func(t *testing.T) {
		w := newWorld(t)
		s1, _ := w.server("mx1.both.example", certNone)
		s2, _ := w.server("mx2.both.example", certWebPKI)
		w.mx(dom, 10, "mx1.both.example", s1)
		w.mx(dom, 20, "mx2.both.example", s2)
		w.tlsa("mx1.both.example", mismatching("mx1.both.example")(w, nil)...)
		w.sts(dom, "enforce", "*.both.example")
		d := w.deliverer(true, true)
		deliverCheck(t, d, "rcpt@"+dom, false, s2, wantTLS)
		if sawMail(s1) {
			t.Errorf("mail went to the DANE host without STARTTLS")
		}
		checkReports(t, d.TLSReport, map[string]map[string]int64{dom: tally("sts success"), "mx1.both.example": tally("tlsa starttls-not-supported")})
	})
}

// TestDeliverRequireTLSPaths: the verified paths RFC 8689 4.2.1 accepts
// for a REQUIRETLS message, and those it does not, with DANE and MTA-STS
// configured (so that the protection of the MX lookup can be checked).
func TestDeliverRequireTLSPaths(t *testing.T) {
	const dom, host = "rt.example", "mx.rt.example"
	cases := []struct {
		name  string
		cert  int
		setup func(w *world, leaf *tls.Certificate)
		want  outcome
	}{
		{"DANE-authenticated", certSelfSigned, func(w *world, l *tls.Certificate) {
			w.tlsa(host, dane.Record(3, 1, 1, l.Leaf))
		}, wantTLS},
		{"MTA-STS-enforce", certWebPKI, func(w *world, l *tls.Certificate) {
			w.dns.Insecure(dom)
			w.sts(dom, "enforce", host)
		}, wantTLS},
		{"DNSSEC-MX-and-WebPKI", certWebPKI, nil, wantTLS},
		{"insecure-MX-WebPKI", certWebPKI, func(w *world, l *tls.Certificate) { w.dns.Insecure(dom) }, wantRefused},
		{"MTA-STS-testing-insecure-MX", certWebPKI, func(w *world, l *tls.Certificate) {
			w.dns.Insecure(dom)
			w.sts(dom, "testing", host)
		}, wantRefused},
		{"DANE-unusable-records", certWebPKI, func(w *world, l *tls.Certificate) {
			w.tlsa(host, dane.Record(1, 1, 1, l.Leaf))
		}, wantRefused},
		{"DNSSEC-MX-self-signed", certSelfSigned, nil, wantRefused},
		{"DANE-stripped", certNone, func(w *world, l *tls.Certificate) {
			w.tlsa(host, mismatching(host)(w, nil)...)
		}, wantRefused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			srv, leaf := w.server(host, tc.cert)
			w.mx(dom, 10, host, srv)
			if tc.setup != nil {
				tc.setup(w, leaf)
			}
			o := deliverCheck(t, w.deliverer(true, true), "rcpt@"+dom, true, srv, tc.want)
			if tc.want == wantRefused && !isRequireTLSRefusal(o.Err) {
				t.Errorf("err = %v, want a 5.7.30 refusal", o.Err)
			}
			if tc.want == wantTLS && !srv.Messages()[0].Envelope.Mail.RequireTLS {
				t.Errorf("REQUIRETLS not sent")
			}
		})
	}
}

// TestDeliverCacheKeepsPlans: with a connection cache, a DANE-authenticated
// connection serves the next message (one TLS session counted), but a
// connection opened under opportunistic TLS never serves a REQUIRETLS
// message, which needs a verified one.
func TestDeliverCacheKeepsPlans(t *testing.T) {
	w := newWorld(t)
	daneSrv, leaf := w.server("mx.dane.example", certSelfSigned)
	w.mx("dane.example", 10, "mx.dane.example", daneSrv)
	w.tlsa("mx.dane.example", dane.Record(3, 1, 1, leaf.Leaf))
	pkiSrv, _ := w.server("mx.pki.example", certWebPKI)
	w.mx("pki.example", 10, "mx.pki.example", pkiSrv)
	d := w.deliverer(true, false)
	d.Cache = &ConnCache{IdleTimeout: time.Minute}
	defer d.Cache.Close()

	for i := range 2 {
		if o := deliverOne(t, d, "a@dane.example", false); !o.Delivered() || !o.TLS.Verified {
			t.Fatalf("message %d: %+v (%v)", i, o, o.Err)
		}
	}
	if d.Cache.Reused() != 1 || len(daneSrv.Messages()) != 2 || !daneSrv.Messages()[1].TLS {
		t.Errorf("reused %d, want 1", d.Cache.Reused())
	}
	checkReports(t, d.TLSReport, map[string]map[string]int64{"mx.dane.example": tally("tlsa success")}) // one session
	if o := deliverOne(t, d, "a@pki.example", false); !o.Delivered() || o.TLS.Version == 0 {
		t.Fatalf("opportunistic: %+v", o)
	}
	o := deliverOne(t, d, "a@pki.example", true)
	if !o.Delivered() || !o.TLS.Verified || d.Cache.Reused() != 1 {
		t.Errorf("REQUIRETLS over a cached opportunistic connection? %+v (%v), reused %d", o, o.Err, d.Cache.Reused())
	}
}

// TestDeliverTLSDisabledUnderPolicy: TLSDisabled does not send mail in
// clear to an exchanger that DANE or an MTA-STS policy in mode enforce
// requires TLS of: it is skipped.
func TestDeliverTLSDisabledUnderPolicy(t *testing.T) {
	w := newWorld(t)
	s1, leaf := w.server("mx.dane.example", certSelfSigned)
	w.mx("dane.example", 10, "mx.dane.example", s1)
	w.tlsa("mx.dane.example", dane.Record(3, 1, 1, leaf.Leaf))
	s2, _ := w.server("mx.sts.example", certWebPKI)
	w.mx("sts.example", 10, "mx.sts.example", s2)
	w.sts("sts.example", "enforce", "mx.sts.example")
	d := w.deliverer(true, true)
	d.TLSPolicy = TLSDisabled
	deliverCheck(t, d, "a@dane.example", false, s1, wantDeferred)
	deliverCheck(t, d, "a@sts.example", false, s2, wantDeferred)
}

// TestTLSPolicyErrorText: the error of a skipped exchanger names the
// policy, the host and the RFC 8460 result, and unwraps to its cause.
func TestTLSPolicyErrorText(t *testing.T) {
	e := &TLSPolicyError{Host: "mx.example", Policy: PolicyMTASTS, Result: tlsrpt.ResultStartTLSNotSupported}
	if got := e.Error(); got != "mta-sts: mx.example: starttls-not-supported" || tlsrpt.ResultType(e) != e.Result {
		t.Errorf("%q", got)
	}
	cause := &dane.VerifyError{Result: dane.ResultValidationFailure, Reason: "no match"}
	wrapped := &TLSPolicyError{Host: "mx.example", Policy: PolicyDANE, Result: cause.Result, Err: cause}
	var ve *dane.VerifyError
	if !strings.HasSuffix(wrapped.Error(), ": dane: no match") || !errors.As(wrapped, &ve) {
		t.Errorf("%q", wrapped.Error())
	}
}
