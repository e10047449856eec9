package smtptest

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"
)

// Server is what Start runs; *server.Server satisfies it.
type Server interface {
	Serve(l net.Listener) error
	Close() error
}

// Loopback is a server running on a 127.0.0.1 port for the length of a test.
type Loopback struct {
	// Addr is the address it listens on, "127.0.0.1:port".
	Addr string
	// Listener is the listener given to Serve (a TLS listener for StartTLS).
	Listener net.Listener

	tb   testing.TB
	tls  *tls.Config
	done chan struct{}
	err  error // Serve's result, set before done is closed
}

// ShutdownWait is how long the cleanup registered by Start waits for Serve
// to return after Close before it fails the test.
const ShutdownWait = 10 * time.Second

// Start listens on 127.0.0.1:0, runs s.Serve on it in a goroutine and
// registers a cleanup that closes s and waits for Serve to return.
func Start(tb testing.TB, s Server) *Loopback {
	tb.Helper()
	return start(tb, s, nil)
}

// StartTLS is Start with implicit TLS (RFC 8314): the listener is wrapped in
// tls.NewListener with cfg, and Dial speaks TLS with ClientConfig-like
// settings given to DialTLS.
func StartTLS(tb testing.TB, s Server, cfg *tls.Config) *Loopback {
	tb.Helper()
	return start(tb, s, cfg)
}

func start(tb testing.TB, s Server, cfg *tls.Config) *Loopback {
	l, err := Listen()
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	lb := &Loopback{Addr: l.Addr().String(), tb: tb, tls: cfg, done: make(chan struct{})}
	if cfg != nil {
		l = tls.NewListener(l, cfg)
	}
	lb.Listener = l
	go func() {
		lb.err = s.Serve(l)
		close(lb.done)
	}()
	tb.Cleanup(func() {
		s.Close()
		select {
		case <-lb.done:
		case <-time.After(ShutdownWait):
			tb.Errorf("smtptest: Serve did not return %v after Close", ShutdownWait)
		}
	})
	return lb
}

// Listen opens a listener on a free 127.0.0.1 port.
func Listen() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

// Done returns a channel that is closed when Serve returns.
func (lb *Loopback) Done() <-chan struct{} { return lb.done }

// Err returns what Serve returned; call it after Done is closed.
func (lb *Loopback) Err() error {
	<-lb.done
	return lb.err
}

// Dial connects to the server in plain text and returns a transcript
// driver; the connection is closed when the test ends.
func (lb *Loopback) Dial(tb testing.TB) *Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", lb.Addr, DefaultTimeout)
	if err != nil {
		tb.Fatalf("smtptest: dial %s: %v", lb.Addr, err)
	}
	return NewConn(tb, c)
}

// DialTLS connects with TLS from the first byte (for StartTLS servers).
func (lb *Loopback) DialTLS(tb testing.TB, cfg *tls.Config) *Conn {
	tb.Helper()
	d := &net.Dialer{Timeout: DefaultTimeout}
	c, err := tls.DialWithDialer(d, "tcp", lb.Addr, cfg)
	if err != nil {
		tb.Fatalf("smtptest: tls dial %s: %v", lb.Addr, err)
	}
	return NewConn(tb, c)
}

// ErrTimeout is returned by reads that waited longer than the driver's
// Timeout.
var ErrTimeout = errors.New("smtptest: timed out waiting for the server")
