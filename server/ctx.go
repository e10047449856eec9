package server

import (
	"context"
	"sync"
	"time"
)

// stageCtx is the context given to the backend for one command: the
// connection's context with the deadline of the RFC 5321 4.5.3.2 stage.
//
// One stageCtx lives in each connection and is reused for every call, and
// its Done channel and timer are made only when a backend asks for Done,
// so a backend that never looks costs nothing: context.WithDeadline per
// command would cost several allocations and a timer on the hot path.
// end closes Done (if made) when the call returns.
type stageCtx struct {
	base context.Context // the server's context

	mu       sync.Mutex
	conn     context.Context // the connection's, made on first use
	cancel   context.CancelFunc
	closed   bool      // the connection ended
	deadline time.Time // zero: none
	gen      uint64    // call number, to ignore stale timers
	done     chan struct{}
	err      error
	timer    *time.Timer
	stop     func() bool // stops the parent's AfterFunc
}

var _ context.Context = (*stageCtx)(nil)

// connContext returns the connection's context, making it on first use:
// most connections never need one, and each would cost a cancelCtx and an
// entry in the server context's children.
func (s *stageCtx) connContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connContextLocked()
}

func (s *stageCtx) connContextLocked() context.Context {
	if s.conn == nil {
		s.conn, s.cancel = context.WithCancel(s.base)
		if s.closed {
			s.cancel()
		}
	}
	return s.conn
}

// closeConn ends the connection's context.
func (s *stageCtx) closeConn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
}

// parentErr is the error of the connection's context, without making it.
func (s *stageCtx) parentErrLocked() error {
	if s.conn != nil {
		return s.conn.Err()
	}
	if s.closed {
		return context.Canceled
	}
	return s.base.Err()
}

// begin starts a call with the given timeout (0: no deadline).
func (s *stageCtx) begin(timeout time.Duration) {
	s.mu.Lock()
	s.gen++
	s.done = nil
	s.err = nil
	if timeout > 0 {
		s.deadline = time.Now().Add(timeout)
	} else {
		s.deadline = time.Time{}
	}
	s.mu.Unlock()
}

// extend moves the deadline to timeout from now, for Data once the end of
// the message was read.
func (s *stageCtx) extend(timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.deadline = time.Now().Add(timeout)
	if s.timer != nil && s.done != nil {
		s.timer.Reset(time.Until(s.deadline))
	}
}

// end finishes a call: Done is closed and Err is Canceled from now on.
func (s *stageCtx) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelLocked(context.Canceled)
}

func (s *stageCtx) cancelLocked(err error) {
	if s.err != nil {
		return
	}
	s.err = err
	if s.done != nil {
		close(s.done)
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// Deadline implements context.Context.
func (s *stageCtx) Deadline() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline, !s.deadline.IsZero()
}

// Done implements context.Context; the channel is made on first use.
func (s *stageCtx) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return s.done
	}
	s.done = make(chan struct{})
	if s.err == nil {
		s.err = s.parentErrLocked()
		if s.err == nil && !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
			s.err = context.DeadlineExceeded
		}
	}
	if s.err != nil {
		close(s.done)
		return s.done
	}
	gen := s.gen
	if !s.deadline.IsZero() {
		fire := func() { s.expire(gen, context.DeadlineExceeded) }
		if s.timer == nil {
			s.timer = time.AfterFunc(time.Until(s.deadline), fire)
		} else {
			// A timer left from an earlier call: replace it, since its
			// function holds the old call number.
			s.timer.Stop()
			s.timer = time.AfterFunc(time.Until(s.deadline), fire)
		}
	}
	parent := s.connContextLocked()
	s.stop = context.AfterFunc(parent, func() { s.expire(gen, context.Cause(parent)) })
	return s.done
}

func (s *stageCtx) expire(gen uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if err == context.DeadlineExceeded && !s.deadline.IsZero() && time.Now().Before(s.deadline) {
		// The deadline was extended after the timer was set.
		s.timer.Reset(time.Until(s.deadline))
		return
	}
	if err == nil {
		err = context.Canceled
	}
	s.cancelLocked(err)
}

// Err implements context.Context.
func (s *stageCtx) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if err := s.parentErrLocked(); err != nil {
		return err
	}
	if !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Value implements context.Context.
func (s *stageCtx) Value(key any) any { return s.base.Value(key) }
