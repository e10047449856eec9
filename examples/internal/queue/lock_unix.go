//go:build unix

package queue

import (
	"errors"
	"os"
	"syscall"
)

// lockDir takes an exclusive, non-blocking lock on the file at path; the
// kernel releases it when the process dies, so a SIGKILL leaves no stale
// lock.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &Error{Op: "lock", Path: path, Err: err}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, &Error{Op: "lock", Path: path, Err: err}
	}
	return f, nil
}
