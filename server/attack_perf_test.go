package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Attacks on the raw path of plain TCP connections (hand-offs, the
// watcher, lazy deadlines; see idle.go) found by an outside review: each
// shows the raw path answering differently from the net.Conn path, the
// one TLS and the PROXY protocol take.

// hiddenTCP hides the *net.TCPConn of the connections it accepts, so that
// the server serves them through net.Conn (see streamListener).
type hiddenTCP struct{ net.Listener }

func (l hiddenTCP) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return struct{ net.Conn }{c}, nil
}

// nopServer returns a quiet Server of nopSessions with the given
// CommandTimeout (0: the default).
func nopServer(timeout time.Duration) *Server {
	return &Server{Hostname: "mx.test", ErrorDelay: -1, CommandTimeout: timeout,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Backend: BackendFunc(func(context.Context, *Conn) (Session, error) { return nopSession{}, nil })}
}

// serve serves s on loopback, through the raw path or (raw false) a
// listener that hides the *net.TCPConn, until the test ends; it returns
// the address and what Serve returned, once it did.
func serve(t testing.TB, s *Server, raw bool) (string, <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var sl net.Listener = l
	if !raw {
		sl = hiddenTCP{l}
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(sl) }()
	t.Cleanup(func() { s.Close() })
	return l.Addr().String(), served
}

// dialGreeted connects to addr and reads the greeting; the connection
// ends with the test.
func dialGreeted(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	readReplies(t, r, "220")
	return c, r
}

// serveOne is serve and dialGreeted.
func serveOne(t *testing.T, s *Server, raw bool) (net.Conn, *bufio.Reader) {
	t.Helper()
	addr, _ := serve(t, s, raw)
	return dialGreeted(t, addr)
}

// bothPaths runs f over the raw path ("raw") and the net.Conn path
// ("stream") with a server of nopSessions.
func bothPaths(t *testing.T, f func(t *testing.T, s *Server, c net.Conn, r *bufio.Reader, raw bool)) {
	for _, raw := range []bool{true, false} {
		t.Run(map[bool]string{true: "raw", false: "stream"}[raw], func(t *testing.T) {
			s := nopServer(0)
			c, r := serveOne(t, s, raw)
			f(t, s, c, r, raw)
		})
	}
}

// waitPaused waits, on the raw path, until the one connection of s has
// waited for its next command long enough to be handed off: parked, or
// waiting while the sweeper swept more than handOffTicks times.
func waitPaused(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	state := func() (parked, waiting bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			return c.parked.Load(), c.waiting.Load() && c.cmdWait.Load()
		}
		return false, false
	}
	first := int64(-1)
	for {
		parked, waiting := state()
		switch e := int64(s.epoch.Load()); {
		case parked:
			return
		case waiting && first < 0:
			first = e
		case waiting && e-first > handOffTicks:
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection was not handed off nor swept")
		}
		time.Sleep(time.Millisecond)
	}
}

// readReplies reads n replies from r, failing t unless each has the code
// of the same index in codes.
func readReplies(t testing.TB, r *bufio.Reader, codes ...string) {
	t.Helper()
	for _, code := range codes {
		for {
			line, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, code) {
				t.Fatalf("got %q, %v; want %s", line, err, code)
			}
			if line[3] == ' ' {
				break
			}
		}
	}
}

// TestAttackHandOffInOverlongLine: the rest of an over-long command line
// is skipped (RFC 5321 4.5.3.1.10: one 500 for the line), even when the
// client pauses in the middle of it. The raw path handed the connection
// off at that pause (nothing buffered: the reader had dropped what it
// skipped), at once before a transaction and after the sweeps after one,
// and the new goroutine's reader forgot it was skipping: the tail of the
// line ran as a command, here a QUIT smuggled at the end of a line any
// proxy or filter in front sees as one long line.
func TestAttackHandOffInOverlongLine(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "before a transaction", true: "after a transaction"}[after], func(t *testing.T) {
			bothPaths(t, func(t *testing.T, s *Server, c net.Conn, r *bufio.Reader, raw bool) {
				if after {
					transact(t, c, r)
				}
				c.Write([]byte("NOOP " + strings.Repeat("x", 3000)))
				if raw && rawReadSupported {
					waitPaused(t, s)
				}
				c.Write([]byte("QUIT\r\nNOOP\r\n"))
				readReplies(t, r, "500", "250")
			})
		})
	}
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// waitUntil polls cond for up to 20 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAttackParkedMany: many parked connections woken at once are all
// served, then Shutdown answers every one 421 (Close cuts them) and
// returns, and nothing is left: no goroutine, no file descriptor (epoll
// set, pipe, sockets), no watcher.
func TestAttackParkedMany(t *testing.T) {
	if !parkSupported {
		t.Skip("no watcher on this platform")
	}
	const n = 300
	for _, how := range []string{"Shutdown", "Close"} {
		t.Run(how, func(t *testing.T) {
			goroutines, fds := runtime.NumGoroutine(), openFDs(t)
			s := nopServer(0)
			addr, served := serve(t, s, true)
			type client struct {
				c net.Conn
				r *bufio.Reader
			}
			cs := make([]client, n)
			for i := range cs {
				cs[i].c, cs[i].r = dialGreeted(t, addr)
			}
			waitUntil(t, "every connection parked", func() bool { return parkedConns(s) == n })
			// Woken all at once, each with a command, then parked again.
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for _, cl := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cl.c.Write([]byte("NOOP\r\n"))
					line, err := cl.r.ReadString('\n')
					if err == nil && !strings.HasPrefix(line, "250 ") {
						err = fmt.Errorf("NOOP: %q", line)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			waitUntil(t, "every connection parked again", func() bool { return parkedConns(s) == n })
			if how == "Shutdown" {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := s.Shutdown(ctx); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				for _, cl := range cs {
					readReplies(t, cl.r, "421")
				}
			} else {
				s.Close()
			}
			for _, cl := range cs {
				if line, err := cl.r.ReadString('\n'); err == nil {
					t.Fatalf("got %q after %s, want the connection closed", line, how)
				}
				cl.c.Close()
			}
			if err := <-served; err != ErrServerClosed {
				t.Errorf("Serve: %v", err)
			}
			waitUntil(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutines })
			waitUntil(t, "the descriptors to be closed", func() bool { return openFDs(t) <= fds })
		})
	}
}

// TestAttackSweeperKicksMidLineOnce: a client that sends the start of a
// command and nothing more cannot be handed off (the reader holds the
// start), so the sweeper's interrupt wakes it for nothing; it did so every
// handOffTicks sweeps until the command timeout, about ten wake-ups a
// second per connection: 2000 such slowloris connections took 10 % of a
// CPU on the raw path (0 % on the net.Conn path, which has no sweeper).
// Now the sweeper interrupts a wait for a command once at most while the
// command trickles in (twice when the wait was parked in between).
func TestAttackSweeperKicksMidLineOnce(t *testing.T) {
	if !rawReadSupported {
		t.Skip("no raw path on this platform")
	}
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "before a transaction", true: "after a transaction"}[after], func(t *testing.T) {
			s, c, r := greeted(t, 0)
			if after {
				transact(t, c, r)
			}
			c.Write([]byte("NOO"))
			waitPaused(t, s)
			k := s.kicks.Load()
			deadline := time.Now().Add(20 * time.Second)
			for e := s.epoch.Load(); s.epoch.Load()-e < 10*handOffTicks; {
				if time.Now().After(deadline) {
					t.Fatal("the sweeper stopped")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if n := s.kicks.Load() - k; n > 1 {
				t.Errorf("woken %d times by the sweeper in %d sweeps", n, 10*handOffTicks)
			}
			c.Write([]byte("P\r\n"))
			readReplies(t, r, "250")
		})
	}
}

// transaction is a session's first transaction, pipelined.
const transaction = "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nhi\r\n.\r\n"

// transact runs transaction on c.
func transact(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	c.Write([]byte(transaction))
	readReplies(t, r, "250", "250", "250", "354", "250")
}

// sweepLate does the first half of sweepOnce: it waits for the one
// connection of s to wait for a command, and returns it with s.mu held
// (the second half, interruptFor, can then come late).
func sweepLate(t *testing.T, s *Server) *conn {
	t.Helper()
	var sc *conn
	waitUntil(t, "the connection to wait for a command", func() bool {
		s.mu.Lock()
		for c := range s.conns {
			if c.waiting.Load() && c.cmdWait.Load() {
				sc = c
				return true // s.mu held
			}
		}
		s.mu.Unlock()
		return false
	})
	return sc
}

// interruptFor does what sweepOnce does to c, over and over for d, so
// that the interrupt lands at every moment of what c does meanwhile.
func (c *conn) interruptFor(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		c.kicked.Store(true)
		c.raw.SetReadDeadline(time.Unix(1, 0))
		runtime.Gosched()
	}
}

// selfSigned returns a TLS certificate for tests of this package (which
// cannot use smtptest: it imports the server).
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"mx.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestAttackSweeperLateForSTARTTLS: the sweeper looks at a connection
// waiting for a command, then interrupts its wait (a read deadline in the
// past). Late, when the connection has meanwhile read STARTTLS and begun
// the handshake (the sweeper's thread was descheduled between the two:
// a loaded machine), the interrupt failed the handshake: crypto/tls
// cannot go on after a read error, and the connection was closed. The
// raw path's own reads take such an interrupt in their stride; the
// handshake now waits for a sweep in progress before it starts. Here the
// test does what sweepOnce does, holding the Server's lock as it does,
// with its interrupt repeated so that it lands at every moment.
func TestAttackSweeperLateForSTARTTLS(t *testing.T) {
	if !rawReadSupported {
		t.Skip("no raw path on this platform")
	}
	s, c, r := greeted(t, 0)
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	// After a transaction: the connection waits in its goroutine for a
	// few sweeps, where the sweeper looks at it.
	transact(t, c, r)
	sc := sweepLate(t, s)
	c.Write([]byte("STARTTLS\r\n"))
	readReplies(t, r, "220")
	sc.interruptFor(200 * time.Millisecond)
	s.mu.Unlock()
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	tr := bufio.NewReader(tc)
	tc.Write([]byte("EHLO x\r\n"))
	readReplies(t, tr, "250")
}

// session runs input over a fresh connection to a server of nopSessions
// (CHUNKING on) through the raw path or the net.Conn path, in two
// writes: input[:split], then, once the server waits for more (parked,
// or handed off after the sweeps when it could be), the rest; then it
// half-closes and returns all the server wrote.
func splitSession(t *testing.T, raw bool, input string, split int) string {
	t.Helper()
	s := nopServer(0)
	s.EnableChunking = true
	c, r := serveOne(t, s, raw)
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		out <- b
	}()
	c.Write([]byte(input[:split]))
	if raw && rawReadSupported {
		// The server has read the first part when it waits; outside a
		// transaction it is handed off (and parked) then, or after the
		// sweeps.
		deadline := time.Now().Add(10 * time.Second)
		first := int64(-1)
		for {
			s.mu.Lock()
			var parked, waiting, cmdWait bool
			for sc := range s.conns {
				parked, waiting, cmdWait = sc.parked.Load(), sc.waiting.Load(), sc.cmdWait.Load()
			}
			s.mu.Unlock()
			e := int64(s.epoch.Load())
			if parked || waiting && !cmdWait {
				break
			}
			if waiting && first < 0 {
				first = e
			} else if waiting && e-first > handOffTicks {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the server does not wait")
			}
			time.Sleep(time.Millisecond)
		}
	}
	c.Write([]byte(input[split:]))
	c.(*net.TCPConn).CloseWrite()
	return string(<-out)
}

// TestAttackSplitAcrossPauses: a session cut in two at every octet, the
// server waiting (handed off, parked, swept) between the parts, gets the
// same replies on the raw path as in one go on the net.Conn path: commands,
// a message with a dot line, BDAT chunks whose octets end in CRLF.
func TestAttackSplitAcrossPauses(t *testing.T) {
	for i, input := range []string{
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n..x\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 4\r\na\r\n\rBDAT 2 LAST\r\n\n.NOOP\r\n",
	} {
		want := splitSession(t, false, input, len(input))
		for split := 1; split < len(input); split++ {
			t.Run(fmt.Sprintf("%d/%d", i, split), func(t *testing.T) {
				t.Parallel() // mostly waiting for the sweeps
				if got := splitSession(t, true, input, split); got != want {
					t.Fatalf("split at %d %q|%q:\n%s\nin one go:\n%s", split, input[:split], input[split:], got, want)
				}
			})
		}
	}
}

// TestAttackSpuriousWake: the watcher may wake a connection for an event
// that was not its own: a descriptor closed and reused by a new
// connection while an event of the old one was on its way (epoll keeps no
// closed descriptor, but an event already returned by epoll_wait names
// only the number). A connection woken with nothing to read parks again
// and serves its next command, and being woken for nothing over and over
// does not move its command deadline; before and after a transaction.
func TestAttackSpuriousWake(t *testing.T) {
	if !parkSupported {
		t.Skip("no watcher on this platform")
	}
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "before a transaction", true: "after a transaction"}[after], func(t *testing.T) {
			t.Parallel()
			const timeout = time.Second
			s, c, r := greeted(t, timeout)
			// wake does what the watcher's loop does with an event for
			// the descriptor of a parked connection.
			wake := func() {
				s.mu.Lock()
				defer s.mu.Unlock()
				for sc := range s.conns {
					if sc.parked.Load() {
						wakeParked(sc)
					}
				}
			}
			if after {
				transact(t, c, r)
			}
			waitUntil(t, "the connection to park", func() bool { return parkedConns(s) == 1 })
			wake()
			waitUntil(t, "the connection to park again", func() bool { return parkedConns(s) == 1 })
			c.Write([]byte("NOOP\r\n"))
			readReplies(t, r, "250")
			start := time.Now()
			closed := make(chan string, 1)
			go func() {
				line, _ := r.ReadString('\n')
				closed <- line
			}()
			for {
				select {
				case line := <-closed:
					if !strings.HasPrefix(line, "421 ") {
						t.Fatalf("got %q, want the timeout", line)
					}
					return
				case <-time.After(timeout / 10):
					if time.Since(start) > 3*timeout {
						t.Fatal("not closed after 3 timeouts: each wake restarted the deadline")
					}
					wake()
				}
			}
		})
	}
}

// TestAttackShutdownAmidWakeups: connections sending a command now and
// then, at any moment of their hand-offs, parking and waking: no command
// goes unanswered (a wake-up lost between a read that found nothing and
// the watcher would leave it to the command timeout), and a Shutdown in
// the middle of it all answers every one 421 and returns.
func TestAttackShutdownAmidWakeups(t *testing.T) {
	const n = 100
	s := nopServer(0)
	s.MaxJunkCommands = -1
	addr, served := serve(t, s, true)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	stop := make(chan struct{})
	for i := range n {
		c, r := dialGreeted(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A command gets its reply within 10 s (CommandTimeout is 5
			// minutes): none is lost.
			expect := func(code string) (string, error) {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				line, err := r.ReadString('\n')
				if err != nil {
					return line, fmt.Errorf("waiting for %s: %w", code, err)
				}
				return line, nil
			}
			pause := time.Duration(i%7) * 7 * time.Millisecond
			for k := 0; ; k++ {
				select {
				case <-stop:
					// Shutdown: the next reply is 421, whether to the
					// wait or to a command sent meanwhile.
					c.Write([]byte("NOOP\r\n"))
					for {
						line, err := expect("421")
						if err != nil {
							errs <- err
							return
						}
						if strings.HasPrefix(line, "421 ") {
							return
						}
					}
				case <-time.After(pause):
				}
				c.Write([]byte("NOOP\r\n"))
				line, err := expect("250")
				if err == nil && strings.HasPrefix(line, "421 ") {
					select {
					case <-stop:
						return // Shutdown's answer to the command
					default:
						err = fmt.Errorf("421 before Shutdown")
					}
				}
				if err != nil {
					errs <- err
					return
				}
				pause = time.Duration((i*31+k*17)%97) * time.Millisecond
			}
		}()
	}
	time.Sleep(time.Second) // commands come and go meanwhile
	close(stop)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	<-served
}

// TestAttackResetWhileWaiting: a client whose connection is reset (RST)
// while the server waits for its command, parked or in its goroutine
// after a transaction, is gone: the connection ends and is released.
func TestAttackResetWhileWaiting(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "parked", true: "after a transaction"}[after], func(t *testing.T) {
			s, c, r := greeted(t, 0)
			if after {
				transact(t, c, r)
			} else if parkSupported {
				waitUntil(t, "the connection to park", func() bool { return parkedConns(s) == 1 })
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // RST
			waitUntil(t, "the connection to end", func() bool {
				s.mu.Lock()
				defer s.mu.Unlock()
				return s.nconns == 0
			})
		})
	}
}

// TestAttackListenerClosedWhileParked: the embedder closing the listener
// (Serve returns its error) leaves the parked connections served, and a
// Shutdown after that still answers them 421.
func TestAttackListenerClosedWhileParked(t *testing.T) {
	s := nopServer(0)
	addr, served := serve(t, s, true)
	c, r := dialGreeted(t, addr)
	if parkSupported {
		waitUntil(t, "the connection to park", func() bool { return parkedConns(s) == 1 })
	}
	s.mu.Lock()
	for l := range s.listeners {
		(*l).Close() // as the embedder does
	}
	s.mu.Unlock()
	if err := <-served; err == nil || err == ErrServerClosed {
		t.Errorf("Serve: %v, want the listener's error", err)
	}
	c.Write([]byte("NOOP\r\n"))
	readReplies(t, r, "250")
	if parkSupported {
		waitUntil(t, "the connection to park again", func() bool { return parkedConns(s) == 1 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	readReplies(t, r, "421")
}

// passwordSession accepts nothing but lets AUTH be offered.
type passwordSession struct{ nopSession }

func (passwordSession) AuthPassword(context.Context, string, string, string) error {
	return ErrAuthFailed
}

// authServer is nopServer with passwordSessions, AUTH offered in clear.
func authServer(timeout time.Duration) *Server {
	s := nopServer(timeout)
	s.AllowInsecureAuth = true
	s.Backend = BackendFunc(func(context.Context, *Conn) (Session, error) { return passwordSession{}, nil })
	return s
}

// TestAttackTrickleAuthAndHandshake: the command timeout bounds a whole
// AUTH response line and a whole STARTTLS handshake however slowly they
// trickle in, on the raw path as on the net.Conn path, and after the
// connection was parked as before.
func TestAttackTrickleAuthAndHandshake(t *testing.T) {
	const timeout = 400 * time.Millisecond
	cases := []struct {
		name, start, want string
		trickle           []byte
	}{
		{"AUTH response", "EHLO x\r\nAUTH LOGIN\r\n", "421 ", []byte("YWxpY2UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")},
		// A TLS record header promising a ClientHello, then its bytes.
		{"STARTTLS handshake", "EHLO x\r\nSTARTTLS\r\n", "", append([]byte{0x16, 0x03, 0x01, 0x02, 0x00}, make([]byte, 64)...)},
	}
	for _, tc := range cases {
		for _, raw := range []bool{true, false} {
			t.Run(tc.name+map[bool]string{true: "/raw", false: "/stream"}[raw], func(t *testing.T) {
				t.Parallel()
				s := authServer(timeout)
				s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
				c, r := serveOne(t, s, raw)
				if raw && parkSupported {
					waitUntil(t, "the connection to park", func() bool { return parkedConns(s) == 1 })
				}
				c.Write([]byte(tc.start))
				readReplies(t, r, "250")
				if tc.want == "421 " {
					readReplies(t, r, "334")
				} else {
					readReplies(t, r, "220")
				}
				begin := time.Now()
				closed := make(chan string, 1)
				go func() {
					line, _ := r.ReadString('\n')
					closed <- line
				}()
				for i := 0; ; i++ {
					select {
					case line := <-closed:
						if !strings.HasPrefix(line, tc.want) {
							t.Fatalf("got %q, want %q and the connection closed", line, tc.want)
						}
						if d := time.Since(begin); d > 3*timeout {
							t.Errorf("closed after %v, timeout %v", d, timeout)
						}
						return
					case <-time.After(timeout / 8):
						if time.Since(begin) > 10*timeout {
							t.Fatal("not closed after 10 timeouts")
						}
						c.Write(tc.trickle[i%len(tc.trickle) : i%len(tc.trickle)+1])
					}
				}
			})
		}
	}
}

// TestAttackEmptyRead: a read into an empty buffer returns 0 and no error
// on the raw path as on net.Conn (io.Reader's contract), not io.EOF: the
// raw read(2) of nothing returns 0, which is the end of the stream for a
// read of something. (textproto.Reader never asks for nothing today.)
func TestAttackEmptyRead(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cli, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s := &Server{Hostname: "mx.test"}
	s.init()
	for _, raw := range []bool{true, false} {
		var conn net.Conn = nc
		if !raw {
			conn = struct{ net.Conn }{nc}
		}
		c := s.newConn(conn, false)
		c.tr = c.getReader()
		c.setRawConn(conn)
		if n, err := c.Read(nil); n != 0 || err != nil {
			t.Errorf("raw %v: Read(nil) = %d, %v; want 0, nil", raw, n, err)
		}
		cli.Write([]byte("x"))
		buf := make([]byte, 4)
		if n, err := c.Read(buf); n != 1 || err != nil {
			t.Errorf("raw %v: Read = %d, %v; want 1, nil", raw, n, err)
		}
	}
}

// TestAttackSweeperLateForAUTH: a late sweeper interrupt (see
// TestAttackSweeperLateForSTARTTLS) that lands after the AUTH command
// was read made the raw path put back the AUTH command's deadline for the
// response to its challenge, which the net.Conn path bounds by a command
// timeout of its own: a client slow to send AUTH, then prompt with the
// response, was cut with 421.
func TestAttackSweeperLateForAUTH(t *testing.T) {
	if !rawReadSupported {
		t.Skip("no raw path on this platform")
	}
	const timeout = 2 * time.Second
	s := authServer(timeout)
	c, r := serveOne(t, s, true)
	transact(t, c, r)
	sc := sweepLate(t, s)
	t0 := time.Now()
	time.Sleep(timeout * 7 / 10)
	c.Write([]byte("AUTH LOGIN\r\n"))
	readReplies(t, r, "334")
	sc.interruptFor(100 * time.Millisecond)
	s.mu.Unlock()
	// Past the AUTH command's deadline, well within the response's.
	time.Sleep(time.Until(t0.Add(timeout * 13 / 10)))
	c.Write([]byte("YWxpY2U=\r\n"))
	readReplies(t, r, "334")
}
