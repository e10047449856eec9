package server

import (
	"bufio"
	"context"
	"net"
	"strings"
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

// bothPaths runs f over the raw path ("raw") and the net.Conn path
// ("stream") with a server of nopSessions.
func bothPaths(t *testing.T, f func(t *testing.T, s *Server, c net.Conn, r *bufio.Reader, raw bool)) {
	for _, raw := range []bool{true, false} {
		t.Run(map[bool]string{true: "raw", false: "stream"}[raw], func(t *testing.T) {
			s := &Server{Hostname: "mx.test", ErrorDelay: -1,
				Backend: BackendFunc(func(context.Context, *Conn) (Session, error) { return nopSession{}, nil })}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var sl net.Listener = l
			if !raw {
				sl = hiddenTCP{l}
			}
			go s.Serve(sl)
			t.Cleanup(func() { s.Close() })
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			c.SetDeadline(time.Now().Add(20 * time.Second))
			r := bufio.NewReader(c)
			if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
				t.Fatalf("greeting %q, %v", line, err)
			}
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
func readReplies(t *testing.T, r *bufio.Reader, codes ...string) {
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
	for _, txn := range []string{"", "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nhi\r\n.\r\n"} {
		t.Run(map[bool]string{true: "before a transaction", false: "after a transaction"}[txn == ""], func(t *testing.T) {
			bothPaths(t, func(t *testing.T, s *Server, c net.Conn, r *bufio.Reader, raw bool) {
				if txn != "" {
					c.Write([]byte(txn))
					readReplies(t, r, "250", "250", "250", "354", "250")
				}
				c.Write([]byte("NOOP " + strings.Repeat("x", 3000)))
				if raw {
					waitPaused(t, s)
				}
				c.Write([]byte("QUIT\r\nNOOP\r\n"))
				readReplies(t, r, "500", "250")
			})
		})
	}
}
