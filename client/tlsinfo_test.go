package client

import (
	"crypto/tls"
	"testing"

	"github.com/smtpkit/smtp/client/dane"
	kit "github.com/smtpkit/smtp/server/smtptest"
)

// TestDeliverTLSInfoPolicy: an outcome's TLSInfo names the policy whose
// check the connection passed, so that a mail log can tell a
// DANE-authenticated delivery, an MTA-STS one, a certificate verified by
// the Web PKI without a policy asking for it, and opportunistic TLS.
func TestDeliverTLSInfoPolicy(t *testing.T) {
	const dom, host = "info.example", "mx.info.example"
	cases := []struct {
		name   string
		cert   int
		setup  func(w *world, leaf *tls.Certificate)
		policy string
		text   string
	}{
		{"DANE-EE", certSelfSigned, func(w *world, l *tls.Certificate) {
			w.tlsa(host, dane.Record(3, 1, 1, l.Leaf))
		}, PolicyDANE, "TLSv1.3/dane"},
		// RFC 7672 3.1.3: TLS required, not authenticated.
		{"DANE-unusable-records", certSelfSigned, func(w *world, l *tls.Certificate) {
			w.tlsa(host, dane.Record(1, 1, 1, l.Leaf))
		}, "", "TLSv1.3/unverified"},
		{"MTA-STS-enforce", certWebPKI, func(w *world, l *tls.Certificate) {
			w.dns.Insecure(dom)
			w.sts(dom, "enforce", host)
		}, PolicyMTASTS, "TLSv1.3/mta-sts"},
		{"MTA-STS-testing-passed", certWebPKI, func(w *world, l *tls.Certificate) {
			w.dns.Insecure(dom)
			w.sts(dom, "testing", host)
		}, PolicyMTASTS, "TLSv1.3/mta-sts"},
		{"MTA-STS-testing-failed", certSelfSigned, func(w *world, l *tls.Certificate) {
			w.dns.Insecure(dom)
			w.sts(dom, "testing", host)
		}, "", "TLSv1.3/unverified"},
		{"no-policy-WebPKI", certWebPKI, nil, "", "TLSv1.3/verified"},
		{"no-policy-self-signed", certSelfSigned, nil, "", "TLSv1.3/unverified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, srv := oneMX(t, dom, host, tc.cert, false, tc.setup)
			o := deliverCheck(t, w.deliverer(true, true), "rcpt@"+dom, false, srv, wantTLS)
			if o.TLS.Policy != tc.policy || o.TLS.String() != tc.text {
				t.Errorf("TLS = %+v (%s), want policy %q (%s)", o.TLS, o.TLS, tc.policy, tc.text)
			}
		})
	}
}

// TestDeliverRequireTLSNamesConnection: a REQUIRETLS message refused for
// want of a verified TLS path (5.7.30) names the exchanger, and the
// connection when one was made, with its TLS: a queue's log says which
// host failed the requirement (Postfix's relay=host[ip]:port).
func TestDeliverRequireTLSNamesConnection(t *testing.T) {
	const dom, host = "rt.example", "mx.rt.example"
	cases := []struct {
		name      string
		cert      int
		noReqTLS  bool // the server does not announce REQUIRETLS
		setup     func(w *world, leaf *tls.Certificate)
		connected bool
		tlsText   string
	}{
		{"no-STARTTLS", certNone, false, nil, true, "none"},
		{"self-signed", certSelfSigned, false, nil, true, "none"}, // the handshake failed: in clear
		{"no-REQUIRETLS-extension", certWebPKI, true, nil, true, "TLSv1.3/verified"},
		// Ruled out before any connection (RFC 8689 4.2.1).
		{"insecure-MX", certWebPKI, false, func(w *world, _ *tls.Certificate) { w.dns.Insecure(dom) }, false, "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, srv := oneMX(t, dom, host, tc.cert, tc.noReqTLS, tc.setup)
			o := deliverCheck(t, w.deliverer(true, false), "rcpt@"+dom, true, srv, wantRefused)
			if !isRequireTLSRefusal(o.Err) {
				t.Fatalf("err = %v, want a 5.7.30 refusal", o.Err)
			}
			if o.Host != host || (o.Addr != "") != tc.connected || o.TLS.String() != tc.tlsText {
				t.Errorf("host %q addr %q tls %s; want %s, connected %v, tls %s", o.Host, o.Addr, o.TLS, host, tc.connected, tc.tlsText)
			}
		})
	}
}

// oneMX is a world where domain has one exchanger, host, with a server
// whose certificate is of kind cert (announcing REQUIRETLS unless
// noRequireTLS), after setup.
func oneMX(t *testing.T, domain, host string, cert int, noRequireTLS bool, setup func(w *world, leaf *tls.Certificate)) (*world, *kit.Server) {
	w := newWorld(t)
	w.noRequireTLS = noRequireTLS
	srv, leaf := w.server(host, cert)
	w.mx(domain, 10, host, srv)
	if setup != nil {
		setup(w, leaf)
	}
	return w, srv
}
