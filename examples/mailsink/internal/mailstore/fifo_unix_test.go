//go:build unix

package mailstore

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/maildir"
)

// TestAttackFIFOInMaildir: a named pipe in new/ (another program's
// mistake, or a local user's prank) made the index open it for reading,
// which waits for a writer for ever: Open never returned, so mailsink
// never started, and a Sync under way blocked every listing and wait.
// What is not a regular file is not a message: it is skipped.
func TestAttackFIFOInMaildir(t *testing.T) {
	dir, err := maildir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, dir, "a@x.test", "b@y.test", "Subject: real\r\n\r\n1\r\n")
	if err := syscall.Mkfifo(filepath.Join(dir.Path(), "new", "1.fifo.host"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan *Store, 1)
	go func() {
		s, err := Open(dir.Path(), Options{})
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	select {
	case s := <-done:
		if s != nil && s.Len() != 1 {
			t.Errorf("%d messages indexed, want the 1 regular file", s.Len())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Open blocked on the named pipe")
	}
}
