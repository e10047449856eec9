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
			dir := t.TempDir()
			script := `umask 022
chmod() { stat -c %a users >> modes; command chmod "$@"; }
` + cmd + `
stat -c %a users >> modes`
			c := exec.Command("sh", "-c", script)
			c.Dir = dir
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("%s: %s: %v\n%s", doc, cmd, err, out)
			}
			modes, _ := os.ReadFile(filepath.Join(dir, "modes"))
			for m := range strings.FieldsSeq(string(modes)) {
				if m[1:] != "00" {
					t.Errorf("%s: `%s` leaves users with mode %s for a while (modes seen: %q)", doc, cmd, m, modes)
				}
			}
			if data, _ := os.ReadFile(filepath.Join(dir, "users")); string(data) != "alice:secret\n" {
				t.Errorf("%s: `%s` wrote %q", doc, cmd, data)
			}
		}
	}
}
