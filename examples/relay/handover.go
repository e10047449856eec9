package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The queue on PostgreSQL needs the pgx driver, which lives in the nested
// module examples/relay-pg so that the library's users never download it.
// So that "-queue postgres://..." works with this command too (as the
// relay contract has it, and with go run), the relay hands over to that
// program, the same relay built with both queues: it runs it in its own
// place (same PID, arguments, environment and standard streams).

// pgProgramName is the PostgreSQL build's file name, next to this
// program or in PATH.
const pgProgramName = "relay-pg"

// PGBuildTimeout bounds the go build of examples/relay-pg (a first build
// compiles the driver; later ones find everything in Go's build cache).
const PGBuildTimeout = 5 * time.Minute

// handOver finds the PostgreSQL build of the relay and runs it in this
// process's place; it returns only on failure.
func handOver(args []string) error {
	prog, how, release, err := findPGProgram()
	if err != nil {
		return fmt.Errorf("-queue is a PostgreSQL database, and this build of the relay has only the disk queue: %w; "+
			"build the relay with both queues from its own module: go -C examples/relay-pg build -o relay-pg . (see README)", err)
	}
	fmt.Fprintf(os.Stderr, "relay: -queue is a PostgreSQL database: running %s (%s), the relay with both queues\n", prog, how)
	err = execProgram(prog, args)
	release()
	return fmt.Errorf("running %s: %w", prog, err)
}

// findPGProgram looks for the PostgreSQL build: next to this program (an
// operator installed both), built from the source tree this program was
// built from (go run, go build in a checkout), or in PATH.
// A relay-pg that another local user could have put there or changed (in
// a directory others can write to, as a relay copied to /tmp) is not run:
// the relay would run their code as its user. release lets go of what
// must stay put until the exec: the build lock.
func findPGProgram() (prog, how string, release func(), err error) {
	noop := func() {}
	var unsafe []string
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), pgProgramName)
		if isExecutable(p) {
			if safePath(p) {
				return p, "next to this program", noop, nil
			}
			unsafe = append(unsafe, p)
		}
	}
	var buildErr error
	if src, ok := pgSourceDir(); ok {
		p, unlock, err := buildPGProgram(src)
		if err == nil {
			return p, "built from " + src, unlock, nil
		}
		buildErr = err
	} else if src != "" {
		buildErr = fmt.Errorf("not building %s from %s: another user can write to it or to a directory above it", pgProgramName, src)
	}
	if p, err := exec.LookPath(pgProgramName); err == nil {
		if safePath(p) {
			return p, "found in PATH", noop, nil
		}
		unsafe = append(unsafe, p)
	}
	if buildErr == nil {
		buildErr = fmt.Errorf("no %s next to it, in its source tree or in PATH", pgProgramName)
	}
	if len(unsafe) > 0 {
		buildErr = fmt.Errorf("%w (not running %s: another user can write to it or its directory)", buildErr, strings.Join(unsafe, ", "))
	}
	return "", "", nil, buildErr
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// pgSourceDir returns examples/relay-pg of the source tree this program
// was compiled from (recorded in the binary unless built with -trimpath),
// when it is there (else "") and trusted: every directory and Go source of
// the repository owned by this user (or root) and not writable by others,
// and so every directory above it (sticky ones aside: others could
// otherwise rename the tree away and put theirs in its place while go
// build reads it), for the relay would otherwise compile and run what
// another local user put there.
func pgSourceDir() (string, bool) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", false
	}
	src := filepath.Join(filepath.Dir(file), "..", pgProgramName)
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return "", false
	}
	root := filepath.Join(src, "..", "..")
	return src, safePath(root) && trustedTree(root)
}

// trustedTree reports whether root and every directory, Go source file,
// go.mod and go.sum under it (.git aside) pass trustedPath.
func trustedTree(root string) bool {
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == ".git" {
			return filepath.SkipDir
		}
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" || e.Type()&fs.ModeSymlink != 0 {
			if !trustedPath(p) {
				return errUntrusted
			}
		}
		return nil
	})
	return err == nil
}

var errUntrusted = errors.New("writable by another user")

// buildPGProgram builds the module in src into a per-user cache directory
// (refused when another user could write to it: the fallback, TMPDIR, is
// shared) and returns the program's path. Relays starting at once take turns (a
// lock file), and each go build finds the last one's result up to date.
// The lock is held until unlock, which the caller runs after its exec
// failed (the lock file is closed on exec): a relay started meanwhile on
// an edited tree would otherwise rewrite the program being exec'd.
func buildPGProgram(src string) (prog string, unlock func(), err error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(src))
	dir := filepath.Join(cache, "smtpkit", pgProgramName+"-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	// Under a shared TMPDIR, another user may have made it first.
	if !safePath(dir) {
		return "", nil, fmt.Errorf("not building relay-pg in %s: another user can write to it or a directory above it", dir)
	}
	unlock, err = lockFile(filepath.Join(dir, "lock"))
	if err != nil {
		return "", nil, err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), PGBuildTimeout)
	defer cancel()
	prog = filepath.Join(dir, pgProgramName)
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", prog, ".")
	cmd.Dir = src
	// The module as it is in the tree: go would otherwise use a go.work
	// from any directory above it, which another user may write. For
	// this machine, whatever a shell set up to cross compile exports.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		unlock()
		msg := strings.TrimSpace(out.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:] // the last line says what failed
		}
		if msg == "" {
			msg = err.Error()
		}
		return "", nil, errors.New("go build in " + src + " failed: " + msg)
	}
	return prog, unlock, nil
}
