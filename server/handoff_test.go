package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
)

type nopSession struct{}

func (nopSession) Mail(context.Context, envelope.Path, envelope.MailParams) error { return nil }
func (nopSession) Rcpt(context.Context, envelope.Path, envelope.RcptParams) error { return nil }
func (nopSession) Data(_ context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (nopSession) Reset(context.Context)        {}
func (nopSession) Logout(context.Context) error { return nil }

// greeted starts a Server of nopSessions with the given CommandTimeout
// on loopback, connects to it and reads the greeting; both end with the
// test.
func greeted(t *testing.T, timeout time.Duration) (*Server, net.Conn, *bufio.Reader) {
	t.Helper()
	s := nopServer(timeout)
	c, r := serveOne(t, s, true)
	return s, c, r
}

// TestHandOff: a plain TCP connection waiting for a command is handed off
// to a new goroutine (its buffers given back) at once before its first
// transaction, and after the sweeps once it had one; either way the next
// commands are served as before, pipelined ones included.
func TestHandOff(t *testing.T) {
	s, c, r := greeted(t, 0)
	expect := func(codes ...string) {
		t.Helper()
		for _, code := range codes {
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("reading %s: %v", code, err)
				}
				if !strings.HasPrefix(line, code) {
					t.Fatalf("got %q, want %s", line, code)
				}
				if line[3] == ' ' {
					break
				}
			}
		}
	}
	waitHandOffs := func(n uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for s.handOffs.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d hand-offs, want %d", s.handOffs.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitHandOffs(1) // waiting for the greeting's answer, before any transaction
	c.Write([]byte("EHLO x\r\n"))
	expect("250")
	waitHandOffs(2)
	txn := "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nhi\r\n.\r\n"
	c.Write([]byte(txn))
	expect("250", "250", "354", "250")
	n := s.handOffs.Load()
	waitHandOffs(n + 1) // idle after a transaction: the sweeper's turn
	c.Write([]byte(txn + "QUIT\r\n"))
	expect("250", "250", "354", "250", "221")
}

// parkedConns counts the connections of s parked with its watcher.
func parkedConns(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.parked.Load() {
			n++
		}
	}
	return n
}

// TestParked: on Linux a connection idle for a while has no goroutine
// (parked with the watcher), and every way out of that state works: its
// next command, the command timeout, the client leaving, Shutdown and
// Close.
func TestParked(t *testing.T) {
	if !parkSupported {
		t.Skip("no watcher on this platform")
	}
	type setup struct {
		s *Server
		c net.Conn
		r *bufio.Reader
	}
	open := func(t *testing.T, timeout time.Duration) setup {
		s, c, r := greeted(t, timeout)
		deadline := time.Now().Add(10 * time.Second)
		for parkedConns(s) != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the idle connection was not parked")
			}
			time.Sleep(5 * time.Millisecond)
		}
		return setup{s, c, r}
	}
	reply := func(t *testing.T, st setup) string {
		t.Helper()
		line, err := st.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		return line
	}
	closed := func(t *testing.T, st setup) {
		t.Helper()
		if line, err := st.r.ReadString('\n'); err == nil {
			t.Fatalf("got %q, want the connection closed", line)
		}
		waitFor := time.Now().Add(10 * time.Second)
		for {
			st.s.mu.Lock()
			n := st.s.nconns
			st.s.mu.Unlock()
			if n == 0 {
				return
			}
			if time.Now().After(waitFor) {
				t.Fatal("the connection did not end")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Run("command", func(t *testing.T) {
		st := open(t, 0)
		st.c.Write([]byte("NOOP\r\n"))
		if got := reply(t, st); !strings.HasPrefix(got, "250 ") {
			t.Errorf("NOOP: %q", got)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		st := open(t, 300*time.Millisecond)
		if got := reply(t, st); !strings.HasPrefix(got, "421 mx.test Timeout") {
			t.Errorf("got %q, want the timeout", got)
		}
		closed(t, st)
	})
	t.Run("client leaves", func(t *testing.T) {
		st := open(t, 0)
		st.c.(*net.TCPConn).CloseWrite()
		closed(t, st)
	})
	t.Run("shutdown", func(t *testing.T) {
		st := open(t, 0)
		done := make(chan error, 1)
		go func() { done <- st.s.Shutdown(context.Background()) }()
		if got := reply(t, st); !strings.HasPrefix(got, "421 ") {
			t.Errorf("got %q, want 421", got)
		}
		if err := <-done; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	t.Run("close", func(t *testing.T) {
		st := open(t, 0)
		st.s.Close()
		closed(t, st)
	})
	t.Run("watcher retires", func(t *testing.T) {
		// A watcher with nothing to watch ends (its descriptors closed);
		// a connection it watched before parks with the next one.
		st := open(t, 0)
		st.s.watchMu.Lock()
		first := st.s.watcher
		st.s.watchMu.Unlock()
		for !retireWatcher(first) { // parked again before retire: once more
			st.c.Write([]byte("NOOP\r\n"))
			if got := reply(t, st); !strings.HasPrefix(got, "250 ") {
				t.Fatalf("NOOP: %q", got)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for parkedConns(st.s) != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the idle connection was not parked again")
			}
			time.Sleep(5 * time.Millisecond)
		}
		st.s.watchMu.Lock()
		second := st.s.watcher
		st.s.watchMu.Unlock()
		if second == first || second == nil {
			t.Fatalf("parked with watcher %p, want a new one (the first %p)", second, first)
		}
		st.c.Write([]byte("NOOP\r\n"))
		if got := reply(t, st); !strings.HasPrefix(got, "250 ") {
			t.Errorf("NOOP after the new watcher: %q", got)
		}
		// Alone, the second one ends after watcherLinger.
		st.c.Write([]byte("QUIT\r\n"))
		reply(t, st)
		closed(t, st)
		for {
			st.s.watchMu.Lock()
			w := st.s.watcher
			st.s.watchMu.Unlock()
			if w == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the watcher did not end")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestHandOffKeepsCommandDeadline: the command timeout counts from the
// start of the wait for the command (RFC 5321 4.5.3.2.7), however the
// command trickles in: a connection silent after the greeting (so handed
// off and parked), then sending a byte now and then, is closed when the
// timeout after the greeting passes, not a timeout after its first byte;
// also when the sweeper's interrupts land between two reads (as when it
// saw the connection waiting just before a byte came), here many of them.
func TestHandOffKeepsCommandDeadline(t *testing.T) {
	for _, kick := range []bool{false, true} {
		t.Run(map[bool]string{false: "trickle", true: "interrupted between reads"}[kick], func(t *testing.T) {
			t.Parallel()
			testKeepsCommandDeadline(t, kick)
		})
	}
}

func testKeepsCommandDeadline(t *testing.T, kick bool) {
	const timeout = 2 * time.Second
	s, c, r := greeted(t, timeout)
	start := time.Now()
	time.Sleep(timeout / 2) // handed off, then parked
	closed := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		closed <- line
	}()
	// interrupt does what the sweeper does (sweepOnce), over and over
	// for a few milliseconds: while the server reads the byte just sent
	// and starts its next read.
	interrupt := func() {
		for end := time.Now().Add(5 * time.Millisecond); time.Now().Before(end); {
			s.mu.Lock()
			for sc := range s.conns {
				if !sc.parked.Load() {
					sc.kicked.Store(true)
					sc.raw.SetReadDeadline(time.Unix(1, 0))
				}
			}
			s.mu.Unlock()
			runtime.Gosched()
		}
	}
	for i := 0; ; i++ {
		select {
		case line := <-closed:
			if !strings.HasPrefix(line, "421 mx.test Timeout") {
				t.Fatalf("got %q, want the timeout", line)
			}
			// A deadline restarted by the first byte would close it
			// at 1.6 timeouts or later.
			if d := time.Since(start); d > timeout*13/10 {
				t.Errorf("closed %v after the greeting, want about %v", d, timeout)
			}
			return
		case <-time.After(timeout / 20):
			if time.Since(start) > 3*timeout {
				t.Fatal("not closed after 3 timeouts")
			}
			c.Write([]byte{"EHLO trickle"[i%12]})
			if kick {
				interrupt()
			}
		}
	}
}
