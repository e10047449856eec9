package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// docsRelayCommand is the second mailsink the documented sessions release
// to; the docs give this command, and the test runs it (on a free port).
const docsRelayCommand = "go run ./examples/mailsink -listen 127.0.0.1:2526 -discard -reject nobody@example.net"

// TestDocsConsoleSessions runs the console sessions of the mailsink docs
// (docs/mailsink.md, and the mailsink section of examples/README.md) with
// bash, curl, jq and this repository's sendmail, against a mailsink
// started as the README says (and the second one the release goes to),
// and compares what each command prints with what the docs show, ids,
// times, host names and file owners aside. Issue 17: "the API is
// documented with curl examples that really print what the docs show".
func TestDocsConsoleSessions(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	for _, doc := range []struct{ file, from, to string }{
		{"../../docs/mailsink.md", "## The JSON API", ""},
		{"../README.md", "## mailsink", "## Passwords"},
	} {
		t.Run(filepath.Base(doc.file), func(t *testing.T) {
			text, err := os.ReadFile(doc.file)
			if err != nil {
				t.Fatal(err)
			}
			section := string(text)
			if i := strings.Index(section, doc.from); i >= 0 {
				section = section[i:]
			}
			if i := strings.Index(section, doc.to); doc.to != "" && i >= 0 {
				section = section[:i]
			}
			if !strings.Contains(strings.Join(strings.Fields(section), " "), docsRelayCommand) {
				t.Errorf("%s does not say how the second mailsink runs (%q)", doc.file, docsRelayCommand)
			}
			steps := consoleSteps(section)
			if len(steps) < 5 {
				t.Fatalf("%s: %d console commands found", doc.file, len(steps))
			}
			runDocSession(t, steps)
		})
	}
}

// docStep is one "$ " command of a console block and the output shown
// after it.
type docStep struct {
	cmd, want  string
	background bool
}

// heredocStart matches a command whose input follows as a here-document.
var heredocStart = regexp.MustCompile(`<<'?(\w+)'?$`)

// consoleSteps returns the commands of the ```console blocks of a
// Markdown text, in order, with their here-documents.
func consoleSteps(md string) []docStep {
	var steps []docStep
	in := false
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "```console"):
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case in && strings.HasPrefix(l, "$ "):
			s := docStep{cmd: strings.TrimPrefix(l, "$ ")}
			if m := heredocStart.FindStringSubmatch(s.cmd); m != nil {
				for i++; i < len(lines); i++ {
					s.cmd += "\n" + lines[i]
					if lines[i] == m[1] {
						break
					}
				}
			}
			s.background = strings.HasSuffix(s.cmd, "&")
			steps = append(steps, s)
		case in && len(steps) > 0:
			steps[len(steps)-1].want += l + "\n"
		}
	}
	return steps
}

// runDocSession starts the two mailsinks, runs steps in one bash with the
// documented ports replaced by free ones, and compares the outputs.
func runDocSession(t *testing.T, steps []docStep) {
	dir := t.TempDir()
	smtpAddr, web, _ := startWithUI(t, dir) // as `go run ./examples/mailsink`: ./maildir
	web = strings.TrimPrefix(web, "http://")
	relayArgs := strings.Fields(docsRelayCommand)[3:] // after "go run ./examples/mailsink"
	relayAddr := e2e.FreeAddr(t)
	relayArgs[1] = relayAddr
	relay := e2e.Start(t, dir, bin, relayArgs...)
	relay.WaitListen(relayAddr, 10*time.Second)

	ports := strings.NewReplacer("127.0.0.1:2525", smtpAddr, "127.0.0.1:8025", web, "127.0.0.1:2526", relayAddr)
	back := strings.NewReplacer(smtpAddr, "127.0.0.1:2525", web, "127.0.0.1:8025", relayAddr, "127.0.0.1:2526")
	var script strings.Builder
	script.WriteString("export PATH=" + strconv.Quote(filepath.Dir(sendmailBin)) + ":\"$PATH\"\n")
	for i, s := range steps {
		script.WriteString("echo '@@step " + strconv.Itoa(i) + "'\n")
		script.WriteString(ports.Replace(s.cmd) + "\n")
		switch {
		case s.background && strings.Contains(s.cmd, "/api/v1/events"):
			// The stream must be open before the next command sends the
			// mail it is to report: its first line says it is.
			out := s.cmd[strings.LastIndex(s.cmd, ">")+1 : len(s.cmd)-1]
			script.WriteString("until [ -s " + strings.TrimSpace(out) + " ]; do sleep 0.05; done\n")
		case !s.background:
			// What a person at the terminal gets by waiting: the
			// background requests have finished.
			script.WriteString("wait\n")
		}
	}
	script.WriteString("echo '@@step end'\n")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	parts := regexp.MustCompile(`(?m)^@@step (\d+|end)\n`).Split(string(out), -1)
	if len(parts) != len(steps)+2 {
		t.Fatalf("%d outputs for %d commands:\n%s", len(parts)-2, len(steps), out)
	}
	host, _ := os.Hostname()
	for i, s := range steps {
		if s.background {
			continue // its output went to a file, which a later step shows
		}
		got, want := normaliseDoc(back.Replace(parts[i+1]), host), normaliseDoc(s.want, "vm")
		if got != want {
			t.Errorf("$ %s\nprints:\n%s\nthe docs show:\n%s", s.cmd, got, want)
		}
	}
}

// docNoise are what differs from machine to machine and run to run, with
// what stands for it.
var docNoise = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b\d+\.M\d+P\d+Q\d+R[0-9a-f]+\.HOST\b`), "MAILDIR-ID"},
	{regexp.MustCompile(`\b[A-Z0-9]{8}-\d+\b`), "CONN-ID"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "TIME"},
	{regexp.MustCompile(`\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}`), "DATE"},
	// ls -l: modes (the umask), links, owner, group, date.
	{regexp.MustCompile(`(?m)^[-dl][-rwxsStT]{9}\.? +\d+ \S+ \S+ +(\d+) \w{3} [ \d]\d [ \d]\d:?\d\d `), "LS $1 "},
}

// normaliseDoc replaces host (the machine's name) and docNoise in s, and
// CR LF with LF (a terminal shows them alike; the raw file has CR LF).
func normaliseDoc(s, host string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if host != "" {
		s = regexp.MustCompile(`\b`+regexp.QuoteMeta(host)+`\b`).ReplaceAllString(s, "HOST")
	}
	for _, n := range docNoise {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return strings.TrimRight(s, "\n")
}
