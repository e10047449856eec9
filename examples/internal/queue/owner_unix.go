//go:build unix

package queue

import (
	"fmt"
	"os"
	"syscall"
)

// checkPrivateDir refuses a queue directory that another user could
// change: one owned by another user than this program's, or writable by
// group or others (Postfix's "postfix check" asks the same of its queue).
// Such a user may read, alter or replace the queued mail, or plant a
// symbolic link where the queue writes (its lock file) and make the
// program overwrite a file of their choosing.
func checkPrivateDir(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &Error{Op: "check", Path: path, Err: err}
	}
	if !fi.IsDir() {
		return &Error{Op: "check", Path: path, Err: fmt.Errorf("not a directory")}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := int(st.Uid); uid != os.Geteuid() {
		return &Error{Op: "check", Path: path, Err: fmt.Errorf("owned by uid %d, who may read or change the queued mail; "+
			"a queue directory must belong to the user the relay and the operator's commands run as (here uid %d)",
			uid, os.Geteuid())}
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return &Error{Op: "check", Path: path, Err: fmt.Errorf("mode %#o lets group or others write in it; chmod go-w", perm)}
	}
	return nil
}
