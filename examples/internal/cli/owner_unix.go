//go:build unix

package cli

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoBlock opens path for reading without waiting: a named pipe (or a
// device) would otherwise block the open until a writer comes, and the
// caller refuses anything but a regular file once it has it open.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// FileOwner returns the user id that owns the file; ok is false where
// the system has none (Windows).
func FileOwner(fi fs.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
