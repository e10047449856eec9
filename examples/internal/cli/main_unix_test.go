//go:build unix

package cli

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestRunUntilSignal sends SIGTERM to the test process itself: the run's
// context ends, and the signal does not kill the process.
func TestRunUntilSignal(t *testing.T) {
	done := errors.New("stopped by the signal")
	err := runUntilSignal(func(ctx context.Context) error {
		if ctx.Err() != nil {
			t.Error("context ended before any signal")
		}
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return done
		case <-time.After(10 * time.Second):
			return errors.New("context not ended by SIGTERM")
		}
	})
	if err != done {
		t.Errorf("run returned %v", err)
	}
	// Without a signal, run's error comes back as it is.
	boom := errors.New("boom")
	if err := runUntilSignal(func(context.Context) error { return boom }); err != boom {
		t.Errorf("run returned %v, want boom", err)
	}
}
