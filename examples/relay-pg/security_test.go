package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// TestDKIMAndRequireTLS: on the PostgreSQL queue as on the disk queue
// (the same code, examples/internal/mta), a message is DKIM-signed at
// intake and its REQUIRETLS (RFC 8689) kept in the queue: the message for
// a destination that offers REQUIRETLS over verified TLS arrives there
// with REQUIRETLS, its signature verified by dkimpy and signed again
// identically; the one for a destination without TLS is never sent to it
// and bounces with 5.7.30, in a signed bounce that returns nothing of it.
func TestDKIMAndRequireTLS(t *testing.T) {
	url := sharedDB(t)
	dir := t.TempDir()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := e2e.WriteKey(t, dir, "x.pem", key, false, 0o600)
	ca := smtptest.NewCA(t, "Test CA")
	caFile := e2e.WriteFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})), 0o600)
	t.Setenv("SSL_CERT_FILE", caFile) // the roots the relay verifies with
	cert, certKey := e2e.WriteCert(t, dir)

	z := e2e.ServeRecordingSink(t, "127.0.0.1:0", &ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"127.0.0.1"}}).TLS)
	y := e2e.ServeRecordingSink(t, "127.0.0.1:0", nil) // no STARTTLS
	x := e2e.ServeRecordingSink(t, "127.0.0.1:0", nil) // the senders' domain
	relay, addr := startRelay(t, url, "relay1.test", y.Addr, "-tls-cert", cert, "-tls-key", certKey,
		"-route", "z.test="+z.Addr, "-route", "x.test="+x.Addr,
		"-dkim", "x.test:sel:"+keyFile, "-dkim", "relay1.test:bounces:"+keyFile)

	msg := "From: Alice <alice@x.test>\r\nSubject: the plan\r\n\r\nHello, meet at dawn.\r\n"
	e2e.SubmitRequireTLS(t, addr, "alice", "alice-pw", msg, "alice@x.test", "c@z.test")
	e2e.SubmitRequireTLS(t, addr, "alice", "alice-pw", msg, "alice@x.test", "b@y.test")
	waitFor(t, "the delivery and the bounce", 30*time.Second, func() bool {
		return len(z.Messages()) == 1 && len(x.Messages()) == 1
	})
	waitFor(t, "an empty queue", 30*time.Second, func() bool {
		return list(t, url) == ""
	})

	got := z.Messages()[0]
	if !got.RequireTLS || !got.TLS {
		t.Errorf("z.test got the message with REQUIRETLS %v over TLS %v", got.RequireTLS, got.TLS)
	}
	keys := map[string]crypto.Signer{"sel": key, "bounces": key}
	sigs := e2e.ResignDKIM(t, got.Data, keys)
	if len(sigs) != 1 || sigs[0].Domain != "x.test" {
		t.Fatalf("signatures %+v", sigs)
	}
	bounce := x.Messages()[0].Data
	bsigs := e2e.ResignDKIM(t, bounce, keys)
	if len(bsigs) != 1 || bsigs[0].Domain != "relay1.test" {
		t.Errorf("bounce signatures %+v", bsigs)
	}
	body := string(bounce)
	if !strings.Contains(body, "Status: 5.7.30") || !strings.Contains(body, "Final-Recipient: rfc822; b@y.test") ||
		strings.Contains(body, "the plan") || strings.Contains(body, "meet at dawn") {
		t.Errorf("bounce:\n%s", body)
	}
	if n := len(y.Messages()); n != 0 {
		t.Errorf("y.test, without TLS, got %d messages", n)
	}
	records := map[string]string{}
	for sel, d := range map[string]string{"sel": "x.test", "bounces": "relay1.test"} {
		rec, _ := dkim.PublicKeyRecord(key)
		records[sel+"._domainkey."+d] = rec
	}
	for i, res := range e2e.VerifyDKIM(t, records, got.Data, bounce) {
		if len(res) != 1 || !res[0].Verified {
			t.Errorf("dkimpy on message %d: %+v", i, res)
		}
	}
	if err := relay.Stop(); err != nil {
		t.Errorf("relay: %v", err)
	}
}
