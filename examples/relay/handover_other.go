//go:build !unix

package main

import (
	"errors"
	"os"
	"os/exec"
)

// execProgram runs prog with this program's arguments and streams and
// exits with its status (no exec(2) here: the relay becomes its parent).
func execProgram(prog string, args []string) error {
	cmd := exec.Command(prog, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err == nil {
		os.Exit(0)
	}
	return err
}

// trustedPath: without Unix ownership, a source tree is trusted when it
// exists (the relay was built from it by the same user).
func trustedPath(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// safePath: without Unix ownership, a program is trusted where it is.
func safePath(p string) bool { return trustedPath(p) }

// lockFile: no flock here; builds of relays started at once may overlap.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
