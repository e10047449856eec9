package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// TestAuthFile: -auth-file gives the logins without putting passwords on
// the command line for ps to show (issue 13.7), together with -auth; a
// file that group or others may access is refused at start.
func TestAuthFile(t *testing.T) {
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	file := e2e.WriteFile(t, dir, "users", "# logins\nalice:alice pw\nbob:b:pw\n", 0o600)
	md := filepath.Join(dir, "md")
	addr, _ := start(t, dir, "-maildir", md, "-tls-cert", cert, "-tls-key", key, "-auth-file", file, "-auth", "carol:c")
	opts := &client.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	for _, cr := range []client.Credentials{{Username: "alice", Password: "alice pw"}, {Username: "bob", Password: "b:pw"}, {Username: "carol", Password: "c"}} {
		c, err := client.DialStartTLS(ctx(t), addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AuthAuto(ctx(t), cr); err != nil {
			t.Fatalf("AUTH as %s: %v", cr.Username, err)
		}
		if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
		c.Quit(ctx(t))
	}
	if files := e2e.Maildir(t, md, 3, 5*time.Second); len(files) != 3 {
		t.Errorf("%d messages stored, want 3", len(files))
	}

	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := e2e.Run(t, 10*time.Second, nil, bin, "-listen", e2e.FreeAddr(t), "-discard", "-auth-file", file)
	if code == 0 || !strings.Contains(stderr, "chmod 600") || strings.Contains(stderr, "alice pw") {
		t.Errorf("world-readable -auth-file: exit %d, %s", code, stderr)
	}
	code, _, stderr = e2e.Run(t, 10*time.Second, nil, bin, "-h")
	if code != 0 || !strings.Contains(stderr, "visible to every local user in ps") || !strings.Contains(stderr, "-auth-file") {
		t.Errorf("-h: exit %d:\n%s", code, stderr)
	}
}
