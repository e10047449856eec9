package reliability

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// mountSmall mounts a tmpfs of size bytes on a new directory and unmounts
// it when the test ends; it skips the test when mounting is not permitted
// (not root, no CAP_SYS_ADMIN).
func mountSmall(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+strconv.Itoa(size)); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			// Lazily, if something still holds it.
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}
