//go:build unix

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTrustedTree: the relay builds relay-pg only from a source tree no
// other user can write to: one group- or world-writable directory, Go
// file, go.mod or go.sum anywhere in it is enough to refuse it (.git and
// other files aside).
func TestTrustedTree(t *testing.T) {
	cases := []struct {
		name string
		path string // made writable by others
		want bool
	}{
		{"Clean", "", true},
		{"GoFile", "examples/relay-pg/pgqueue/queue.go", false},
		{"GoMod", "examples/relay-pg/go.mod", false},
		{"GoSum", "go.sum", false},
		{"Directory", "examples/relay-pg/pgqueue", false},
		{"Root", ".", false},
		{"GitObject", ".git/objects/x", true},
		{"Text", "README.md", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.Chmod(root, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"go.mod", "go.sum", "README.md", "examples/relay-pg/go.mod", "examples/relay-pg/pgqueue/queue.go", ".git/objects/x"} {
				p := filepath.Join(root, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.path != "" {
				mode := os.FileMode(0o666)
				if fi, _ := os.Stat(filepath.Join(root, tc.path)); fi.IsDir() {
					mode = 0o777
				}
				if err := os.Chmod(filepath.Join(root, tc.path), mode); err != nil {
					t.Fatal(err)
				}
			}
			if got := trustedTree(root); got != tc.want {
				t.Errorf("trustedTree = %v, want %v", got, tc.want)
			}
		})
	}
}
