//go:build unix

package maildir

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
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
	n := 0
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %04o lets group or others in", p, fi.Mode().Perm())
		}
		n++
		return nil
	})
	if n != 5 { // root, tmp, new, cur, the message
		t.Errorf("%d entries checked, want 5", n)
	}
}
