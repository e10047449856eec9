package smtptest_test

import (
	"fmt"
	"runtime"
	"sync"
)

// fakeTB is a smtptest.TB that records failures, so that tests can check
// what the kit reports. Fatalf ends the goroutine run started.
type fakeTB struct {
	mu       sync.Mutex
	errors   []string
	fatal    string
	logs     []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	f.cleanups = append(f.cleanups, fn)
	f.mu.Unlock()
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal != "" || len(f.errors) > 0
}

// run calls fn in its own goroutine, as a test body, then the cleanups.
func (f *fakeTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	f.mu.Lock()
	cs := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// failures returns every failure reported.
func (f *fakeTB) failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]string(nil), f.errors...)
	if f.fatal != "" {
		out = append(out, f.fatal)
	}
	return out
}
