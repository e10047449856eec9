package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// startRelayUsers starts the relay with alice, bob and carol (an
// -auth-file) and extra flags.
func (w *world) startRelayUsers(extra ...string) {
	w.t.Helper()
	file := e2e.WriteFile(w.t, w.dir, "users", "alice:alice-pw\nbob:bob-pw\ncarol:carol-pw\n", 0o600)
	args := []string{"-listen", w.relayAddr, "-tls-cert", w.cert, "-tls-key", w.key, "-auth-file", file,
		"-queue", w.queue, "-route", "x.test=" + w.xAddr, "-route", "y.test=" + w.yAddr, "-retry", "200ms", "-hostname", "relay.test"}
	w.relay = e2e.Start(w.t, w.dir, relayBin, append(args, extra...)...)
	w.relay.WaitListen(w.relayAddr, 10*time.Second)
}

// mail sends MAIL FROM:<from> and checks the reply's start; a 250 is
// followed by RSET, for the next try.
func mail(t *testing.T, c *smtptest.Conn, from, want string) {
	t.Helper()
	c.Send("MAIL FROM:<" + from + ">\r\n")
	r, err := c.ReadReply()
	if err != nil || !strings.HasPrefix(r, want) {
		t.Errorf("MAIL FROM:<%s>: %q %v, want %q", from, r, err, want)
	}
	if strings.HasPrefix(r, "250") {
		c.Send("RSET\r\n")
		c.ExpectCode("250 ")
	}
}

// TestRelaySenders: -senders binds envelope senders to logins (issue
// 13.6): alice relayed MAIL FROM:<ceo@bank.example>. Any sender the file
// does not give the login gets 553 5.7.1 at MAIL; "<>" only where the file
// says so; a login without a line may use no sender.
func TestRelaySenders(t *testing.T) {
	w := newWorld(t)
	senders := e2e.WriteFile(t, w.dir, "senders", "# who may send as whom\nalice: a@x.test @y.test <>\nbob: bob@x.test\nalice: alias@x.test\n", 0o644)
	w.startRelayUsers("-senders", senders)
	refused := "553 5.7.1 "

	c := w.session("alice", "alice-pw")
	for _, tc := range []struct{ from, want string }{
		{"a@x.test", "250 "},
		{"A@X.Test", "250 "}, // compared case-insensitively, as Postfix's maps do
		{"alias@x.test", "250 "},
		{"anyone@y.test", "250 "},
		{"", "250 "},
		{"ceo@bank.example", refused},
		{"a@sub.y.test", refused},
		{"bob@x.test", refused},
		{"a@x.test.evil", refused},
	} {
		mail(t, c, tc.from, tc.want)
	}
	c = w.session("bob", "bob-pw")
	mail(t, c, "bob@x.test", "250 ")
	mail(t, c, "", refused)
	mail(t, c, "a@x.test", refused)
	c = w.session("carol", "carol-pw") // no line: no sender at all
	mail(t, c, "carol@x.test", refused)
	mail(t, c, "", refused)

	// The refusal is final: a client that goes on gets no relaying.
	c = w.session("bob", "bob-pw")
	c.Send("MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<b@y.test>\r\n")
	c.Expect("553 5.7.1 Sender address rejected: not owned by user bob\r\n")
	c.ExpectCode("503 ")
	if logs := w.relay.Stderr.String(); !strings.Contains(logs, "sender not allowed") || !strings.Contains(logs, "user=bob") {
		t.Errorf("no log line for the refused sender:\n%s", logs)
	}
	if strings.Contains(w.relay.Stderr.String(), "any authenticated user may use any sender") {
		t.Error("warns about -senders although it is given")
	}
}

// TestRelayAuthenticatedReceived: the Received field records the login
// (RFC 3848 ESMTPSA, and the user in Postfix's "(Authenticated sender:
// alice)" form), so that a message can be traced to the account that sent
// it.
func TestRelayAuthenticatedReceived(t *testing.T) {
	w := newWorld(t)
	w.startSink(w.yAddr, w.yMaildir)
	w.startRelay()
	c := w.session("alice", "alice-pw")
	c.Run(`
		C: MAIL FROM:<a@x.test>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<b@y.test>
		S: 250 2.1.5 Recipient OK
		C: DATA
		S: 354 {*}
		C: Subject: traced
		C:
		C: x
		C: .
		S: 250 2.0.0 OK: queued as {*}
		C: QUIT
		S: 221 {*}`)
	files := e2e.Maildir(t, w.yMaildir, 1, 10*time.Second)
	if len(files) != 1 {
		t.Fatalf("%d delivered", len(files))
	}
	body := string(e2e.ReadStored(t, files[0]).Body)
	rec := body[:strings.Index(body, "Subject: ")]
	if !strings.HasPrefix(rec, "Received: from client.test ([127.0.0.1])\r\n\t(Authenticated sender: alice)\r\n\tby relay.test with ESMTPSA id ") {
		t.Errorf("Received field %q", rec)
	}
	// Without -senders, the relay says at start what that means.
	if !strings.Contains(w.relay.Stderr.String(), "any authenticated user may use any sender") {
		t.Errorf("no warning without -senders:\n%s", w.relay.Stderr.String())
	}
}

// TestRelaySendersFileRefused: a -senders file with a line the relay
// cannot read stops it at start, naming the line.
func TestRelaySendersFileRefused(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"alice a@x.test\n", "alice: not-an-address\n", ": a@x.test\n", "alice: @\n", "alice: a@ｅｘａｍｐｌｅ.com\n"} {
		f := e2e.WriteFile(t, dir, "senders", "# ok\n"+bad, 0o600)
		code, _, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-listen", e2e.FreeAddr(t), "-auth", "alice:pw",
			"-queue", filepath.Join(dir, "q"), "-senders", f)
		if code == 0 || !strings.Contains(stderr, "senders:2:") {
			t.Errorf("-senders with %q: exit %d, %s", bad, code, stderr)
		}
	}
	// A file others may write would let them grant themselves senders.
	f := e2e.WriteFile(t, dir, "open", "alice: a@x.test\n", 0o664)
	code, _, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-listen", e2e.FreeAddr(t), "-auth", "alice:pw",
		"-queue", filepath.Join(dir, "q"), "-senders", f)
	if code == 0 || !strings.Contains(stderr, "chmod go-w") {
		t.Errorf("group-writable -senders: exit %d, %s", code, stderr)
	}
}
