//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/smtpkit/smtp/examples/internal/cli"
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
	uid, ok := cli.FileOwner(fi)
	return ok && cli.SelfOrRoot(uid) && fi.Mode().Perm()&0o022 == 0
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

// safePath reports whether no other user can change what p names: p (a
// file or directory) and, after symbolic links are resolved, every
// directory above it are owned by this user or root, and none is
// writable by group or others, but for a sticky directory above it (as
// /tmp), where others cannot rename or remove what they do not own. The
// links on the way are checked as they are named too.
func safePath(p string) bool {
	abs, err := filepath.Abs(p)
	if err != nil {
		return false
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return false
	}
	return safeChain(abs) && safeChain(real)
}

// safeChain checks p and the directories above it as named (lstat).
func safeChain(p string) bool {
	for first := true; ; first = false {
		fi, err := os.Lstat(p)
		if err != nil {
			return false
		}
		if uid, ok := cli.FileOwner(fi); !ok || !cli.SelfOrRoot(uid) {
			return false
		}
		sticky := !first && fi.IsDir() && fi.Mode()&os.ModeSticky != 0
		if fi.Mode()&os.ModeSymlink == 0 && fi.Mode().Perm()&0o022 != 0 && !sticky {
			return false
		}
		parent := filepath.Dir(p)
		if parent == p {
			return true
		}
		p = parent
	}
}
