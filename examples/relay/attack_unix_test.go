//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// TestAttackRelaySendersOwnedByAnother: a -senders file that another local
// user owns is theirs to edit (chmod is the owner's right), so that user
// may grant any login any sender; the relay refuses it at start, over
// real processes. Root only (it gives the file away).
func TestAttackRelaySendersOwnedByAnother(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	dir := t.TempDir()
	users := e2e.WriteFile(t, dir, "users", "alice:alice-pw\n", 0o600)
	senders := e2e.WriteFile(t, dir, "senders", "alice: a@x.test\n", 0o644)
	const nobody = 65534
	if err := os.Chown(senders, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-listen", e2e.FreeAddr(t), "-auth-file", users,
		"-senders", senders, "-queue", filepath.Join(dir, "q"))
	if code == 0 || !strings.Contains(stderr, "owned by") {
		t.Errorf("-senders owned by uid %d: exit %d, %s", nobody, code, stderr)
	}
}

// TestAttackQueueDirOwnedByAnother: a local user creates the queue
// directory before the relay does (-queue /tmp/relay-queue, or any
// directory they may write in), with a symbolic link named lock pointing
// at a file of the relay's user. The relay took the directory as its own:
// it wrote its PID through the link, destroying the file, and would have
// kept the mail where that user may read, change or replace it. It must
// refuse a queue directory owned by another user or writable by others,
// and touch nothing in it. Root only (it gives the directory away).
func TestAttackQueueDirOwnedByAnother(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a directory to another user needs root")
	}
	dir := t.TempDir()
	victim := e2e.WriteFile(t, dir, "victim", "precious\n", 0o600)
	q := filepath.Join(dir, "q")
	if err := os.Mkdir(q, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(q, 0o777) // whatever the umask
	const nobody = 65534
	if err := os.Symlink(victim, filepath.Join(q, "lock")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{q, filepath.Join(q, "lock")} {
		if err := os.Lchown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	addr := e2e.FreeAddr(t)
	p := e2e.Start(t, dir, relayBin, "-listen", addr, "-auth", "alice:alice-pw", "-queue", q)
	deadline := time.Now().Add(10 * time.Second)
	for !p.Exited() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !p.Exited() {
		t.Errorf("the relay runs on a queue directory owned by uid %d:\n%s", nobody, p.Stderr.String())
	} else if !strings.Contains(p.Stderr.String(), "owned by uid 65534") {
		t.Errorf("refusal does not say why:\n%s", p.Stderr.String())
	}
	p.Kill()
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the file the planted lock pointed at now holds %q", b)
	}
	for _, sub := range []string{"tmp", "data", "state", "control"} {
		if _, err := os.Lstat(filepath.Join(q, sub)); err == nil {
			t.Errorf("the relay made %s in the other user's directory", sub)
		}
	}
}

// TestAttackOperatorCommandAsRoot: an operator runs relay -hold as root on
// the queue of a relay that runs as another user and is stopped. The
// command rewrote the state files as root-owned 0600 files, which the
// relay, started again as its user, cannot read: the mail is stuck for
// good ("damaged queue file left in place"). A command run by another
// user than the queue's owner must be refused, naming the owner. Root
// only.
func TestAttackOperatorCommandAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a queue to another user needs root")
	}
	w := newWorld(t)
	w.startRelay() // y.test is down: the message stays queued
	w.submit([]byte("Subject: stays\r\n\r\nx\r\n"), "a@x.test", "b@y.test")
	w.waitQueue("shows an attempt", func(l []string) bool { return len(l) == 1 && strings.Contains(l[0], "attempts=1") })
	if err := w.relay.Stop(); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	err := filepath.WalkDir(w.queue, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-queue", w.queue, "-hold", "ALL")
	if code == 0 || !strings.Contains(stderr, "owned by uid 65534") {
		t.Errorf("relay -hold ALL as root on uid %d's queue: exit %d, %s", nobody, code, stderr)
	}
	states, _ := filepath.Glob(filepath.Join(w.queue, "state", "*.json"))
	if len(states) != 1 {
		t.Fatalf("state files %q", states)
	}
	fi, err := os.Stat(states[0])
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != nobody {
		t.Errorf("the state file now belongs to uid %d: a relay running as uid %d cannot read it", uid, nobody)
	}
	// -list only reads: it works for root.
	if code, out, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-queue", w.queue, "-list"); code != 0 || !strings.Contains(out, "b@y.test(pending)") {
		t.Errorf("relay -list as root: exit %d, %s %s", code, out, stderr)
	}
}
