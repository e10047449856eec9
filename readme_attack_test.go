package smtp_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestAttackReadmePasswordFile: the READMEs' command for a password file,
// `printf 'alice:secret\n' > users && chmod 600 users`, creates the file
// with the umask's mode (0644 under the usual 022) and only then takes
// the other users' access away: in between, another local user may open
// it, and an open file stays readable after the chmod. The command is run
// as written, under umask 022, with chmod wrapped to record the file's
// mode before it changes it: the file must never be open to group or
// others.
func TestAttackReadmePasswordFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a POSIX shell and mode bits")
	}
	for _, doc := range []string{"README.md", "examples/README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		var cmds []string
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.Contains(line, "> users") {
				cmd, _, _ := strings.Cut(line, "#")
				cmds = append(cmds, strings.TrimSpace(cmd))
			}
		}
		if len(cmds) == 0 {
			t.Errorf("%s: no command that writes the users file", doc)
			continue
		}
		for _, cmd := range cmds {
			if data := runPrivately(t, doc, cmd, "users"); string(data) != "alice:secret\n" {
				t.Errorf("%s: `%s` wrote %q", doc, cmd, data)
			}
		}
	}
}

// TestAttackReadmeSecretFiles: the gateway's commands in the READMEs,
// `openssl rand -hex 32 > secret && chmod 600 secret` (and the token's),
// had the race TestAttackReadmePasswordFile found for the users file: the
// webhook secret and the API token are readable by every local user
// between the redirection and the chmod, and an open file stays readable.
// Run as written under umask 022, with chmod wrapped to record the mode
// before it changes it: the files must never be open to group or others.
func TestAttackReadmeSecretFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a POSIX shell and mode bits")
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl to run the READMEs' commands")
	}
	for _, doc := range []string{"README.md", "examples/README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for line := range strings.SplitSeq(string(b), "\n") {
			for _, file := range []string{"secret", "token"} {
				if !strings.Contains(line, "> "+file) {
					continue
				}
				found[file] = true
				cmd, _, _ := strings.Cut(line, "#")
				if data := runPrivately(t, doc, strings.TrimSpace(cmd), file); len(strings.TrimSpace(string(data))) < 32 {
					t.Errorf("%s: `%s` wrote %q", doc, cmd, data)
				}
			}
		}
		if !found["secret"] || !found["token"] {
			t.Errorf("%s: no command that writes the secret and the token files", doc)
		}
	}
}

// runPrivately runs a README's shell command cmd that writes file, under
// umask 022, with chmod wrapped to record the file's mode before it
// changes it, and fails the test if the file was ever open to group or
// others; it returns what the command wrote.
func runPrivately(t *testing.T, doc, cmd, file string) []byte {
	t.Helper()
	dir := t.TempDir()
	script := "umask 022\nchmod() { stat -c %a " + file + " >> modes; command chmod \"$@\"; }\n" +
		cmd + "\nstat -c %a " + file + " >> modes"
	c := exec.Command("sh", "-c", script)
	c.Dir = dir
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s: %s: %v\n%s", doc, cmd, err, out)
	}
	modes, _ := os.ReadFile(filepath.Join(dir, "modes"))
	for m := range strings.FieldsSeq(string(modes)) {
		if m[1:] != "00" {
			t.Errorf("%s: `%s` leaves %s with mode %s for a while (modes seen: %q)", doc, cmd, file, m, modes)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, file))
	return data
}
