package server_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// gateListener hands out connections whose Close waits for gate: it
// holds open the window between Close's cancel and its cut of the
// connection (the window TestCloseSaysNothing widens with 40 connections),
// so that what the server writes in it reaches the client every time.
type gateListener struct {
	net.Listener
	gate chan struct{}
}

func (l *gateListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &gateConn{Conn: nc, gate: l.gate}, nil
}

type gateConn struct {
	net.Conn
	gate chan struct{}
}

func (c *gateConn) Close() error {
	<-c.gate
	return c.Conn.Close()
}

// dialGated serves s through a gateListener and dials it; the
// connection is cut by Close only once gate is closed (see closeGated).
func dialGated(t *testing.T, s *server.Server) (*smtptest.Conn, chan struct{}) {
	t.Helper()
	l := &gateListener{Listener: mustListen(t), gate: make(chan struct{})}
	go s.Serve(l)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return smtptest.NewConn(t, nc), l.gate
}

// closeGated closes s and lets it cut the connections only once
// loggedOut is closed: the session is over, so everything it wrote after
// Close was sent.
func closeGated(s *server.Server, gate chan struct{}, loggedOut <-chan struct{}) {
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	<-loggedOut
	close(gate)
	<-closed
}

// slowLMTPSession delivers a message to two recipients; the first one's
// mailbox is full. Close comes while it delivers (it waits for the cancel,
// standing for a delivery that takes time and finishes anyway).
type slowLMTPSession struct {
	*testSession
	entered   chan struct{}
	loggedOut chan struct{}
}

func (s *slowLMTPSession) LMTPData(ctx context.Context, r io.Reader) ([]error, error) {
	io.Copy(io.Discard, r)
	close(s.entered)
	<-ctx.Done()
	full := reply.New(reply.CodeInsufficientStorage, reply.EnhMailboxFull().WithClass(4), "Mailbox full")
	return []error{full, nil}, nil
}

func (s *slowLMTPSession) Logout(ctx context.Context) error {
	close(s.loggedOut)
	return nil
}

// TestAttackCloseLMTPShiftsReplies: LMTP answers the end of the message
// with one reply per recipient, in order (RFC 2033 4.2). After Close the
// 452 of the first recipient is dropped and the 250 of the second one
// still goes out: the client reads it as the first recipient's reply,
// takes a refused message as delivered (lost) and sends the delivered one
// again.
func TestAttackCloseLMTPShiftsReplies(t *testing.T) {
	sess := &slowLMTPSession{entered: make(chan struct{}), loggedOut: make(chan struct{})}
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		sess.testSession = &testSession{b: &testBackend{}, c: c}
		return sess, nil
	}))
	s.LMTP = true
	c, gate := dialGated(t, s)
	c.Run(lmtpS("full@c.example", "ok@c.example") + "C: hi\nC: .\n")
	<-sess.entered
	closeGated(s, gate, sess.loggedOut)
	var got []string
	for {
		r, err := c.ReadReply()
		if err != nil {
			break
		}
		got = append(got, r)
	}
	if len(got) > 0 && strings.HasPrefix(got[0], "250") {
		t.Errorf("replies after Close: %q; the first is full@'s, which was refused", got)
	}
}

// addrGateConn is accepted by Serve but held in the server's first look
// at it (its address) until release.
type addrGateConn struct {
	net.Conn
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (c *addrGateConn) RemoteAddr() net.Addr {
	c.once.Do(func() {
		close(c.entered)
		<-c.release
	})
	return c.Conn.RemoteAddr()
}

type addrGateListener struct {
	net.Listener
	conns chan *addrGateConn
}

func (l *addrGateListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &addrGateConn{Conn: nc, entered: make(chan struct{}), release: make(chan struct{})}
	l.conns <- gc
	return gc, nil
}

// TestAttackCloseRefusesAcceptedConnection: a connection accepted just
// before Close, not yet admitted, is answered 421 after Close, though
// Close's doc says no client is answered a 421 after Close.
func TestAttackCloseRefusesAcceptedConnection(t *testing.T) {
	s := newServer(&testBackend{})
	l := &addrGateListener{Listener: mustListen(t), conns: make(chan *addrGateConn, 1)}
	go s.Serve(l)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := smtptest.NewConn(t, nc)
	gc := <-l.conns
	<-gc.entered
	s.Close()
	close(gc.release)
	if r, err := c.ReadReply(); err == nil {
		t.Errorf("after Close the client was answered %q", r)
	}
}

// TestAttackCloseLMTPShiftsRepliesTCP is TestAttackCloseLMTPShiftsReplies
// on plain TCP sockets (the raw path), with no gate: 40 connections make
// the window between Close's cancel and its cut wide, as in
// TestCloseSaysNothing.
func TestAttackCloseLMTPShiftsRepliesTCP(t *testing.T) {
	const conns = 40
	sessions := make(chan *slowLMTPSession, conns)
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		sess := &slowLMTPSession{testSession: &testSession{b: &testBackend{}, c: c},
			entered: make(chan struct{}), loggedOut: make(chan struct{})}
		sessions <- sess
		return sess, nil
	}))
	s.LMTP = true
	lb := start(t, s)
	clients := make([]*smtptest.Conn, conns)
	for i := range clients {
		clients[i] = lb.Dial(t)
		clients[i].Run(lmtpS("full@c.example", "ok@c.example") + "C: hi\nC: .\n")
	}
	for range conns {
		<-(<-sessions).entered
	}
	s.Close()
	shifted := 0
	for _, c := range clients {
		if r, err := c.ReadReply(); err == nil && strings.HasPrefix(r, "250") {
			shifted++
		}
	}
	if shifted > 0 {
		t.Errorf("%d of %d clients read the 250 of ok@ as the reply for full@ (refused)", shifted, conns)
	}
}

// ctxRcptSession blocks in Rcpt for "slow" until its context ends, then
// returns the context's error (a 451 if it were answered).
type ctxRcptSession struct {
	*testSession
	entered chan struct{}
}

func (s *ctxRcptSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	if to.Local == "slow" {
		close(s.entered)
		<-ctx.Done()
		return ctx.Err()
	}
	return s.testSession.Rcpt(ctx, to, p)
}

// TestAttackCloseSilentInEveryState: whatever a connection is doing when
// Close comes, it gets no byte after Close (held).
func TestAttackCloseSilentInEveryState(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	rcptIn := make(chan struct{})
	var once sync.Once
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		ts := &testSession{b: &testBackend{users: map[string]string{"alice": "secret"}}, c: c}
		var sess *ctxRcptSession
		once.Do(func() { sess = &ctxRcptSession{testSession: ts, entered: rcptIn} })
		if sess != nil {
			return sess, nil
		}
		return &authSession{ts}, nil
	}))
	s.TLSConfig = cert.ServerConfig()
	s.AllowInsecureAuth = true
	s.EnableChunking = true
	lb := start(t, s)
	slow := dial(t, lb)
	slow.Run("C: EHLO x\n" + strings.ReplaceAll(ehloWith("CHUNKING", "BINARYMIME", "STARTTLS"), "client", "x") + `
		C: MAIL FROM:<a@b.example>
		S: 250 2.1.0 Sender OK
	`)
	slow.Send("RCPT TO:<slow@c.example>\r\n")
	<-rcptIn
	var conns []*smtptest.Conn
	for _, st := range []struct{ script, last string }{
		{"NOOP\r\n", "250 OK"},
		{"EHLO x\r\n", "250-PIPELINING"},
		{"EHLO x\r\nAUTH LOGIN\r\n", "334 "},
		{"EHLO x\r\nSTARTTLS\r\n", "220 2.0.0"},
		{"EHLO x\r\nMAIL FROM:<a@b.example>\r\n", "250 2.1.0"},
		{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<b@c.example>\r\nDATA\r\npart", "354 "},
		{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<b@c.example>\r\nBDAT 10\r\nabc", "250 2.1.5"},
	} {
		c := dial(t, lb)
		c.Send(st.script)
		for {
			r, err := c.ReadReply()
			if err != nil {
				t.Fatalf("%q: %v", st.script, err)
			}
			if strings.Contains(r, st.last) {
				break
			}
		}
		conns = append(conns, c)
	}
	s.Close()
	slow.ExpectClosed()
	for _, c := range conns {
		c.ExpectClosed()
	}
}

// loggedOutSession is a blockingSession that says when its Logout ran.
type loggedOutSession struct {
	*blockingSession
	loggedOut chan struct{}
}

func (s *loggedOutSession) Logout(ctx context.Context) error {
	close(s.loggedOut)
	return s.blockingSession.Logout(ctx)
}

// TestCloseSaysNothingGated is TestCloseSaysNothing with the window held
// open (see gateListener): the connection is cut only after its session
// ended, so a 451 the session wrote after Close would reach the client
// every time.
func TestCloseSaysNothingGated(t *testing.T) {
	sess := &loggedOutSession{
		blockingSession: &blockingSession{entered: make(chan struct{}), ctxErr: make(chan error, 1)},
		loggedOut:       make(chan struct{}),
	}
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		sess.testSession = &testSession{b: &testBackend{}, c: c}
		return sess, nil
	}))
	c, gate := dialGated(t, s)
	c.Expect("220 mx.test ESMTP ready\r\n")
	c.Run(dataS + "C: x\nC: .\n")
	<-sess.entered
	closeGated(s, gate, sess.loggedOut)
	c.ExpectClosed()
}
