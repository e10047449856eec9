package cli

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// writeFile writes data to a file of dir with exactly mode.
var writeFile = e2e.WriteFile

func TestReadUsersFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "users", "# logins\r\nalice:pw one\r\n\nbob:a:b:c\n  \n", 0o600)
	u, err := ReadUsersFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 2 || !u.Check("alice", "pw one") || !u.Check("bob", "a:b:c") {
		t.Errorf("users %v", u)
	}
	for _, tc := range []struct{ name, data, want string }{
		{"no colon", "alice:pw\nsecret-without-user\n", ":2: want user:password"},
		{"empty user", ":pw\n", ":1: want user:password"},
		{"twice", "alice:a\nalice:b\n", `user "alice" given twice`},
	} {
		_, err := ReadUsersFile(writeFile(t, dir, tc.name, tc.data, 0o600))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the file's content: %v", tc.name, err)
		}
	}
	if _, err := ReadUsersFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadUsersFile(dir); err == nil {
		t.Error("a directory accepted")
	}
}

// TestSecretFilePermissions: a file of passwords is refused when group or
// others have any permission on it (issue 13.7), read or write.
func TestSecretFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits are not permissions on Windows")
	}
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700} {
		if _, err := ReadUsersFile(writeFile(t, dir, "ok", "a:b\n", mode)); err != nil {
			t.Errorf("mode %04o refused: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o660, 0o666} {
		p := writeFile(t, dir, "bad", "a:b\n", mode)
		_, err := ReadUsersFile(p)
		var ie *InsecureFileError
		if !errors.As(err, &ie) || ie.Mode.Perm() != mode || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: %v, want an *InsecureFileError", mode, err)
		}
		if _, _, err := ReadCredential(p); !errors.As(err, &ie) {
			t.Errorf("ReadCredential, mode %04o: %v", mode, err)
		}
	}
	// The mode of the file itself counts, not that of a link to it.
	target := writeFile(t, dir, "target", "a:b\n", 0o644)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadUsersFile(link); err == nil {
		t.Error("a link to a world-readable file accepted")
	}
}

func TestLoadUsers(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "users", "alice:pw\n", 0o600)
	u, err := LoadUsers([]string{"bob:x"}, p)
	if err != nil || !u.Check("alice", "pw") || !u.Check("bob", "x") {
		t.Errorf("LoadUsers: %v %v", u, err)
	}
	if _, err := LoadUsers([]string{"alice:other"}, p); err == nil {
		t.Error("a user in both -auth and -auth-file accepted")
	}
	if u, err := LoadUsers(nil, ""); err != nil || len(u) != 0 {
		t.Errorf("nothing: %v %v", u, err)
	}
	if _, err := LoadUsers([]string{"nopass-secret"}, ""); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad -auth: %v", err)
	}
}

func TestReadCredential(t *testing.T) {
	dir := t.TempDir()
	user, pass, err := ReadCredential(writeFile(t, dir, "one", "# mine\nalice:pw:x\n", 0o600))
	if err != nil || user != "alice" || pass != "pw:x" {
		t.Errorf("ReadCredential = %q %q %v", user, pass, err)
	}
	for _, data := range []string{"", "# none\n", "a:b\nc:d\n", "nocolon\n"} {
		if _, _, err := ReadCredential(writeFile(t, dir, "bad", data, 0o600)); err == nil {
			t.Errorf("ReadCredential(%q) accepted", data)
		}
	}
}

// TestPolicyFilePermissions: a file of access rules may be readable by
// anyone, but not writable by group or others.
func TestPolicyFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits are not permissions on Windows")
	}
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o600, 0o644, 0o444} {
		if _, err := ReadPolicyFile(writeFile(t, dir, "ok", "x", mode)); err != nil {
			t.Errorf("mode %04o refused: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o664, 0o646, 0o666} {
		_, err := ReadPolicyFile(writeFile(t, dir, "bad", "x", mode))
		var ie *InsecureFileError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "chmod go-w") {
			t.Errorf("mode %04o: %v, want an *InsecureFileError", mode, err)
		}
	}
}
