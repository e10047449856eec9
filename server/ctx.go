package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrMethodReturned is the cause (context.Cause) of the context given to
// a backend method once that method has returned: a context kept after
// its call is done for good.
var ErrMethodReturned = errors.New("smtp server: the method given this context has returned")

// errConnClosed is the cause of the connection's context once the
// connection has ended.
var errConnClosed = errors.New("smtp server: connection closed")

// stageCtx holds what the backend's contexts of one connection share: the
// server's context and the connection's, made on first use (most
// connections never need one, and each would cost a cancelCtx and an entry
// in the server context's children).
type stageCtx struct {
	base  context.Context // the server's
	clock *time.Time      // the server's clockBase (see now)
	cur   *callCtx        // the context of the call in progress, if any

	mu     sync.Mutex
	conn   context.Context // the connection's, made on first use
	cancel context.CancelCauseFunc
	closed error // the cause, once the connection ended
}

// connContext returns the connection's context, making it on first use.
func (s *stageCtx) connContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		s.conn, s.cancel = context.WithCancelCause(s.base)
		if s.closed != nil {
			s.cancel(s.closed)
		}
	}
	return s.conn
}

// closeConn ends the connection's context with cause.
func (s *stageCtx) closeConn(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == nil {
		s.closed = cause
	}
	if s.cancel != nil {
		s.cancel(cause)
	}
}

// parentCause returns the cause of the end of the connection's context,
// without making it; nil while it goes on.
func (s *stageCtx) parentCause() error {
	s.mu.Lock()
	conn, closed := s.conn, s.closed
	s.mu.Unlock()
	switch {
	case conn != nil:
		return context.Cause(conn)
	case closed != nil:
		return closed
	}
	return context.Cause(s.base)
}

// now returns the current time (see mono).
func (s *stageCtx) now() mono { return mono(time.Since(*s.clock)) }

// at returns m as a time.Time (see mono).
func (s *stageCtx) at(m mono) time.Time { return s.clock.Add(time.Duration(m)) }

// spareCalls and spareData are how many callCtx and dataCall values
// newCall and newData allocate at once.
const (
	spareCalls = 8
	spareData  = 4
)

// newCall returns a callCtx never used before. They are allocated
// spareCalls at a time (held by busy, so not by an idle connection) and
// each is used for one call only, so a context kept past its call stays
// done (a kept one keeps its batch in memory).
func (c *conn) newCall() *callCtx { return takeSpare(&c.busy.spare, spareCalls) }

// newData is newCall for a message: a dataCall never used before.
func (c *conn) newData() *dataCall { return takeSpare(&c.busy.spareData, spareData) }

// takeSpare returns the first of *spare, allocating n more when it is
// empty, and drops it from *spare.
func takeSpare[T any](spare *[]T, n int) *T {
	if len(*spare) == 0 {
		*spare = make([]T, n)
	}
	v := &(*spare)[0]
	*spare = (*spare)[1:]
	return v
}

// begin starts a backend call with the given timeout (0: no deadline) and
// returns its context.
func (c *conn) begin(timeout time.Duration) *callCtx {
	return c.stage.start(c.newCall(), timeout)
}

// start starts a backend call with the given timeout (0: no deadline) and
// the context c, never used before, and returns it.
func (s *stageCtx) start(c *callCtx, timeout time.Duration) *callCtx {
	c.st = s
	if timeout > 0 {
		c.deadline = s.now() + mono(timeout)
	}
	s.cur = c
	return c
}

// end finishes the call in progress: its context is done from now on,
// with the cause ErrMethodReturned.
func (s *stageCtx) end() {
	if c := s.cur; c != nil {
		s.cur = nil
		c.finish()
	}
}

// extend moves the deadline of the call in progress to timeout from now,
// for Data once the end of the message was read (RFC 5321 4.5.3.2.6).
func (s *stageCtx) extend(timeout time.Duration) {
	if c := s.cur; c != nil && timeout > 0 {
		c.extend(timeout)
	}
}

// callCtx is the context given to the backend for one call: it ends when
// the call returns, at the deadline of the RFC 5321 4.5.3.2 stage, or with
// the connection (or the server, at Close), and stays done.
//
// It is a fresh value for every call, so that a context kept past its call
// never comes back to life, but a small one: the child context and timer
// that Done and Value need are made only when a backend asks for them.
// Value (and so context.Cause) answers from that child, a real context of
// the connection's, cancelled with this context's cause.
type callCtx struct {
	st *stageCtx

	// state lets finish end a context no backend looked at without the
	// lock: ctxUntouched until a method of the context.Context interface
	// runs (ctxTouched), ctxFinished once finish ended an untouched one
	// (its cause, ErrMethodReturned, is set by the first look after).
	state atomic.Uint32

	mu       sync.Mutex
	deadline mono      // 0: none
	cause    error     // why it is done; nil while it is not
	watch    *ctxWatch // made by Done or Value
}

// The values of callCtx.state.
const (
	ctxUntouched = iota
	ctxTouched
	ctxFinished
)

// touchLocked marks c touched by the backend, or takes note that finish
// ended it before.
func (c *callCtx) touchLocked() {
	if !c.state.CompareAndSwap(ctxUntouched, ctxTouched) && c.state.Load() == ctxFinished && c.cause == nil {
		c.cause = ErrMethodReturned
	}
}

// ctxWatch is what a callCtx needs once a backend watches it.
type ctxWatch struct {
	child  context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // the deadline; nil without one
}

var _ context.Context = (*callCtx)(nil)

// Deadline implements context.Context. Data's deadline moves once, when
// the end of the message is read (see Session.Data).
func (c *callCtx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	if c.deadline == 0 {
		return time.Time{}, false
	}
	return c.st.at(c.deadline), true
}

// Done implements context.Context.
func (c *callCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	return c.watchLocked().child.Done()
}

// Err implements context.Context.
func (c *callCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	c.checkLocked()
	return errOf(c.cause)
}

// errOf is the context error of a context ended with cause: only a
// deadline makes DeadlineExceeded (the server's context has none).
func errOf(cause error) error {
	switch cause {
	case nil:
		return nil
	case context.DeadlineExceeded:
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// Value implements context.Context.
func (c *callCtx) Value(key any) any {
	c.mu.Lock()
	c.touchLocked()
	child := c.watchLocked().child
	c.mu.Unlock()
	return child.Value(key)
}

// watchLocked makes the child context, done now if c is, and the timer of
// the deadline.
func (c *callCtx) watchLocked() *ctxWatch {
	if c.watch != nil {
		return c.watch
	}
	w := &ctxWatch{}
	w.child, w.cancel = context.WithCancelCause(c.st.connContext())
	c.watch = w
	c.checkLocked()
	if c.cause != nil {
		w.cancel(c.cause)
	} else if c.deadline != 0 {
		w.timer = time.AfterFunc(time.Duration(c.deadline-c.st.now()), c.expire)
	}
	return w
}

// checkLocked ends c if its connection ended or its deadline passed.
func (c *callCtx) checkLocked() {
	if c.cause != nil {
		return
	}
	if cause := c.st.parentCause(); cause != nil {
		c.endLocked(cause)
	} else if c.deadline != 0 && c.st.now() >= c.deadline {
		c.endLocked(context.DeadlineExceeded)
	}
}

// endLocked makes c done with cause.
func (c *callCtx) endLocked(cause error) {
	if c.cause != nil {
		return
	}
	c.cause = cause
	if w := c.watch; w != nil {
		w.cancel(cause)
		if w.timer != nil {
			w.timer.Stop()
		}
	}
}

// expire runs at the deadline.
func (c *callCtx) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.st.now(); c.cause == nil && now < c.deadline {
		// The deadline was moved after the timer was set.
		c.watch.timer.Reset(time.Duration(c.deadline - now))
		return
	}
	c.endLocked(context.DeadlineExceeded)
}

// finish ends the call: done with ErrMethodReturned, unless it was seen
// done already (then that cause stays). A connection or server that ended
// during the call without anyone looking is not asked about: the method
// has returned, which is true either way, and the hot path skips a lock.
func (c *callCtx) finish() {
	if c.state.CompareAndSwap(ctxUntouched, ctxFinished) {
		return // no backend looked: nothing to tell, done for good
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watch != nil {
		c.checkLocked() // the child may have been cancelled by its parent
	}
	c.endLocked(ErrMethodReturned)
}

// extend moves the deadline to timeout from now, unless c is done.
func (c *callCtx) extend(timeout time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.st.now()
	if c.cause == nil && c.watch == nil && (c.deadline == 0 || now < c.deadline) {
		// Nobody watches: the connection's end is seen when someone
		// does (checkLocked), only the deadline needs checking now.
		c.deadline = now + mono(timeout)
		return
	}
	c.checkLocked()
	if c.cause != nil {
		return
	}
	c.deadline = now + mono(timeout)
	if w := c.watch; w != nil && w.timer != nil {
		w.timer.Reset(timeout)
	}
}
