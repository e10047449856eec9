package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/internal/maildir"
	"github.com/smtpkit/smtp/reply"
)

// bin is the mailsink binary built by TestMain, and sendmailBin the
// sendmail the documented sessions use (TestDocsConsoleSessions).
var bin, sendmailBin string

func TestMain(m *testing.M) {
	os.Exit(e2e.RunWithPrograms(m, map[string]*string{"mailsink": &bin, "sendmail": &sendmailBin}))
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The contract: no flags means 127.0.0.1:2525 into ./maildir.
	if c.listen != "127.0.0.1:2525" || c.maildir != "maildir" || c.discard || c.lmtp {
		t.Errorf("defaults %+v", c)
	}
	c, err = parseFlags([]string{"-listen", "127.0.0.1:1", "-maildir", "/x", "-discard", "-hostname", "h",
		"-tls-cert", "c", "-tls-key", "k", "-implicit-tls", "-auth", "a:b", "-auth", "c:d", "-max-size", "10",
		"-max-rcpts", "3", "-lmtp", "-proxy-protocol", "-reject", "x@y", "-quiet", "-v"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:1" || c.maildir != "/x" || !c.discard || c.hostname != "h" || c.tlsCert != "c" ||
		c.tlsKey != "k" || !c.implicitTLS || len(c.auth) != 2 || c.maxSize != 10 || c.maxRcpts != 3 || !c.lmtp ||
		!c.proxyProtocol || len(c.reject) != 1 || !c.quiet || !c.verbose {
		t.Errorf("parsed %+v", c)
	}
	c, err = parseFlags([]string{"-max-conns", "7", "-max-conns-per-ip", "2", "-command-timeout", "3s", "-data-timeout", "4s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.maxConns != 7 || c.maxConnsPerIP != 2 || c.commandTimeout != 3*time.Second || c.dataTimeout != 4*time.Second {
		t.Errorf("limits parsed %+v", c)
	}
	for _, bad := range [][]string{
		{"-implicit-tls"}, {"-max-size", "-1"}, {"-max-rcpts", "x"}, {"extra"}, {"-nosuchflag"},
		{"-max-conns-per-ip", "-1"}, {"-command-timeout", "-1s"}, {"-data-timeout", "x"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestAppendEnvelope(t *testing.T) {
	to := []envelope.Path{{Address: envelope.Address{Local: "b", Domain: "y.test"}}, {Address: envelope.Address{Local: "c d", Domain: "z.test"}}}
	got := string(appendEnvelope(nil, envelope.Path{Address: envelope.Address{Local: "a", Domain: "x.test"}}, to))
	if want := "Return-Path: <a@x.test>\r\nX-Envelope-To: b@y.test, \"c d\"@z.test\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := string(appendEnvelope(nil, envelope.Path{Null: true}, to[:1])); got != "Return-Path: <>\r\nX-Envelope-To: b@y.test\r\n" {
		t.Errorf("null sender: %q", got)
	}
}

// start runs mailsink with args on a free port and returns the address and
// the process; without its web UI unless args give -http.
func start(t *testing.T, dir string, args ...string) (string, *e2e.Proc) {
	t.Helper()
	addr := e2e.FreeAddr(t)
	p := e2e.Start(t, dir, bin, append([]string{"-listen", addr}, e2e.NoWebUI(args)...)...)
	p.WaitListen(addr, 10*time.Second)
	return addr, p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func env(from string, to ...string) envelope.Envelope {
	split := func(a string) envelope.Address {
		l, d, _ := strings.Cut(a, "@")
		return envelope.Address{Local: l, Domain: d}
	}
	e := envelope.Envelope{From: envelope.Path{Address: split(from)}}
	for _, r := range to {
		e.To = append(e.To, envelope.Recipient{Path: envelope.Path{Address: split(r)}})
	}
	return e
}

// messages exercises what a sink must store exactly: dots (unstuffed),
// empty lines, trailing spaces, 8-bit bytes, a long message.
var messages = map[string][]byte{
	"plain":  []byte("From: a@x.test\r\nSubject: hello\r\n\r\nbody\r\n"),
	"dots":   []byte("Subject: dots\r\n\r\n.x\r\n..y\r\n.\r\nlast \t\r\n.\r\n"),
	"8bit":   []byte("Subject: \xc3\xa9\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xa7a \xff\r\n"),
	"large":  append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("0123456789 abcdefghijklmnopqrstuvwxyz\r\n"), 50000)...),
	"no-eol": []byte("Subject: x\r\n\r\nno final line end"),
}

func TestStoresByteExact(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "md")
	addr, p := start(t, dir, "-maildir", md)
	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := 0
	for name, msg := range messages {
		if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test", "c@z.test"), bytes.NewReader(msg)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n++
		files := e2e.Maildir(t, md, n, 5*time.Second)
		if len(files) != n {
			t.Fatalf("%s: %d files in new/, want %d", name, len(files), n)
		}
		var s e2e.Stored
		for _, f := range files {
			if s = e2e.ReadStored(t, f); bytes.Equal(s.Body, msg) || bytes.Equal(s.Body, append(msg, '\r', '\n')) {
				break
			}
		}
		want := msg
		if name == "no-eol" && len(s.Body) == len(msg)+2 {
			// Sent with DATA, the client adds the CRLF that must come
			// before the final dot (RFC 5321 4.1.1.4); with BDAT it
			// arrives as it is.
			want = append(append([]byte(nil), msg...), "\r\n"...)
		}
		if !bytes.Equal(s.Body, want) || s.From != "a@x.test" || strings.Join(s.To, ",") != "b@y.test,c@z.test" {
			t.Errorf("%s: stored from=%q to=%q body %d bytes, want %d", name, s.From, s.To, len(s.Body), len(want))
		}
	}
	c.Quit(ctx(t))
	if ents, _ := os.ReadDir(filepath.Join(md, "tmp")); len(ents) != 0 {
		t.Errorf("%d files left in tmp/", len(ents))
	}
	if err := p.Stop(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	out := p.Stdout.String()
	if got := strings.Count(out, "\n"); got != len(messages) {
		t.Errorf("%d lines printed, want %d:\n%s", got, len(messages), out)
	}
	if !strings.Contains(out, "from=<a@x.test> to=<b@y.test>,<c@z.test> size=") || !strings.Contains(out, " file="+md+"/new/") {
		t.Errorf("printed lines lack from/to/size/file:\n%s", out)
	}
}

func TestDefaultMaildirAndNullSender(t *testing.T) {
	dir := t.TempDir()
	addr, p := start(t, dir) // no -maildir: ./maildir in the working directory
	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := env("", "b@y.test")
	e.From = envelope.Path{Null: true}
	if _, err := c.Send(ctx(t), e, strings.NewReader("Subject: bounce\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	files := e2e.Maildir(t, filepath.Join(dir, "maildir"), 1, 5*time.Second)
	if len(files) != 1 {
		t.Fatalf("%d files in ./maildir/new", len(files))
	}
	if s := e2e.ReadStored(t, files[0]); s.From != "" {
		t.Errorf("Return-Path <%s>, want <>", s.From)
	}
	p.Stop()
}

func TestTLSAndAuth(t *testing.T) {
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	md := filepath.Join(dir, "md")
	addr, _ := start(t, dir, "-maildir", md, "-tls-cert", cert, "-tls-key", key, "-auth", "alice:alice-pw", "-auth", "bob:bob:pw")
	opts := &client.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	msg := "Subject: auth\r\n\r\nx\r\n"

	// Without AUTH: MAIL gets 530 5.7.0 (RFC 4954 6), nothing is stored.
	c, err := client.DialStartTLS(ctx(t), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader(msg))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != 530 {
		t.Errorf("MAIL without AUTH: %v, want 530", err)
	}
	// A wrong password: 535.
	if err := c.Auth(ctx(t), client.PlainAuth("", "alice", "wrong")); !errors.As(err, &ce) || ce.Code != 535 {
		t.Errorf("wrong password: %v, want 535", err)
	}
	c.Close()

	// AUTH before STARTTLS is not offered (a certificate is configured).
	c, err = client.Dial(ctx(t), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	c.Hello(ctx(t), "")
	if ext := c.Extensions(); len(ext.Auth) != 0 || !ext.StartTLS {
		t.Errorf("before TLS: AUTH %v, STARTTLS %v", ext.Auth, ext.StartTLS)
	}
	c.Close()

	for _, mech := range []client.Mechanism{client.PlainAuth("", "alice", "alice-pw"), client.LoginAuth("bob", "bob:pw"), client.CramMD5Auth("alice", "alice-pw")} {
		c, err := client.DialStartTLS(ctx(t), addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(ctx(t), mech); err != nil {
			t.Fatalf("AUTH: %v", err)
		}
		if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader(msg)); err != nil {
			t.Fatalf("after AUTH: %v", err)
		}
		c.Quit(ctx(t))
	}
	if files := e2e.Maildir(t, md, 3, 5*time.Second); len(files) != 3 {
		t.Errorf("%d messages stored, want 3", len(files))
	}
}

func TestImplicitTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	md := filepath.Join(dir, "md")
	addr, _ := start(t, dir, "-maildir", md, "-tls-cert", cert, "-tls-key", key, "-implicit-tls")
	c, err := client.DialTLS(ctx(t), addr, &client.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("Subject: tls\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Error("not TLS")
	}
	if files := e2e.Maildir(t, md, 1, 5*time.Second); len(files) != 1 {
		t.Errorf("%d messages stored", len(files))
	}
}

func TestLimitsAndReject(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "md")
	addr, _ := start(t, dir, "-maildir", md, "-max-rcpts", "2", "-max-size", "1000", "-reject", "Nobody@Y.test")
	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ce *client.Error

	// The third recipient: 452 (RFC 5321 4.5.3.1.10); the first two get it.
	// A message the client cannot read twice (no io.Seeker) leaves the third
	// recipient deferred with the server's 452 ...
	once := io.MultiReader(strings.NewReader("Subject: x\r\n\r\nx\r\n"))
	res, err := c.Send(ctx(t), env("a@x.test", "b@y.test", "c@y.test", "d@y.test"), once)
	if err == nil || res == nil || res.Accepted() != 2 || !errors.As(res.Recipients[2].Err, &ce) || ce.Code != 452 {
		t.Errorf("3 recipients with -max-rcpts 2: %v", err)
	}
	// ... and one it can gets to the third in a second transaction.
	res, err = c.Send(ctx(t), env("a@x.test", "b@y.test", "c@y.test", "d@y.test"), strings.NewReader("Subject: x\r\n\r\nx\r\n"))
	if err != nil || res.Accepted() != 3 {
		t.Errorf("3 recipients with -max-rcpts 2, message re-readable: %v", err)
	}
	// -reject: 550 5.1.1 for that recipient only.
	res, err = c.Send(ctx(t), env("a@x.test", "nobody@y.test", "b@y.test"), strings.NewReader("Subject: x\r\n\r\nx\r\n"))
	if err == nil || res == nil || res.Accepted() != 1 || !errors.As(res.Recipients[0].Err, &ce) || ce.Code != 550 || ce.Enhanced.String() != "5.1.1" {
		t.Errorf("rejected recipient: %v", err)
	}
	// Larger than -max-size: 552 (RFC 1870), nothing stored.
	big := "Subject: big\r\n\r\n" + strings.Repeat("x", 2000) + "\r\n"
	if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader(big)); !errors.As(err, &ce) || ce.Code != 552 {
		t.Errorf("too large: %v, want 552", err)
	}
	// 1 (first two recipients) + 2 (two transactions) + 1 (-reject).
	if files := e2e.Maildir(t, md, 4, 5*time.Second); len(files) != 4 {
		t.Errorf("%d messages stored, want 4", len(files))
	}
}

func TestLMTP(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "md")
	addr, _ := start(t, dir, "-maildir", md, "-lmtp")
	c, err := client.Dial(ctx(t), addr, &client.Options{LMTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Send(ctx(t), env("a@x.test", "b@y.test", "c@y.test"), strings.NewReader("Subject: lmtp\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	// RFC 2033 4.2: one reply per recipient after the message.
	for i, r := range res.Recipients {
		if r.Err != nil || r.Code != 250 {
			t.Errorf("recipient %d: %d %v", i, r.Code, r.Err)
		}
	}
	files := e2e.Maildir(t, md, 1, 5*time.Second)
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	if s := e2e.ReadStored(t, files[0]); strings.Join(s.To, ",") != "b@y.test,c@y.test" {
		t.Errorf("X-Envelope-To %v", s.To)
	}
}

func TestDiscard(t *testing.T) {
	dir := t.TempDir()
	addr, p := start(t, dir, "-discard")
	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx(t))
	p.Stop()
	if _, err := os.Stat(filepath.Join(dir, "maildir")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("-discard created a maildir: %v", err)
	}
	if !strings.Contains(p.Stdout.String(), "file=-") {
		t.Errorf("printed %q", p.Stdout.String())
	}
}

func TestProxyProtocol(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "md")
	addr, _ := start(t, dir, "-maildir", md, "-proxy-protocol")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// A PROXY protocol v1 header, then SMTP as usual.
	if _, err := io.WriteString(conn, "PROXY TCP4 192.0.2.7 192.0.2.1 40000 25\r\n"); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewClient(ctx(t), conn, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if files := e2e.Maildir(t, md, 1, 5*time.Second); len(files) != 1 {
		t.Errorf("%d files", len(files))
	}
}

// TestSIGINTGraceful: Ctrl-C stops the sink with status 0 and the port
// closed.
func TestSIGINTGraceful(t *testing.T) {
	dir := t.TempDir()
	addr, p := start(t, dir, "-maildir", filepath.Join(dir, "md"))
	p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-waitExit(p):
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGINT")
	}
	if p.Cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("exit status %d", p.Cmd.ProcessState.ExitCode())
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still listening after shutdown")
	}
}

func waitExit(p *e2e.Proc) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for !p.Exited() {
			time.Sleep(10 * time.Millisecond)
		}
		close(ch)
	}()
	return ch
}

// failingDelivery fails its writes like a file system that is full.
type failingDelivery struct{ err error }

func (f failingDelivery) Write([]byte) (int, error) { return 0, f.err }
func (f failingDelivery) ReadFrom(r io.Reader) (int64, error) {
	io.Copy(io.Discard, r)
	return 0, f.err
}
func (f failingDelivery) Commit() (string, error) { return "", f.err }
func (f failingDelivery) Abort() error            { return nil }

// TestDiskFull runs the sink in-process with a Maildir that fails like a
// full disk: the client gets 452 4.3.1 and nothing is acknowledged; any
// other storage failure is 451 4.3.0.
func TestDiskFull(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code reply.Code
		enh  string
	}{
		{&maildir.Error{Op: "write", Err: syscall.ENOSPC}, 452, "4.3.1"},
		{&maildir.Error{Op: "fsync", Err: syscall.EDQUOT}, 452, "4.3.1"},
		{&maildir.Error{Op: "rename", Err: syscall.EIO}, 451, "4.3.0"},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			dir := t.TempDir()
			cfg, err := parseFlags([]string{"-maildir", filepath.Join(dir, "md"), "-quiet"}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var logs e2e.Buffer
			srv, s, err := newServer(cfg, io.Discard, &logs)
			if err != nil {
				t.Fatal(err)
			}
			s.create = func() (delivery, error) { return failingDelivery{tc.err}, nil }
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(l)
			defer srv.Close()
			c, err := client.Dial(ctx(t), l.Addr().String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("Subject: x\r\n\r\nx\r\n"))
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Code != tc.code || ce.Enhanced.String() != tc.enh {
				t.Errorf("got %v, want %d %s", err, tc.code, tc.enh)
			}
			// The session goes on: the next message is answered too.
			if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("x\r\n")); !errors.As(err, &ce) {
				t.Errorf("second message: %v", err)
			}
			if !strings.Contains(logs.String(), "message not stored") {
				t.Errorf("failure not logged: %s", logs.String())
			}
		})
	}
}

// TestEventsLoggedOnce: with -v every event reaches stderr once (the server
// logs its events itself; mailsink's own Events must not log them again).
func TestEventsLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	addr, p := start(t, dir, "-maildir", filepath.Join(dir, "md"), "-http", "", "-v")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	readReply := func() string {
		var last string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading reply: %v", err)
			}
			last = line
			if len(line) < 4 || line[3] != '-' {
				return last
			}
		}
	}
	readReply()
	fmt.Fprintf(conn, "EHLO client\r\n")
	readReply()
	fmt.Fprintf(conn, "NOOP %s\r\n", strings.Repeat("x", 600)) // a violation, logged at Info
	if got := readReply(); !strings.HasPrefix(got, "500 ") {
		t.Fatalf("over-long NOOP: %q, want 500", got)
	}
	fmt.Fprintf(conn, "QUIT\r\n")
	readReply()
	if err := p.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}
	if n := strings.Count(p.Stderr.String(), "smtp violation"); n != 1 {
		t.Errorf("the violation was logged %d times:\n%s", n, p.Stderr.String())
	}
}
