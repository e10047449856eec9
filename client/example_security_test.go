package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/client/mtasts"
	"github.com/smtpkit/smtp/client/tlsrpt"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/server/smtptest"
)

// policyDNS stands in for the DNS of two domains that publish an MTA-STS
// policy in mode enforce (RFC 8461 3.1): secure.test, whose exchanger is
// "localhost" (the name of the test server's certificate), and
// stripped.test, whose exchanger mx.stripped.test does not offer STARTTLS
// (as when an attacker removed it).
type policyDNS struct{}

func (policyDNS) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	switch name {
	case "secure.test":
		return []*net.MX{{Host: "localhost.", Pref: 10}}, nil
	case "stripped.test":
		return []*net.MX{{Host: "mx.stripped.test.", Pref: 10}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (policyDNS) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	switch host {
	case "localhost":
		return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
	case "mx.stripped.test":
		return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 2)}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (policyDNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return []string{"v=STSv1; id=20260101;"}, nil
}

// policyHosts stands in for https://mta-sts.<domain>, serving each
// domain's policy (RFC 8461 3.2).
type policyHosts struct{}

func (policyHosts) RoundTrip(r *http.Request) (*http.Response, error) {
	mx := map[string]string{"mta-sts.secure.test": "localhost", "mta-sts.stripped.test": "mx.stripped.test"}[r.URL.Host]
	body := "version: STSv1\nmode: enforce\nmx: " + mx + "\nmax_age: 86400\n"
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// dialPorts dials the test servers instead of port 25 of the exchangers.
type dialPorts map[string]string

func (d dialPorts) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, network, d[addr])
}

// Delivering under MTA-STS (RFC 8461): the domains' policies (mode
// enforce) allow only their listed exchangers, over STARTTLS with a
// certificate valid for the MX name. The exchanger of stripped.test does
// not offer STARTTLS: the mail waits (a transient 4.7.10) rather than go
// in clear. Every session is counted for the domains' TLS reports (RFC
// 8460).
func ExampleDeliverer_mtaSTS() {
	secure := smtptest.NewServer(nil, smtptest.STARTTLS()) // certificate for "localhost"
	defer secure.Close()
	stripped := smtptest.NewServer(nil) // no STARTTLS
	defer stripped.Close()

	d := &client.Deliverer{
		Resolver: policyDNS{},
		MTASTS: &mtasts.Resolver{
			TXT:        policyDNS{},                            // a real program: the DNS
			HTTPClient: &http.Client{Transport: policyHosts{}}, // a real program: nil, the system roots
		},
		TLSReport: &tlsrpt.Collector{},
		Options: &client.Options{
			LocalName: "relay.example.test",
			TLSConfig: secure.ClientTLSConfig(), // trusts the test certificate; a real program: nil
			Dialer:    dialPorts{"127.0.0.1:25": secure.Addr, "127.0.0.2:25": stripped.Addr},
		},
	}
	env := envelope.Envelope{From: envelope.Path{Null: true}}
	for _, s := range []string{"<a@secure.test>", "<b@stripped.test>"} {
		p, _ := envelope.ParsePath(s, envelope.ParseOptions{})
		env.To = append(env.To, envelope.Recipient{Path: p})
	}
	msg := strings.NewReader("Subject: report\r\n\r\nconfidential\r\n")
	for _, o := range d.Deliver(context.Background(), env, msg, msg.Size()) {
		var e *client.Error
		var pe *client.TLSPolicyError
		if errors.As(o.Err, &e) && errors.As(o.Err, &pe) {
			fmt.Println(o.Recipient.Path, o.Status(), e.Code, e.Enhanced, pe.Policy, pe.Result)
			continue
		}
		fmt.Println(o.Recipient.Path, o.Status())
	}
	fmt.Println("in clear:", len(stripped.Messages()))

	// The daily TLS reports (RFC 8460 4.4), to send to each domain's
	// _smtp._tls rua.
	org := tlsrpt.Organization{Name: "relay.example.test"}
	for _, domain := range d.TLSReport.Domains(time.Now()) {
		for _, p := range d.TLSReport.Report(time.Now(), domain, org).Policies {
			fmt.Println(domain, p.Policy.Type, p.Summary.Successful, p.Summary.Failed)
		}
	}
	// Output:
	// <a@secure.test> accepted
	// <b@stripped.test> deferred 451 4.7.10 mta-sts starttls-not-supported
	// in clear: 0
	// secure.test sts 1 0
	// stripped.test sts 0 1
}

// A relay's Deliverer with every protection: DANE through a validating
// resolver on the same host (it also does the MX and address lookups,
// for their AD bit), MTA-STS with policies kept on disk across restarts
// (RFC 8461 10.2), and TLS-RPT. (Not run: it needs that resolver.)
func ExampleDeliverer_dane() {
	dns := &dane.Resolver{Server: "127.0.0.1:53"}
	d := &client.Deliverer{
		DANE:      dns,
		MTASTS:    &mtasts.Resolver{TXT: dns, Store: &mtasts.FileStore{Dir: "/var/spool/relay/mta-sts"}},
		TLSReport: &tlsrpt.Collector{},
		Options:   &client.Options{LocalName: "relay.example.com"},
	}
	from, _ := envelope.ParsePath("<alice@example.com>", envelope.ParseOptions{})
	to, _ := envelope.ParsePath("<bob@example.org>", envelope.ParseOptions{})
	env := envelope.Envelope{From: from, To: []envelope.Recipient{{Path: to}}}
	// REQUIRETLS (RFC 8689): only over TLS that DANE or MTA-STS (or the
	// Web PKI with a DNSSEC-signed MX) vouches for; 5.7.30 otherwise.
	env.Mail.RequireTLS = true
	msg := strings.NewReader("Subject: hi\r\n\r\nHello.\r\n")
	for _, o := range d.Deliver(context.Background(), env, msg, msg.Size()) {
		var pe *client.TLSPolicyError
		if errors.As(o.Err, &pe) {
			// DANE or MTA-STS ruled the exchanger out (a TLSA mismatch, a
			// stripped STARTTLS...): the mail waits, never in clear.
			fmt.Println(o.Recipient.Path, o.Status(), pe.Policy, pe.Result)
		}
	}
	// Once a day: yesterday's reports, one per policy domain.
	yesterday := time.Now().AddDate(0, 0, -1)
	for _, domain := range d.TLSReport.Domains(yesterday) {
		report := d.TLSReport.Report(yesterday, domain, tlsrpt.Organization{Name: "example.com"})
		_ = report // gzip it and send it to the rua of _smtp._tls.<domain>
	}
	d.TLSReport.Forget(yesterday)
}
