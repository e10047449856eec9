package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/server/smtptest"
)

// The binaries built by TestMain.
var sendmailBin, mailsinkBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sendmail-test")
	if err != nil {
		panic(err)
	}
	bins, err := e2e.BuildIn(dir, "sendmail", "mailsink")
	if err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	sendmailBin = bins["sendmail"]
	mailsinkBin = bins["mailsink"]
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sink runs mailsink with args on a free port; it returns the address and
// the Maildir.
func sink(t *testing.T, args ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	md := filepath.Join(dir, "md")
	addr := e2e.FreeAddr(t)
	p := e2e.Start(t, dir, mailsinkBin, append([]string{"-listen", addr, "-maildir", md, "-quiet", "-http", ""}, args...)...)
	p.WaitListen(addr, 10*time.Second)
	return addr, md
}

func send(t *testing.T, msg []byte, args ...string) (int, string) {
	t.Helper()
	code, _, stderr := e2e.Run(t, 20*time.Second, msg, sendmailBin, args...)
	return code, stderr
}

var msg = []byte("From: a@x.test\r\nSubject: test\r\n\r\nline\r\n.dot\r\n..two\r\n\xc3\xa9t\xc3\xa9 8-bit\r\ntrailing \t\r\n")

func TestSendByteExact(t *testing.T) {
	addr, md := sink(t)
	code, stderr := send(t, msg, "-server", addr, "-from", "a@x.test", "-to", "b@y.test", "-to", "c@z.test", "-helo", "client.test")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	files := e2e.Maildir(t, md, 1, 5*time.Second)
	if len(files) != 1 {
		t.Fatalf("%d files stored", len(files))
	}
	s := e2e.ReadStored(t, files[0])
	if !bytes.Equal(s.Body, msg) || s.From != "a@x.test" || strings.Join(s.To, ",") != "b@y.test,c@z.test" {
		t.Errorf("stored from=%q to=%v body=%q", s.From, s.To, s.Body)
	}
}

func TestSendVariants(t *testing.T) {
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	plain, mdPlain := sink(t)
	tlsAddr, mdTLS := sink(t, "-tls-cert", cert, "-tls-key", key, "-auth", "alice:pw")
	implicit, mdImplicit := sink(t, "-tls-cert", cert, "-tls-key", key, "-implicit-tls")
	lmtp, mdLMTP := sink(t, "-lmtp")
	base := []string{"-from", "a@x.test", "-to", "b@y.test"}
	for _, tc := range []struct {
		name string
		md   string
		args []string
	}{
		{"starttls+auth", mdTLS, []string{"-server", tlsAddr, "-starttls", "-insecure", "-auth", "alice:pw"}},
		{"implicit tls", mdImplicit, []string{"-server", implicit, "-tls", "-insecure"}},
		{"lmtp", mdLMTP, []string{"-server", lmtp, "-lmtp"}},
		{"recipient as argument", mdPlain, []string{"-server", plain, "-from", "a@x.test", "b@y.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, base...)
			if tc.name == "recipient as argument" {
				args = tc.args
			}
			if code, stderr := send(t, msg, args...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			files := e2e.Maildir(t, tc.md, 1, 5*time.Second)
			if len(files) != 1 {
				t.Fatalf("%d files stored", len(files))
			}
			if s := e2e.ReadStored(t, files[0]); !bytes.Equal(s.Body, msg) {
				t.Errorf("stored %q", s.Body)
			}
		})
	}
}

func TestVerbose(t *testing.T) {
	addr, _ := sink(t)
	code, stderr := send(t, msg, "-server", addr, "-from", "a@x.test", "-to", "b@y.test", "-v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"S: 220 ", "C: EHLO ", "C: MAIL FROM:<a@x.test>", "C: QUIT"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("trace lacks %q:\n%s", want, stderr)
		}
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	plain, mdPlain := sink(t, "-reject", "nobody@y.test", "-max-rcpts", "1")
	tlsAddr, mdTLS := sink(t, "-tls-cert", cert, "-tls-key", key, "-auth", "alice:pw")
	down := e2e.FreeAddr(t)
	mute := smtptest.NewServer(t, smtptest.NoGreeting()).Addr
	cut := smtptest.NewServer(t, smtptest.DropAt("DATA", 1)).Addr
	for _, tc := range []struct {
		name string
		code int
		args []string
	}{
		{"no recipient", 64, []string{"-server", plain, "-from", "a@x.test"}},
		{"unknown flag", 64, []string{"-bogus"}},
		{"bad address", 64, []string{"-server", plain, "-to", "not an address"}},
		{"bad server", 64, []string{"-server", "nohostport", "-to", "b@y.test"}},
		{"starttls and tls", 64, []string{"-server", plain, "-to", "b@y.test", "-starttls", "-tls"}},
		{"550 recipient", 69, []string{"-server", plain, "-from", "a@x.test", "-to", "nobody@y.test"}},
		// 452 4.5.3: the second recipient in a second transaction.
		{"452 too many recipients", 0, []string{"-server", plain, "-from", "a@x.test", "-to", "b@y.test", "-to", "c@y.test"}},
		{"connection refused", 75, []string{"-server", down, "-from", "a@x.test", "-to", "b@y.test"}},
		{"silent server, timeout", 75, []string{"-server", mute, "-from", "a@x.test", "-to", "b@y.test", "-timeout", "500ms"}},
		{"cut after the final dot, outcome unknown", 75, []string{"-server", cut, "-from", "a@x.test", "-to", "b@y.test"}},
		{"-starttls without STARTTLS", 69, []string{"-server", plain, "-from", "a@x.test", "-to", "b@y.test", "-starttls", "-insecure"}},
		{"self-signed without -insecure", 69, []string{"-server", tlsAddr, "-from", "a@x.test", "-to", "b@y.test", "-starttls", "-auth", "alice:pw"}},
		{"wrong password", 69, []string{"-server", tlsAddr, "-from", "a@x.test", "-to", "b@y.test", "-starttls", "-insecure", "-auth", "alice:nope"}},
		{"no auth", 69, []string{"-server", tlsAddr, "-from", "a@x.test", "-to", "b@y.test", "-starttls", "-insecure"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stderr := send(t, msg, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if tc.code != 0 && !strings.Contains(stderr, "sendmail: ") {
				t.Errorf("no error on stderr: %q", stderr)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
	// Of all that, only the two transactions of the 452 case got mail.
	if files := e2e.Maildir(t, mdPlain, 2, 2*time.Second); len(files) != 2 {
		t.Errorf("%d messages stored on the plain sink, want 2", len(files))
	}
	if files := e2e.Maildir(t, mdTLS, 0, 0); len(files) != 0 {
		t.Errorf("%d messages stored on the TLS sink, want 0", len(files))
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-server", "h:1", "-from", "<>", "-to", "a@b", "c@d"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.from.Null || len(c.to) != 2 || c.timeout != DefaultTimeout {
		t.Errorf("parsed %+v", c)
	}
	c, err = parseFlags([]string{"-server", "h:1", "-from", "用户@例子.test", "-to", "<b@c>"}, io.Discard)
	if err != nil || c.from.Address.Local != "用户" || c.to[0].Address.Domain != "c" {
		t.Errorf("UTF-8 sender / bracketed recipient: %+v %v", c, err)
	}
	for _, bad := range [][]string{
		{"-to", "a@b", "-lmtp"},
		{"-server", "h:1", "-to", "a@b", "-auth", "nopass"},
		{"-server", "h:1", "-to", "a@b", "-timeout", "0s"},
		{"-server", "h:1", "-to", "<>"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

// TestDeliverWithoutServer: no -server, so the client's MX delivery runs;
// -route points the test domains at local sinks instead of the DNS.
func TestDeliverWithoutServer(t *testing.T) {
	y, mdY := sink(t, "-reject", "nobody@y.test")
	z, mdZ := sink(t)
	down := e2e.FreeAddr(t)
	routes := []string{"-route", "y.test=" + y, "-route", "Z.test=" + z, "-route", "down.test=" + down}

	// Two domains, two transactions; each sink gets its recipient.
	code, stderr := send(t, msg, append(routes, "-from", "a@x.test", "-to", "b@y.test", "-to", "c@z.test", "-v")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "<b@y.test>: sent (127.0.0.1)") {
		t.Errorf("-v does not report the delivery: %s", stderr)
	}
	for md, rcpt := range map[string]string{mdY: "b@y.test", mdZ: "c@z.test"} {
		files := e2e.Maildir(t, md, 1, 5*time.Second)
		if len(files) != 1 {
			t.Fatalf("%d files for %s", len(files), rcpt)
		}
		if s := e2e.ReadStored(t, files[0]); !bytes.Equal(s.Body, msg) || strings.Join(s.To, ",") != rcpt {
			t.Errorf("%s: stored to=%v body=%q", rcpt, s.To, s.Body)
		}
	}
	// A permanent refusal: 69; an unreachable exchanger: 75.
	if code, stderr := send(t, msg, append(routes, "-from", "a@x.test", "-to", "nobody@y.test")...); code != 69 || !strings.Contains(stderr, "550") {
		t.Errorf("refused recipient: exit %d, %s", code, stderr)
	}
	if code, stderr := send(t, msg, append(routes, "-from", "a@x.test", "-to", "b@down.test")...); code != 75 {
		t.Errorf("unreachable exchanger: exit %d, %s", code, stderr)
	}
	// Mixed, nothing sent: 75, since b@down.test may get it later and
	// nobody has it yet (the refusal is reported, and will be again).
	if code, _ := send(t, msg, append(routes, "-from", "a@x.test", "-to", "nobody@y.test", "-to", "b@down.test")...); code != 75 {
		t.Errorf("mixed failures: exit %d", code)
	}
	// One domain delivered, another unreachable: partial, 65.
	code, stderr = send(t, msg, append(routes, "-from", "a@x.test", "-to", "c@z.test", "-to", "b@down.test")...)
	if code != 65 || !strings.Contains(stderr, "<c@z.test>: sent (127.0.0.1)") || !strings.Contains(stderr, "<b@down.test>: deferred: ") {
		t.Errorf("partial MX delivery: exit %d, %s", code, stderr)
	}
}
