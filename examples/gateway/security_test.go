package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/examples/gateway/internal/api"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// TestOutboundDANE: the gateway's outbound MX deliveries take the relay's
// delivery security (-dns-resolver: DANE, RFC 7672). Mail from the API to
// a domain with signed TLSA records waits while its MX does not offer
// STARTTLS (4.7.10, nothing sent in clear), and goes once the MX offers
// TLS with the certificate of the records (tls=TLSv1.3/dane).
func TestOutboundDANE(t *testing.T) {
	n := e2e.NewInternet(t)
	mxAddr := e2e.FreeAddr(t)
	port := mxAddr[strings.LastIndexByte(mxAddr, ':')+1:]
	const mx = "mx.example.net"
	n.DNS.AddMX("example.net", 10, mx)
	n.DNS.AddA(mx, "127.0.0.1")
	cert := n.Cert(mx)
	rec := dane.Record(dane.UsageDANEEE, dane.SelectorSPKI, dane.MatchSHA256, cert.Leaf)
	n.DNS.AddTLSA("_"+port+"._tcp."+mx, rec.Usage, rec.Selector, rec.MatchingType, rec.Data)

	sinkDir := t.TempDir()
	stripped, md := startSink(t, sinkDir, mxAddr) // no STARTTLS
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "shop.test=http://127.0.0.1:1/", "-dns-resolver", n.DNS.Addr, "-mx-port", port,
		"-outbound-retry", "1h")
	code, _, body := g.api(t, "POST", "/v1/messages", "application/json", []byte(`{"from":"a@shop.test","to":"b@example.net","text":"secret"}`))
	if code != 202 {
		t.Fatalf("POST: %d %s", code, body)
	}
	var acc api.Accepted
	json.Unmarshal(body, &acc)
	deferred := regexp.MustCompile(`to=<b@example\.net>, relay=mx\.example\.net\[127\.0\.0\.1\]:` + port + `, .*dsn=4\.7\.10, tls=none, .*status=deferred`)
	waitFor(t, "the deferral", func() bool { return deferred.MatchString(g.Stderr.String()) })
	if files := e2e.Maildir(t, md, 0, 0); len(files) != 0 {
		t.Fatalf("delivered in clear: %d messages", len(files))
	}

	stripped.Stop()
	certFile, keyFile := e2e.WriteCertFiles(t, sinkDir, "mx", cert)
	startSink(t, sinkDir, mxAddr, "-tls-cert", certFile, "-tls-key", keyFile)
	out := filepath.Join(dir, "queue", outboundDir)
	if code, _, stderr := e2e.Run(t, wait, nil, relayBin, "-queue", out, "-flush"); code != 0 {
		t.Fatalf("flush: %d %s", code, stderr)
	}
	if files := e2e.Maildir(t, md, 1, wait); len(files) != 1 {
		t.Fatal("not delivered after the flush")
	}
	sent := regexp.MustCompile(`to=<b@example\.net>, relay=mx\.example\.net\[127\.0\.0\.1\]:` + port + `, .*tls=TLSv1\.3/dane, .*status=sent`)
	waitFor(t, "the delivery logged", func() bool { return sent.MatchString(g.Stderr.String()) })
}
