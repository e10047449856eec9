package benchcmp

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// smtpSinkPath is Postfix's test sink; the benchmarks against it skip
// without it.
const smtpSinkPath = "/usr/sbin/smtp-sink"

// A sinkKind is a server the clients send to, run as a process of its own
// (on CPU 1, see startSink).
type sinkKind struct {
	name string
	// args returns the command line for addr, building the program into
	// dir if needed; skip when it cannot run here.
	args func(tb testing.TB, dir, addr string) []string
	// counter finds the messages received in the sink's output after it
	// stopped: the last match's number, or with countMatches the number
	// of matches.
	counter      *regexp.Regexp
	countMatches bool
	// chunking: the sink offers CHUNKING (BDAT).
	chunking bool
}

var sinkKinds = []sinkKind{
	{
		// Postfix's smtp-sink: PIPELINING, no CHUNKING. -c prints running
		// counters ("mesg=N").
		name: "smtp-sink",
		args: func(tb testing.TB, _, addr string) []string {
			if _, err := os.Stat(smtpSinkPath); err != nil {
				tb.Skipf("no %s (apt-get install postfix): %v", smtpSinkPath, err)
			}
			args := []string{smtpSinkPath}
			if os.Getuid() == 0 {
				args = append(args, "-u", "nobody") // it refuses to run as root
			}
			return append(args, "-c", addr, "1000")
		},
		counter: regexp.MustCompile(`mesg=(\d+)`),
	},
	{
		// go-smtp's server (./gosmtpsink): PIPELINING and CHUNKING.
		name: "gosmtp-sink",
		args: func(tb testing.TB, dir, addr string) []string {
			return []string{goBuild(tb, dir, "./gosmtpsink"), "-listen", addr}
		},
		counter:  regexp.MustCompile(`mesg=(\d+)`),
		chunking: true,
	},
	{
		// smtpkit's examples/mailsink -discard: PIPELINING and CHUNKING;
		// it prints a line per message ("size=N").
		name: "mailsink",
		args: func(tb testing.TB, dir, addr string) []string {
			return []string{goBuild(tb, dir, "github.com/smtpkit/smtp/examples/mailsink"),
				"-listen", addr, "-discard", "-max-size", "1073741824", "-hostname", "bench.example"}
		},
		counter:      regexp.MustCompile(`size=\d+`),
		countMatches: true,
		chunking:     true,
	},
}

// goBuild builds the main package pkg into dir and returns the binary.
func goBuild(tb testing.TB, dir, pkg string) string {
	tb.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// sink is a running sink process.
type sink struct {
	kind sinkKind
	addr string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// syncBuffer collects a sink's output; its writer is another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pinned reports whether sinks run on CPU 1: when the machine has two
// CPUs or more, taskset is installed and BENCHCMP_PIN is not "none". Run
// the benchmark itself with "taskset -c 0", as the shell harness's
// PIN=split does.
func pinned() (string, bool) {
	ts, err := exec.LookPath("taskset")
	return ts, err == nil && runtime.NumCPU() >= 2 && os.Getenv("BENCHCMP_PIN") != "none"
}

// startSink starts a sink of kind k on a free loopback port; it is stopped
// when tb ends (stopAndCount stops it earlier).
func startSink(tb testing.TB, k sinkKind, dir string) *sink {
	tb.Helper()
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := k.args(tb, dir, addr)
	if ts, ok := pinned(); ok {
		args = append([]string{ts, "-c", "1"}, args...) // taskset execs: same PID
	}
	s := &sink{kind: k, addr: addr, out: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	tb.Cleanup(s.stop)
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			tb.Fatalf("%s did not listen on %s: %v; output: %s", k.name, addr, err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// stop ends the sink: SIGTERM, then SIGKILL after 5 s.
func (s *sink) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// stopAndCount stops the sink and returns the messages it received.
func (s *sink) stopAndCount() int {
	time.Sleep(200 * time.Millisecond) // smtp-sink prints its counter after the session
	s.stop()
	m := s.kind.counter.FindAllStringSubmatch(s.out.String(), -1)
	if s.kind.countMatches {
		return len(m)
	}
	if len(m) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// freePort returns a loopback TCP port nothing listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
