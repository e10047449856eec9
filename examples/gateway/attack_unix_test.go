//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// TestAttackQueueDirOwnedByAnother: a local user made the -queue
// directory (a shared path such as /tmp/gateway) before the gateway. The
// gateway made its queues, Idempotency-Key records and final states in
// it, where that user may rename them away and put theirs in their place
// (records of keys, states, queued mail). It must refuse a directory
// owned by another user. Root only (it gives the directory away).
func TestAttackQueueDirOwnedByAnother(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a directory to another user needs root")
	}
	dir := t.TempDir()
	e2e.WriteFile(t, dir, "token", testToken+"\n", 0o600)
	q := filepath.Join(dir, "q")
	if err := os.Mkdir(q, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(q, 0o777)
	if err := os.Chown(q, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := e2e.Run(t, wait, nil, gatewayBin, "-listen", "", "-http", e2e.FreeAddr(t),
		"-token-file", filepath.Join(dir, "token"), "-queue", q)
	if code != 1 || !strings.Contains(stderr, "owned by uid 65534") {
		t.Errorf("-queue owned by uid 65534: exit %d, %s", code, stderr)
	}
	if ents, _ := os.ReadDir(q); len(ents) != 0 {
		t.Errorf("the gateway wrote in the other user's directory: %v", ents)
	}
}
