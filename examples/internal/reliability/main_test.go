package reliability

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// long selects the long form of the tests, which reaches the issue's
// figures; SMTPKIT_LONG=1 does the same without a flag.
var long = flag.Bool("long", false, "run the long reliability tests (also SMTPKIT_LONG=1)")

// bin is the mailsink binary built once by TestMain, relayBin the relay.
var bin, relayBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "reliability-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var bins map[string]string
	if os.Getenv("SMTPKIT_RACE") == "1" {
		// mailsink with the race detector: the fuzzer's check of its
		// output then catches data races too.
		bins = map[string]string{"mailsink": filepath.Join(dir, "mailsink")}
		out, berr := exec.Command("go", "build", "-race", "-o", bins["mailsink"], e2e.Module+"mailsink").CombinedOutput()
		if berr != nil {
			err = fmt.Errorf("go build -race: %v\n%s", berr, out)
		}
	} else {
		bins, err = e2e.BuildIn(dir, "mailsink")
	}
	if err == nil {
		var more map[string]string
		more, err = e2e.BuildIn(dir, "relay")
		relayBin = more["relay"]
	}
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = bins["mailsink"]
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// isLong reports whether the long form runs.
func isLong() bool {
	return *long || os.Getenv("SMTPKIT_LONG") == "1"
}

// pick returns the short or the long figure.
func pick[T any](short, long T) T {
	if isLong() {
		return long
	}
	return short
}

// sink is a running mailsink.
type sink struct {
	*e2e.Proc
	Addr    string
	Maildir string // "" with -discard
}

// startSink runs mailsink on a free loopback port with args (plus -listen,
// -http "" unless args has -http, and -maildir in a temporary directory
// unless args has -maildir or -discard) and waits until it listens.
func startSink(t testing.TB, args ...string) *sink {
	t.Helper()
	s := &sink{Addr: e2e.FreeAddr(t)}
	own := true
	for i, a := range args {
		switch a {
		case "-discard":
			own = false
		case "-maildir":
			own = false
			s.Maildir = args[i+1]
		}
	}
	if own {
		s.Maildir = filepath.Join(t.TempDir(), "md")
		args = append([]string{"-maildir", s.Maildir}, args...)
	}
	s.Proc = e2e.Start(t, t.TempDir(), bin, append([]string{"-listen", s.Addr}, e2e.NoWebUI(args)...)...)
	t.Cleanup(func() {
		// Whatever the test, the server must not have crashed, logged a
		// recovered panic, or (built with SMTPKIT_RACE=1) raced.
		out := s.Stderr.String()
		for _, bad := range []string{"panic", "fatal error", "DATA RACE"} {
			if strings.Contains(out, bad) {
				t.Errorf("mailsink's stderr has %q:\n%s", bad, out)
				break
			}
		}
	})
	s.WaitListen(s.Addr, 10*time.Second)
	return s
}

// pid returns the process id.
func (s *sink) pid() int { return s.Cmd.Process.Pid }

// alive fails the test if the process has ended.
func (s *sink) alive(t testing.TB) {
	t.Helper()
	if s.Exited() {
		t.Fatalf("mailsink exited:\n%s", s.Stderr.String())
	}
}

// rssKiB returns the resident set size of process pid in KiB, from
// /proc/PID/status.
func rssKiB(t testing.TB, pid int) int {
	t.Helper()
	return procStatus(t, pid, "VmRSS")
}

// procStatus returns a "Name: N kB" figure of /proc/PID/status.
func procStatus(t testing.TB, pid int, name string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(name+":")); ok {
			f := strings.Fields(string(v))
			n, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("%s: %q", name, line)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", name, pid)
	return 0
}

// openFDs returns the number of open file descriptors of process pid.
func openFDs(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return len(ents)
}

// waitFor polls cond every 20 ms until it holds or timeout passes, and
// reports whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
