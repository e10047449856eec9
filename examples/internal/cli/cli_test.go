package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

func TestUsers(t *testing.T) {
	u, err := ParseUsers([]string{"alice:pw", "bob:a:b:c"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{{"alice", "pw", true}, {"bob", "a:b:c", true}, {"alice", "PW", false}, {"carol", "pw", false}, {"alice", "", false}} {
		if u.Check(tc.user, tc.pass) != tc.ok {
			t.Errorf("Check(%q, %q) = %v", tc.user, tc.pass, !tc.ok)
		}
	}
	for _, tc := range []struct {
		identity, user, pass string
		ok                   bool
	}{{"", "alice", "pw", true}, {"alice", "alice", "pw", true}, {"bob", "alice", "pw", false}, {"", "alice", "PW", false}, {"alice", "bob", "a:b:c", false}} {
		if u.Authenticate(tc.identity, tc.user, tc.pass) != tc.ok {
			t.Errorf("Authenticate(%q, %q, %q) = %v", tc.identity, tc.user, tc.pass, !tc.ok)
		}
	}
	for _, bad := range []string{"alice", ":pw", ""} {
		if _, err := ParseUsers([]string{bad}); err == nil {
			t.Errorf("ParseUsers(%q) accepted", bad)
		}
	}
}

func TestStrings(t *testing.T) {
	var s Strings
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&s, "to", "")
	if err := fs.Parse([]string{"-to", "a", "-to", "b"}); err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s.String() != "a,b" {
		t.Errorf("got %v", s)
	}
}

func TestLoadKeyPair(t *testing.T) {
	if c, err := LoadKeyPair("", ""); c != nil || err != nil {
		t.Errorf("no files: %v %v", c, err)
	}
	if _, err := LoadKeyPair("a", ""); err == nil {
		t.Error("cert without key accepted")
	}
	if _, err := LoadKeyPair("/nonexistent", "/nonexistent"); err == nil {
		t.Error("missing files accepted")
	}
}

func TestPrinter(t *testing.T) {
	var out e2e.Buffer
	p := NewPrinter(&out, nil)
	p.Line([]byte("one"))
	p.Line([]byte("two"))
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "one\ntwo\n" {
		if time.Now().After(deadline) {
			t.Fatalf("lines not flushed: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Line([]byte("three"))
	p.Flush()
	if out.String() != "one\ntwo\nthree\n" {
		t.Errorf("after Flush: %q", out.String())
	}
}

func TestParseRoute(t *testing.T) {
	tests := []struct {
		in, domain, addr string
		bad              bool
	}{
		{in: "Example.ORG=127.0.0.1:25", domain: "example.org", addr: "127.0.0.1:25"},
		{in: "example.org.=[::1]:2525", domain: "example.org", addr: "[::1]:2525"},
		{in: "bücher.example=127.0.0.1:25", domain: "xn--bcher-kva.example", addr: "127.0.0.1:25"},
		{in: "XN--BCHER-KVA.example=127.0.0.1:25", domain: "xn--bcher-kva.example", addr: "127.0.0.1:25"},
		{in: "*=smarthost:587", domain: "*", addr: "smarthost:587"},
		{in: "example.org", bad: true},
		{in: "=127.0.0.1:25", bad: true},
		{in: "example.org=127.0.0.1", bad: true},
		{in: "x\u2488y.example=127.0.0.1:25", bad: true}, // not a valid U-label
		// Domain names are case-insensitive: capitals in a route are
		// lower-cased first; full-width letters are not mapped.
		{in: "BÜCHER.example=127.0.0.1:25", domain: "xn--bcher-kva.example", addr: "127.0.0.1:25"},
		{in: "ｅｘａｍｐｌｅ.com=127.0.0.1:25", bad: true},
	}
	for _, tc := range tests {
		dom, addr, err := ParseRoute(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseRoute(%q) = %q, %q; want an error", tc.in, dom, addr)
			}
			continue
		}
		if err != nil || dom != tc.domain || addr != tc.addr {
			t.Errorf("ParseRoute(%q) = %q, %q, %v; want %q, %q", tc.in, dom, addr, err, tc.domain, tc.addr)
		}
	}
}

// countingWriter records each Write; gate, when set, holds every Write
// until it is closed.
type countingWriter struct {
	mu     sync.Mutex
	writes int
	b      bytes.Buffer
	gate   chan struct{}
	inside chan struct{} // a Write has started
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.gate != nil {
		select {
		case w.inside <- struct{}{}:
		default:
		}
		<-w.gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.b.Write(p)
}

func (w *countingWriter) state() (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes, w.b.String()
}

// A burst of lines is one write when the delay passes, not one per
// buffer's worth: each write of a busy server is a system call that can
// cost it its P (F37 in docs/perf-findings.md).
func TestPrinterBurstIsOneWrite(t *testing.T) {
	w := &countingWriter{}
	p := NewPrinter(w, nil)
	line := bytes.Repeat([]byte("x"), 99)
	const n = 2000 // 200 KB, twelve times the old buffer
	for range n {
		p.Line(line)
	}
	// The timer may fire while the burst runs on a loaded machine: a
	// write or two then, not twelve.
	if writes, _ := w.state(); writes > 2 {
		t.Errorf("%d writes during a burst of %d lines, want at most 2", writes, n)
	}
	p.Flush()
	writes, out := w.state()
	if writes > 3 {
		t.Errorf("%d writes for the burst, want at most 3", writes)
	}
	if want := strings.Repeat(string(line)+"\n", n); out != want {
		t.Errorf("printed %d bytes, want %d", len(out), len(want))
	}
}

// The buffer is bounded: past PrinterMaxBuffer the lines are handed to a
// write without waiting for the delay.
func TestPrinterBufferBounded(t *testing.T) {
	w := &countingWriter{}
	p := NewPrinter(w, nil)
	line := bytes.Repeat([]byte("y"), 1023)
	const n = PrinterMaxBuffer/1024 + 10
	for range n {
		p.Line(line)
	}
	p.mu.Lock()
	held := len(p.buf)
	p.mu.Unlock()
	if held >= PrinterMaxBuffer {
		t.Errorf("%d bytes held past PrinterMaxBuffer (%d)", held, PrinterMaxBuffer)
	}
	p.Flush()
	if _, out := w.state(); len(out) != n*1024 {
		t.Errorf("%d bytes written, want %d", len(out), n*1024)
	}
}

// Lines that find the buffer full behind a stuck write are dropped, not
// waited for, and the next write says how many.
func TestPrinterDropsAndCounts(t *testing.T) {
	w := &countingWriter{gate: make(chan struct{}), inside: make(chan struct{}, 1)}
	p := NewPrinter(w, nil)
	p.Line([]byte("first"))
	go p.Flush()
	<-w.inside // the write of "first" is stuck
	line := bytes.Repeat([]byte("z"), 1023)
	const fit, extra = PrinterMaxBuffer / 1024, 50
	done := make(chan struct{})
	go func() {
		for range fit + extra {
			p.Line(line)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		close(w.gate)
		t.Fatal("Line waited for a stuck write")
	}
	close(w.gate)
	p.Flush()
	_, out := w.state()
	printed := strings.Count(out, string(line)+"\n")
	if printed != fit {
		t.Errorf("%d lines printed, want %d", printed, fit)
	}
	if want := fmt.Sprintf("(%d lines not printed: the output did not take them)\n", extra); !strings.HasSuffix(out, want) {
		t.Errorf("output ends %q, want %q", out[max(0, len(out)-80):], want)
	}
}

// failingWriter fails the writes it is told to, after taking part of them.
type failingWriter struct {
	mu   sync.Mutex
	b    bytes.Buffer
	fail bool
	part int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		n := min(w.part, len(p))
		w.b.Write(p[:n])
		return n, syscall.EPIPE
	}
	return w.b.Write(p)
}

// Lines of failed writes are counted, the log hears of the first failure
// of a run once, and the count goes out with the next write that does.
func TestPrinterFailedWritesCounted(t *testing.T) {
	w := &failingWriter{fail: true, part: len("a1\na")}
	var logged e2e.Buffer
	p := NewPrinter(w, slog.New(slog.NewTextHandler(&logged, nil)))
	p.Line([]byte("a1"))
	p.Line([]byte("a2"))
	p.Line([]byte("a3"))
	p.Flush() // "a1\na" written: a2 torn, a2 and a3 lost
	w.mu.Lock()
	w.part = 0
	w.mu.Unlock()
	p.Line([]byte("b1"))
	p.Flush() // nothing written: b1 lost, and the note of 2 with it
	w.mu.Lock()
	w.fail = false
	w.mu.Unlock()
	p.Line([]byte("c1"))
	p.Flush()
	w.mu.Lock()
	out := w.b.String()
	w.mu.Unlock()
	if want := "a1\na\nc1\n(3 lines not printed: the output did not take them)\n"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	if n := strings.Count(logged.String(), "printing lines failed"); n != 1 {
		t.Errorf("%d warnings for one run of failures, want 1: %q", n, logged.String())
	}
}

// FlushContext gives up on an output that takes nothing.
func TestPrinterFlushContext(t *testing.T) {
	w := &countingWriter{gate: make(chan struct{}), inside: make(chan struct{}, 1)}
	defer close(w.gate)
	p := NewPrinter(w, nil)
	p.Line([]byte("one"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.FlushContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FlushContext = %v, want the context's deadline", err)
	}
}

// A line printed while a write is under way does not wait for it (a
// slow terminal must not stall the connections that print), and lines
// come out in order.
func TestPrinterLineDoesNotWaitForWrite(t *testing.T) {
	w := &countingWriter{gate: make(chan struct{}), inside: make(chan struct{}, 1)}
	p := NewPrinter(w, nil)
	p.Line([]byte("one"))
	flushed := make(chan struct{})
	go func() {
		p.Flush()
		close(flushed)
	}()
	<-w.inside // the write of "one" is held
	printed := make(chan struct{})
	go func() {
		p.Line([]byte("two"))
		close(printed)
	}()
	select {
	case <-printed:
	case <-time.After(5 * time.Second):
		close(w.gate)
		t.Fatal("Line waited for the write under way")
	}
	close(w.gate)
	<-flushed
	p.Flush()
	if _, out := w.state(); out != "one\ntwo\n" {
		t.Errorf("printed %q", out)
	}
}
