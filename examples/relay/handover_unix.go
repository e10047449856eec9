//go:build unix

package main

import (
	"os"
	"syscall"
)

// execProgram runs prog in this process's place (same PID: signals and
// the queue lock's PID are the running relay's).
func execProgram(prog string, args []string) error {
	return syscall.Exec(prog, append([]string{prog}, args...), os.Environ())
}

// trustedPath reports whether p is owned by this user or root and not
// writable by group or others.
func trustedPath(p string) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && (int(st.Uid) == os.Getuid() || st.Uid == 0) && fi.Mode().Perm()&0o022 == 0
}

// lockFile takes an exclusive flock on p (created if missing) and returns
// its release.
func lockFile(p string) (unlock func(), err error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
