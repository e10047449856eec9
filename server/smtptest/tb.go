package smtptest

import (
	"fmt"
	"sync"
	"time"
)

// TB is the part of testing.TB the kit uses: *testing.T, *testing.B and
// *testing.F implement it, so the kit works in tests, benchmarks and fuzz
// targets alike.
//
// A nil TB means "outside a test" (an Example, a program): nothing is
// registered for cleanup, so call Close yourself, and a failure that would
// end a test panics instead.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

// DefaultTimeout bounds every network read and write of the kit (a Conn's,
// a Peer's) whose Timeout is zero, and the wait for a server to stop. It is
// generous: a timeout here means the peer under test is stuck, not slow.
const DefaultTimeout = 10 * time.Second

// orNoTest returns tb, or for a nil tb one that panics on failure.
func orNoTest(tb TB) TB {
	if tb == nil {
		return noTest{}
	}
	return tb
}

// noTest is the TB used outside a test.
type noTest struct{}

func (noTest) Helper()                   {}
func (noTest) Cleanup(func())            {}
func (noTest) Logf(string, ...any)       {}
func (noTest) Failed() bool              { return false }
func (noTest) Errorf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (noTest) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// logSink passes lines to tb.Logf until it is stopped, so that a goroutine
// that outlives the test cannot log into a finished test (which panics).
type logSink struct {
	mu      sync.Mutex
	tb      TB
	stopped bool
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped && l.tb != nil {
		l.tb.Logf("%s", trimNewline(p))
	}
	return len(p), nil
}

func (l *logSink) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

func trimNewline(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		return p[:n-1]
	}
	return p
}
