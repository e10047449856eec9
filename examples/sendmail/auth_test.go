package main

import (
	"bufio"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// secretFile writes data into a file of mode in a fresh directory.
func secretFile(t *testing.T, data string, mode os.FileMode) string {
	return e2e.WriteFile(t, t.TempDir(), "auth", data, mode)
}

// TestAuthFile: -auth-file holds the client's user:password, so that it
// is not on the command line for ps to show (issue 13.7); a file group or
// others may access is refused (EX_CONFIG) before anything is sent.
func TestAuthFile(t *testing.T) {
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	addr, md := sink(t, "-tls-cert", cert, "-tls-key", key, "-auth", "alice:pw one")
	base := []string{"-server", addr, "-starttls", "-insecure", "-from", "a@x.test", "-to", "b@y.test"}

	good := secretFile(t, "# alice's login\nalice:pw one\n", 0o600)
	if code, stderr := send(t, msg, append(base, "-auth-file", good)...); code != 0 {
		t.Fatalf("-auth-file: exit %d: %s", code, stderr)
	}
	if files := e2e.Maildir(t, md, 1, 5*time.Second); len(files) != 1 {
		t.Fatalf("%d messages stored, want 1", len(files))
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"readable by others", []string{"-auth-file", secretFile(t, "alice:pw one\n", 0o644)}, 78, "chmod 600"},
		{"readable by the group", []string{"-auth-file", secretFile(t, "alice:pw one\n", 0o640)}, 78, "chmod 600"},
		{"two logins", []string{"-auth-file", secretFile(t, "alice:pw one\nbob:x\n", 0o600)}, 78, "want one user:password line"},
		{"missing", []string{"-auth-file", filepath.Join(dir, "none")}, 78, "no such file"},
		{"with -auth", []string{"-auth-file", good, "-auth", "alice:pw one"}, 64, "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := send(t, msg, append(base, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "pw one") {
				t.Errorf("exit %d, stderr %q; want %d and %q, without the password", code, stderr, tc.code, tc.want)
			}
		})
	}
	if files := e2e.Maildir(t, md, 2, 0); len(files) != 1 {
		t.Errorf("%d messages stored, want still 1", len(files))
	}

	// -h says that -auth is visible in ps.
	code, _, stderr := e2e.Run(t, 10*time.Second, nil, sendmailBin, "-h")
	if code != 0 || !strings.Contains(stderr, "visible to every local user in ps") || !strings.Contains(stderr, "-auth-file") {
		t.Errorf("-h: exit %d:\n%s", code, stderr)
	}
}

// TestAuthStrongestMechanism: -auth uses the strongest mechanism the
// server offers (issue 13.5: sendmail always sent PLAIN): CRAM-MD5 rather
// than PLAIN from mailsink, and never PLAIN credentials to a server that
// offers only CRAM-MD5.
func TestAuthStrongestMechanism(t *testing.T) {
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	addr, _ := sink(t, "-tls-cert", cert, "-tls-key", key, "-auth", "alice:pw")
	code, stderr := send(t, msg, "-server", addr, "-starttls", "-insecure", "-auth", "alice:pw", "-from", "a@x.test", "-to", "b@y.test", "-v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "C: AUTH CRAM-MD5") || strings.Contains(stderr, "C: AUTH PLAIN") {
		t.Errorf("mailsink offers CRAM-MD5 PLAIN LOGIN; trace:\n%s", stderr)
	}

	// A server that offers CRAM-MD5 only: the first AUTH line it gets.
	got := make(chan string, 1)
	addr = e2e.ServeTCP(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		c.Write([]byte("220 cram.test ESMTP\r\n"))
		r.ReadString('\n') // EHLO
		c.Write([]byte("250-cram.test\r\n250 AUTH CRAM-MD5\r\n"))
		line, _ := r.ReadString('\n')
		got <- strings.TrimRight(line, "\r\n")
		c.Write([]byte("535 5.7.8 no\r\n"))
		r.ReadString('\n')
	})
	code, stderr = send(t, msg, "-server", addr, "-auth", "alice:pw", "-from", "a@x.test", "-to", "b@y.test")
	line := <-got
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00pw"))
	if line != "AUTH CRAM-MD5" || strings.Contains(line, plain) {
		t.Errorf("first AUTH line %q, want AUTH CRAM-MD5", line)
	}
	if code != 69 {
		t.Errorf("refused login: exit %d, want 69: %s", code, stderr)
	}
}
