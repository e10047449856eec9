package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// quietPeriod is how long the lockstep server waits, before each reply, for
// bytes the client should not have sent yet.
const quietPeriod = 40 * time.Millisecond

// lockstepServer serves one connection of a server without PIPELINING
// (RFC 2920 not announced) and checks that the client waits for every reply
// before it sends the next command (RFC 5321 4.1.1: a client without
// PIPELINING sends one command and waits). Before each reply it watches
// the connection for quietPeriod: any byte that arrives is a violation,
// reported on the returned channel. It returns the client's lines.
func lockstepServer(t *testing.T, ext ...string) (addr string, result <-chan []string) {
	res := make(chan []string, 1)
	var got []string
	addr = rawServer(t, func(conn net.Conn) {
		defer func() { res <- got }()
		r := bufio.NewReader(conn)
		reply := func(lines ...string) bool {
			// Nothing more may be on its way: the client waits for us.
			if r.Buffered() > 0 {
				t.Errorf("client sent %q before the reply to %q", peekAll(r), got[len(got)-1])
				return false
			}
			conn.SetReadDeadline(time.Now().Add(quietPeriod))
			if b, err := r.Peek(1); err == nil {
				t.Errorf("client sent %q before the reply to %q", b, got[len(got)-1])
				return false
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := conn.Write([]byte(strings.Join(lines, "\r\n") + "\r\n"))
			return err == nil
		}
		conn.Write([]byte("220 lockstep.example ESMTP\r\n"))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\r\n")
			got = append(got, line)
			verb, arg, _ := strings.Cut(line, " ")
			var ok bool
			switch strings.ToUpper(verb) {
			case "EHLO":
				lines := []string{"250-lockstep.example"}
				for _, e := range ext {
					lines = append(lines, "250-"+e)
				}
				lines = append(lines, "250 8BITMIME")
				ok = reply(lines...)
			case "DATA":
				if ok = reply("354 go ahead"); !ok {
					break
				}
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if l == ".\r\n" {
						break
					}
				}
				got = append(got, "<data>")
				ok = reply("250 2.0.0 queued")
			case "BDAT":
				f := strings.Fields(arg)
				n, _ := strconv.Atoi(f[0])
				if _, err := io.ReadFull(r, make([]byte, n)); err != nil {
					return
				}
				ok = reply("250 2.0.0 " + f[0] + " octets")
			case "QUIT":
				reply("221 2.0.0 bye")
				return
			default:
				ok = reply("250 2.0.0 OK")
			}
			if !ok {
				return
			}
		}
	})
	return addr, res
}

func peekAll(r *bufio.Reader) string {
	b, _ := r.Peek(r.Buffered())
	return string(b)
}

// TestLockstepWithoutPipelining: without PIPELINING, Send waits for the
// reply to each command (EHLO, MAIL, each RCPT, DATA, each BDAT chunk)
// before it writes the next one.
func TestLockstepWithoutPipelining(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  []string
		want string
	}{
		{"data", nil, "EHLO client.example|MAIL FROM:<a@x.example> BODY=8BITMIME|RCPT TO:<b@y.example>|RCPT TO:<c@y.example>|DATA|<data>|QUIT"},
		{"bdat", []string{"CHUNKING"}, "EHLO client.example|MAIL FROM:<a@x.example> BODY=8BITMIME|RCPT TO:<b@y.example>|RCPT TO:<c@y.example>|BDAT 16|BDAT 16|BDAT 8 LAST|QUIT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, result := lockstepServer(t, tc.ext...)
			// A reader that hides its length: the message is streamed,
			// in three chunks for BDAT.
			msg := io.MultiReader(strings.NewReader("0123456789abcd\r\n0123456789abcd\r\n012345\r\n"))
			c := dialT(t, addr, &Options{ChunkSize: 16})
			if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example", "c@y.example"), msg); err != nil {
				t.Fatal(err)
			}
			if err := c.Quit(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(<-result, "|"); got != tc.want {
				t.Errorf("commands:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestPipelinedOneRoundTrip: with PIPELINING, MAIL, every RCPT and DATA
// (or the first BDAT chunk) reach the server before it answers any of them
// (RFC 2920 3.1). The server here answers nothing until it has them all: a
// client that waited for a reply would time out.
func TestPipelinedOneRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  string
		last string // the command that ends the group
	}{
		{"data", "", "DATA"},
		{"bdat", "250-CHUNKING\r\n", "BDAT 4 LAST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, func(conn net.Conn) {
				r := bufio.NewReader(conn)
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				conn.Write([]byte("220 pipe.example\r\n"))
				r.ReadString('\n') // EHLO
				conn.Write([]byte("250-pipe.example\r\n" + tc.ext + "250 PIPELINING\r\n"))
				var group []string
				for len(group) == 0 || group[len(group)-1] != tc.last {
					l, err := r.ReadString('\n')
					if err != nil {
						t.Errorf("group so far %q: %v", group, err)
						return
					}
					group = append(group, strings.TrimSuffix(l, "\r\n"))
				}
				if len(group) != 4 {
					t.Errorf("group %q", group)
				}
				if tc.last == "DATA" {
					conn.Write([]byte("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"))
					for l, _ := r.ReadString('\n'); l != ".\r\n"; l, _ = r.ReadString('\n') {
					}
					conn.Write([]byte("250 queued\r\n"))
				} else {
					io.ReadFull(r, make([]byte, 4))
					conn.Write([]byte("250 ok\r\n250 ok\r\n250 ok\r\n250 queued\r\n"))
				}
				r.ReadString('\n') // QUIT
				conn.Write([]byte("221 bye\r\n"))
			})
			c := dialT(t, addr, &Options{CommandTimeout: 2 * time.Second, MailTimeout: 2 * time.Second, RcptTimeout: 2 * time.Second})
			res, err := c.Send(testCtx(t), env("a@x.example", "b@y.example", "c@y.example"), strings.NewReader("hi\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			if res.Text() != "queued" || res.Accepted() != 2 {
				t.Errorf("result %+v", res)
			}
			if err := c.Quit(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPipelineWindow: a pipelining client that wrote thousands of RCPT
// without reading would deadlock with a server whose replies fill the
// socket buffers (both sides blocked in write). Send reads the replies
// after every MaxPipelined commands. The sockets get small buffers and the
// replies are long, so that the deadlock shows quickly without the window.
func TestPipelineWindow(t *testing.T) {
	const n = 3000
	long := strings.Repeat("x", 400)
	addr := rawServer(t, func(conn net.Conn) {
		conn.(*net.TCPConn).SetReadBuffer(4096)
		conn.(*net.TCPConn).SetWriteBuffer(4096)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReaderSize(conn, 512)
		conn.Write([]byte("220 x\r\n"))
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			var out string
			switch strings.ToUpper(l[:4]) {
			case "EHLO":
				out = "250-x\r\n250 PIPELINING\r\n"
			case "DATA":
				conn.Write([]byte("354 go\r\n"))
				for l, _ := r.ReadString('\n'); l != ".\r\n"; l, _ = r.ReadString('\n') {
				}
				out = "250 queued\r\n"
			case "QUIT":
				conn.Write([]byte("221 bye\r\n"))
				return
			default:
				out = "250-" + long + "\r\n250 ok\r\n"
			}
			// One unbuffered write per reply, as a simple server does.
			if _, err := conn.Write([]byte(out)); err != nil {
				return
			}
		}
	})
	small := dialerFunc(func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(4096)
			c.(*net.TCPConn).SetWriteBuffer(4096)
		}
		return c, err
	})
	c := dialT(t, addr, &Options{Dialer: small, RcptTimeout: 3 * time.Second, CommandTimeout: 3 * time.Second})
	e := env("a@x.example")
	for i := 0; i < n; i++ {
		e.To = append(e.To, env("a@x.example", "r"+strconv.Itoa(i)+"@y.example").To[0])
	}
	res, err := c.Send(testCtx(t), e, strings.NewReader("hi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted() != n {
		t.Errorf("%d accepted", res.Accepted())
	}
	var ne *NetError
	if err := c.Quit(testCtx(t)); errors.As(err, &ne) {
		t.Error(err)
	}
}

// dialerFunc is a ContextDialer made of a function.
type dialerFunc func(network, addr string) (net.Conn, error)

func (f dialerFunc) DialContext(_ context.Context, network, addr string) (net.Conn, error) {
	return f(network, addr)
}
