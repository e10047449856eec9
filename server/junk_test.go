package server_test

import (
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// TestJunkCommandLimit: past MaxJunkCommands, every NOOP, RSET, VRFY,
// EXPN, HELP and repeated greeting counts as an error (Postfix's
// smtpd_junk_command_limit), so a flood of them ends with 421 4.7.0.
func TestJunkCommandLimit(t *testing.T) {
	tests := []struct{ cmd, replyS string }{
		{"NOOP", "S: 250 2.0.0 OK\n"},
		{"RSET", "S: 250 2.0.0 OK\n"},
		{"VRFY postmaster", "S: 252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\n"},
		{"EXPN list", "S: 502 5.5.1 EXPN not available\n"},
		{"HELP", "S: 214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\nS: 214 2.0.0 See RFC 5321\n"},
		{"EHLO client", ehloS},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			s := newServer(&testBackend{})
			s.MaxJunkCommands = 2
			s.MaxErrors = 2
			lb := start(t, s)
			c := dial(t, lb)
			c.Run("C: EHLO client\n" + ehloS)
			// Two are free, the third and fourth are errors.
			for i := 0; i < 3; i++ {
				c.Run("C: " + tt.cmd + "\n" + tt.replyS)
			}
			c.Run("C: " + tt.cmd + "\n" + tt.replyS + tooManyErrorsS)
			c.ExpectClosed()
		})
	}
}

// TestJunkCommandLimitDefaults: with every limit at its zero value, the
// documented defaults apply: DefaultMaxJunkCommands free NOOPs, then
// DefaultMaxErrors more end the connection.
func TestJunkCommandLimitDefaults(t *testing.T) {
	lb := start(t, newServer(&testBackend{}))
	c := dial(t, lb)
	c.Run("C: EHLO client\n" + ehloS)
	n := server.DefaultMaxJunkCommands + server.DefaultMaxErrors
	c.Send(strings.Repeat("NOOP\r\n", n))
	c.Expect(strings.Repeat("250 2.0.0 OK\r\n", n) +
		"421 4.7.0 mx.test Too many errors, closing transmission channel\r\n")
	c.ExpectClosed()
}

// TestRefusedRecipientsCountAsErrors: a recipient the backend refuses
// counts as an error (Postfix counts every rejected command towards
// smtpd_hard_error_limit), so address harvesting ends with 421; a backend
// failure (451 4.3.0, not the client's fault) does not count.
func TestRefusedRecipientsCountAsErrors(t *testing.T) {
	b := &testBackend{rcpt: func(to envelope.Path) error {
		switch to.Local {
		case "unknown":
			return reply.New(550, reply.Enh(5, 1, 1), "No such user")
		case "broken":
			return errors.New("database down")
		}
		return nil
	}}
	s := newServer(b)
	s.MaxErrors = 2
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(mailS + `
		C: RCPT TO:<broken@c.example>
		S: 451 4.3.0 Requested action aborted: local error in processing
		C: RCPT TO:<broken@c.example>
		S: 451 4.3.0 Requested action aborted: local error in processing
		C: RCPT TO:<unknown@c.example>
		S: 550 5.1.1 No such user
		C: RCPT TO:<b@c.example>
		S: 250 2.1.5 Recipient OK
		C: RCPT TO:<unknown@c.example>
		S: 550 5.1.1 No such user
		` + tooManyErrorsS)
	c.ExpectClosed()
}

// TestRecipientOvershoot: recipients past MaxRecipients get 452 4.5.3
// (RFC 5321 4.5.3.1.10); the first MaxRecipientOvershoot of them are
// free, each further one is an error (Postfix's
// smtpd_recipient_overshoot_limit).
func TestRecipientOvershoot(t *testing.T) {
	s := newServer(&testBackend{})
	s.MaxRecipients = 1
	s.MaxRecipientOvershoot = 2
	s.MaxErrors = 2
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(mailS + `
		C: RCPT TO:<b1@c.example>
		S: 250 2.1.5 Recipient OK
	`)
	for i := 0; i < 3; i++ {
		c.Run(`
			C: RCPT TO:<b2@c.example>
			S: 452 4.5.3 Too many recipients
		`)
	}
	c.Run(`
		C: RCPT TO:<b2@c.example>
		S: 452 4.5.3 Too many recipients
		` + tooManyErrorsS)
	c.ExpectClosed()
}

// TestErrorsForgivenAfterDelivery: MaxErrors counts the errors made
// without delivering mail (Postfix's smtpd_hard_error_limit): a
// delivered message starts the count again, so a long-lived connection of
// a real sender is not cut for a typo now and then.
func TestErrorsForgivenAfterDelivery(t *testing.T) {
	s := newServer(&testBackend{})
	s.MaxErrors = 2
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloS + `
		C: FOO
		S: 500 5.5.2 Command unrecognized
		` + txnS("", "b@c.example") + `
		C: .
		S: 250 2.0.0 OK: message accepted
		C: FOO
		S: 500 5.5.2 Command unrecognized
		C: FOO
		S: 500 5.5.2 Command unrecognized
		` + tooManyErrorsS)
	c.ExpectClosed()
}

// TestErrorDelay: past SoftErrorLimit errors, each error is answered after
// ErrorDelay (Postfix's smtpd_soft_error_limit and smtpd_error_sleep_time),
// so a client looping on errors or AUTH cancels is slowed down.
func TestErrorDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	s := newServer(&testBackend{users: map[string]string{"alice": "secret"}})
	s.AllowInsecureAuth = true
	s.SoftErrorLimit = 1
	s.ErrorDelay = delay
	lb := start(t, s)
	c := dial(t, lb)
	c.Run("C: EHLO client\n" + ehloAuthS)
	c.Run("C: FOO\nS: 500 5.5.2 Command unrecognized\n") // within SoftErrorLimit
	for _, script := range []string{
		"C: FOO\nS: 500 5.5.2 Command unrecognized\n",
		"C: AUTH PLAIN\nS: 334 \nC: *\n" + authCancelledS,
	} {
		startT := time.Now()
		c.Run(script)
		if d := time.Since(startT); d < delay {
			t.Errorf("%q answered after %v, want at least %v", script, d, delay)
		}
	}
}

// TestRefusedVerifyCountsAsError: a VRFY the backend answers with a
// refusal counts as an error, like a refused RCPT, so VRFY is no cheaper
// an address-harvesting oracle than RCPT.
func TestRefusedVerifyCountsAsError(t *testing.T) {
	s := verifyServer()
	s.MaxErrors = 2
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloS + `
		C: VRFY alice
		S: 250 2.0.0 Alice <alice@example.org>
		C: VRFY nobody
		S: 550 5.1.1 No such user
		C: VRFY alice
		S: 250 2.0.0 Alice <alice@example.org>
		C: VRFY nobody
		S: 550 5.1.1 No such user
		` + tooManyErrorsS)
	c.ExpectClosed()
}

// TestErrorDelaySparesAClosedClient: the delay is for a client waiting
// for its replies; one that sent its errors and closed its side (plain or
// TLS) is answered and closed at once, not after the delay.
func TestErrorDelaySparesAClosedClient(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	for _, implicitTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "TLS"}[implicitTLS], func(t *testing.T) {
			s := newServer(&testBackend{})
			s.SoftErrorLimit = 1
			s.ErrorDelay = time.Hour
			var c *smtptest.Conn
			if implicitTLS {
				c = smtptest.StartTLS(t, s, cert.ServerConfig()).DialTLS(t, cert.ClientConfig())
				c.Expect("220 mx.test ESMTP ready\r\n")
			} else {
				c = dial(t, start(t, s))
			}
			// The second error owes the delay; the client is gone.
			c.Send("FOO\r\nFOO\r\n")
			switch nc := c.NetConn().(type) {
			case *net.TCPConn:
				nc.CloseWrite()
			case *tls.Conn:
				nc.CloseWrite()
			}
			c.Expect("500 Command unrecognized\r\n500 Command unrecognized\r\n")
			c.ExpectClosed()
		})
	}
}
