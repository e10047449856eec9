package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

// TestShutdownUnderLoad: idle sessions get 421 at once; sessions in the
// middle of a message finish it (250) and then get 421; Shutdown returns
// when all are gone and Serve returns ErrServerClosed.
func TestShutdownUnderLoad(t *testing.T) {
	b := &testBackend{}
	s := newServer(b)
	l, err := smtptest.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	addr := l.Addr().String()

	const idle, busy = 10, 10
	conns := make([]*smtptest.Conn, 0, idle+busy)
	for i := 0; i < idle+busy; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := smtptest.NewConn(t, nc)
		c.Expect("220 mx.test ESMTP ready\r\n")
		c.Run(`
			C: EHLO client
			` + ehloS)
		if i >= idle {
			c.Run(txnS("", "b@c.example"))
			c.Send(fmt.Sprintf("Subject: %d\r\n\r\nfirst half\r\n", i))
		}
		conns = append(conns, c)
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()

	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i < idle {
				c.Expect("421 4.3.2 mx.test Service not available, closing transmission channel\r\n")
			} else {
				time.Sleep(50 * time.Millisecond) // Shutdown is under way
				c.Send("second half\r\n.\r\n")
				c.Expect("250 2.0.0 OK: message accepted\r\n" +
					"421 4.3.2 mx.test Service not available, closing transmission channel\r\n")
			}
			c.ExpectClosed()
		}()
	}
	wg.Wait()
	awaitShutdown(t, shut)
	if err := <-served; !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	if n := len(b.Messages()); n != busy {
		t.Errorf("stored %d messages, want %d", n, busy)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
	b.mu.Lock()
	if b.logouts != idle+busy {
		t.Errorf("%d logouts, want %d", b.logouts, idle+busy)
	}
	b.mu.Unlock()
}

// TestClose: Close cuts every connection at once.
func TestClose(t *testing.T) {
	s := newServer(&testBackend{})
	lb := start(t, s)
	c := dial(t, lb)
	s.Close()
	c.ExpectClosed()
	select {
	case <-lb.Done():
		if err := lb.Err(); !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	if err := s.Serve(mustListen(t)); !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve after Close = %v", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	l, err := smtptest.Listen()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// blockingSession blocks in Data until its context ends.
type blockingSession struct {
	*testSession
	entered chan struct{}
	ctxErr  chan error
}

func (s *blockingSession) Data(ctx context.Context, r io.Reader) error {
	io.Copy(io.Discard, r)
	close(s.entered)
	<-ctx.Done()
	s.ctxErr <- ctx.Err()
	return ctx.Err()
}

// TestShutdownContextThenClose: Shutdown gives up with ctx's error when a
// transaction does not finish in time; Close then cancels the backend's
// context, and everything ends.
func TestShutdownContextThenClose(t *testing.T) {
	sess := &blockingSession{entered: make(chan struct{}), ctxErr: make(chan error, 1)}
	var first sync.Once
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		var ret server.Session = &testSession{b: &testBackend{}, c: c}
		first.Do(func() {
			sess.testSession = ret.(*testSession)
			ret = sess
		})
		return ret, nil
	}))
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		` + dataS + `
		C: x
		C: .
	`)
	<-sess.entered
	// A blocked backend holds its own connection only.
	other := dial(t, lb)
	other.Run(`
		C: NOOP
		S: 250 OK
	`)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	s.Close()
	select {
	case err := <-sess.ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Data's context ended with %v, want Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not cancel Data's context")
	}
	c.ExpectClosed()
}

// TestShutdownInterruptsIdleWaits: a client sitting on an AUTH challenge,
// one that sent STARTTLS and no handshake, one that sent no PROXY header
// and one that sent nothing after EHLO are all idle: Shutdown ends them at
// once instead of waiting for their timeouts.
func TestShutdownInterruptsIdleWaits(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	b := &testBackend{users: map[string]string{"alice": "secret"}}
	s := newServer(b)
	s.TLSConfig = cert.ServerConfig()
	s.AllowInsecureAuth = true
	plain := start(t, s)

	ps := newServer(&testBackend{})
	ps.ProxyProtocol = true
	proxied := start(t, ps)

	idle := dial(t, plain)
	idle.Run("C: EHLO client\n" + `
		` + ehloWith("STARTTLS", "AUTH PLAIN LOGIN") + `
	`)
	auth := dial(t, plain)
	auth.Send("EHLO client\r\nAUTH LOGIN\r\n")
	auth.ReadReply()
	auth.Expect("334 VXNlcm5hbWU6\r\n")
	tlsWait := dial(t, plain)
	tlsWait.Send("EHLO client\r\nSTARTTLS\r\n")
	tlsWait.ReadReply()
	tlsWait.Expect("220 2.0.0 Ready to start TLS\r\n")
	noHeader := proxied.Dial(t)
	time.Sleep(50 * time.Millisecond) // the server is waiting on all of them

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := ps.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown (PROXY): %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	idle.Expect("421 4.3.2 mx.test Service not available, closing transmission channel\r\n")
	idle.ExpectClosed()
	auth.Expect("421 4.3.2 mx.test Service not available, closing transmission channel\r\n")
	auth.ExpectClosed()
	noHeader.ExpectClosed()
	// The TLS waiter gets no plain-text reply: its connection is closed.
	tlsWait.ExpectClosed()
}

// TestNoGoroutineLeak: after Shutdown (and after Close) every goroutine
// the server started is gone, whatever state its connections were in.
func TestNoGoroutineLeak(t *testing.T) {
	for _, how := range []string{"Shutdown", "Close"} {
		t.Run(how, func(t *testing.T) {
			before := runtime.NumGoroutine()
			cert := smtptest.MustCertificate(t)
			s := newServer(&testBackend{users: map[string]string{"alice": "secret"}})
			s.TLSConfig = cert.ServerConfig()
			s.AllowInsecureAuth = true
			s.EnableChunking = true
			l := mustListen(t)
			served := make(chan error, 1)
			go func() { served <- s.Serve(l) }()
			addr := l.Addr().String()
			var conns []*smtptest.Conn
			open := func(script string) {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c := smtptest.NewConn(t, nc)
				c.Expect("220 mx.test ESMTP ready\r\n")
				c.Send(script)
				conns = append(conns, c)
			}
			open("")
			open("EHLO x\r\n")
			open("EHLO x\r\nAUTH LOGIN\r\n")
			open("EHLO x\r\nSTARTTLS\r\n")
			open("EHLO x\r\nMAIL FROM:<a@b.example>\r\n")
			open("EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<b@c.example>\r\nDATA\r\npart")
			open("EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<b@c.example>\r\nBDAT 3\r\nabc")
			open("EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<b@c.example>\r\nBDAT 10\r\nabc")
			time.Sleep(50 * time.Millisecond)

			if how == "Shutdown" {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				s.Shutdown(ctx) // the transactions in flight hold it
				cancel()
			}
			s.Close()
			<-served
			for _, c := range conns {
				c.Close()
			}
			waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
		})
	}
}

// TestShutdownLetsEveryTransactionFinish: a client between RCPT and DATA
// when Shutdown starts may finish its message, on every kind of
// connection (plain TCP, STARTTLS, implicit TLS, PROXY protocol), and
// gets 421 after it; an idle session gets 421 at once.
func TestShutdownLetsEveryTransactionFinish(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	kinds := []struct {
		name    string
		setup   func(t *testing.T, s *server.Server) *smtptest.Loopback
		connect func(t *testing.T, lb *smtptest.Loopback) *smtptest.Conn // up to an accepted EHLO
	}{
		{"plain", func(t *testing.T, s *server.Server) *smtptest.Loopback { return start(t, s) },
			func(t *testing.T, lb *smtptest.Loopback) *smtptest.Conn {
				c := dial(t, lb)
				c.Run("C: EHLO client\n" + ehloWith("STARTTLS"))
				return c
			}},
		{"STARTTLS", func(t *testing.T, s *server.Server) *smtptest.Loopback { return start(t, s) },
			func(t *testing.T, lb *smtptest.Loopback) *smtptest.Conn {
				c := dial(t, lb)
				c.Run(startTLSS)
				c.StartTLS(cert.ClientConfig())
				c.Run("C: EHLO client\n" + ehloS)
				return c
			}},
		{"implicit TLS", func(t *testing.T, s *server.Server) *smtptest.Loopback {
			return smtptest.StartTLS(t, s, cert.ServerConfig())
		}, func(t *testing.T, lb *smtptest.Loopback) *smtptest.Conn {
			c := lb.DialTLS(t, cert.ClientConfig())
			c.Run("S: 220 mx.test ESMTP ready\nC: EHLO client\n" + ehloS)
			return c
		}},
		{"PROXY", func(t *testing.T, s *server.Server) *smtptest.Loopback {
			s.ProxyProtocol = true
			return start(t, s)
		}, func(t *testing.T, lb *smtptest.Loopback) *smtptest.Conn {
			c := lb.Dial(t)
			c.Send("PROXY TCP4 203.0.113.9 192.0.2.1 40000 25\r\n")
			c.Run("S: 220 mx.test ESMTP ready\nC: EHLO client\n" + ehloWith("STARTTLS"))
			return c
		}},
	}
	const shutdownS = "421 4.3.2 mx.test Service not available, closing transmission channel\r\n"
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			inRcpt, release := make(chan struct{}), make(chan struct{})
			b := &testBackend{rcpt: func(to envelope.Path) error {
				if to.Local == "busy" {
					close(inRcpt)
					<-release
				}
				return nil
			}}
			s := newServer(b)
			s.TLSConfig = cert.ServerConfig()
			lb := k.setup(t, s)
			busy := k.connect(t, lb)
			idle := k.connect(t, lb)
			busy.Run("C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 Sender OK\n")
			busy.Send("RCPT TO:<busy@c.example>\r\n")
			<-inRcpt

			shut := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				shut <- s.Shutdown(ctx)
			}()
			idle.Expect(shutdownS) // Shutdown is under way
			idle.ExpectClosed()
			close(release)
			busy.Run(`
				S: 250 2.1.5 Recipient OK
				C: DATA
				S: 354 Start mail input; end with <CRLF>.<CRLF>
				C: Subject: finished during shutdown
				C:
				C: .
				S: 250 2.0.0 OK: message accepted
			`)
			busy.Expect(shutdownS)
			busy.ExpectClosed()
			awaitShutdown(t, shut)
			if m := b.Messages(); len(m) != 1 || m[0].To[0] != "<busy@c.example>" {
				t.Errorf("stored %+v, want the busy client's message", m)
			}
		})
	}
}

// closeSession reports the state of its Data context once Close has cut
// the connection under it.
type closeSession struct {
	*testSession
	reading chan struct{} // closed once Data has read some of the message
	result  chan [2]error // ctx.Err() and context.Cause(ctx) when the read failed
}

func (s *closeSession) Data(ctx context.Context, r io.Reader) error {
	buf := make([]byte, 1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	close(s.reading)
	_, err := io.Copy(io.Discard, r) // until Close cuts the connection
	s.result <- [2]error{ctx.Err(), context.Cause(ctx)}
	return err
}

// TestCloseCancelsContextsFirst: Close cancels the backend's contexts, with
// ErrServerClosed as their cause, before it closes the connections: a Data
// whose read fails because of Close finds its context already done and
// can tell why.
func TestCloseCancelsContextsFirst(t *testing.T) {
	sess := &closeSession{reading: make(chan struct{}), result: make(chan [2]error, 1)}
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		sess.testSession = &testSession{b: &testBackend{}, c: c}
		return sess, nil
	}))
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(dataS + "C: the first half of a message\n")
	<-sess.reading
	s.Close()
	select {
	case res := <-sess.result:
		if res[0] == nil {
			t.Error("Data's read failed while its context was not done")
		}
		if !errors.Is(res[1], server.ErrServerClosed) {
			t.Errorf("context.Cause = %v, want ErrServerClosed", res[1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Data did not return after Close")
	}
	c.ExpectClosed()
}

// TestCloseSaysNothing: Close cuts every connection without a word, also
// those whose backend returns at once from the cancel: the error a
// cancelled backend returns is not answered (451) on a connection that
// Close is about to cut. Many connections blocked in Data make the window
// between the cancel and the cut of the last ones wide.
func TestCloseSaysNothing(t *testing.T) {
	const conns = 40
	sessions := make(chan *blockingSession, conns)
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		sess := &blockingSession{testSession: &testSession{b: &testBackend{}, c: c},
			entered: make(chan struct{}), ctxErr: make(chan error, 1)}
		sessions <- sess
		return sess, nil
	}))
	lb := start(t, s)
	clients := make([]*smtptest.Conn, conns)
	for i := range clients {
		clients[i] = dial(t, lb)
		clients[i].Run(`
			` + dataS + `
			C: x
			C: .
		`)
	}
	for range conns {
		<-(<-sessions).entered
	}
	s.Close()
	for _, c := range clients {
		c.ExpectClosed()
	}
}
