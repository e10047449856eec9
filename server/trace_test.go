package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/internal/smtptest"
)

// acceptedListener passes on the connections it accepts, so that a test
// can act on the server's end of a connection.
type acceptedListener struct {
	net.Listener
	conns chan net.Conn
}

func (l *acceptedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.conns <- c
	}
	return c, err
}

// TestTraceShowsWhatWasSent: the trace shows a reply as sent only once it
// was written to the connection. Here the connection is cut (the server's
// sending side shut) while replies to a pipelined transaction wait in the
// server's buffer: the client never gets them, and the trace says so
// instead of showing a 250 for a message the client was never told about.
func TestTraceShowsWhatWasSent(t *testing.T) {
	g := newGate(t)
	b := &testBackend{data: func(r io.Reader) (string, error) {
		d, err := io.ReadAll(r)
		g.wait()
		return string(d), err
	}}
	s := newServer(b)
	trace := &syncBuffer{}
	s.Trace = trace
	l, err := smtptest.Listen()
	if err != nil {
		t.Fatal(err)
	}
	al := &acceptedListener{Listener: l, conns: make(chan net.Conn, 1)}
	served := make(chan error, 1)
	go func() { served <- s.Serve(al) }()
	t.Cleanup(func() { s.Close(); <-served })

	c := smtptest.NewConn(t, dialTCP(t, l.Addr().String()))
	c.Expect("220 mx.test ESMTP ready\r\n")
	srvEnd := <-al.conns
	c.Run("C: EHLO client\n" + ehloS)
	// Pipelined: the replies wait in the server's buffer while the
	// message is read (the client is not waiting for them, RFC 2920 3.1).
	c.Send("MAIL FROM:<a@b.example>\r\nRCPT TO:<b@c.example>\r\nDATA\r\nhello\r\n.\r\n")
	<-g.entered
	// The connection is cut in the server's direction before anything
	// more is written.
	if err := srvEnd.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	g.release()
	if r, err := c.ReadReply(); !errors.Is(err, io.EOF) {
		t.Fatalf("the client read %q, %v; want nothing (EOF)", r, err)
	}
	waitLoggedOut(t, b, 1)
	tr := trace.String()
	for _, line := range []string{
		"C: EHLO client", "S: 250-PIPELINING", "C: MAIL FROM:<a@b.example>", "C: DATA",
		"S: [not sent] 250 2.1.0 Sender OK",
		"S: [not sent] 250 2.1.5 Recipient OK",
		"S: [not sent] 354 Start mail input; end with <CRLF>.<CRLF>",
		"S: [not sent] 250 2.0.0 OK: message accepted",
	} {
		if !strings.Contains(tr, " "+line+"\n") {
			t.Errorf("trace lacks %q:\n%s", line, tr)
		}
	}
	for _, sent := range []string{"S: 250 2.1.0", "S: 354", "S: 250 2.0.0"} {
		if strings.Contains(tr, " "+sent) {
			t.Errorf("trace shows %q as sent:\n%s", sent, tr)
		}
	}
}

// TestTracePipelinedInWireOrder: replies appear in the trace when they
// are written: a pipelined batch of commands, then its replies in one
// write (RFC 2920 3.1).
func TestTracePipelinedInWireOrder(t *testing.T) {
	b := &testBackend{}
	s := newServer(b)
	trace := &syncBuffer{}
	s.Trace = trace
	c := dial(t, start(t, s))
	c.Run(dataS + "C: hi\nC: .\nS: 250 2.0.0 OK: message accepted\nC: QUIT\nS: 221 2.0.0 mx.test closing connection\n")
	// A reply is traced once written: the client may read it first.
	waitLoggedOut(t, b, 1)
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(trace.String(), "\n"), "\n") {
		_, rest, _ := strings.Cut(l, " ")
		got = append(got, rest)
	}
	want := []string{
		"S: 220 mx.test ESMTP ready",
		"C: EHLO client", "C: MAIL FROM:<a@b.example>", "C: RCPT TO:<b@c.example>", "C: DATA",
	}
	want = append(want, strings.Split(strings.TrimSuffix(ehloS, "\n"), "\n")...)
	want = append(want,
		"S: 250 2.1.0 Sender OK", "S: 250 2.1.5 Recipient OK",
		"S: 354 Start mail input; end with <CRLF>.<CRLF>",
		"S: 250 2.0.0 OK: message accepted",
		"C: QUIT", "S: 221 2.0.0 mx.test closing connection")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("trace:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, smtptest.DefaultTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

// waitLoggedOut waits until n sessions of b have logged out: their
// connections have ended and written their last trace lines.
func waitLoggedOut(t *testing.T, b *testBackend, n int) {
	t.Helper()
	waitFor(t, "the connections' end", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.logouts == n
	})
}

// panicOnMessage is a log handler that panics on one message, as a
// broken logger might.
type panicOnMessage struct {
	slog.Handler
	msg string
}

func (h panicOnMessage) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		panic("log handler broken")
	}
	return h.Handler.Handle(ctx, r)
}

func (h panicOnMessage) WithAttrs(as []slog.Attr) slog.Handler {
	return panicOnMessage{h.Handler.WithAttrs(as), h.msg}
}

func (h panicOnMessage) WithGroup(name string) slog.Handler {
	return panicOnMessage{h.Handler.WithGroup(name), h.msg}
}

// TestTraceRepliesCutByAPanic: replies queued when a panic ends the
// connection (here a log handler's, after the 421 for too many errors
// was queued) are traced as not sent.
func TestTraceRepliesCutByAPanic(t *testing.T) {
	b := &testBackend{}
	s := newServer(b)
	s.Logger = slog.New(panicOnMessage{slog.NewTextHandler(io.Discard, nil), "smtp: closing connection after too many errors"})
	s.MaxErrors = 1
	trace := &syncBuffer{}
	s.Trace = trace
	c := dial(t, start(t, s))
	c.Run("C: EHLO client\n" + ehloS)
	c.Send("FOO\r\n")
	c.ExpectClosed()
	waitLoggedOut(t, b, 1)
	tr := trace.String()
	for _, line := range []string{
		"C: FOO",
		"S: [not sent] 500 5.5.2 Command unrecognized",
		"S: [not sent] 421 4.7.0 mx.test Too many errors, closing transmission channel",
	} {
		if !strings.Contains(tr, " "+line+"\n") {
			t.Errorf("trace lacks %q:\n%s", line, tr)
		}
	}
}
