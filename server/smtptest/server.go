package smtptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/smtpkit/smtp/internal/proxyproto"
	"github.com/smtpkit/smtp/server"
)

// Server is an SMTP (or LMTP) server on a loopback port for the length of
// a test, with a backend that records every message it receives. It is
// made by NewServer, or by NewUnstartedServer to change Config first.
type Server struct {
	// Addr is the address the server listens on, "127.0.0.1:port", set
	// by Start.
	Addr string

	// Listener is the listener the server serves, set by Start.
	Listener net.Listener

	// Config is the server being tested. NewUnstartedServer fills in
	// Hostname ("localhost", the name of the test certificate), a Logger
	// writing to the test's log (the server logs its events there, each
	// once), AuthFailureDelay and ErrorDelay -1 (no pause after a failed
	// AUTH, nor after the errors past SoftErrorLimit: a test's deliberate
	// errors are answered at once) and Backend, the recording backend;
	// any field may be changed before Start, so a test of the delays sets
	// them. With another Backend the server serves it, and Messages and
	// the backend's faults see nothing.
	Config *server.Server

	tb   TB
	log  logSink
	cert *Certificate

	implicitTLS bool
	users       map[string]string
	scram       map[string]server.ScramCredentials
	faults      []Fault
	trickle     time.Duration

	mu       sync.Mutex
	messages []Message
	changed  chan struct{} // closed and replaced when messages changes
	counts   map[string]int
	conns    map[*server.Conn]*connState
	netConns map[string]net.Conn // live connections by the socket's remote address, for the faults that cut
	trace    bytes.Buffer
	started  bool
	closed   bool
	serveErr chan error
}

// connState is what the backend tracks of a connection.
type connState struct {
	dataCmd bool // the 354 reply to DATA was sent: the next message is DATA's
}

// An Option configures a Server made by NewServer or NewUnstartedServer.
// The options are the features of the kit; the server's own settings
// are the fields of Server.Config.
type Option interface {
	apply(*Server)
}

type optionFunc func(*Server)

func (f optionFunc) apply(s *Server) { f(s) }

// STARTTLS makes the server offer STARTTLS (RFC 3207) with a certificate
// made for the test; ClientTLSConfig trusts it.
func STARTTLS() Option {
	return optionFunc(func(s *Server) { s.Config.TLSConfig = s.certificate().ServerConfig() })
}

// ImplicitTLS makes the server speak TLS from the first byte (RFC 8314
// 3.3, the "submissions" port) with a certificate made for the test;
// ClientTLSConfig trusts it, and Dial connects with TLS.
func ImplicitTLS() Option {
	return optionFunc(func(s *Server) {
		s.implicitTLS = true
		s.Config.TLSConfig = s.certificate().ServerConfig()
	})
}

// User lets name log in with password: the server offers AUTH with PLAIN,
// LOGIN, CRAM-MD5 and SCRAM-SHA-256. Without TLS (neither STARTTLS nor
// ImplicitTLS) it also sets Config.AllowInsecureAuth, since a loopback
// test has nothing to protect; with STARTTLS, AUTH is offered only after
// it, as in production.
func User(name, password string) Option {
	return optionFunc(func(s *Server) {
		if s.users == nil {
			s.users = make(map[string]string)
		}
		s.users[name] = password
	})
}

// LMTP makes the server speak LMTP (RFC 2033): LHLO, and one reply per
// recipient after the message. It sets Config.LMTP.
func LMTP() Option {
	return optionFunc(func(s *Server) { s.Config.LMTP = true })
}

// Trickle makes the server write its replies one byte at a time, waiting
// every between bytes, for testing a client's reply reader and its
// timeouts. Under TLS the encrypted stream trickles, handshake included.
func Trickle(every time.Duration) Option {
	return optionFunc(func(s *Server) { s.trickle = every })
}

// NewServer starts a server with the given options on a loopback port; it
// is closed when the test ends (with a nil tb, call Close).
func NewServer(tb TB, opts ...Option) *Server {
	s := NewUnstartedServer(tb, opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a server configured by opts, not yet started:
// change s.Config, then call Start. It is closed when the test ends (with
// a nil tb, call Close).
func NewUnstartedServer(tb TB, opts ...Option) *Server {
	s := &Server{
		tb:       orNoTest(tb),
		changed:  make(chan struct{}),
		counts:   make(map[string]int),
		conns:    make(map[*server.Conn]*connState),
		netConns: make(map[string]net.Conn),
		serveErr: make(chan error, 1),
	}
	s.log.tb = tb
	s.Config = &server.Server{
		Hostname:         "localhost",
		Backend:          backend{s},
		Logger:           slog.New(slog.NewTextHandler(&s.log, &slog.HandlerOptions{Level: slog.LevelInfo})),
		AuthFailureDelay: -1,
		ErrorDelay:       -1,
	}
	for _, o := range opts {
		o.apply(s)
	}
	if len(s.users) > 0 && s.Config.TLSConfig == nil {
		s.Config.AllowInsecureAuth = true
	}
	for _, f := range s.faults {
		if err := f.check(); err != nil {
			s.tb.Helper()
			s.tb.Fatalf("smtptest: %v", err)
		}
	}
	if tb != nil {
		tb.Cleanup(func() { s.Close() })
	}
	return s
}

// certificate returns the server's test certificate, made on first use.
func (s *Server) certificate() *Certificate {
	if s.cert == nil {
		c, err := NewCertificate()
		if err != nil {
			s.tb.Fatalf("smtptest: making a certificate: %v", err)
		}
		s.cert = c
	}
	return s.cert
}

// Start starts a server made by NewUnstartedServer.
func (s *Server) Start() {
	s.tb.Helper()
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		s.tb.Fatalf("smtptest: Start called twice")
		return
	}
	s.started = true
	s.mu.Unlock()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.tb.Fatalf("smtptest: listen: %v", err)
		return
	}
	s.Addr = l.Addr().String()
	s.Listener = &listener{Listener: l, s: s}
	cfg := s.Config
	// The server logs its events to cfg.Logger itself.
	var kit server.Events = server.EventsFunc(s.event)
	if cfg.Events != nil {
		kit = server.MultiEvents(kit, cfg.Events)
	}
	cfg.Events = kit
	if cfg.Trace == nil {
		cfg.Trace = traceWriter{s}
	}
	serve := cfg.Serve
	if s.implicitTLS {
		serve = cfg.ServeTLS
	}
	go func() { s.serveErr <- serve(s.Listener) }()
}

// Close stops the server: it cuts every connection (ending the backend's
// waits and the faults that hang) and returns once they are gone. It is
// called when the test ends; if the test failed, the server's protocol
// trace is written to the test's log.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if started {
		s.Config.Close()
		// Shutdown after Close waits for the connections to be gone.
		ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
		err := s.Config.Shutdown(ctx)
		cancel()
		if err != nil {
			s.tb.Errorf("smtptest: connections still open %v after Close: %v", DefaultTimeout, err)
		}
		select {
		case err := <-s.serveErr:
			if err != nil && !errors.Is(err, server.ErrServerClosed) {
				s.tb.Errorf("smtptest: Serve: %v", err)
			}
		case <-time.After(DefaultTimeout):
			s.tb.Errorf("smtptest: Serve did not return %v after Close", DefaultTimeout)
		}
	}
	if s.tb.Failed() {
		if t := s.Trace(); t != "" {
			s.tb.Logf("smtptest: trace of the server at %s:\n%s", s.Addr, t)
		}
	}
	s.log.stop()
}

// ClientTLSConfig returns a new TLS configuration for a client that
// trusts the server's test certificate (for server name "localhost"), or
// nil when there is none (neither STARTTLS nor ImplicitTLS was given).
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.cert == nil {
		return nil
	}
	return s.cert.ClientConfig()
}

// Certificate returns the server's test certificate, or nil when there
// is none.
func (s *Server) Certificate() *Certificate { return s.cert }

// Dial connects a test client to the server, with TLS from the first byte
// if the server speaks implicit TLS; its TLSConfig is ClientTLSConfig.
// The greeting is not read.
func (s *Server) Dial() *Conn {
	s.tb.Helper()
	if s.implicitTLS {
		return DialTLS(s.tb, s.Addr, s.ClientTLSConfig())
	}
	c := Dial(s.tb, s.Addr)
	c.TLSConfig = s.ClientTLSConfig()
	return c
}

// Trace returns the protocol trace of every connection so far: commands
// and replies, each line prefixed with the connection id and "C: " or
// "S: ", AUTH payloads redacted, message data left out. It is empty when
// Config.Trace was set before Start (the trace went there).
//
// A command is traced when the server reads it, before its reply; a reply
// once the server has written it, which may be a moment after the client
// read it: the 221 a client's QUIT returned on is not always here yet.
// After Close the trace holds every reply written.
func (s *Server) Trace() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trace.String()
}

type traceWriter struct{ s *Server }

func (w traceWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.trace.Write(p)
}

// event follows the connections: which command a message comes with, and
// when a connection is gone.
func (s *Server) event(c *server.Conn, e server.Event) {
	switch e.Kind {
	case server.EventCommand:
		if e.Command == "DATA" && e.Reply != nil && e.Reply.Code == 354 {
			s.mu.Lock()
			if cs := s.conns[c]; cs != nil {
				cs.dataCmd = true
			}
			s.mu.Unlock()
		}
	case server.EventDisconnect:
		s.mu.Lock()
		delete(s.conns, c)
		// A connection behind the proxy forgot itself when it was closed
		// (see headConn.Close); its address is its header's, which
		// another live connection may share.
		addr := c.RemoteAddr().String()
		if _, head := s.netConns[addr].(*headConn); !head {
			delete(s.netConns, addr)
		}
		s.mu.Unlock()
	}
}

// netConnOf returns the accepted connection of c and its key in
// netConns, or "" and nil. Behind a PROXY header c's address is the
// header's source, so the connection is the one whose header names it;
// without one (LOCAL, UNKNOWN, an untrusted peer served directly) it is
// the socket's. Two live connections whose headers give the same source
// cannot be told apart: none is returned, and the test's log says why.
// s.mu must be held.
func (s *Server) netConnOf(c *server.Conn) (string, net.Conn) {
	addr := c.RemoteAddr().String()
	if nc, ok := s.netConns[addr]; ok {
		if hc, head := nc.(*headConn); !head {
			return addr, nc
		} else if _, has := hc.source(); !has {
			return addr, nc
		}
	}
	var key string
	var found net.Conn
	n := 0
	for k, nc := range s.netConns {
		if hc, ok := nc.(*headConn); ok {
			if src, has := hc.source(); has && src == addr {
				key, found = k, nc
				n++
			}
		}
	}
	switch n {
	case 1:
		return key, found
	case 0:
		return "", nil
	}
	fmt.Fprintf(&s.log, "smtptest: %d connections behind the proxy give the client address %q in their PROXY header: a fault cannot tell which to cut (give each client its own address)\n", n, addr)
	return "", nil
}

// cut closes the network connection of c, below any TLS.
func (s *Server) cut(c *server.Conn) {
	s.mu.Lock()
	_, nc := s.netConnOf(c)
	s.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
}

// headConn is a connection accepted with Config.ProxyProtocol from a
// peer that must send a PROXY header. It keeps the first bytes the server
// reads until they make a header, so that the faults can find the
// connection by the client address the header gives, and it leaves
// netConns when closed (a connection whose header is refused never
// reaches the server's disconnect event).
type headConn struct {
	net.Conn
	s   *Server
	key string // in s.netConns

	mu   sync.Mutex
	head []byte // the bytes read so far, while done is false
	done bool   // the header was parsed, or will never be
	has  bool   // the header gives a source address: src
	src  string

	closeOnce sync.Once
}

func (c *headConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if !c.done && n > 0 {
		room := proxyproto.DefaultMaxHeaderLength - len(c.head)
		c.head = append(c.head, b[:min(n, room)]...)
		h, perr := proxyproto.ReadHeader(bytes.NewReader(c.head))
		switch {
		case perr == nil:
			c.done, c.head = true, nil
			if h.Source != nil {
				c.has, c.src = true, h.Source.String()
			}
		case len(c.head) >= proxyproto.DefaultMaxHeaderLength ||
			!errors.Is(perr, io.EOF) && !errors.Is(perr, io.ErrUnexpectedEOF):
			c.done, c.head = true, nil // no header: the server refuses it
		}
	}
	c.mu.Unlock()
	return n, err
}

// source returns the client address the connection's PROXY header gives,
// and false when it gives none (LOCAL, UNKNOWN) or was not read yet.
func (c *headConn) source() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.src, c.has
}

func (c *headConn) Close() error {
	c.closeOnce.Do(func() {
		c.s.mu.Lock()
		if c.s.netConns[c.key] == net.Conn(c) {
			delete(c.s.netConns, c.key)
		}
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// proxied reports whether a peer at addr must send a PROXY header: with
// ProxyTrustedNetworks, the others are served directly (as the server's
// proxyproto listener decides).
func (s *Server) proxied(addr net.Addr) bool {
	nets := s.Config.ProxyTrustedNetworks
	return len(nets) == 0 || proxyproto.Trusted(addr, nets)
}

// listener registers each connection, for the faults that cut it, and
// makes it trickle if asked.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.s.trickle > 0 {
		nc = newTrickleConn(nc, l.s.trickle)
	}
	key := nc.RemoteAddr().String()
	if l.s.Config.ProxyProtocol && l.s.proxied(nc.RemoteAddr()) {
		nc = &headConn{Conn: nc, s: l.s, key: key}
	}
	l.s.mu.Lock()
	l.s.netConns[key] = nc
	l.s.mu.Unlock()
	return nc, nil
}

// trickleConn writes one byte at a time.
type trickleConn struct {
	net.Conn
	every  time.Duration
	closed chan struct{}
	once   sync.Once
}

func newTrickleConn(nc net.Conn, every time.Duration) *trickleConn {
	return &trickleConn{Conn: nc, every: every, closed: make(chan struct{})}
}

func (c *trickleConn) Write(p []byte) (int, error) {
	for i := range p {
		if i > 0 {
			t := time.NewTimer(c.every)
			select {
			case <-t.C:
			case <-c.closed:
				t.Stop()
				return i, net.ErrClosed
			}
		}
		if _, err := c.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

func (c *trickleConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
