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

// waitHandOffs waits until s has handed off n connections.
func waitHandOffs(t *testing.T, s *Server, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.handOffs.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d hand-offs, want %d", s.handOffs.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAttackHandOffInOverlongLine: the rest of an over-long command line
// is skipped (RFC 5321 4.5.3.1.10: one 500 for the line), even when the
// client pauses in the middle of it. The raw path handed the connection
// off at that pause (nothing buffered: the reader had dropped what it
// skipped) and the new goroutine's reader forgot it was skipping: the
// tail of the line ran as a command, here a QUIT smuggled at the end of
// a line any proxy or filter in front sees as one long line.
func TestAttackHandOffInOverlongLine(t *testing.T) {
	bothPaths(t, func(t *testing.T, s *Server, c net.Conn, r *bufio.Reader, raw bool) {
		n := s.handOffs.Load()
		c.Write([]byte("NOOP " + strings.Repeat("x", 3000)))
		if raw {
			waitHandOffs(t, s, n+1) // the pause in the line
		} else {
			time.Sleep(100 * time.Millisecond) // no hand-off to wait for
		}
		c.Write([]byte("QUIT\r\nNOOP\r\n"))
		for _, want := range []string{"500 ", "250 "} {
			line, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, want) {
				t.Fatalf("got %q, %v; want %s...", line, err, want)
			}
		}
	})
}
