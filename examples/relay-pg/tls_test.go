package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// TestDeliverySecurityPG: on the PostgreSQL queue as on the disk queue
// (the same code, examples/internal/mta), with -dns-resolver, -mta-sts
// and -tlsrpt, their files in -state-dir: a DANE domain whose TLSA record
// matches its MX gets the mail over TLS (tls=TLSv1.3/dane); one whose
// record does not match waits (4.7.5), nothing sent; the counts survive
// the relay's restart, and the day's report for the failing domain goes
// to its mailto: rua through the PostgreSQL queue. Without -state-dir the
// relay refuses -mta-sts and -tlsrpt: the queue has no directory.
func TestDeliverySecurityPG(t *testing.T) {
	url := sharedDB(t)
	n := e2e.NewInternet(t)
	const good, bad = "mx.dane.test", "mx.bad.test"
	cert := n.Cert(good)
	mx := e2e.ServeRecordingSink(t, "127.0.0.1:0", &cert.TLS)
	port := mx.Addr[strings.LastIndexByte(mx.Addr, ':')+1:]
	for dom, host := range map[string]string{"dane.test": good, "bad.test": bad} {
		n.DNS.AddMX(dom, 10, host)
		n.DNS.AddA(host, "127.0.0.1")
	}
	rec := dane.Record(dane.UsageDANEEE, dane.SelectorSPKI, dane.MatchSHA256, cert.Leaf)
	n.DNS.AddTLSA("_"+port+"._tcp."+good, rec.Usage, rec.Selector, rec.MatchingType, rec.Data)
	n.DNS.AddTLSA("_"+port+"._tcp."+bad, 3, 1, 1, bytes.Repeat([]byte{7}, 32))
	n.DNS.AddTXT("_smtp._tls."+bad, "v=TLSRPTv1; rua=mailto:tls-reports@reports.test")
	reports := e2e.ServeRecordingSink(t, "127.0.0.1:0", nil)

	code, _, stderr := e2e.Run(t, 30*time.Second, nil, relayBin, "-auth", "a:b", "-queue", url, "-mta-sts")
	if code == 0 || !strings.Contains(stderr, "-state-dir") {
		t.Errorf("-mta-sts without -state-dir: exit %d: %s", code, stderr)
	}

	state := t.TempDir()
	args := []string{"-state-dir", state, "-dns-resolver", n.DNS.Addr, "-mx-port", port, "-mta-sts", "-tlsrpt",
		"-route", "reports.test=" + reports.Addr, "-retry", "1h"}
	relay, addr := startRelay(t, url, "relay1.test", reports.Addr, args...)
	for _, to := range []string{"a@dane.test", "b@bad.test"} {
		if code, _, stderr := e2e.Run(t, 30*time.Second, []byte("Subject: hi\r\n\r\nhello\r\n"), sendmailBin,
			"-server", addr, "-auth", "alice:alice-pw", "-from", "alice@x.test", "-to", to); code != 0 {
			t.Fatalf("sendmail: exit %d: %s", code, stderr)
		}
	}
	waitFor(t, "both attempts logged", 30*time.Second, func() bool {
		l := relay.Stderr.String()
		return strings.Contains(l, "to=<a@dane.test>") && strings.Contains(l, "to=<b@bad.test>")
	})
	logs := relay.Stderr.String()
	if !strings.Contains(logs, "to=<a@dane.test>, relay="+good+"[127.0.0.1]:"+port) || !strings.Contains(logs, "tls=TLSv1.3/dane, attempt=1, status=sent") {
		t.Errorf("DANE delivery not logged:\n%s", logs)
	}
	if !strings.Contains(logs, "to=<b@bad.test>, relay="+bad+"[127.0.0.1]:"+port) || !strings.Contains(logs, "dsn=4.7.5") {
		t.Errorf("DANE failure not logged:\n%s", logs)
	}
	if got := mx.Messages(); len(got) != 1 || !got[0].TLS {
		t.Fatalf("the MX got %d messages, want a@dane.test's over TLS", len(got))
	}
	if _, err := os.Stat(filepath.Join(state, "mta-sts")); err != nil {
		t.Errorf("no MTA-STS store: %v", err)
	}
	if err := relay.Stop(); err != nil {
		t.Fatalf("relay: %v", err)
	}

	// The next day (the counts moved back): the report by mail.
	e2e.MoveTLSRPTCounts(t, filepath.Join(state, "tlsrpt", "counts.json"), time.Now().UTC().Add(-24*time.Hour))
	relay, _ = startRelay(t, url, "relay1.test", reports.Addr, args...)
	waitFor(t, "the report by mail", 30*time.Second, func() bool { return len(reports.Messages()) == 1 })
	_, gz := e2e.TLSReportMail(t, reports.Messages()[0].Data, bad, "relay1.test")
	rep := e2e.TLSReport(t, gz)
	if p := rep.Policies; len(p) != 1 || p[0].Policy.Type != "tlsa" || p[0].Summary.Failed != 1 || p[0].Summary.Successful != 0 ||
		p[0].FailureDetails[0].ResultType != "validation-failure" {
		t.Errorf("report %+v", rep)
	}
	if err := relay.Stop(); err != nil {
		t.Errorf("relay: %v", err)
	}
}
