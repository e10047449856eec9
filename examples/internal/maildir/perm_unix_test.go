//go:build unix

package maildir

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// TestPrivateToOwner: the Maildir and every message in it are accessible
// to their owner only (directories 0700, files 0600), so that another
// local user cannot read the mail.
func TestPrivateToOwner(t *testing.T) {
	root := filepath.Join(t.TempDir(), "md")
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Deliver(strings.NewReader("Subject: private\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if n := e2e.CheckPrivate(t, root); n != 1 {
		t.Errorf("%d files checked, want the message", n)
	}
}
