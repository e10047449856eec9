package durabletest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDisk(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		failOn string
		want   string // events
	}{
		{"", "write,sync,close,syncdir:out"},
		{Write, "write,close"},
		{Sync, "write,sync,close"},
		{Close, "write,sync,close"},
		{SyncDir, "write,sync,close,syncdir:out"},
	} {
		t.Run("fail-"+tc.failOn, func(t *testing.T) {
			var events []string
			d := Disk(&events, tc.failOn, syscall.EIO)
			out := filepath.Join(dir, "out", "f")
			err := d.WriteFile(filepath.Join(dir, "tmp-"+tc.failOn), out, []byte("x"))
			if (tc.failOn == "") != (err == nil) || err != nil && !errors.Is(err, syscall.EIO) {
				t.Errorf("WriteFile: %v", err)
			}
			if got := strings.Join(events, ","); got != tc.want {
				t.Errorf("events %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	dir := t.TempDir()
	if got := Names(t, dir); len(got) != 0 {
		t.Errorf("empty directory: %v", got)
	}
	os.WriteFile(filepath.Join(dir, "b"), nil, 0o600)
	os.Mkdir(filepath.Join(dir, "a"), 0o700)
	if got := strings.Join(Names(t, dir), ","); got != "a,b" {
		t.Errorf("Names = %s, want a,b", got)
	}
}
