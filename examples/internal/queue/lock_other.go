//go:build !unix

package queue

import "os"

// lockDir opens the lock file; without flock, exclusive ownership is not
// enforced on this platform.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &Error{Op: "lock", Path: path, Err: err}
	}
	return f, nil
}
