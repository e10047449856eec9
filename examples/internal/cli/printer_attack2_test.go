package cli

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// waitParkedIn waits until a goroutine whose stack holds fn is parked
// on a mutex.
func waitParkedIn(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, g := range goroutineStacks() {
			if strings.Contains(g, fn) && strings.Contains(g, "sync.(*Mutex).Lock") && strings.Contains(g, "[sync.Mutex.Lock") {
				return
			}
		}
		runtime.Gosched()
	}
	t.Fatalf("no goroutine parked in %s", fn)
}

// With an output that takes everything, a line that finds PrinterMaxBuffer
// bytes waiting while a Flush has taken wmu but not yet the buffer (it
// waits for mu, which Line holds) is dropped: no write is under way, the
// Flush was about to take the batch, yet Line's TryLock fails and the
// line is thrown away ("1 lines not printed") though stdout works.
func TestAttackPrinterDropsWithNoWriteUnderWay(t *testing.T) {
	w := &e2e.Buffer{}
	p := NewPrinter(w, nil)
	p.Line(bytes.Repeat([]byte("x"), PrinterMaxBuffer))
	p.timer.Stop() // only the Flush below runs

	p.mu.Lock()
	lineDone := make(chan struct{})
	go func() {
		p.Line([]byte("the stored message's line"))
		close(lineDone)
	}()
	waitParkedIn(t, "(*Printer).Line")
	flushDone := make(chan struct{})
	go func() {
		p.Flush()
		close(flushDone)
	}()
	waitParkedIn(t, "(*Printer).Flush")
	p.mu.Unlock()
	<-lineDone
	<-flushDone
	p.Flush()

	out := w.String()
	if !strings.Contains(out, "the stored message's line\n") {
		t.Errorf("line dropped although the output takes everything and no write was under way; tail: %q", out[len(out)-min(len(out), 80):])
	}
}
