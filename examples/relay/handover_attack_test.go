//go:build unix

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// buildTrimmed builds the relay without its source path (-trimpath): it
// hands over only to a relay-pg next to it or in PATH.
func buildTrimmed(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "relay")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, e2e.Module+"relay").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// plantRelayPG writes a relay-pg into dir that says it ran, owned by uid
// (-1: this user).
func plantRelayPG(t *testing.T, dir string, uid int) {
	t.Helper()
	p := filepath.Join(dir, pgProgramName)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho relay-pg-ran >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if uid >= 0 {
		if err := os.Chown(p, uid, uid); err != nil {
			t.Skipf("cannot give a file to another user: %v", err)
		}
	}
}

// TestHandOverRefusesPlantedProgram: the relay runs a relay-pg next to it
// or in PATH only when no other user could have put it there or changed
// it: not one in a directory others can write to (a relay copied to
// /tmp), nor one another user owns in a sticky directory, nor one others
// can write to.
func TestHandOverRefusesPlantedProgram(t *testing.T) {
	nobody := 65534
	if os.Getuid() == nobody {
		nobody = 65533
	}
	cases := []struct {
		name    string
		inPath  bool        // relay-pg in PATH, else next to the relay
		dirMode os.FileMode // of relay-pg's directory
		fileUID int         // relay-pg's owner (-1: this user)
		file    os.FileMode // relay-pg's mode
		runs    bool
	}{
		{"NextToOwn", false, 0o755, -1, 0o755, true},
		{"NextToWorldWritableDir", false, 0o777, -1, 0o755, false},
		{"NextToGroupWritableDir", false, 0o775, -1, 0o755, false},
		{"NextToOtherUsersInStickyDir", false, 0o1777, nobody, 0o755, false},
		{"NextToWorldWritableFile", false, 0o755, -1, 0o757, false},
		{"InPathOwn", true, 0o755, -1, 0o755, true},
		{"InPathWorldWritableDir", true, 0o777, -1, 0o755, false},
		{"InPathOtherUsersInStickyDir", true, 0o1777, nobody, 0o755, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			relayDir, pathDir := t.TempDir(), t.TempDir()
			bin := buildTrimmed(t, relayDir)
			dir := relayDir
			if tc.inPath {
				dir = pathDir
			}
			plantRelayPG(t, dir, tc.fileUID)
			if err := os.Chmod(filepath.Join(dir, pgProgramName), tc.file); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "-queue", "postgres://u:secret@127.0.0.1:1/mail", "-list")
			cmd.Env = append(os.Environ(), "PATH="+pathDir)
			out, _ := cmd.CombinedOutput()
			if ran := strings.Contains(string(out), "relay-pg-ran"); ran != tc.runs {
				t.Errorf("relay-pg ran: %v, want %v; output:\n%s", ran, tc.runs, out)
			}
			if !tc.runs && !strings.Contains(string(out), "go -C examples/relay-pg build") {
				t.Errorf("no advice:\n%s", out)
			}
		})
	}
}

// TestHandOverBuildDirOfAnotherUser: with no cache directory of its own
// (no HOME nor XDG_CACHE_HOME) the relay builds relay-pg under TMPDIR,
// shared by every user: a directory another user made there first (with
// the name they can compute) is refused, not built into and run from.
func TestHandOverBuildDirOfAnotherUser(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	sum := sha256.Sum256([]byte(filepath.Join(filepath.Dir(self), "..", pgProgramName)))
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(tmp, "smtpkit", pgProgramName+"-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(planted, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(planted), planted} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, 65534, 65534); err != nil {
			t.Skipf("cannot give a directory to another user: %v", err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CACHE_HOME=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(relayBin, "-queue", "postgres://u:secret@127.0.0.1:1/mail", "-list")
	cmd.Env = append(env, "TMPDIR="+tmp, "GOCACHE="+goEnv(t, "GOCACHE"), "GOMODCACHE="+goEnv(t, "GOMODCACHE"))
	out, _ := cmd.CombinedOutput()
	if _, err := os.Stat(filepath.Join(planted, pgProgramName)); err == nil || strings.Contains(string(out), "built from") {
		t.Errorf("built into and ran from %s:\n%s", planted, out)
	}
	if !strings.Contains(string(out), "another user") {
		t.Errorf("does not say why:\n%s", out)
	}
}

// goEnv returns a setting of go (its caches, named for a go that runs
// with no HOME).
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestHandOverIgnoresWorkspace: the go build of relay-pg builds the
// module of the relay's source tree as it is, whatever go.work lies above
// it (go looks for one in every parent directory, up to /: a tree
// checked out under /tmp/x, or a directory others share): here one that
// go cannot use.
func TestHandOverIgnoresWorkspace(t *testing.T) {
	ws := t.TempDir()
	tree, bin := copyTree(t, ws)
	if err := os.WriteFile(filepath.Join(ws, "go.work"), []byte("go 1.20\nuse ./elsewhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-queue", "postgres://u:secret@127.0.0.1:1/mail", "-list")
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir(), goCache(t), "GOWORK=")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "built from "+filepath.Join(tree, "examples", pgProgramName)) || !strings.Contains(string(out), "connection refused") {
		t.Errorf("relay-pg not built from the tree and run:\n%s", out)
	}
}

// TestBuiltProgramLockedUntilExec: a relay that built relay-pg holds the
// build lock until its exec (the lock file is closed on exec): were it
// released before, a relay started meanwhile on an edited tree would
// rewrite relay-pg (go build removes it and writes a new one) while this
// one execs it: "text file busy", or a half-written program.
func TestBuiltProgramLockedUntilExec(t *testing.T) {
	cache := t.TempDir()
	gc := goCache(t)
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("GOCACHE", strings.TrimPrefix(gc, "GOCACHE="))
	prog, how, release, err := findPGProgram()
	if err != nil || !strings.HasPrefix(how, "built from") {
		t.Fatalf("%s (%s): %v", prog, how, err)
	}
	defer release()
	f, err := os.Open(filepath.Join(filepath.Dir(prog), "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != syscall.EWOULDBLOCK {
		t.Errorf("the build lock is free before the exec (flock: %v)", err)
	}
}

// TestDKIMDNSWithPostgresQueue: -dkim-dns prints a key's record and
// exits without a queue, so a command line that also names a PostgreSQL
// queue (an operator's service line with -dkim-dns added) is run here,
// not handed over: it needs no relay-pg, nor a build of one.
func TestDKIMDNSWithPostgresQueue(t *testing.T) {
	dir := t.TempDir()
	_, edKey := dkimKeys(t)
	edFile := e2e.WriteKey(t, dir, "ed.pem", edKey, false, 0o600)
	cmd := exec.Command(buildTrimmed(t, dir), "-queue", "postgres://u:secret@127.0.0.1:1/mail", "-dkim-dns", "example.org:ed:"+edFile)
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || !strings.HasPrefix(stdout.String(), "ed._domainkey.example.org. IN TXT ") {
		t.Errorf("%v: stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
}

// TestHandOverBuildsForThisMachine: an operator's shell set up to cross
// compile (GOARCH, GOOS exported) does not make the hand-over build a
// relay-pg this machine cannot run ("exec format error").
func TestHandOverBuildsForThisMachine(t *testing.T) {
	arch := "arm64"
	if runtime.GOARCH == arch {
		arch = "amd64"
	}
	cmd := exec.Command(relayBin, "-queue", "postgres://u:secret@127.0.0.1:1/mail", "-list")
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir(), goCache(t), "GOARCH="+arch)
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "connection refused") {
		t.Errorf("relay-pg did not run:\n%s", out)
	}
}

// goCache returns GOCACHE=the go command's build cache, for the tests that
// move XDG_CACHE_HOME (the relay's build directory): the build cache
// defaults to a directory under it, and a fresh one would compile
// everything again (20 s a test).
func goCache(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	return "GOCACHE=" + strings.TrimSpace(string(out))
}

// copyTree copies the files of the repository (as in its working tree)
// into dir/smtpkit and builds the relay from there.
func copyTree(t *testing.T, dir string) (tree, bin string) {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	tree = filepath.Join(dir, "smtpkit")
	files, err := exec.Command("git", "-C", root, "ls-files").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err)
	}
	for _, f := range strings.Fields(string(files)) {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // deleted in the working tree
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin = filepath.Join(t.TempDir(), "relay")
	build := exec.Command("go", "build", "-o", bin, "./examples/relay")
	build.Dir, build.Env = tree, append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return tree, bin
}

// TestHandOverTreeInSharedDirectory: a source tree that is the user's own
// but sits in a directory others can write to (not sticky) is not built
// from: another user can rename it away and put theirs in its place
// between the relay's check and go build's reading.
func TestHandOverTreeInSharedDirectory(t *testing.T) {
	shared := t.TempDir()
	_, bin := copyTree(t, shared)
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-queue", "postgres://u:secret@127.0.0.1:1/mail", "-list")
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir(), "PATH="+t.TempDir())
	out, _ := cmd.CombinedOutput()
	if strings.Contains(string(out), "built from") || !strings.Contains(string(out), "another user can write") {
		t.Errorf("built from a tree in a shared directory, or does not say why not:\n%s", out)
	}
}

// TestHandOverExecFailureNamesProgram: when the relay-pg found cannot be
// run (not a program for this machine, a noexec mount), the error names
// it, not only the system's word for it.
func TestHandOverExecFailureNamesProgram(t *testing.T) {
	dir := t.TempDir()
	bin := buildTrimmed(t, dir)
	prog := filepath.Join(dir, pgProgramName)
	if err := os.WriteFile(prog, []byte("not a program\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := e2e.Run(t, time.Minute, nil, bin, "-queue", "postgres://u:secret@127.0.0.1:1/mail", "-list")
	last := strings.TrimSpace(stderr)
	last = last[strings.LastIndexByte(last, '\n')+1:]
	if code == 0 || !strings.Contains(last, prog) || !strings.Contains(last, "exec format error") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
