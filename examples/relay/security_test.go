package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/client/mtasts"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// Delivery security (issue 20) end to end: the relay as a process, with
// -dns-resolver on a fake validating resolver, MX hosts that are
// mailsinks on one port of 127.0.0.1 (-mx-port), with STARTTLS or
// without (stripped), an MTA-STS policy host and a TLS-RPT receiver on
// HTTPS behind the test's proxy, all certificates from a test root the
// relay trusts (e2e.Internet).

// secWorld is a world with an Internet and an MX port.
type secWorld struct {
	*world
	net    *e2e.Internet
	mxAddr string // 127.0.0.1:PORT, where every MX host's mailsink listens
	mxPort string
	mx     *e2e.Proc
	mxMail string // the MX's Maildir
}

func newSecWorld(t *testing.T) *secWorld {
	w := &secWorld{world: newWorld(t), net: e2e.NewInternet(t), mxAddr: e2e.FreeAddr(t)}
	w.mxPort = w.mxAddr[strings.LastIndexByte(w.mxAddr, ':')+1:]
	w.mxMail = filepath.Join(w.dir, "mx")
	return w
}

// startMX (re)starts the MX's mailsink: without STARTTLS when cert is nil
// (an attacker stripped it), else with cert.
func (w *secWorld) startMX(cert *smtptest.Certificate) {
	if w.mx != nil {
		w.mx.Stop()
	}
	var args []string
	if cert != nil {
		certFile, keyFile := e2e.WriteCertFiles(w.t, w.dir, "mx", cert)
		args = []string{"-tls-cert", certFile, "-tls-key", keyFile}
	}
	w.mx = w.startSink(w.mxAddr, w.mxMail, args...)
}

// relayArgs are the delivery security flags of the tests; the retries are
// left to -flush, so that each attempt is one the test made.
func (w *secWorld) relayArgs(extra ...string) []string {
	return append([]string{"-dns-resolver", w.net.DNS.Addr, "-mx-port", w.mxPort, "-retry", "1h"}, extra...)
}

// mxHost publishes host as the MX of domain, at 127.0.0.1; the records
// are signed (AD) unless the test marks them insecure.
func (w *secWorld) mxHost(domain, host string) {
	w.net.DNS.AddMX(domain, 10, host)
	w.net.DNS.AddA(host, "127.0.0.1")
}

// tlsa publishes a TLSA record for host's MX port.
func (w *secWorld) tlsa(host string, r dane.TLSA) {
	w.net.DNS.AddTLSA("_"+w.mxPort+"._tcp."+host, r.Usage, r.Selector, r.MatchingType, r.Data)
}

// logLine waits for the relay's log line about rcpt that holds want, and
// returns it.
func (w *secWorld) logLine(rcpt, want string) string {
	w.t.Helper()
	re := regexp.MustCompile(`(?m)^.*to=<` + regexp.QuoteMeta(rcpt) + `>.*` + regexp.QuoteMeta(want) + `.*$`)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if l := re.FindString(w.relay.Stderr.String()); l != "" {
			return l
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("log never showed to=<%s> with %q:\n%s", rcpt, want, w.relay.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendStripped submits a message to rcpt, whose MX host mx does not offer
// STARTTLS, and checks that it waits (4.7.10, the host named, why in the
// log line) and that nothing reached the MX.
func (w *secWorld) sendStripped(rcpt, mx, why string) {
	w.t.Helper()
	w.submit([]byte("Subject: to a domain with a policy\r\n\r\nsecret\r\n"), "alice@x.test", rcpt)
	line := w.logLine(rcpt, "status=deferred")
	for _, want := range []string{"relay=" + mx + "[127.0.0.1]:" + w.mxPort, "dsn=4.7.10", "tls=none", why} {
		if !strings.Contains(line, want) {
			w.t.Errorf("log line lacks %q: %s", want, line)
		}
	}
	w.t.Logf("the log line: %s", line)
	if got := w.delivered(rcpt); len(got) != 0 {
		w.t.Fatalf("delivered to the MX without STARTTLS: %d messages", len(got))
	}
}

// delivered returns the messages the MX stored for rcpt.
func (w *secWorld) delivered(rcpt string) []e2e.Stored {
	var out []e2e.Stored
	ents, _ := os.ReadDir(filepath.Join(w.mxMail, "new"))
	for _, e := range ents {
		s := e2e.ReadStored(w.t, filepath.Join(w.mxMail, "new", e.Name()))
		if len(s.To) == 1 && s.To[0] == rcpt {
			out = append(out, s)
		}
	}
	return out
}

// TestRelayDANE (RFC 7672 2.2): with -dns-resolver, a domain whose MX,
// address and TLSA records are signed gets mail only over TLS matching
// the records. Its MX stripped of STARTTLS: the mail waits (4.7.10, the
// host named in the log), nothing is sent in clear; with the certificate
// of the records: delivered, logged tls=TLSv1.3/dane. TLS-RPT (RFC 8460)
// counted both sessions across a restart of the relay, and once the day
// is over the report goes to the policy domain's rua: posted to the https:
// one, mailed as multipart/report to the mailto: one through the relay's
// own queue, delivered although that domain's own TLSA records fail
// (TLS-Required: No, RFC 8460 5.3), and a copy kept.
func TestRelayDANE(t *testing.T) {
	w := newSecWorld(t)
	const dom, mx = "dane.test", "mx.dane.test"
	w.mxHost(dom, mx)
	mxCert := w.net.Cert(mx)
	w.tlsa(mx, dane.Record(dane.UsageDANEEE, dane.SelectorSPKI, dane.MatchSHA256, mxCert.Leaf))
	// The reports' domain: its MX is the same server, its TLSA record
	// matches nothing.
	w.mxHost("reports.test", "mx.reports.test")
	w.tlsa("mx.reports.test", dane.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: bytes.Repeat([]byte{7}, 32)})
	w.net.DNS.AddTXT("_smtp._tls."+mx, "v=TLSRPTv1; rua=https://tlsrpt.reports.test/v1/reports,mailto:tls-reports@reports.test")
	posted := &e2e.ReportReceiver{}
	w.net.HTTPS("tlsrpt.reports.test", posted)

	// The MX without STARTTLS: deferred, never in clear.
	w.startMX(nil)
	w.startRelay(w.relayArgs("-tlsrpt")...)
	w.waitLogged("dane=true mta_sts=false tlsrpt=true")
	w.waitLogged("TLS reports sent by mail are unsigned") // no -dkim for relay.test
	w.sendStripped("bob@"+dom, mx, "TLS required by DANE")
	if err := w.relay.Stop(); err != nil {
		t.Fatalf("relay exit: %v", err)
	}

	// The MX with the certificate of the records, and the relay started
	// again: delivered at the flush, over authenticated TLS.
	w.startMX(mxCert)
	w.startRelay(w.relayArgs("-tlsrpt")...)
	w.runRelay("-flush")
	line := w.logLine("bob@"+dom, "status=sent")
	if !strings.Contains(line, "tls=TLSv1.3/dane") || !strings.Contains(line, "relay="+mx+"[127.0.0.1]:"+w.mxPort) {
		t.Errorf("log line: %s", line)
	}
	t.Logf("the log line: %s", line)
	if got := w.delivered("bob@" + dom); len(got) != 1 || !bytes.Contains(got[0].Body, []byte("secret")) {
		t.Fatalf("delivered %d messages, want 1", len(got))
	}
	// Mail for the reports' domain itself waits: its TLSA record fails.
	w.submit([]byte("Subject: to reports.test\r\n\r\nhello\r\n"), "alice@x.test", "carol@reports.test")
	w.logLine("carol@reports.test", "dsn=4.7.5")
	if err := w.relay.Stop(); err != nil {
		t.Fatalf("relay exit: %v", err)
	}

	// The counts of both runs were saved. The relay is started again the
	// next day (the counts moved back one day, as if it had been down
	// over midnight): the day's reports are sent at once.
	counts := filepath.Join(w.queue, "tlsrpt", "counts.json")
	yesterday := time.Now().UTC().Add(-24 * time.Hour)
	e2e.MoveTLSRPTCounts(t, counts, yesterday)
	w.startRelay(w.relayArgs("-tlsrpt")...)
	body, ctype := posted.Wait(t, 15*time.Second)
	if ctype != "application/tlsrpt+gzip" {
		t.Errorf("posted as %q", ctype)
	}
	rep := e2e.TLSReport(t, body)
	pol := rep.Policies
	if len(pol) != 1 || pol[0].Policy.Type != "tlsa" || pol[0].Policy.Domain != mx || pol[0].Summary.Successful != 1 ||
		pol[0].Summary.Failed != 1 || len(pol[0].FailureDetails) != 1 ||
		pol[0].FailureDetails[0].ResultType != "starttls-not-supported" || pol[0].FailureDetails[0].ReceivingMXHostname != mx ||
		pol[0].FailureDetails[0].ReceivingIP != "127.0.0.1" || rep.OrganizationName != "relay.test" {
		js, _ := json.MarshalIndent(rep, "", "  ")
		t.Errorf("report:\n%s", js)
	}
	// The copy, by the file name of RFC 8460 5.1.
	copyFile := filepath.Join(w.queue, "tlsrpt", "reports", yesterday.Format(time.DateOnly), rep.FileName("relay.test", false))
	if _, err := os.Stat(copyFile); err != nil {
		t.Errorf("no copy: %v", err)
	}
	// The mailto: rua: through the queue, to the MX whose TLSA record
	// fails, delivered anyway (opportunistic TLS) and not counted.
	line = w.logLine("tls-reports@reports.test", "status=sent")
	t.Logf("the report's log line: %s", line)
	got := w.delivered("tls-reports@reports.test")
	if len(got) != 1 {
		t.Fatalf("%d reports by mail, want 1", len(got))
	}
	_, gz := e2e.TLSReportMail(t, got[0].Body, mx, "relay.test")
	mailed := e2e.TLSReport(t, gz)
	if mailed.ReportID != rep.ReportID || mailed.Policies[0].Summary != rep.Policies[0].Summary {
		t.Errorf("mailed report %+v, posted %+v", mailed, rep)
	}
	if err := w.relay.Stop(); err != nil {
		t.Fatalf("relay exit: %v", err)
	}
	// The reported days forgotten; the session of the report not counted
	// (RFC 8460 5.3).
	if b, _ := os.ReadFile(counts); strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("counts after the report:\n%s", b)
	}
	if n := posted.Count(); n != 1 {
		t.Errorf("%d reports posted, want 1", n)
	}
}

// TestRelayMTASTS (RFC 8461): with -mta-sts, a domain whose policy is in
// mode enforce gets mail only over TLS with a certificate valid for the
// MX name: its MX stripped of STARTTLS, the mail waits (4.7.10) and
// nothing goes in clear; with a certificate from the root, delivered,
// logged tls=TLSv1.3/mta-sts. The policy is kept in QUEUE/mta-sts.
func TestRelayMTASTS(t *testing.T) {
	w := newSecWorld(t)
	const dom, mx = "sts.test", "mx.sts.test"
	w.mxHost(dom, mx)
	// Not DNSSEC-signed: DANE does not apply, MTA-STS decides.
	w.net.DNS.Insecure(dom)
	w.net.DNS.Insecure(mx)
	w.net.DNS.AddTXT("_mta-sts."+dom, "v=STSv1; id=20261207T000000;")
	w.net.HTTPS("mta-sts."+dom, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != mtasts.WellKnownPath {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "text/plain")
		io.WriteString(rw, "version: STSv1\r\nmode: enforce\r\nmx: "+mx+"\r\nmax_age: 86400\r\n")
	}))

	w.startMX(nil)
	w.startRelay(w.relayArgs("-mta-sts")...)
	w.sendStripped("bob@"+dom, mx, "TLS required by the MTA-STS policy")
	if b, err := os.ReadFile(filepath.Join(w.queue, "mta-sts", dom+".json")); err != nil || !strings.Contains(string(b), "enforce") {
		t.Errorf("policy not stored: %v %s", err, b)
	}

	w.startMX(w.net.Cert(mx))
	w.runRelay("-flush")
	line := w.logLine("bob@"+dom, "status=sent")
	if !strings.Contains(line, "tls=TLSv1.3/mta-sts") {
		t.Errorf("log line: %s", line)
	}
	t.Logf("the log line: %s", line)
	if got := w.delivered("bob@" + dom); len(got) != 1 {
		t.Fatalf("delivered %d messages, want 1", len(got))
	}
}
