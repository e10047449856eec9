package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// TestRelayAuthFile: the relay takes its logins from -auth-file, so that
// no password is on its command line for ps to show (issue 13.7); a file
// that group or others may access is refused at start.
func TestRelayAuthFile(t *testing.T) {
	w := newWorld(t)
	w.startSink(w.yAddr, w.yMaildir)
	file := e2e.WriteFile(t, w.dir, "users", "alice:alice-pw\n", 0o600)
	w.relay = e2e.Start(t, w.dir, relayBin, "-listen", w.relayAddr, "-tls-cert", w.cert, "-tls-key", w.key,
		"-auth-file", file, "-queue", w.queue, "-route", "y.test="+w.yAddr, "-hostname", "relay.test")
	w.relay.WaitListen(w.relayAddr, 10*time.Second)
	w.submit([]byte("Subject: x\r\n\r\nx\r\n"), "a@x.test", "b@y.test")
	if files := e2e.Maildir(t, w.yMaildir, 1, 10*time.Second); len(files) != 1 {
		t.Errorf("%d delivered", len(files))
	}
	w.relay.Stop()

	for _, mode := range []os.FileMode{0o644, 0o640, 0o660} {
		if err := os.Chmod(file, mode); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-listen", e2e.FreeAddr(t), "-auth-file", file,
			"-queue", filepath.Join(w.dir, "q2"))
		if code == 0 || !strings.Contains(stderr, "chmod 600") || strings.Contains(stderr, "alice-pw") {
			t.Errorf("-auth-file of mode %04o: exit %d, %s", mode, code, stderr)
		}
	}
	code, _, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-h")
	if code != 0 || !strings.Contains(stderr, "visible to every local user in ps") || !strings.Contains(stderr, "-auth-file") {
		t.Errorf("-h: exit %d:\n%s", code, stderr)
	}
}

// TestQueuePrivateToOwner: the queue a relay creates, and every message
// and state file in it, are accessible to the relay's user only, so that
// another local user can neither read the mail nor change its recipients.
func TestQueuePrivateToOwner(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits are not permissions on Windows")
	}
	w := newWorld(t)
	w.startRelay() // y.test is down: the message stays queued
	w.submit([]byte("Subject: private\r\n\r\nx\r\n"), "a@x.test", "b@y.test")
	files := e2e.CheckPrivate(t, w.queue)
	if files < 2 { // the message and its state, at least
		t.Errorf("%d files in the queue, want the message and its state", files)
	}
}
