//go:build unix

// Package interop holds interoperability tests that the shared suite
// (../shared/interop) does not cover: BDAT and DSN through a real Postfix,
// Postfix's SMTP client against our server, Python's smtplib and aiosmtpd.
//
// Each test needs a third-party program (installed by
// ../shared/interop/install.sh). When it is missing the test is skipped with
// the reason, except under CI=true, where a missing peer is a failure: CI
// installs the peers first, so a skip there would hide a regression.
package interop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
)

// caseTimeout bounds every external program and every wait of a test.
const caseTimeout = 30 * time.Second

// sharedInterop is where ../shared/interop lives, relative to this package
// (examples/internal/interop in the checkout at /work/main).
const sharedInterop = "../../../../shared/interop"

// pythonBin is the interpreter that can import aiosmtpd (Debian's
// python3-aiosmtpd installs into the system interpreter).
const pythonBin = "/usr/bin/python3"

// needPeer skips the test with why, or fails it under CI=true.
func needPeer(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("peer missing under CI=true (install it with %s/install.sh): %s", sharedInterop, why)
	}
	t.Skipf("peer missing: %s (run %s/install.sh)", why, sharedInterop)
}

// needPython returns the Python interpreter after checking that it imports
// every module of mods.
func needPython(t testing.TB, mods ...string) string {
	t.Helper()
	if _, err := os.Stat(pythonBin); err != nil {
		needPeer(t, pythonBin+" is not installed")
	}
	if len(mods) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, pythonBin, "-c", "import "+strings.Join(mods, ", ")).CombinedOutput()
		if err != nil {
			needPeer(t, pythonBin+" cannot import "+strings.Join(mods, ", ")+": "+strings.TrimSpace(string(out)))
		}
	}
	return pythonBin
}

// runPeer runs a program to its end under caseTimeout (killed after it) and
// returns its combined output; a failure fails the test with the output.
func runPeer(t testing.TB, stdin []byte, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// path builds an envelope path from "local@domain" (no validation: the
// tests use well-formed addresses).
func path(addr string) envelope.Path {
	local, domain, _ := strings.Cut(addr, "@")
	return envelope.Path{Address: envelope.Address{Local: local, Domain: domain}}
}

// worldTraversable makes dir and its parents up to the system's temporary
// directory searchable by every user: Postfix's delivery agents run as
// nobody, and Go creates temporary directories with mode 0700.
func worldTraversable(t testing.TB, dir string) {
	t.Helper()
	root := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); strings.HasPrefix(d, root+string(filepath.Separator)); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
			t.Fatal(err)
		}
	}
}
