package client

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
)

// dial connects to a fake server and greets it.
func dialT(t *testing.T, addr string, opts *Options) *Client {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if opts.LocalName == "" {
		opts.LocalName = "client.example"
	}
	c, err := Dial(testCtx(t), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello(testCtx(t), ""); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWireEncoding checks the bytes on the wire: only CRLF line ends, and
// stuffed dots for DATA, so that no message can end DATA early or smuggle
// a second one.
func TestWireEncoding(t *testing.T) {
	const in = ".first\n.\nmid\r.\r\nx\r\n..two\r\n.\r\nlast"
	const wantDATA = "..first\r\n..\r\nmid\r\n..\r\nx\r\n...two\r\n..\r\nlast\r\n.\r\n"
	const wantBDAT = ".first\r\n.\r\nmid\r\n.\r\nx\r\n..two\r\n.\r\nlast"
	readers := map[string]func() io.Reader{
		"whole":   func() io.Reader { return strings.NewReader(in) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
	}
	for _, chunk := range []int{0, 1, 3, 7} {
		for rname, r := range readers {
			for _, ext := range [][]string{{"PIPELINING"}, {"PIPELINING", "CHUNKING"}, {"CHUNKING"}} {
				name := rname + "/" + strings.Join(ext, "+") + "/chunk" + itoa(int64(chunk))
				t.Run(name, func(t *testing.T) {
					fs := newFakeServer(t, ext...)
					c := dialT(t, fs.start(), &Options{ChunkSize: chunk})
					if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), r()); err != nil {
						t.Fatal(err)
					}
					c.Quit(testCtx(t))
					wire := fs.bytes()
					checked := wire
					if strings.Contains(ext[len(ext)-1], "CHUNKING") {
						checked = strings.Join(fs.msgs(), "")
						if m := fs.msgs(); len(m) != 1 || m[0] != wantBDAT {
							t.Errorf("BDAT content %q, want %q", m, wantBDAT)
						}
						if strings.Contains(wire, "\r\nDATA\r\n") {
							t.Errorf("DATA sent to a CHUNKING server")
						}
					} else if !strings.Contains(wire, "\r\nDATA\r\n"+wantDATA) {
						t.Errorf("wire %q does not hold %q", wire, wantDATA)
					}
					// Never a bare CR or LF (for BDAT: in the reassembled
					// content, since a chunk may end between CR and LF).
					for i := 0; i < len(checked); i++ {
						if checked[i] == '\n' && (i == 0 || checked[i-1] != '\r') || checked[i] == '\r' && (i+1 == len(checked) || checked[i+1] != '\n') {
							t.Fatalf("bare CR or LF at %d in %q", i, checked)
						}
					}
				})
			}
		}
	}
}

func TestRefuse8Bit(t *testing.T) {
	msg := "Subject: caf\xc3\xa9\r\n\r\nx\r\n"
	t.Run("no8bitmime", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING")
		c := dialT(t, fs.start(), nil)
		_, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader(msg))
		var e *Error
		var xe *ExtensionError
		if !errors.As(err, &e) || !e.Local || !errors.As(err, &xe) || xe.Extension != "8BITMIME" || e.Code != 554 || e.Enhanced != reply.Enh(5, 6, 3) {
			t.Fatalf("err = %v", err)
		}
		c.Quit(testCtx(t))
		if got := fs.bytes(); got != "EHLO client.example\r\nQUIT\r\n" {
			t.Errorf("sent %q", got)
		}
	})
	t.Run("8bitmime", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "8BITMIME")
		c := dialT(t, fs.start(), nil)
		if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(fs.bytes(), "MAIL FROM:<a@x.example> BODY=8BITMIME\r\n") {
			t.Errorf("no BODY=8BITMIME: %q", fs.bytes())
		}
	})
	// 8-bit content found only after MAIL was sent: DATA is abandoned by
	// closing the connection (no final dot), BDAT by RSET.
	long := strings.Repeat("seven bit line\r\n", 10) + "caf\xc3\xa9\r\n"
	for _, ext := range [][]string{{"PIPELINING"}, {"PIPELINING", "CHUNKING"}} {
		t.Run("stream/"+strings.Join(ext, "+"), func(t *testing.T) {
			fs := newFakeServer(t, ext...)
			c := dialT(t, fs.start(), &Options{ChunkSize: 32})
			_, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), iotest.OneByteReader(strings.NewReader(long)))
			var xe *ExtensionError
			if !errors.As(err, &xe) || xe.Extension != "8BITMIME" {
				t.Fatalf("err = %v", err)
			}
			time.Sleep(50 * time.Millisecond)
			wire := fs.bytes()
			if strings.Contains(wire, "\xc3") || strings.Contains(wire, "\r\n.\r\n") || strings.Contains(wire, "LAST") {
				t.Errorf("message was completed: %q", wire)
			}
			if len(fs.msgs()) != 0 {
				t.Errorf("message delivered")
			}
			if ext[len(ext)-1] == "CHUNKING" {
				// The connection stays usable; the next transaction
				// starts with RSET.
				if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("ok\r\n")); err != nil {
					t.Fatalf("connection unusable after BDAT abort: %v", err)
				}
				if !strings.Contains(fs.bytes(), "RSET\r\nMAIL FROM") {
					t.Errorf("no RSET: %q", fs.bytes())
				}
			} else if err := c.Noop(testCtx(t)); err == nil {
				t.Errorf("connection still usable after an abandoned DATA")
			}
		})
	}
}

func TestRefuseUTF8Address(t *testing.T) {
	t.Run("noSMTPUTF8", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "8BITMIME")
		c := dialT(t, fs.start(), nil)
		_, err := c.Send(testCtx(t), env("a@x.example", "jos\u00e9@y.example"), strings.NewReader("x\r\n"))
		var xe *ExtensionError
		var e *Error
		if !errors.As(err, &xe) || xe.Extension != "SMTPUTF8" || !errors.As(err, &e) || e.Code != 553 || e.Enhanced != reply.Enh(5, 6, 7) {
			t.Fatalf("err = %v", err)
		}
		if got := fs.bytes(); got != "EHLO client.example\r\n" {
			t.Errorf("sent %q", got)
		}
		// A non-ASCII domain alone goes as A-labels.
		if _, err := c.Send(testCtx(t), env("a@x.example", "b@b\u00fccher.example"), strings.NewReader("x\r\n")); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(fs.bytes(), "RCPT TO:<b@xn--bcher-kva.example>\r\n") {
			t.Errorf("domain not converted: %q", fs.bytes())
		}
	})
	t.Run("SMTPUTF8", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "8BITMIME", "SMTPUTF8")
		c := dialT(t, fs.start(), nil)
		if _, err := c.Send(testCtx(t), env("a@x.example", "jos\u00e9@y.example"), strings.NewReader("x\r\n")); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(fs.bytes(), "MAIL FROM:<a@x.example> SMTPUTF8\r\nRCPT TO:<jos\u00e9@y.example>\r\n") {
			t.Errorf("wire %q", fs.bytes())
		}
	})
}

func TestRefuseSize(t *testing.T) {
	big := strings.Repeat("0123456789abcde\n", 20) // 320 bytes, 340 on the wire
	t.Run("known", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "SIZE 100")
		c := dialT(t, fs.start(), nil)
		_, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader(big))
		var se *SizeError
		var e *Error
		if !errors.As(err, &se) || se.Limit != 100 || !errors.As(err, &e) || e.Code != 552 || e.Enhanced != reply.Enh(5, 3, 4) {
			t.Fatalf("err = %v", err)
		}
		if got := fs.bytes(); got != "EHLO client.example\r\n" {
			t.Errorf("sent %q", got)
		}
	})
	t.Run("stream", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "CHUNKING", "SIZE 100")
		c := dialT(t, fs.start(), &Options{ChunkSize: 64})
		_, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), iotest.OneByteReader(strings.NewReader(big)))
		var se *SizeError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(fs.bytes(), "LAST") || len(fs.msgs()) != 0 {
			t.Errorf("message completed: %q", fs.bytes())
		}
	})
	t.Run("fits", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "SIZE 1000")
		c := dialT(t, fs.start(), nil)
		if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader(big)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(fs.bytes(), "MAIL FROM:<a@x.example> SIZE=340\r\n") {
			t.Errorf("wire %q", fs.bytes())
		}
	})
}

// TestStartTLSInjection: bytes the server sends after its 220 to STARTTLS,
// before the handshake, are dropped, and EHLO is said again over TLS.
func TestStartTLSInjection(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	fs := newFakeServer(t, "STARTTLS", "PIPELINING")
	fs.tls = cert.ServerConfig()
	fs.onCommand = func(fc *fakeConn, line string) bool {
		switch {
		case line == "STARTTLS":
			// One write: the 220 and an injected EHLO reply.
			fc.send("220 2.0.0 ready", "250-injected", "250 AUTH PLAIN")
			fc.startTLS()
			fs.ext = []string{"PIPELINING", "AUTH SCRAM-SHA-256", "SIZE 5000"}
			return true
		}
		return false
	}
	opts := &Options{TLSConfig: cert.ClientConfig()}
	c := dialT(t, fs.start(), opts)
	if err := c.StartTLS(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	x := c.Extensions()
	if x.StartTLS || !x.HasAuth("SCRAM-SHA-256") || x.HasAuth("PLAIN") || x.Size != 5000 {
		t.Errorf("extensions after TLS: %+v", x)
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Errorf("no TLS state")
	}
	if err := c.Noop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := fs.bytes(); !strings.HasSuffix(got, "STARTTLS\r\nEHLO client.example\r\nNOOP\r\n") {
		t.Errorf("wire %q", got)
	}
}

// TestStartTLSRequired: a missing or failing STARTTLS stops before MAIL.
func TestStartTLSRequired(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING")
		_, err := DialStartTLS(testCtx(t), fs.start(), &Options{LocalName: "client.example"})
		var xe *ExtensionError
		if !errors.As(err, &xe) || xe.Extension != "STARTTLS" {
			t.Fatalf("err = %v", err)
		}
		time.Sleep(20 * time.Millisecond)
		if got := fs.bytes(); got != "EHLO client.example\r\n" {
			t.Errorf("sent %q", got)
		}
	})
	t.Run("handshake", func(t *testing.T) {
		fs := newFakeServer(t, "STARTTLS")
		fs.onCommand = func(fc *fakeConn, line string) bool {
			if line == "STARTTLS" {
				fc.send("220 go ahead", "this is not TLS at all")
				return true
			}
			return false
		}
		_, err := DialStartTLS(testCtx(t), fs.start(), &Options{LocalName: "client.example"})
		var ne *NetError
		if !errors.As(err, &ne) || ne.Command != "STARTTLS" {
			t.Fatalf("err = %v", err)
		}
		time.Sleep(20 * time.Millisecond)
		if got := fs.bytes(); strings.Contains(got, "MAIL") || !strings.HasPrefix(got, "EHLO client.example\r\nSTARTTLS\r\n") {
			t.Errorf("sent %q", got)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		cert := smtptest.MustCertificate(t)
		fs := newFakeServer(t, "STARTTLS")
		fs.tls = cert.ServerConfig()
		// The client does not trust the test certificate.
		_, err := DialStartTLS(testCtx(t), fs.start(), &Options{LocalName: "client.example", TLSConfig: &tls.Config{ServerName: "localhost"}})
		if err == nil {
			t.Fatal("handshake with an untrusted certificate succeeded")
		}
		time.Sleep(20 * time.Millisecond)
		if got := fs.bytes(); strings.Contains(got, "MAIL") {
			t.Errorf("sent %q", got)
		}
	})
}

// rawServer accepts one connection and runs f on it.
func rawServer(t *testing.T, f func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		f(conn)
	}()
	return ln.Addr().String()
}

// TestBoundedReplies: a hostile server cannot exhaust memory or hold the
// client past its deadline.
func TestBoundedReplies(t *testing.T) {
	tests := []struct {
		name  string
		serve func(net.Conn)
		opts  Options
		check func(error) bool
	}{
		{"long line", func(c net.Conn) {
			c.Write([]byte("220 " + strings.Repeat("x", 1<<20)))
			io.Copy(io.Discard, c)
		}, Options{}, func(err error) bool { var le *reply.LimitError; return errors.As(err, &le) }},
		{"many lines", func(c net.Conn) {
			c.Write([]byte(strings.Repeat("220-x\r\n", 10000)))
			io.Copy(io.Discard, c)
		}, Options{MaxReplyLines: 50}, func(err error) bool { var le *reply.LimitError; return errors.As(err, &le) }},
		{"trickle", func(c net.Conn) {
			c.Write([]byte("220-hello\r\n"))
			for i := 0; i < 200; i++ {
				if _, err := c.Write([]byte("2")); err != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}, Options{GreetingTimeout: 300 * time.Millisecond}, func(err error) bool { return isTimeout(err) }},
		{"silent", func(c net.Conn) { io.Copy(io.Discard, c) },
			Options{GreetingTimeout: 200 * time.Millisecond}, func(err error) bool { return isTimeout(err) }},
		{"garbage", func(c net.Conn) {
			c.Write([]byte("hello there\r\n"))
			io.Copy(io.Discard, c)
		}, Options{}, func(err error) bool { var se *reply.SyntaxError; return errors.As(err, &se) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, tc.serve)
			start := time.Now()
			_, err := Dial(testCtx(t), addr, &tc.opts)
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %v", err)
			}
			var ne *NetError
			if !errors.As(err, &ne) {
				t.Errorf("not a *NetError: %T", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// A trickle inside a command is bounded by the command timeout, and a
	// context deadline bounds it too.
	for _, viaCtx := range []bool{false, true} {
		addr := rawServer(t, func(c net.Conn) {
			c.Write([]byte("220 hi\r\n"))
			buf := make([]byte, 100)
			c.Read(buf)
			c.Write([]byte("250-x\r\n"))
			for i := 0; i < 300; i++ {
				if _, err := c.Write([]byte("250-trickle\r\n")); err != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
		opts := &Options{LocalName: "c.example", MaxReplyLines: 1000}
		ctx := testCtx(t)
		if viaCtx {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
		} else {
			opts.CommandTimeout = 300 * time.Millisecond
		}
		c, err := Dial(testCtx(t), addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = c.Hello(ctx, "")
		if err == nil || time.Since(start) > 2*time.Second {
			t.Fatalf("viaCtx=%v: err = %v after %v", viaCtx, err, time.Since(start))
		}
		if viaCtx && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		c.Close()
	}
}

// TestCancel: cancelling the context aborts a blocked command.
func TestCancel(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		c.Write([]byte("220 hi\r\n"))
		io.Copy(io.Discard, c)
	})
	c, err := Dial(testCtx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = c.Noop(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	if err := c.Noop(testCtx(t)); err == nil {
		t.Errorf("client usable after a cancelled command")
	}
}

// TestOutcomeUnknown: a connection lost after the final dot (or BDAT LAST)
// and before the reply is told apart from an ordinary transient failure.
func TestOutcomeUnknown(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING"}, {"PIPELINING", "CHUNKING"}, nil} {
		t.Run(strings.Join(ext, "+"), func(t *testing.T) {
			fs := newFakeServer(t, ext...)
			fs.afterData(func(fc *fakeConn) { fc.conn.Close() })
			c := dialT(t, fs.start(), nil)
			res, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("x\r\n"))
			var oe *OutcomeUnknownError
			if !errors.As(err, &oe) || !errors.Is(err, ErrOutcomeUnknown) || isTemporary(err) {
				t.Fatalf("err = %v", err)
			}
			if !errors.Is(res.Recipients[0].Err, ErrOutcomeUnknown) {
				t.Errorf("recipient: %v", res.Recipients[0].Err)
			}
		})
	}
	// Before the end of the message: an ordinary transient failure.
	fs := newFakeServer(t, "PIPELINING")
	fs.onCommand = func(fc *fakeConn, line string) bool {
		if line == "DATA" {
			fc.conn.Close()
			return true
		}
		return false
	}
	c := dialT(t, fs.start(), nil)
	_, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("x\r\n"))
	var ne *NetError
	if !errors.As(err, &ne) || errors.Is(err, ErrOutcomeUnknown) || !isTemporary(err) {
		t.Fatalf("err = %v", err)
	}
}

// TestOutcomeUnknownNeverTemporary: an outcome unknown answers the
// Temporary convention itself, false (resending may deliver twice; see
// StatusUnknown), however the connection broke. It used to answer through
// the network error it wraps: nothing after a FIN, false after a RST, true
// after DataTermTimeout, so a loop that resends on Temporary duplicated
// the message that timed out.
func TestOutcomeUnknownNeverTemporary(t *testing.T) {
	for _, brk := range []string{"FIN", "RST", "timeout"} {
		t.Run(brk, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			fs := newFakeServer(t, "PIPELINING")
			fs.afterData(func(fc *fakeConn) {
				switch brk {
				case "RST":
					fc.conn.(*net.TCPConn).SetLinger(0)
					fc.conn.Close()
				case "FIN":
					fc.conn.Close()
				default:
					<-release // never answers
				}
			})
			c := dialT(t, fs.start(), &Options{DataTermTimeout: 200 * time.Millisecond})
			res, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("x\r\n"))
			var tmp interface{ Temporary() bool }
			if !errors.Is(err, ErrOutcomeUnknown) || !errors.As(err, &tmp) || tmp.Temporary() {
				t.Fatalf("err = %v; Temporary found on %T", err, tmp)
			}
			if _, ok := any(tmp).(*OutcomeUnknownError); !ok {
				t.Errorf("Temporary answered by %T inside the outcome unknown", tmp)
			}
			if res.Recipients[0].Status() != StatusUnknown || len(res.Retry(env("a@x.example", "b@y.example")).To) != 0 {
				t.Errorf("status %v", res.Recipients[0].Status())
			}
		})
	}
}

// TestDataTimeouts: a server that stops reading the message is bounded by
// DataBlockTimeout (nothing delivered: a transient *NetError); one that
// never answers the final dot or BDAT LAST, by DataTermTimeout (the outcome
// is unknown).
func TestDataTimeouts(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING"}, {"PIPELINING", "CHUNKING"}} {
		name := strings.Join(ext, "+")
		t.Run("term/"+name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			fs := newFakeServer(t, ext...)
			fs.onCommand = func(fc *fakeConn, line string) bool {
				switch {
				case line == "DATA":
					fc.send("354 go")
					fc.readData()
				case strings.HasPrefix(line, "BDAT"):
					io.ReadFull(fc.r, make([]byte, 4))
				default:
					return false
				}
				<-release // silent
				return true
			}
			c := dialT(t, fs.start(), &Options{DataTermTimeout: 200 * time.Millisecond})
			start := time.Now()
			_, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("hi\r\n"))
			if !errors.Is(err, ErrOutcomeUnknown) || !isTimeout(err) {
				t.Fatalf("err = %v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
		t.Run("block/"+name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			fs := newFakeServer(t, ext...)
			fs.onCommand = func(fc *fakeConn, line string) bool {
				if line == "DATA" {
					fc.send("354 go")
				} else if !strings.HasPrefix(line, "BDAT") {
					return false
				}
				<-release // stops reading
				return true
			}
			c := dialT(t, fs.start(), &Options{DataBlockTimeout: 200 * time.Millisecond})
			big := strings.Repeat(strings.Repeat("x", 78)+"\r\n", 200000) // 16 MB, more than the socket buffers
			start := time.Now()
			_, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader(big))
			var ne *NetError
			if !errors.As(err, &ne) || errors.Is(err, ErrOutcomeUnknown) || !isTimeout(err) {
				t.Fatalf("err = %v", err)
			}
			// Encoding megabytes until the socket buffers are full takes a
			// while under the race detector; the default would be minutes.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestHostileEHLO: an EHLO reply of thousands of AUTH names within the
// reply limits costs little to parse.
func TestHostileEHLO(t *testing.T) {
	var b strings.Builder
	b.WriteString("220 hi\r\n250-x\r\n")
	n := 0
	for line := 0; line < 98; line++ { // 100 lines, the default limit
		b.WriteString("250-AUTH")
		for b.Len()%2000 < 1990 {
			b.WriteString(" M" + itoa(int64(n)))
			n++
		}
		b.WriteString("\r\n")
	}
	b.WriteString("250 PIPELINING\r\n")
	addr := rawServer(t, func(c net.Conn) {
		c.Write([]byte(b.String()[:8]))
		buf := make([]byte, 100)
		c.Read(buf)
		c.Write([]byte(b.String()[8:]))
		io.Copy(io.Discard, c)
	})
	c, err := Dial(testCtx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.Hello(testCtx(t), "c.example"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("parsing took %v", d)
	}
	if x := c.Extensions(); len(x.Auth) != n || !x.Pipelining {
		t.Errorf("%d mechanisms, want %d", len(x.Auth), n)
	}
}

// TestCommandTimeouts: each per-command timeout bounds the wait for its
// reply (RFC 5321 4.5.3.2), pipelined or not; the others stay at their
// defaults of minutes, so a wrongly wired field makes the test time out.
func TestCommandTimeouts(t *testing.T) {
	const short = 200 * time.Millisecond
	tests := []struct {
		verb string
		opts Options
	}{
		{"MAIL", Options{MailTimeout: short}},
		{"RCPT", Options{RcptTimeout: short}},
		{"DATA", Options{DataInitTimeout: short}},
		{"RSET", Options{CommandTimeout: short}},
	}
	for _, pipe := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(tc.verb+"/pipelining="+strconv.FormatBool(pipe), func(t *testing.T) {
				release := make(chan struct{})
				defer close(release)
				var ext []string
				if pipe {
					ext = []string{"PIPELINING"}
				}
				fs := newFakeServer(t, ext...)
				fs.rcptReply = map[string]string{"bad@y.example": "550 5.1.1 no"}
				fs.onCommand = func(fc *fakeConn, line string) bool {
					if !strings.HasPrefix(line, tc.verb) {
						return false
					}
					<-release // silent
					return true
				}
				c := dialT(t, fs.start(), &tc.opts)
				ctx := testCtx(t)
				if tc.verb == "RSET" {
					// A failed Send leaves a transaction to reset.
					c.Send(ctx, env("a@x.example", "bad@y.example"), strings.NewReader("x\r\n"))
				}
				start := time.Now()
				_, err := c.Send(ctx, env("a@x.example", "b@y.example"), strings.NewReader("x\r\n"))
				var ne *NetError
				if !errors.As(err, &ne) || ne.Command != tc.verb || !isTimeout(err) {
					t.Fatalf("err = %v", err)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("took %v", d)
				}
			})
		}
	}
}
