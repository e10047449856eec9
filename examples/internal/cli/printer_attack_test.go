package cli

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// heldWriter returns a countingWriter that holds every Write, like a
// stdout pipe that nobody reads, and the func that lets them through.
func heldWriter(t *testing.T) (*countingWriter, func()) {
	w := &countingWriter{gate: make(chan struct{}), inside: make(chan struct{}, 1)}
	var once sync.Once
	release := func() { once.Do(func() { close(w.gate) }) }
	t.Cleanup(release)
	return w, release
}

// waitSettled waits until each of n goroutines calling Printer.Line has
// returned (done counts those) or is parked inside Line (on a lock or a
// channel), so that whatever Line does before it waits is done.
func waitSettled(t *testing.T, n int, done *atomic.Int32) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		parked := 0
		for _, g := range goroutineStacks() {
			if parkedInLine(g) {
				parked++
			}
		}
		if parked+int(done.Load()) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d Line calls neither returned nor parked", n-parked-int(done.Load()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// parkedInLine reports whether the goroutine of stack g waits inside
// Printer.Line for something other than p.mu (which is never held across
// a write, so a goroutine waiting for it still has its line to append).
func parkedInLine(g string) bool {
	head, frames, _ := strings.Cut(g, "\n")
	if !strings.Contains(frames, "cli.(*Printer).Line(") || strings.Contains(head, "[running") || strings.Contains(head, "[runnable") {
		return false
	}
	for _, f := range strings.Split(frames, "\n") {
		if strings.Contains(f, "cli.(*Printer).") {
			// The innermost Printer frame: Line itself waiting for a
			// mutex is waiting for p.mu.
			return !strings.Contains(f, "cli.(*Printer).Line(") || !strings.Contains(head, "[sync.Mutex.Lock")
		}
	}
	return false
}

// TestAttackPrinterStuckWriterBound: PrinterMaxBuffer "bounds the lines a
// Printer holds", but while a write is stuck (stdout a pipe nobody reads,
// a terminal scrolled back with Ctrl-S) every Line past the cap appends
// its line first and only then waits in Flush: the buffer grows by one
// line per waiting caller, i.e. by up to MaxConnections lines of up to
// MaxRecipients addresses each (10000 x 25 KB = 250 MB with mailsink's
// defaults), where the 16 KiB bufio.Writer before held 16 KiB.
func TestAttackPrinterStuckWriterBound(t *testing.T) {
	w, release := heldWriter(t)
	p := NewPrinter(w, nil)
	p.Line([]byte("first"))
	go p.Flush()
	<-w.inside // the write of "first" is stuck
	line := bytes.Repeat([]byte("z"), 16<<10-1)
	n := PrinterMaxBuffer/(len(line)+1) + 128 // 2 MiB past the cap
	var done atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Line(line)
			done.Add(1)
		}()
	}
	waitSettled(t, n, &done)
	p.mu.Lock()
	held := len(p.buf)
	p.mu.Unlock()
	if limit := PrinterMaxBuffer + len(line) + 1; held > limit {
		t.Errorf("%d bytes of lines held with the writer stuck (%d callers), want at most %d (PrinterMaxBuffer and one line)", held, n, limit)
	}
	release()
	wg.Wait()
	p.Flush()
}

// goroutineStacks returns the stack of every goroutine, one a string.
func goroutineStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestAttackPrinterTornLine: when a write fails part-way (stdout
// redirected to a file on a full disk, until logrotate frees space) the
// rest of the batch is dropped, but the next batch is written straight
// after the torn line: the next message's line is glued to a fragment of
// another one, and a reader of the log (grep conn=, a test waiting for a
// message's line) misses it. Dropped lines are fine; a line that is not
// one of the printed ones is not.
func TestAttackPrinterTornLine(t *testing.T) {
	// As write(2) on a full disk: ENOSPC after the blocks that fitted.
	w := &failingWriter{fail: true, part: len("one\ntw")}
	p := NewPrinter(w, nil)
	p.Line([]byte("one"))
	p.Line([]byte("two"))
	p.Flush() // fails after "one\ntw"
	w.mu.Lock()
	w.fail = false
	w.mu.Unlock()
	p.Line([]byte("three"))
	p.Flush()
	w.mu.Lock()
	out := w.b.String()
	w.mu.Unlock()
	if !strings.Contains("\n"+out, "\nthree\n") {
		t.Errorf("after a write that failed mid-line, printed %q: %q is not on a line of its own", out, "three")
	}
}
