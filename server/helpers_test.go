package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

// message is one message a testBackend received.
type message struct {
	From string
	To   []string
	Data string
	Mail envelope.MailParams
	Err  error // the error Data returned
}

// testBackend records what it receives. Hooks let a test change the
// answers.
type testBackend struct {
	mu       sync.Mutex
	messages []message
	resets   int
	logouts  int
	conns    []*server.Conn

	newSession func(c *server.Conn) error
	mail       func(from envelope.Path) error
	rcpt       func(to envelope.Path) error
	data       func(r io.Reader) (string, error) // default: io.ReadAll
	reset      func()                            // called by Reset, if set
	users      map[string]string                 // enables PasswordAuthenticator
}

func (b *testBackend) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	if b.newSession != nil {
		if err := b.newSession(c); err != nil {
			return nil, err
		}
	}
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
	s := &testSession{b: b, c: c}
	if b.users != nil {
		return &authSession{s}, nil
	}
	return s, nil
}

func (b *testBackend) Messages() []message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]message(nil), b.messages...)
}

type testSession struct {
	b   *testBackend
	c   *server.Conn
	cur message
}

func (s *testSession) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("Mail context has no deadline")
	}
	if s.b.mail != nil {
		if err := s.b.mail(from); err != nil {
			return err
		}
	}
	s.cur = message{From: from.String(), Mail: p}
	return nil
}

func (s *testSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	if s.b.rcpt != nil {
		if err := s.b.rcpt(to); err != nil {
			return err
		}
	}
	s.cur.To = append(s.cur.To, to.String())
	return nil
}

func (s *testSession) Data(ctx context.Context, r io.Reader) error {
	var data string
	var err error
	if s.b.data != nil {
		data, err = s.b.data(r)
	} else {
		var b []byte
		b, err = io.ReadAll(r)
		data = string(b)
	}
	m := s.cur
	m.Data = data
	m.Err = err
	if err == nil {
		s.b.mu.Lock()
		s.b.messages = append(s.b.messages, m)
		s.b.mu.Unlock()
	}
	return err
}

func (s *testSession) Reset(ctx context.Context) {
	if s.b.reset != nil {
		s.b.reset()
	}
	s.cur = message{}
	s.b.mu.Lock()
	s.b.resets++
	s.b.mu.Unlock()
}

func (s *testSession) Logout(ctx context.Context) error {
	s.b.mu.Lock()
	s.b.logouts++
	s.b.mu.Unlock()
	return nil
}

// authSession adds password authentication.
type authSession struct{ *testSession }

func (s *authSession) AuthPassword(ctx context.Context, identity, username, password string) error {
	if p, ok := s.b.users[username]; ok && p == password && (identity == "" || identity == username) {
		return nil
	}
	return server.ErrAuthFailed
}

// newServer returns a server for tests with a quiet logger.
func newServer(b server.Backend) *server.Server {
	return &server.Server{
		Hostname:         "mx.test",
		Backend:          b,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		AuthFailureDelay: -1,
		ErrorDelay:       -1, // tests of the delay set it
	}
}

// start runs s on loopback and returns the loopback.
func start(t *testing.T, s *server.Server) *smtptest.Loopback {
	t.Helper()
	return smtptest.Start(t, s)
}

// dial connects and reads the greeting.
func dial(t *testing.T, lb *smtptest.Loopback) *smtptest.Conn {
	t.Helper()
	c := lb.Dial(t)
	c.Timeout = 5 * time.Second
	c.Expect("220 mx.test ESMTP ready\r\n")
	return c
}

// defaultSize is the SIZE a default test server advertises
// (DefaultMaxMessageBytes).
const defaultSize = "33554432"

// ehloScript returns the reply of the test server to "EHLO client" as
// transcript lines: the default extensions with SIZE size ("" for none),
// then extra.
func ehloScript(size string, extra ...string) string {
	if size != "" {
		size = " " + size
	}
	lines := append([]string{"mx.test greets client", "PIPELINING", "SIZE" + size, "8BITMIME", "ENHANCEDSTATUSCODES"}, extra...)
	var b strings.Builder
	for i, l := range lines {
		if i < len(lines)-1 {
			b.WriteString("S: 250-" + l + "\n")
		} else {
			b.WriteString("S: 250 " + l + "\n")
		}
	}
	return b.String()
}

// ehloWith is ehloScript with the default SIZE.
func ehloWith(extra ...string) string { return ehloScript(defaultSize, extra...) }

// ehloS is the EHLO reply of a default test server without TLS, as
// transcript lines; ehloReply is the same on the wire.
var (
	ehloS     = ehloWith()
	ehloReply = strings.NewReplacer("S: ", "", "\n", "\r\n").Replace(ehloS)
)

// dataS opens a transaction of a default test server with pipelined EHLO,
// MAIL, RCPT and DATA, up to the 354.
var dataS = openS("EHLO", ehloS)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eventLog records events.
type eventLog struct {
	mu  sync.Mutex
	evs []server.Event
}

func (l *eventLog) Event(c *server.Conn, e server.Event) {
	if c.ID() == "" {
		panic("event without connection id")
	}
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
}

// has reports whether an event of kind k mentions text (in its violation,
// command, hello, mechanism or identity).
func (l *eventLog) has(k server.EventKind, text string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.evs {
		if e.Kind != k {
			continue
		}
		for _, s := range []string{e.Violation, e.Command, e.Hello, e.Mechanism, e.Identity} {
			if strings.Contains(s, text) {
				return true
			}
		}
	}
	return false
}

func (l *eventLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		s := e.Kind.String() + ":" + e.Command + e.Violation + e.Hello + e.Mechanism
		if e.Reply != nil {
			s += " " + e.Reply.Code.String()
		}
		out = append(out, s)
	}
	return out
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

func slogDebug(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openS is the pipelined opening of a transaction: hello (EHLO or LHLO)
// client, MAIL FROM:<a@b.example>, RCPT TO each of rcpts (default
// b@c.example) and DATA, then helloReply and the replies up to the 354.
func openS(hello, helloReply string, rcpts ...string) string {
	if len(rcpts) == 0 {
		rcpts = []string{"b@c.example"}
	}
	var b strings.Builder
	b.WriteString("C: " + hello + " client\n")
	b.WriteString(txnS(helloReply, rcpts...))
	return b.String()
}

// txnS is MAIL FROM:<a@b.example>, RCPT TO each of rcpts and DATA sent
// together, then before (e.g. an EHLO reply, or "") and the replies up to
// the 354.
func txnS(before string, rcpts ...string) string {
	var b strings.Builder
	b.WriteString("C: MAIL FROM:<a@b.example>\n")
	for _, r := range rcpts {
		b.WriteString("C: RCPT TO:<" + r + ">\n")
	}
	b.WriteString("C: DATA\n")
	b.WriteString(before)
	b.WriteString("S: 250 2.1.0 Sender OK\n")
	for range rcpts {
		b.WriteString("S: 250 2.1.5 Recipient OK\n")
	}
	b.WriteString("S: 354 Start mail input; end with <CRLF>.<CRLF>\n")
	return b.String()
}

// lmtpS is the LMTP greeting then openS with LHLO.
func lmtpS(rcpts ...string) string {
	return "S: 220 mx.test LMTP ready\n" + openS("LHLO", ehloS, rcpts...)
}

// expectNoMessages fails the test if b stored a message.
func expectNoMessages(t *testing.T, b *testBackend) {
	t.Helper()
	if n := len(b.Messages()); n != 0 {
		t.Errorf("stored %d messages", n)
	}
}

// startTLSS is EHLO client then STARTTLS on a test server with TLSConfig,
// up to the 220 (the client then runs the handshake).
var startTLSS = "C: EHLO client\n" + ehloWith("STARTTLS") + `
	C: STARTTLS
	S: 220 2.0.0 Ready to start TLS
`

// awaitShutdown fails the test unless the Shutdown whose result comes on
// shut returns nil within 10 seconds.
func awaitShutdown(t *testing.T, shut <-chan error) {
	t.Helper()
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
}

// mailS is EHLO client and MAIL FROM:<a@b.example>, each with its reply,
// on a default test server.
var mailS = "C: EHLO client\n" + ehloS + `
	C: MAIL FROM:<a@b.example>
	S: 250 2.1.0 Sender OK
`

// trickle writes s to c n times, every apart, and stops early once a
// write fails (the server closed).
func trickle(c *smtptest.Conn, s string, n int, every time.Duration) {
	for i := 0; i < n; i++ {
		if err := c.Write([]byte(s)); err != nil {
			return
		}
		time.Sleep(every)
	}
}
