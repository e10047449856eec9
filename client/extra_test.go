package client

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
)

func TestParamsNeedExtensions(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING", "8BITMIME")
	c := dialT(t, fs.start(), nil)
	tests := []struct {
		name string
		mod  func(e *envelope.Envelope)
		ext  string
	}{
		{"RET", func(e *envelope.Envelope) { e.Mail.Ret = envelope.RetFull }, "DSN"},
		{"ENVID", func(e *envelope.Envelope) { e.Mail.EnvID = "x1" }, "DSN"},
		{"NOTIFY", func(e *envelope.Envelope) { e.To[0].Params.Notify = envelope.NotifySuccess }, "DSN"},
		{"REQUIRETLS", func(e *envelope.Envelope) { e.Mail.RequireTLS = true }, "REQUIRETLS"},
		{"BINARYMIME", func(e *envelope.Envelope) { e.Mail.Body = envelope.BodyBinaryMIME }, "BINARYMIME"},
	}
	for _, tc := range tests {
		e := env("a@x.example", "b@y.example")
		tc.mod(&e)
		_, err := c.Send(testCtx(t), e, strings.NewReader("x\r\n"))
		var xe *ExtensionError
		var ce *Error
		if !errors.As(err, &xe) || xe.Extension != tc.ext || !errors.As(err, &ce) || !ce.Local || !ce.Permanent() {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if got := fs.bytes(); got != "EHLO client.example\r\n" {
		t.Errorf("sent %q", got)
	}
}

func TestBinaryMIME(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING", "CHUNKING", "BINARYMIME")
	c := dialT(t, fs.start(), nil)
	e := env("a@x.example", "b@y.example")
	e.Mail.Body = envelope.BodyBinaryMIME
	const bin = "\x00\x01\n\r\xff.\r\n"
	if _, err := c.Send(testCtx(t), e, strings.NewReader(bin)); err != nil {
		t.Fatal(err)
	}
	if m := fs.msgs(); len(m) != 1 || m[0] != bin {
		t.Errorf("content %q", m)
	}
	if !strings.Contains(fs.bytes(), "BODY=BINARYMIME") {
		t.Errorf("wire %q", fs.bytes())
	}
	// DATA cannot carry it.
	if err := c.Mail(testCtx(t), path("a@x.example"), &envelope.MailParams{Body: envelope.BodyBinaryMIME}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(testCtx(t), path("b@y.example"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Data(testCtx(t)); !errors.Is(err, ErrBadSequence) {
		t.Errorf("Data with BINARYMIME: %v", err)
	}
}

func TestDataWriter8Bit(t *testing.T) {
	fs := newFakeServer(t)
	c := dialT(t, fs.start(), nil)
	w := startData(t, c, testCtx(t))
	_, err := w.Write([]byte("ok\r\ncaf\xc3\xa9\r\n"))
	var xe *ExtensionError
	if !errors.As(err, &xe) || xe.Extension != "8BITMIME" {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Errorf("Close succeeded")
	}
	time.Sleep(20 * time.Millisecond)
	if strings.Contains(fs.bytes(), "\r\n.\r\n") || len(fs.msgs()) != 0 {
		t.Errorf("message completed: %q", fs.bytes())
	}
}

// socks5Server is a minimal SOCKS5 proxy (RFC 1928, no authentication,
// CONNECT only, names resolved by the proxy) on 127.0.0.1 for one
// connection. It connects to the host and port asked for, or, when target
// is set, to target whatever was asked (a proxy whose DNS sends every name
// to one server). It reports the "host:port" asked for.
func socks5Server(t *testing.T, target string) (addr string, asked chan string) {
	asked = make(chan string, 1)
	addr = rawServer(t, func(c net.Conn) {
		buf := make([]byte, 262)
		if _, err := io.ReadFull(c, buf[:2]); err != nil {
			return
		}
		io.ReadFull(c, buf[:buf[1]])
		c.Write([]byte{5, 0})
		if _, err := io.ReadFull(c, buf[:4]); err != nil {
			return
		}
		var host string
		switch buf[3] {
		case 1:
			io.ReadFull(c, buf[:4])
			host = net.IP(buf[:4]).String()
		case 3:
			io.ReadFull(c, buf[:1])
			n := int(buf[0])
			io.ReadFull(c, buf[:n])
			host = string(buf[:n])
		default:
			return
		}
		io.ReadFull(c, buf[:2])
		hostPort := net.JoinHostPort(host, itoa(int64(binary.BigEndian.Uint16(buf[:2]))))
		asked <- hostPort
		if target == "" {
			target = hostPort
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		defer up.Close()
		c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
		go func() {
			io.Copy(up, c)
			up.Close() // the client hung up: so does the proxy
		}()
		io.Copy(c, up)
	})
	return addr, asked
}

func TestSOCKS5(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	target := fs.start()
	paddr, used := socks5Server(t, "")
	d, err := proxy.SOCKS5("tcp", paddr, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	c := dialT(t, target, &Options{Dialer: d.(proxy.ContextDialer)})
	if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("via proxy\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit(testCtx(t))
	if got := <-used; got != target {
		t.Errorf("proxy connected to %q, want %q", got, target)
	}
	if m := fs.msgs(); len(m) != 1 || m[0] != "via proxy\r\n" {
		t.Errorf("messages %q", m)
	}
}

// FuzzServerReplies lets arbitrary bytes play the server: the client must
// return (an error or not) without panicking or hanging.
func FuzzServerReplies(f *testing.F) {
	f.Add([]byte("220 hi\r\n250-x\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n250 done\r\n221 bye\r\n"))
	f.Add([]byte("220 hi\r\n250-x\r\n250-CHUNKING\r\n250 LMTP\r\n250 ok\r\n550 no\r\n250 ok\r\n"))
	f.Add([]byte("220-a\r\n220 b\r\n250 x\r\n421 4.3.2 bye\r\n"))
	f.Add([]byte("220 hi\n250\n250 \n3"))
	f.Add([]byte("220 hi\r\n250-x\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 done\r\n" +
		"250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 one\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 two\r\n221 bye\r\n"))
	// A SCRAM success without the server's proof, then a recipient limit.
	f.Add([]byte("220 hi\r\n250-x\r\n250-PIPELINING\r\n250 AUTH SCRAM-SHA-256 PLAIN\r\n235 ok\r\n"))
	f.Add([]byte("220 hi\r\n250-x\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n452 4.5.3 too many\r\n354 go\r\n250 one\r\n" +
		"250 ok\r\n250 ok\r\n354 go\r\n250 two\r\n221 bye\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		cs, ss := net.Pipe()
		go io.Copy(io.Discard, ss)
		go func() {
			ss.Write(in)
			ss.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := NewClient(ctx, cs, "", &Options{LocalName: "fuzz.example", CommandTimeout: time.Second, ChunkSize: 16})
		if err != nil {
			return
		}
		defer c.Close()
		c.Hello(ctx, "")
		if err := c.AuthAuto(ctx, Credentials{Username: "u", Password: "pw"}); err == nil && c.Extensions().HasAuth("SCRAM-SHA-256") {
			t.Fatalf("SCRAM success without the server's proof")
		}
		e := env("a@x.example", "b@y.example", "c@y.example")
		if res, err := c.Send(ctx, e, strings.NewReader("hello\r\n.dot\r\n")); err == nil && res.Accepted() != len(e.To) {
			t.Fatalf("success with %d of %d recipients", res.Accepted(), len(e.To))
		} else if re := (*RecipientsError)(nil); errors.As(err, &re) && re.Accepted != res.Accepted() {
			t.Fatalf("RecipientsError says %d accepted, the Result %d", re.Accepted, res.Accepted())
		}
		res := c.SendBatch(ctx, []Message{{Envelope: e, Body: strings.NewReader("one\r\n")}, {Envelope: e, Body: strings.NewReader("two\r\n")}})
		for _, r := range res {
			if r.Err == nil && r.Result.Accepted() != len(e.To) {
				t.Fatalf("success with %d of %d recipients", r.Result.Accepted(), len(e.To))
			}
		}
		c.Quit(ctx)
	})
}

func TestDialTLS(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	fs := newFakeServer(t, "PIPELINING", "STARTTLS")
	fs.ln = tls.NewListener(fs.ln, cert.ServerConfig())
	c, err := DialTLS(testCtx(t), fs.start(), &Options{LocalName: "client.example", TLSConfig: cert.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("no TLS")
	}
	if err := c.StartTLS(testCtx(t), nil); !errors.Is(err, ErrBadSequence) {
		t.Errorf("StartTLS over TLS: %v", err)
	}
	if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("secure\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if m := fs.msgs(); len(m) != 1 || m[0] != "secure\r\n" {
		t.Errorf("messages %q", m)
	}
}

// TestDataCancel: cancelling the context aborts a Data writer blocked on a
// server that stopped reading.
func TestDataCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := rawServer(t, func(c net.Conn) {
		c.Write([]byte("220 hi\r\n"))
		buf := make([]byte, 4096)
		for _, r := range []string{"250 hi\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"} {
			c.Read(buf)
			c.Write([]byte(r))
		}
		select { // stop reading
		case <-release:
		case <-time.After(5 * time.Second):
		}
	})
	c := dialT(t, addr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	w := startData(t, c, ctx)
	var err error
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	chunk := []byte(strings.Repeat("x", 1000) + "\r\n")
	for err == nil && time.Since(start) < 2*time.Second {
		_, err = w.Write(chunk)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

// startData opens a transaction from a@x.example to b@y.example with Mail,
// Rcpt and Data, and returns the message writer.
func startData(t *testing.T, c *Client, ctx context.Context) *DataWriter {
	t.Helper()
	if err := c.Mail(ctx, path("a@x.example"), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(ctx, path("b@y.example"), nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestDialTLSFails: a server that does not speak TLS, or whose certificate
// is not trusted, fails DialTLS with a *NetError before any SMTP.
func TestDialTLSFails(t *testing.T) {
	plain := newFakeServer(t)
	cert := smtptest.MustCertificate(t)
	untrusted := newFakeServer(t)
	untrusted.ln = tls.NewListener(untrusted.ln, cert.ServerConfig())
	for name, addr := range map[string]string{"plain": plain.start(), "untrusted": untrusted.start()} {
		start := time.Now()
		_, err := DialTLS(testCtx(t), addr, &Options{CommandTimeout: time.Second})
		var ne *NetError
		if !errors.As(err, &ne) || ne.Command != "TLS" {
			t.Errorf("%s: err = %v", name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
}
