package server_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// bareReplySession answers with replies that carry no enhanced code, as a
// backend may build them.
type bareReplySession struct{ *testSession }

func (s *bareReplySession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	if to.Local == "bare" {
		return &reply.Reply{Code: reply.CodeMailboxUnavailable, Lines: []string{"No such user"}}
	}
	if to.Local == "wrongclass" {
		return reply.New(reply.CodeMailboxBusy, reply.EnhOK(), "Try later")
	}
	return s.testSession.Rcpt(ctx, to, p)
}

var (
	enhancedRe = regexp.MustCompile(`^([0-9]{3})[ -]([245])\.[0-9]{1,3}\.[0-9]{1,3}( |\r\n)`)
	anyEnhRe   = regexp.MustCompile(`^[0-9]{3}[ -][0-9]\.[0-9]{1,3}\.[0-9]{1,3}( |\r\n)`)
)

// TestEnhancedStatusCodes: RFC 2034 4. Once EHLO was accepted, every 2xx,
// 4xx and 5xx reply line carries an enhanced code of the same class,
// except the replies to HELO and EHLO; 3xx replies carry none; in a HELO
// session, and in the greeting, there are none at all.
func TestEnhancedStatusCodes(t *testing.T) {
	commands := []string{
		"NOOP", "RSET", "VRFY x", "EXPN x", "HELP", "FOO", "MAIL FROM:<a@b.example>",
		"MAIL FROM:<a@b.example>", "RCPT TO:<bare@c.example>", "RCPT TO:<wrongclass@c.example>",
		"RCPT TO:<>", "RCPT TO:<b@c.example>", "DATA", "x", ".", "BDAT 1 LAST\r\nx", "STARTTLS", "AUTH PLAIN",
		"NOOP " + strings.Repeat("x", 600), "EHLO", "QUIT",
	}
	for _, hello := range []string{"HELO", "EHLO"} {
		t.Run(hello, func(t *testing.T) {
			s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
				return &bareReplySession{&testSession{b: &testBackend{}, c: c}}, nil
			}))
			s.EnableChunking = true
			lb := start(t, s)
			c := lb.Dial(t)
			greeting, err := c.ReadReply()
			if err != nil {
				t.Fatal(err)
			}
			if anyEnhRe.MatchString(greeting) {
				t.Errorf("greeting has an enhanced code: %q", greeting)
			}
			c.Send(hello + " client\r\n")
			if r, _ := c.ReadReply(); !strings.HasPrefix(r, "250") || anyEnhRe.MatchString(r) {
				t.Errorf("%s reply %q", hello, r)
			}
			for _, cmd := range commands {
				if strings.HasPrefix(cmd, "BDAT") {
					c.Send(cmd) // the chunk follows the command line
				} else {
					c.Send(cmd + "\r\n")
				}
				if cmd == "x" {
					continue // message data: the reply comes after the end
				}
				r, err := c.ReadReply()
				if err != nil {
					t.Fatalf("%s: %v", cmd, err)
				}
				for _, line := range strings.SplitAfter(r, "\r\n") {
					if line == "" {
						continue
					}
					want := hello == "EHLO" && cmd != "EHLO" && line[0] != '3'
					m := enhancedRe.FindStringSubmatch(line)
					switch {
					case want && (m == nil || m[1][0] != m[2][0]):
						t.Errorf("%s session, %q: reply line %q lacks an enhanced code of its class", hello, cmd, line)
					case !want && anyEnhRe.MatchString(line):
						t.Errorf("%s session, %q: reply line %q has an enhanced code", hello, cmd, line)
					}
				}
			}
		})
	}
}

// TestEnhancedStatusCodesLMTP: in LMTP the reply to LHLO carries no
// enhanced code, and HELO and EHLO are unknown commands whose 500 does.
func TestEnhancedStatusCodesLMTP(t *testing.T) {
	s := newServer(&testBackend{})
	s.LMTP = true
	c := start(t, s).Dial(t)
	c.Run(`
		S: 220 mx.test LMTP ready
		C: LHLO client
		` + ehloS + `
		C: LHLO
		S: 501 Domain name or address literal required
		C: EHLO client
		S: 500 5.5.1 This is an LMTP server: use LHLO
		C: NOOP
		S: 250 2.0.0 OK
	`)
	smtp := dial(t, start(t, newServer(&testBackend{})))
	smtp.Run(`
		C: EHLO client
		` + ehloS + `
		C: LHLO client
		S: 500 5.5.2 Command unrecognized
	`)
}

// TestBackendEnhancedCodeOnTheWire: a backend's reply goes out with the
// enhanced code its Error method shows (reply.WireEnhanced: the class
// follows the reply code, RFC 3463 3.1), not a generic X.0.0; X.0.0 is
// added only when the reply has no usable enhanced code (RFC 2034 4).
func TestBackendEnhancedCodeOnTheWire(t *testing.T) {
	replies := map[string]*reply.Reply{
		"full":      {Code: reply.CodeInsufficientStorage, Enhanced: reply.EnhMailboxFull(), Lines: []string{"Mailbox full"}},
		"moved":     {Code: reply.CodeMailboxUnavailable, Enhanced: reply.Enh(2, 1, 6), Lines: []string{"Moved"}},
		"bare":      {Code: reply.CodeMailboxUnavailable, Lines: []string{"No such user"}},
		"malformed": {Code: reply.CodeMailboxBusy, Enhanced: reply.Enh(4, 1000, 1), Lines: []string{"Busy"}},
	}
	want := map[string]string{
		"full":      "452 4.2.2 Mailbox full\r\n",
		"moved":     "550 5.1.6 Moved\r\n",
		"bare":      "550 5.0.0 No such user\r\n",
		"malformed": "450 4.0.0 Busy\r\n",
	}
	b := &testBackend{rcpt: func(to envelope.Path) error {
		if r := replies[to.Local]; r != nil {
			return r
		}
		return nil
	}}
	c := dial(t, start(t, newServer(b)))
	c.Run("C: EHLO client\n" + ehloS + "C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 Sender OK\n")
	for _, local := range []string{"full", "moved", "bare", "malformed"} {
		c.Send("RCPT TO:<" + local + "@c.example>\r\n")
		got := c.Expect(want[local])
		if r := replies[local]; r.Enhanced.Valid() && got != r.Error()+"\r\n" {
			t.Errorf("%s: the wire says %q, Error says %q", local, got, r.Error())
		}
	}
}
