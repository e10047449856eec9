//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
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
