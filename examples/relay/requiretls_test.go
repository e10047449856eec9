package main

import (
	"encoding/pem"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// TestRelayRequireTLS (RFC 8689): a message submitted with REQUIRETLS
// keeps the requirement in the queue, across a SIGKILL of the relay, and
// goes on only over TLS with a verified certificate to a server that
// offers REQUIRETLS, with REQUIRETLS in its MAIL. Routed to a destination
// without STARTTLS it is never sent in clear: it bounces with 5.7.30, and
// the bounce returns nothing of it (neither its header nor its body, RFC
// 8689 5), while a message without REQUIRETLS goes there in clear.
func TestRelayRequireTLS(t *testing.T) {
	w := newWorld(t)
	ca := smtptest.NewCA(t, "Test CA")
	caFile := e2e.WriteFile(t, w.dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})), 0o600)
	// The relay verifies the destination's certificate against the
	// system roots, which Go takes from this file.
	t.Setenv("SSL_CERT_FILE", caFile)
	zAddr := e2e.FreeAddr(t)
	w.startSink(w.xAddr, w.xMaildir)
	w.startSink(w.yAddr, w.yMaildir) // no STARTTLS
	w.startRelay("-route", "z.test="+zAddr)

	secret := "Subject: the secret plan\r\nFrom: alice@x.test\r\n\r\nMeet at dawn.\r\n"
	e2e.SubmitRequireTLS(t, w.relayAddr, "alice", "alice-pw", secret, "alice@x.test", "b@y.test")
	e2e.SubmitRequireTLS(t, w.relayAddr, "alice", "alice-pw", "Subject: over TLS\r\nFrom: alice@x.test\r\n\r\nverified\r\n", "alice@x.test", "c@z.test")
	w.submit([]byte("Subject: in clear\r\n\r\nnothing secret\r\n"), "alice@x.test", "d@y.test")

	bounces := e2e.Maildir(t, w.xMaildir, 1, 15*time.Second)
	if len(bounces) != 1 {
		t.Fatalf("%d bounces, want 1", len(bounces))
	}
	b := e2e.ReadStored(t, bounces[0])
	body := string(b.Body)
	for _, want := range []string{"Final-Recipient: rfc822; b@y.test", "Status: 5.7.30", "Action: failed", "REQUIRETLS"} {
		if !strings.Contains(body, want) {
			t.Errorf("bounce lacks %q:\n%s", want, body)
		}
	}
	for _, leak := range []string{"secret plan", "Meet at dawn", "text/rfc822-headers", "message/rfc822"} {
		if strings.Contains(body, leak) {
			t.Errorf("bounce returns %q of the REQUIRETLS message:\n%s", leak, body)
		}
	}
	// y.test got only the message without REQUIRETLS; the one for z.test
	// waits, its requirement in the queue (-list reads the state file).
	w.waitQueue("keeps only the message for z.test", func(l []string) bool {
		return len(l) == 1 && strings.Contains(l[0], "c@z.test(pending)") && !strings.Contains(l[0], "attempts=0 ") &&
			strings.Contains(l[0], " requiretls")
	})
	ys := e2e.Maildir(t, w.yMaildir, 1, 15*time.Second)
	if len(ys) != 1 || !strings.Contains(string(e2e.ReadStored(t, ys[0]).Body), "Subject: in clear") {
		t.Fatalf("y.test got %d messages, want only the one without REQUIRETLS", len(ys))
	}
	if l := regexp.MustCompile(`(?m)^.*to=<b@y\.test>.*dsn=5\.7\.30.*status=bounced.*$`).FindString(w.relay.Stderr.String()); l == "" {
		t.Errorf("log lacks the 5.7.30 bounce:\n%s", w.relay.Stderr.String())
	} else {
		t.Logf("the log line: %s", l)
	}

	// The message for z.test waits (z.test is down) with REQUIRETLS in
	// its queue file: after a SIGKILL and a restart, it goes to z.test
	// once up, over verified TLS, announced with REQUIRETLS.
	w.relay.Kill()
	w.startRelay("-route", "z.test="+zAddr)
	z := e2e.ServeRecordingSink(t, zAddr, &ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"127.0.0.1"}}).TLS)
	w.waitQueue("empties", emptyQueue)
	got := z.Messages()
	if len(got) != 1 || !got[0].RequireTLS || !got[0].TLS || !strings.Contains(string(got[0].Data), "Subject: over TLS") {
		t.Fatalf("z.test got %+v, want the message over TLS with REQUIRETLS", got)
	}
	if logs := w.relay.Stderr.String(); !strings.Contains(logs, "to=<c@z.test>") || !strings.Contains(logs, "tls=TLSv1.3/verified") {
		t.Errorf("log:\n%s", logs)
	}
}
