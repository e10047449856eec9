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

// waitLog waits until the relay's log holds n lines with want.
func (w *world) waitLog(want string, n int) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(w.relay.Stderr.String(), want) < n {
		if time.Now().After(deadline) {
			w.t.Fatalf("log never showed %q %d times:\n%s", want, n, w.relay.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRelayReloadOnHangup: SIGHUP re-reads -auth-file and -senders; a
// file that has become unreadable (or insecure) leaves the previous rules
// in force.
func TestRelayReloadOnHangup(t *testing.T) {
	w := newWorld(t)
	write := func(name, data string, mode os.FileMode) { e2e.WriteFile(t, w.dir, name, data, mode) }
	write("senders", "alice: a@x.test\n", 0o600)
	w.startRelayUsers("-senders", filepath.Join(w.dir, "senders"))
	hangup := func(n int, want string) {
		if err := w.relay.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		w.waitLog(want, n)
	}

	c := w.session("alice", "alice-pw")
	mail(t, c, "other@x.test", "553 5.7.1 ")

	write("senders", "alice: a@x.test @x.test\n", 0o600)
	write("users", "alice:new-pw\n", 0o600)
	hangup(1, "msg=reloaded")
	c = w.session("alice", "new-pw")
	mail(t, c, "other@x.test", "250 ")

	// An insecure -auth-file: refused, the previous rules stay.
	write("users", "alice:third-pw\n", 0o644)
	write("senders", "alice: a@x.test\n", 0o600)
	hangup(1, "reload failed")
	c = w.session("alice", "new-pw")
	mail(t, c, "other@x.test", "250 ")
	if strings.Count(w.relay.Stderr.String(), "msg=reloaded") != 1 {
		t.Error("reloaded despite the insecure file")
	}
}
