package server_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// TestBackendReplyCodes: a backend's *reply.Reply goes out as it is,
// except a 3xx, which would make the client send what the server does not
// expect (it becomes a logged 451); a 421 closes the connection after it
// is sent (RFC 5321 3.8).
func TestBackendReplyCodes(t *testing.T) {
	logs := &syncBuffer{}
	b := &testBackend{
		mail: func(from envelope.Path) error {
			if from.Local == "intermediate" {
				return reply.New(reply.CodeStartMailInput, reply.EnhancedCode{}, "Go ahead")
			}
			return nil
		},
		rcpt: func(to envelope.Path) error {
			if to.Local == "bye" {
				return reply.New(reply.CodeServiceNotAvailable, reply.EnhSystemNotAccepting().WithClass(4), "mx.test Going away")
			}
			return nil
		},
	}
	s := newServer(b)
	s.Logger = slogTo(logs)
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloS + `
		C: MAIL FROM:<intermediate@b.example>
		S: 451 4.3.0 Requested action aborted: local error in processing
		C: MAIL FROM:<a@b.example>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<bye@c.example>
		C: NOOP
		S: 421 4.3.2 mx.test Going away
	`)
	c.ExpectClosed()
	if !strings.Contains(logs.String(), "Go ahead") {
		t.Errorf("the refused 3xx reply was not logged:\n%s", logs.String())
	}
}

// TestNewSessionNil: a backend returning neither a Session nor an error is
// a backend failure: 421, not a panic on the first command.
func TestNewSessionNil(t *testing.T) {
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return nil, nil
	}))
	c := start(t, s).Dial(t)
	c.Expect("421 mx.test Service not available, closing transmission channel\r\n")
	c.ExpectClosed()
}

// lmtpErrSession returns per-recipient results that are not replies, and
// fewer of them than recipients.
type lmtpErrSession struct{ *testSession }

func (s *lmtpErrSession) LMTPData(ctx context.Context, r io.Reader) ([]error, error) {
	io.Copy(io.Discard, r)
	return []error{nil, errors.New("quota database password=hunter2")}, nil
}

// TestLMTPPerRecipientErrors: an LMTP per-recipient error that is not a
// *reply.Reply becomes 451 without its text, and a recipient without an
// entry gets 451 too (RFC 2033 4.2: one reply per recipient, always).
func TestLMTPPerRecipientErrors(t *testing.T) {
	logs := &syncBuffer{}
	events := &eventLog{}
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return &lmtpErrSession{&testSession{b: &testBackend{}, c: c}}, nil
	}))
	s.LMTP = true
	s.Logger = slogTo(logs)
	s.Events = events
	c := start(t, s).Dial(t)
	c.Run(`
		` + lmtpS("one@c.example", "two@c.example", "three@c.example") + `
		C: hi
		C: .
		S: 250 2.0.0 OK: message accepted
		S: 451 4.3.0 Requested action aborted: local error in processing
		S: 451 4.3.0 Requested action aborted: local error in processing
		C: NOOP
		S: 250 2.0.0 OK
	`)
	if !strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the per-recipient error was not logged:\n%s", logs.String())
	}
	n := 0
	for _, e := range events.list() {
		if strings.HasPrefix(e, "recipient:") {
			n++
		}
	}
	if n != 6 { // 3 after RCPT, 3 after the message
		t.Errorf("%d recipient events, want 6: %v", n, events.list())
	}
}

// TestTypedNilReply: a backend returning a nil *reply.Reply as an error
// (a typed nil, so the error is not nil) gets the generic 451; nothing
// panics.
func TestTypedNilReply(t *testing.T) {
	var nilReply *reply.Reply
	b := &testBackend{
		mail:  func(from envelope.Path) error { return nilReply },
		users: map[string]string{},
	}
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return &nilReplyAuth{&testSession{b: b, c: c}}, nil
	}))
	s.AllowInsecureAuth = true
	c := dial(t, start(t, s))
	c.Run(`
		C: EHLO client
		` + ehloWith("AUTH PLAIN LOGIN") + `
		C: AUTH PLAIN ` + plainIR("", "alice", "secret") + `
		S: 454 4.7.0 Temporary authentication failure
		C: MAIL FROM:<a@b.example>
		S: 451 4.3.0 Requested action aborted: local error in processing
	`)
}

type nilReplyAuth struct{ *testSession }

func (s *nilReplyAuth) AuthPassword(ctx context.Context, identity, username, password string) error {
	var r *reply.Reply
	return r
}
