package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// Tests of attacks by a hostile client found by review, each over a real
// socket; docs/security.md names them.

// TestAttackEmptyChunksAreJunk: an empty BDAT chunk that is not the last
// moves no mail, like a NOOP between chunks; a client sending them for
// ever would hold the connection (and keep Shutdown waiting, since a
// transaction is open) at no cost. Each counts towards MaxJunkCommands.
func TestAttackEmptyChunksAreJunk(t *testing.T) {
	b := &testBackend{}
	c := junkLimitedChunks(t, b, 2)
	for range 3 {
		c.Run("C: BDAT 0\nS: 250 2.0.0 0 octets received\n")
	}
	c.Run("C: BDAT 0\n" + tooManyErrorsS)
	c.ExpectClosed()
	expectNoMessages(t, b)
}

// TestAttackAuthParamNeedsAuthentication: RFC 4954 5: a server MUST
// behave as if AUTH=<> was given when the client has not authenticated, so
// an unauthenticated client cannot make the backend (and the hops after
// it) believe an identity submitted the message.
func TestAttackAuthParamNeedsAuthentication(t *testing.T) {
	b := &testBackend{users: map[string]string{"alice": "secret"}}
	s := newServer(b)
	s.AllowInsecureAuth = true
	lb := start(t, s)
	c := dial(t, lb)
	send := func(auth string) string {
		return "C: MAIL FROM:<a@b.example> AUTH=" + auth + "\nC: RCPT TO:<b@c.example>\nC: DATA\n" +
			"S: 250 2.1.0 Sender OK\nS: 250 2.1.5 Recipient OK\nS: 354 Start mail input; end with <CRLF>.<CRLF>\n" +
			"C: x\nC: .\nS: 250 2.0.0 OK: message accepted\n"
	}
	c.Run("C: EHLO client\n" + ehloAuthS + send("ceo@bank.example") + `
		C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
		S: 235 2.7.0 Authentication successful
	` + send("alice@b.example"))
	m := b.Messages()
	if len(m) != 2 {
		t.Fatalf("stored %d messages", len(m))
	}
	if got := m[0].Mail.Auth; got != "<>" {
		t.Errorf("unauthenticated AUTH=ceo@bank.example reached the backend as %q, want <>", got)
	}
	if got := m[1].Mail.Auth; got != "alice@b.example" {
		t.Errorf("authenticated AUTH=alice@b.example reached the backend as %q", got)
	}
}

// TestAttackRefusedMessagesCountAsErrors: a message the server or the
// backend refuses counts as an error, as a refused RCPT does (Postfix
// counts every refused command), so that a client looping on refused
// messages (smuggling attempts, oversized messages, mail a filter
// refuses) meets MaxErrors instead of holding the connection for ever.
// The server's own failure (451 4.3.0) does not count.
func TestAttackRefusedMessagesCountAsErrors(t *testing.T) {
	refused := reply.New(554, reply.Enh(5, 7, 1), "Spam")
	tests := []struct {
		name   string
		chunks bool
		data   func(io.Reader) (string, error)
		send   string // the message
		reply  string // its reply
	}{
		{"DATA smuggling", false, nil, "a\n.\nb\r\n.\r\n", "554 5.6.0 Message refused: fake end-of-data sequence"},
		{"DATA bare CR", false, nil, "a\rb\r\n.\r\n", "554 5.6.0 Message refused: bare CR"},
		{"DATA too large", false, nil, "0123456789012345678901234567890123456789\r\n.\r\n", "552 5.3.4 Message size exceeds fixed maximum message size of 32 octets"},
		{"DATA refused by backend", false, func(r io.Reader) (string, error) { io.Copy(io.Discard, r); return "", refused }, "a\r\n.\r\n", "554 5.7.1 Spam"},
		{"BDAT bare CR", true, nil, "BDAT 4 LAST\r\na\rb\n", "554 5.6.0 Message refused: bare CR"},
		{"BDAT too large", true, nil, "BDAT 40 LAST\r\n0123456789012345678901234567890123456789", "552 5.3.4 Message size exceeds fixed maximum message size of 32 octets"},
		{"BDAT refused by backend", true, func(r io.Reader) (string, error) { return "", refused }, "BDAT 3 LAST\r\nabc", "554 5.7.1 Spam"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &testBackend{data: tt.data}
			s := chunkingServer(b)
			s.MaxMessageBytes = 32
			s.MaxErrors = 2
			lb := start(t, s)
			c := dial(t, lb)
			c.Run("C: EHLO client\n" + ehloScript("32", "CHUNKING", "BINARYMIME"))
			for i := range 2 {
				open := "MAIL FROM:<a@b.example>\r\nRCPT TO:<b@c.example>\r\n"
				want := "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"
				if !tt.chunks {
					open += "DATA\r\n"
					want += "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
				}
				c.Send(open)
				c.Expect(want)
				c.Send(tt.send)
				want = tt.reply + "\r\n"
				if i == 1 {
					want += strings.TrimPrefix(strings.ReplaceAll(tooManyErrorsS, "\n", "\r\n"), "S: ")
				}
				c.Expect(want)
			}
			c.ExpectClosed()
			expectNoMessages(t, b)
		})
	}
	t.Run("LMTP refused for every recipient", func(t *testing.T) {
		b := &testBackend{}
		s := newServer(b)
		s.LMTP = true
		s.MaxMessageBytes = 32
		s.MaxErrors = 1
		c := start(t, s).Dial(t)
		c.Run("S: 220 mx.test LMTP ready\n" + openS("LHLO", ehloScript("32"), "x@c.example", "y@c.example") +
			"C: 0123456789012345678901234567890123456789\nC: .\n" +
			"S: 552 5.3.4 {*}\nS: 552 5.3.4 {*}\n" + tooManyErrorsS)
		c.ExpectClosed()
	})
	t.Run("backend failure", func(t *testing.T) {
		b := &testBackend{data: func(r io.Reader) (string, error) { return "", errors.New("disk full") }}
		s := newServer(b)
		s.MaxErrors = 1
		lb := start(t, s)
		c := dial(t, lb)
		c.Run(dataS + "C: a\nC: .\nS: 451 4.3.0 {*}\n" + txnS("", "b@c.example") + "C: a\nC: .\nS: 451 4.3.0 {*}\nC: NOOP\nS: 250 2.0.0 OK\n")
	})
}

// TestAttackDSNControlCharacters: RFC 3461 4.2 and 4.4 require the
// original recipient and the envelope id to be printable US-ASCII once
// decoded, and an AUTH mailbox (RFC 4954 5) has no control characters
// either; xtext can encode CR and LF ("+0D+0A"), and a backend that
// writes them into a DSN or a header field would let the client inject
// fields. They are refused with 501 5.5.4.
func TestAttackDSNControlCharacters(t *testing.T) {
	var got []string
	b := &testBackend{}
	s := newServer(b)
	s.EnableDSN = true
	s.EnableSMTPUTF8 = true
	s.AllowInsecureAuth = true
	b.users = map[string]string{"alice": "secret"}
	b.rcpt = func(to envelope.Path) error { got = append(got, to.String()); return nil }
	lb := start(t, s)
	c := dial(t, lb)
	c.Run("C: EHLO client\n" + ehloWith("SMTPUTF8", "DSN", "AUTH PLAIN LOGIN") + `
		C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
		S: 235 2.7.0 Authentication successful
		C: MAIL FROM:<a@b.example> ENVID=id+0D+0ABcc:+20victim@example.org
		S: 501 5.5.4 Invalid ENVID value
		C: MAIL FROM:<a@b.example> ENVID=id+00x
		S: 501 5.5.4 Invalid ENVID value
		C: MAIL FROM:<a@b.example> AUTH=a+0D+0Ab@b.example
		S: 501 5.5.4 Invalid AUTH value
		C: MAIL FROM:<a@b.example> ENVID=id+20x AUTH=alice@b.example
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<b@c.example> ORCPT=rfc822;b+0D+0ABcc:+20x@c.example
		S: 501 5.5.4 Invalid ORCPT value
		C: RCPT TO:<b@c.example> ORCPT=rfc822;b+7F@c.example
		S: 501 5.5.4 Invalid ORCPT value
		C: RCPT TO:<b@c.example> ORCPT=utf-8;b\x{0D}\x{0A}x@c.example
		S: 501 5.5.4 Invalid ORCPT value
		C: RCPT TO:<b@c.example> ORCPT=rfc822;b+2Bx@c.example
		S: 250 2.1.5 Recipient OK
	`)
	if len(got) != 1 {
		t.Errorf("the backend got %d recipients, want 1: %q", len(got), got)
	}
}

// TestAttackBDATTrickle: the time spent waiting for message data counts
// until 1 KiB has come (DataBlockTimeout), across the chunks of a BDAT
// message and the waits for the BDAT commands between them, as it does
// for DATA: a client sending one octet per chunk, a chunk now and then,
// does not hold the connection (and Shutdown) for ever.
func TestAttackBDATTrickle(t *testing.T) {
	b := &testBackend{}
	s := chunkingServer(b)
	s.DataBlockTimeout = 300 * time.Millisecond
	c := dial(t, start(t, s))
	c.Run(chunkS)
	expectBDATTrickleClosed(t, c, b)
}

// expectBDATTrickleClosed sends one-octet chunks every 50 ms in the
// transaction begun on c, and expects the server (DataBlockTimeout 300
// ms) to close the connection with 421 4.4.2 within 1.5 s, no message
// delivered.
func expectBDATTrickleClosed(t *testing.T, c *smtptest.Conn, b *testBackend) {
	t.Helper()
	begin := time.Now()
	for i := 0; i < 40; i++ {
		if err := c.Write([]byte("BDAT 1\r\nx")); err != nil {
			break
		}
		r, err := c.ReadReply()
		if err != nil {
			t.Fatalf("after %d chunks: %v", i, err)
		}
		if strings.HasPrefix(r, "421") {
			if r != "421 4.4.2 mx.test Timeout, closing transmission channel\r\n" {
				t.Errorf("got %q", r)
			}
			c.ExpectClosed()
			if d := time.Since(begin); d > 1500*time.Millisecond {
				t.Errorf("closed after %v", d)
			}
			expectNoMessages(t, b)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("40 one-octet chunks over %v kept the transaction open", time.Since(begin))
}

// TestAttackLMTPBDATLastRepliesPerRecipient: RFC 2033 4.3: in LMTP, BDAT
// LAST gets one reply per accepted recipient, whatever the outcome, as
// the end of DATA does (4.2). A refusal of the last chunk (too large, the
// backend refused before reading it all) answered once would leave a
// client waiting for the other replies, out of step with the server.
func TestAttackLMTPBDATLastRepliesPerRecipient(t *testing.T) {
	tests := []struct {
		name string
		data func(io.Reader) (string, error)
		send string
		want string
	}{
		{"too large", nil, "BDAT 40 LAST\r\n0123456789012345678901234567890123456789",
			"552 5.3.4 Message size exceeds fixed maximum message size of 32 octets\r\n"},
		{"refused before the end", func(io.Reader) (string, error) {
			return "", reply.New(554, reply.Enh(5, 7, 1), "Spam")
		}, "BDAT 3 LAST\r\nabc", "554 5.7.1 Spam\r\n"},
		{"refused after a chunk", func(r io.Reader) (string, error) {
			r.Read(make([]byte, 3))
			return "", reply.New(554, reply.Enh(5, 7, 1), "Spam")
		}, "BDAT 3\r\nabcBDAT 3 LAST\r\ndef", "250 2.0.0 3 octets received\r\n554 5.7.1 Spam\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &testBackend{data: tt.data}
			s := chunkingServer(b)
			s.LMTP = true
			s.MaxMessageBytes = 32
			lb := start(t, s)
			c := lb.Dial(t)
			c.Timeout = 5 * time.Second
			c.Run("S: 220 mx.test LMTP ready\nC: LHLO client\n" + ehloScript("32", "CHUNKING", "BINARYMIME") + `
				C: MAIL FROM:<a@b.example>
				C: RCPT TO:<x@c.example>
				C: RCPT TO:<y@c.example>
				S: 250 2.1.0 Sender OK
				S: 250 2.1.5 Recipient OK
				S: 250 2.1.5 Recipient OK
			`)
			c.Send(tt.send + "NOOP\r\n")
			last := tt.want[strings.LastIndex(tt.want[:len(tt.want)-2], "\n")+1:]
			c.Expect(tt.want + last + "250 2.0.0 OK\r\n")
			expectNoMessages(t, b)
		})
	}
}

// TestAttackLMTPNoValidRecipients: RFC 2033 4.2: in LMTP, DATA (and BDAT)
// without a successful RCPT MUST fail with 503.
func TestAttackLMTPNoValidRecipients(t *testing.T) {
	b := &testBackend{rcpt: func(envelope.Path) error { return reply.New(550, reply.Enh(5, 1, 1), "No such user") }}
	s := chunkingServer(b)
	s.LMTP = true
	lb := start(t, s)
	c := lb.Dial(t)
	c.Timeout = 5 * time.Second
	c.Run("S: 220 mx.test LMTP ready\nC: LHLO client\n" + ehloWith("CHUNKING", "BINARYMIME") + `
		C: MAIL FROM:<a@b.example>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<x@c.example>
		S: 550 5.1.1 No such user
		C: DATA
		S: 503 5.5.1 {*}
		C: BDAT 0 LAST
		S: 503 5.5.1 {*}
	`)
}

// TestAttackErrorDelayPartialLine: past SoftErrorLimit the replies to an
// error go out after ErrorDelay when the client waits for them. A client
// that keeps the start of its next command in the server's buffer is
// still waiting (the command cannot be answered before the rest of it
// comes), and gets the delay.
func TestAttackErrorDelayPartialLine(t *testing.T) {
	const delay = 200 * time.Millisecond
	s := newServer(&testBackend{})
	s.SoftErrorLimit = 1
	s.ErrorDelay = delay
	lb := start(t, s)
	c := dial(t, lb)
	c.Send("FOO\r\n")
	c.Expect("500 Command unrecognized\r\n") // within SoftErrorLimit
	for _, send := range []string{"FOO\r\nF", "OO\r\nF", "OO\r\n"} {
		begin := time.Now()
		c.Send(send)
		c.Expect("500 Command unrecognized\r\n")
		if d := time.Since(begin); d < delay {
			t.Errorf("%q answered after %v, want at least %v", send, d, delay)
		}
	}
}

// panicHandler is a slog.Handler that panics on records whose message
// contains on.
type panicHandler struct{ on string }

func (h panicHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h panicHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.on) {
		panic("log handler exploded on " + h.on)
	}
	return nil
}
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicHandler) WithGroup(string) slog.Handler      { return h }

// TestAttackLoggerPanicOnProxyHeader: any peer can make the server log a
// refused PROXY header; a log handler that panics there ends that
// connection, never the process (the promise of Server.Logger's
// neighbours: a panic while serving a connection ends that connection).
func TestAttackLoggerPanicOnProxyHeader(t *testing.T) {
	s := newServer(&testBackend{})
	s.ProxyProtocol = true
	s.Logger = slog.New(panicHandler{on: "PROXY"})
	lb := start(t, s)
	bad := lb.Dial(t)
	bad.Send("GARBAGE\r\n")
	bad.ExpectClosed()
	good := lb.Dial(t)
	good.Send("PROXY TCP4 203.0.113.9 192.0.2.1 40000 25\r\n")
	good.Expect("220 mx.test ESMTP ready\r\n")
}

// logoutFails is a session whose Logout fails.
type logoutFails struct{ *testSession }

func (s logoutFails) Logout(context.Context) error { return errors.New("database gone") }

// TestAttackLoggerPanicAtLogout: a log handler that panics on the
// backend's Logout error, logged as the connection ends, ends that
// connection only.
func TestAttackLoggerPanicAtLogout(t *testing.T) {
	b := &testBackend{}
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return logoutFails{&testSession{b: b, c: c}}, nil
	}))
	s.Logger = slog.New(panicHandler{on: "backend error"})
	lb := start(t, s)
	c := dial(t, lb)
	c.Run("C: QUIT\nS: 221 {*}\n!eof\n")
	other := dial(t, lb)
	other.Run("C: NOOP\nS: 250 OK\n")
}

// TestAttackJunkBetweenChunksOneReply: a NOOP between BDAT chunks that
// reaches MaxErrors gets one 421, not two: every command has one reply.
func TestAttackJunkBetweenChunksOneReply(t *testing.T) {
	b := &testBackend{}
	c := junkLimitedChunks(t, b, 1)
	c.Send("BDAT 1\r\nx")
	c.Expect("250 2.0.0 1 octets received\r\n")
	c.Run("C: NOOP\nS: 250 2.0.0 OK\nC: NOOP\nS: 250 2.0.0 OK\n" + tooManyErrorsS)
	c.ExpectClosed()
	expectNoMessages(t, b)
}

// failingAuth is a session whose authenticator answers every attempt with
// an error other than ErrAuthFailed: a failing directory, or a backend
// ported from go-smtp that returns its own error for a wrong password.
type failingAuth struct{ *testSession }

func (s failingAuth) AuthPassword(context.Context, string, string, string) error {
	return errors.New("invalid credentials")
}

// TestAttackAuthFailingBackendLoop: an AUTH answered 454 (the backend
// failed) or with a refusal of the backend's own is not free: it counts
// as an error, so a client cannot loop on AUTH for ever, guessing
// passwords against a backend that does not return ErrAuthFailed or
// hammering one that is down.
func TestAttackAuthFailingBackendLoop(t *testing.T) {
	b := &testBackend{}
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return failingAuth{&testSession{b: b, c: c}}, nil
	}))
	s.AllowInsecureAuth = true
	s.MaxErrors = 2
	lb := start(t, s)
	c := dial(t, lb)
	c.Run("C: EHLO client\n" + ehloAuthS + `
		C: AUTH PLAIN AGFsaWNlAGd1ZXNzMQ==
		S: 454 4.7.0 Temporary authentication failure
		C: AUTH PLAIN AGFsaWNlAGd1ZXNzMg==
		S: 454 4.7.0 Temporary authentication failure
	` + tooManyErrorsS)
	c.ExpectClosed()
}

// junkLimitedChunks opens a transaction on a chunking server of b whose
// MaxJunkCommands and MaxErrors are both n, up to the first BDAT.
func junkLimitedChunks(t *testing.T, b *testBackend, n int) *smtptest.Conn {
	s := chunkingServer(b)
	s.MaxJunkCommands = n
	s.MaxErrors = n
	c := dial(t, start(t, s))
	c.Run(chunkS)
	return c
}
