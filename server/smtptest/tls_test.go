package smtptest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/server/smtptest"
)

// TestServerSTARTTLSAuth: AUTH is offered only after STARTTLS, every
// mechanism works for the given users, and a message records the TLS and
// the identity.
func TestServerSTARTTLSAuth(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.STARTTLS(), smtptest.User("alice", "wonder land"))

	c := ts.Dial()
	c.Expect("220 localhost {*}")
	if r := c.Cmd("EHLO me"); strings.Contains(strings.Join(r.Lines, " "), "AUTH") {
		t.Errorf("AUTH offered before TLS: %v", r.Lines)
	}
	c.Run(`
		C: STARTTLS
		S: 220 2.0.0 Ready to start TLS
		!tls
		C: EHLO me
		S: 250-localhost greets me
		S: 250-PIPELINING
		S: 250-SIZE 33554432
		S: 250-8BITMIME
		S: 250-ENHANCEDSTATUSCODES
		S: 250 AUTH SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN
	`)

	ctx := ctxT(t)
	mechs := []client.Mechanism{
		client.PlainAuth("", "alice", "wonder land"),
		client.LoginAuth("alice", "wonder land"),
		client.CramMD5Auth("alice", "wonder land"),
		client.ScramSHA256Auth("alice", "wonder land"),
	}
	for _, m := range mechs {
		cl := dialClient(t, client.DialStartTLS, ts.Addr, &client.Options{TLSConfig: ts.ClientTLSConfig()})
		if err := cl.Auth(ctx, m); err != nil {
			t.Errorf("%s: %v", m.Name(), err)
		}
		if err := cl.SendMail(ctx, "alice@example.org", []string{"b@example.org"}, strings.NewReader(m.Name()+"\r\n")); err != nil {
			t.Errorf("%s: send: %v", m.Name(), err)
		}
		cl.Close()
	}
	for i, m := range ts.Messages() {
		if !m.TLS || m.Identity != "alice" || string(m.Data) != mechs[i].Name()+"\r\n" {
			t.Errorf("message %d: TLS %v, identity %q, data %q", i, m.TLS, m.Identity, m.Data)
		}
	}

	// A wrong password is the client's 535.
	cl := dialClient(t, client.DialStartTLS, ts.Addr, &client.Options{TLSConfig: ts.ClientTLSConfig()})
	err := cl.AuthAuto(ctx, client.Credentials{Username: "alice", Password: "wrong"})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != 535 {
		t.Errorf("wrong password: %v, want a 535 *client.Error", err)
	}
}

// TestServerAuthWithoutTLS: with users and no TLS, AUTH is offered in
// clear, which a loopback test may use.
func TestServerAuthWithoutTLS(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.User("bob", "pw"))
	ctx := ctxT(t)
	cl := dialClient(t, client.Dial, ts.Addr, nil)
	if err := cl.AuthAuto(ctx, client.Credentials{Username: "bob", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.SendMail(ctx, "bob@example.org", []string{"c@example.org"}, strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	if m := ts.Messages(); len(m) != 1 || m[0].Identity != "bob" || m[0].TLS {
		t.Errorf("messages = %+v", m)
	}
}

// TestServerImplicitTLS: TLS from the first byte, for our client and the
// kit's Conn.
func TestServerImplicitTLS(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.ImplicitTLS())
	c := ts.Dial()
	c.Run(`
		S: 220 localhost ESMTP ready
		C: EHLO me
		S: 250-localhost greets me
		S: 250-PIPELINING
		S: 250-SIZE 33554432
		S: 250-8BITMIME
		S: 250 ENHANCEDSTATUSCODES
		C: QUIT
		S: 221 2.0.0 localhost closing connection
		!eof
	`)
	ctx := ctxT(t)
	cl := dialClient(t, client.DialTLS, ts.Addr, &client.Options{TLSConfig: ts.ClientTLSConfig()})
	if err := cl.SendMail(ctx, "a@example.org", []string{"b@example.org"}, strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	if m := ts.Messages(); len(m) != 1 || !m[0].TLS {
		t.Errorf("messages = %+v", m)
	}
}

// TestServerLMTP: LHLO, and one reply per recipient.
func TestServerLMTP(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.LMTP())
	c := ts.Dial()
	c.Run(`
		S: 220 localhost LMTP ready
		C: LHLO me
		S: 250-localhost greets me
		S: 250-PIPELINING
		S: 250-SIZE 33554432
		S: 250-8BITMIME
		S: 250 ENHANCEDSTATUSCODES
		C: MAIL FROM:<a@example.org>
		C: RCPT TO:<b@example.org>
		C: RCPT TO:<c@example.org>
		C: DATA
		S: 250 2.1.0 Sender OK
		S: 250 2.1.5 Recipient OK
		S: 250 2.1.5 Recipient OK
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		C: Subject: hi
		C:
		C: .
		S: 250 2.0.0 OK: message accepted
		S: 250 2.0.0 OK: message accepted
	`)
	m := ts.Messages()
	if len(m) != 1 || len(m[0].Envelope.To) != 2 || string(m[0].Data) != "Subject: hi\r\n\r\n" {
		t.Errorf("messages = %+v", m)
	}
}
