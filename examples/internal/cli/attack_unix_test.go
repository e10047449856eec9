//go:build unix

package cli

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the user id the tests give files away to (Debian's nobody).
const nobody = 65534

// giveAway writes a file of dir with mode and makes another user its
// owner; it needs root.
func giveAway(t *testing.T, dir, name, data string, mode os.FileMode) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	p := writeFile(t, dir, name, data, mode)
	if err := os.Chown(p, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAttackFileOwnedByAnotherUser: the owner of a file may change its
// mode and its content, so a file of passwords or of sender rules owned
// by another user (not root) is theirs to rewrite, whatever its mode: the
// owner of a 0644 -senders file grants itself any sender, the owner of an
// -auth-file adds a login. Only files owned by the program's user or by
// root are taken, as ssh does for its keys.
func TestAttackFileOwnedByAnotherUser(t *testing.T) {
	dir := t.TempDir()
	users := giveAway(t, dir, "users", "alice:pw\n", 0o600)
	_, err := ReadUsersFile(users)
	var fe *ForeignFileError
	if !errors.As(err, &fe) || fe.UID != nobody || !strings.Contains(err.Error(), "owned by") {
		t.Errorf("-auth-file owned by uid %d: %v", nobody, err)
	}
	if _, _, err := ReadCredential(users); err == nil {
		t.Errorf("sendmail's -auth-file owned by uid %d accepted", nobody)
	}
	policy := giveAway(t, dir, "senders", "alice: a@x.test\n", 0o644)
	if _, err := ReadPolicyFile(policy); err == nil || !strings.Contains(err.Error(), "owned by") {
		t.Errorf("-senders owned by uid %d: %v", nobody, err)
	}
	// Root's files and the program's own are taken.
	if _, err := ReadPolicyFile(writeFile(t, dir, "own", "x", 0o644)); err != nil {
		t.Errorf("own file: %v", err)
	}
}

// TestAttackFIFOSecretFile: a named pipe given as -auth-file or -senders
// must be refused at once, not block the program at start (or its SIGHUP
// reload, which would then keep the old rules for good).
func TestAttackFIFOSecretFile(t *testing.T) {
	p := t.TempDir() + "/users"
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadSecretFile(p); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("ReadSecretFile(fifo) = %v, want 'not a regular file'", err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the opener so the test process can end.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("ReadSecretFile blocked on a named pipe")
	}
}
