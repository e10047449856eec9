//go:build unix

package interop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// received is one message as our server's backend saw it.
type received struct {
	Hello string
	From  envelope.Path
	Mail  envelope.MailParams
	To    []envelope.Recipient
	Data  []byte
	// Commands are the verbs of the connection up to this message, in
	// order, as the server's events reported them ("BDAT" once per chunk,
	// but the last chunk's reply comes after the message was recorded).
	Commands []string
	// Pipelined reports that one read from the socket held MAIL, at least
	// one RCPT and DATA: the client sent them without waiting (RFC 2920).
	Pipelined bool
}

// recorder is an in-process server.Server whose backend records every
// message; Rcpt refuses addresses listed in refuse with 550, and in LMTP
// mode LMTPData fails the recipients listed in lmtpFail with 452.
type recorder struct {
	Addr     string
	srv      *server.Server
	msgs     chan received
	refuse   map[string]bool
	lmtpFail map[string]bool

	mu       sync.Mutex
	commands map[string][]string // by connection id
	reads    map[string]*readLog // by remote address
}

// startRecorder serves on a free loopback port until the test ends.
// configure may set fields of the server (r.srv: EnableDSN, LMTP, ...) and
// fill refuse and lmtpFail, before serving starts.
func startRecorder(t testing.TB, configure func(r *recorder)) *recorder {
	t.Helper()
	r := &recorder{
		msgs:     make(chan received, 16),
		refuse:   map[string]bool{},
		lmtpFail: map[string]bool{},
		commands: map[string][]string{},
		reads:    map[string]*readLog{},
	}
	r.srv = &server.Server{
		Hostname: "sink.interop.test",
		Backend:  server.BackendFunc(r.newSession),
		Events:   server.EventsFunc(r.event),
	}
	if configure != nil {
		configure(r)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- r.srv.Serve(&recordingListener{Listener: l, r: r}) }()
	t.Cleanup(func() {
		r.srv.Close()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, server.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
	return r
}

// next waits up to caseTimeout for the next message for rcpt, skipping
// (and logging) messages for others: a late message of an earlier case.
func (r *recorder) next(t testing.TB, rcpt string) received {
	t.Helper()
	deadline := time.After(caseTimeout)
	for {
		select {
		case m := <-r.msgs:
			for _, to := range m.To {
				if to.Address.String() == rcpt {
					return m
				}
			}
			t.Logf("skipping a message %s -> %v", m.From, m.To)
		case <-deadline:
			t.Fatalf("no message for %s reached our server at %s within %v", rcpt, r.Addr, caseTimeout)
			return received{}
		}
	}
}

// none checks that no further message arrives within d.
func (r *recorder) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case m := <-r.msgs:
		t.Errorf("unexpected message from %s to %v:\n%s", m.From, m.To, m.Data)
	case <-time.After(d):
	}
}

func (r *recorder) event(c *server.Conn, e server.Event) {
	if e.Kind != server.EventCommand {
		return
	}
	// DATA gives one event per reply: count it at its 354, since the
	// final reply comes after Data returned (and the message was recorded).
	if e.Command == "DATA" && (e.Reply == nil || e.Reply.Code != reply.Code(354)) {
		return
	}
	r.mu.Lock()
	r.commands[c.ID()] = append(r.commands[c.ID()], e.Command)
	r.mu.Unlock()
}

func (r *recorder) newSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	return &recSession{r: r, c: c}, nil
}

type recSession struct {
	r    *recorder
	c    *server.Conn
	from envelope.Path
	mail envelope.MailParams
	to   []envelope.Recipient
}

func (s *recSession) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	s.from, s.mail, s.to = from, p, nil
	return nil
}

func (s *recSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	if s.r.refuse[to.Address.String()] {
		return reply.New(550, reply.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, "no such user here")
	}
	s.to = append(s.to, envelope.Recipient{Path: to, Params: p})
	return nil
}

func (s *recSession) record(ctx context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	cmds := append([]string(nil), s.r.commands[s.c.ID()]...)
	rl := s.r.reads[s.c.RemoteAddr().String()]
	s.r.mu.Unlock()
	pipelined := rl != nil && rl.seen()
	m := received{Hello: s.c.Hello(), From: s.from, Mail: s.mail, To: s.to, Data: b,
		Commands: cmds, Pipelined: pipelined}
	select {
	case s.r.msgs <- m:
		return nil
	case <-ctx.Done(): // the test ended without reading it
		return ctx.Err()
	}
}

func (s *recSession) Data(ctx context.Context, r io.Reader) error { return s.record(ctx, r) }

// LMTPData fails the recipients listed in lmtpFail, one reply each (RFC
// 2033 4.2).
func (s *recSession) LMTPData(ctx context.Context, r io.Reader) ([]error, error) {
	if err := s.record(ctx, r); err != nil {
		return nil, err
	}
	errs := make([]error, len(s.to))
	for i, rc := range s.to {
		if s.r.lmtpFail[rc.Address.String()] {
			errs[i] = reply.New(452, reply.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, "mailbox full")
		}
	}
	return errs, nil
}

func (s *recSession) Reset(ctx context.Context) {
	s.from, s.mail, s.to = envelope.Path{}, envelope.MailParams{}, nil
}

func (s *recSession) Logout(ctx context.Context) error { return nil }

// readLog watches the reads of one connection for a pipelined group.
type readLog struct {
	mu        sync.Mutex
	pipelined bool
}

// observe looks for MAIL, RCPT and DATA (or BDAT) in one read: only a
// client that pipelines (RFC 2920 3.1) sends them before the replies.
func (l *readLog) observe(p []byte) {
	if len(p) > 4096 {
		p = p[:4096]
	}
	u := bytes.ToUpper(p)
	if bytes.Contains(u, []byte("MAIL FROM:")) && bytes.Contains(u, []byte("\r\nRCPT TO:")) &&
		(bytes.Contains(u, []byte("\r\nDATA\r\n")) || bytes.Contains(u, []byte("\r\nBDAT "))) {
		l.mu.Lock()
		l.pipelined = true
		l.mu.Unlock()
	}
}

func (l *readLog) seen() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pipelined
}

// recordingListener wraps each accepted connection in a recordingConn.
type recordingListener struct {
	net.Listener
	r *recorder
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &recordingConn{Conn: c, l: &readLog{}}
	l.r.mu.Lock()
	l.r.reads[c.RemoteAddr().String()] = rc.l
	l.r.mu.Unlock()
	return rc, nil
}

// recordingConn passes every read to its readLog.
type recordingConn struct {
	net.Conn
	l *readLog
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.observe(p[:n])
	return n, err
}
