package server

import (
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/smtpkit/smtp/textproto"
)

// The I/O of a plain TCP connection (on platforms with rawReadSupported)
// goes through syscall.RawConn, which tells the server when a read or a
// write would block:
//
//   - The queued replies are flushed only when a read would block (so one
//     write answers a whole pipelined batch, RFC 2920 3.1).
//   - Deadlines (RFC 5321 4.5.3.2) are armed only then, once per wait:
//     a read or write that does not block needs none, so a busy connection
//     reads no clock and moves no timer for them. A deadline armed for an
//     earlier wait that passed while the connection was busy is noticed
//     (the read fails before it starts) and cleared.
//   - A connection waiting for a command outside a transaction is handed
//     off: its goroutine gives its textproto.Reader and reply buffer back
//     to the Server's pools and ends, and a new goroutine, whose stack is
//     the smallest there is, waits for the socket to become readable,
//     borrowing a buffer only for the read, then serves on. This keeps an
//     idle connection to a few KiB (issue: at most 5 KiB per idle
//     connection after EHLO). A connection that has not started a
//     transaction yet is handed off at once (a client that holds
//     connections open, or a pool); one that has, after handOffTicks
//     sweeps of the Server's sweeper found it waiting, so that a busy
//     connection keeps its buffers between commands.
//
// TLS connections read and write through crypto/tls, which cannot say
// whether it would block: they set their deadlines before each read and
// keep their buffers.

// idleSlabSize is the size of the buffer borrowed for the first read after
// a handed-off wait: one read's worth of commands.
const idleSlabSize = 1024

// sweepInterval is how often the sweeper looks for connections waiting for
// a command; handOffTicks sweeps in a row that find one waiting (so
// between handOffTicks-1 and handOffTicks intervals) hand it off. A
// handed-off connection waiting in its own goroutine goes to the watcher
// at the next sweep.
const (
	sweepInterval = 25 * time.Millisecond
	handOffTicks  = 4
)

// errHandOff ends the command loop of a goroutine whose connection is
// handed off to a new goroutine (see idleWait).
var errHandOff = errors.New("smtp server: idle connection handed off")

// setRawConn enables the raw I/O path when nc is a plain TCP connection on
// a platform that has it (rawReadSupported).
func (c *conn) setRawConn(nc net.Conn) {
	c.rc = nil
	if tc, ok := nc.(*net.TCPConn); ok && rawReadSupported {
		if rc, err := tc.SyscallConn(); err == nil {
			c.rc = rc
			c.fd = socketFD(rc)
			if c.readFn == nil {
				// One allocation each per connection, not per call.
				c.readFn, c.writeFn, c.idleRead = c.readInto, c.writeFrom, c.readIdle
			}
		}
	}
}

// getReader takes a Reader from the pool, reading from c.
func (c *conn) getReader() *textproto.Reader {
	if r, ok := c.srv.readers.Get().(*textproto.Reader); ok {
		r.Reset(c)
		return r
	}
	return textproto.NewReader(c)
}

// putReader gives c.tr back to the pool.
func (c *conn) putReader() {
	if c.tr == nil {
		return
	}
	c.tr.Reset(nil)
	c.srv.readers.Put(c.tr)
	c.tr = nil
}

// rawRead reads into p through the RawConn (see readInto), arming the
// read deadline only if the read waits. It returns errShutdown when
// Shutdown interrupts the wait for a command outside a transaction, and
// errHandOff when the connection is to be handed off.
func (c *conn) rawRead(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // read(2) of nothing returns 0, which readInto takes for EOF
	}
	for {
		idle := c.idle.Load()
		if idle && c.srv.shutdown.Load() {
			return 0, errShutdown
		}
		c.rdBuf, c.rdN, c.rdErr, c.rdCalled = p, 0, nil, false
		err := c.rc.Read(c.readFn)
		c.rdBuf = nil
		if c.waiting.Load() {
			c.endWait() // the wait ended without another call of readInto
		}
		if err == nil {
			err = c.rdErr
		}
		n := c.rdN
		if c.blockTimeout > 0 {
			c.countData(n)
		}
		if err == nil || !isTimeout(err) {
			return n, err
		}
		if !c.rdCalled {
			// The read did not start: a deadline armed for an earlier
			// wait passed while the connection was busy, or Shutdown or
			// the sweeper set one in the past after the wait had ended.
			if c.blockTimeout == 0 && c.cmdArmed {
				// Still the same command: its deadline stands (RFC
				// 5321 4.5.3.2.7).
				if c.cmdDeadline != 0 && c.srv.clock() >= c.cmdDeadline {
					return n, err
				}
				c.setReadDeadline(c.cmdDeadline)
				continue
			}
			// The wait to come arms its own.
			c.clearReadDeadline()
			continue
		}
		if !c.interrupted() {
			if c.extendCommand() {
				continue
			}
			return n, err // the deadline of this wait passed
		}
		// Shutdown or the sweeper interrupted the wait.
		switch {
		case idle && c.srv.shutdown.Load():
			return 0, errShutdown
		case c.cmdWait.Load() && c.tr.Idle():
			return 0, errHandOff
		}
		// Busy, or in the middle of a line: wait on under the real
		// deadline.
		c.restoreReadDeadline()
	}
}

// extendCommand moves the socket's deadline to the command's when it
// passed before (see beginWait) and reports whether it did.
func (c *conn) extendCommand() bool {
	if c.blockTimeout > 0 || c.cmdDeadline == 0 || c.srv.clock() >= c.cmdDeadline {
		return false
	}
	c.setReadDeadline(c.cmdDeadline)
	return true
}

// interrupted reports whether a timeout came before the deadline armed by
// the connection: Shutdown or the sweeper moved it.
func (c *conn) interrupted() bool {
	return c.deadline == 0 || c.srv.clock() < c.deadline
}

// clearReadDeadline removes the read deadline.
func (c *conn) clearReadDeadline() {
	c.cmdArmed = false
	c.setReadDeadline(0)
}

// readInto is the RawConn read function of rawRead.
func (c *conn) readInto(fd uintptr) bool {
	c.rdCalled = true
	if c.waiting.Load() {
		c.endWait()
	}
	var n int
	var err errno
	for {
		n, err = sysRead(fd, c.rdBuf)
		if err != errInterrupted {
			break
		}
	}
	switch {
	case err == errWouldBlock:
		// Nothing to read: answer what we have (RFC 2920 3.1), then
		// wait.
		if ferr := c.flush(); ferr != nil {
			c.rdErr = ferr
			return true
		}
		c.beginWait()
		if c.cmdWait.Load() && !c.transacted && c.tr.Idle() {
			// A connection that has not started a transaction: hand it
			// off at once (see the top of this file).
			c.rdErr = errHandOff
			return true
		}
		return false
	case err != 0:
		c.rdErr = os.NewSyscallError("read", err)
	case n == 0:
		c.rdErr = io.EOF
	default:
		c.rdN = n
	}
	return true
}

// beginWait arms the read deadline of the wait that starts (RFC 5321
// 4.5.3.2): in command mode the command's, once for the whole command
// (4.5.3.2.7), in data mode the block's, less the time already waited
// without progress (4.5.3.2.5). It marks the connection waiting for the
// sweeper.
func (c *conn) beginWait() {
	now := c.srv.clock()
	// The first wait of a command (or a wait for data): the sweeper may
	// interrupt it. A later wait of the same command follows an interrupt
	// that could not hand the connection off (the start of the command is
	// buffered) or a byte of it: interrupted once, it is not again until
	// the command is read, or a client trickling a command would have its
	// connection woken every handOffTicks sweeps for nothing.
	newWait := c.blockTimeout > 0 || !c.cmdArmed
	if t := c.blockTimeout; t > 0 {
		c.waitStart = now
		c.armRead(now, max(t-c.dataWaited, time.Millisecond))
	} else if !c.cmdArmed {
		// The command's deadline (4.5.3.2.7), but armed on the socket no
		// further than a data block's: a connection going from commands
		// to message data and back then rarely moves its socket's
		// deadline (see deadlineSlack), and one that waits longer than a
		// data block for a command gets its deadline moved then
		// (extendCommand).
		c.cmdArmed = true
		c.cmdDeadline = 0
		t := c.cfg.commandTimeout
		if t > 0 {
			c.cmdDeadline = now + mono(t)
		}
		if b := c.cfg.dataBlockTimeout; b > 0 && b < t {
			t = b
		}
		c.armRead(now, t)
	}
	// Stored only if changed: a load costs less than a store.
	if newWait && c.kicked.Load() {
		c.kicked.Store(false)
	}
	if e := c.srv.epoch.Load(); c.waitEpoch.Load() != e {
		c.waitEpoch.Store(e)
	}
	c.waiting.Store(true)
	if c.cmdWait.Load() && !c.srv.sweeping.Load() {
		c.srv.startSweeper()
	}
}

// endWait ends the wait begun by beginWait, counting the time waited in
// data mode.
func (c *conn) endWait() {
	c.waiting.Store(false)
	if c.blockTimeout > 0 && c.waitStart != 0 {
		c.dataWaited += time.Duration(c.srv.clock() - c.waitStart)
		c.waitStart = 0
	}
}

// countData counts n bytes of message data read (see Read and
// dataProgress).
func (c *conn) countData(n int) {
	if c.dataProgress += n; c.dataProgress >= dataProgress {
		c.dataWaited, c.dataProgress = 0, 0
	}
}

// armRead sets the read deadline t after now (none for t <= 0), with the
// slack of moveDeadline.
func (c *conn) armRead(now mono, t time.Duration) {
	if t <= 0 {
		if c.deadline != 0 {
			c.setReadDeadline(0)
		}
		return
	}
	if d, ok := moveDeadline(now, c.deadline, t); ok {
		c.setReadDeadline(d)
	}
}

// rawWrite writes b through the RawConn (see writeFrom), arming the write
// deadline only if the write waits. It returns the octets written.
func (c *conn) rawWrite(b []byte) (int, error) {
	for {
		c.wrBuf, c.wrErr, c.wrCalled = b, nil, false
		err := c.rc.Write(c.writeFn)
		n := len(b) - len(c.wrBuf)
		c.wrBuf = nil
		if err == nil {
			err = c.wrErr
		}
		if err != nil && isTimeout(err) && !c.wrCalled {
			// A write deadline armed for an earlier wait passed.
			c.setWriteDeadlineAt(0)
			continue
		}
		return n, err
	}
}

// writeFrom is the RawConn write function of rawWrite.
func (c *conn) writeFrom(fd uintptr) bool {
	c.wrCalled = true
	for len(c.wrBuf) > 0 {
		n, err := sysWrite(fd, c.wrBuf)
		switch {
		case err == errInterrupted:
			continue
		case err == errWouldBlock:
			// The client does not read: wait, for CommandTimeout at
			// most (RFC 5321 4.5.3.2.7).
			if t := c.cfg.commandTimeout; t > 0 {
				if d, ok := moveDeadline(c.srv.clock(), c.wdeadline, t); ok {
					c.setWriteDeadlineAt(d)
				}
			}
			return false
		case err != 0:
			c.wrErr = os.NewSyscallError("write", err)
			return true
		}
		c.wrBuf = c.wrBuf[n:]
	}
	return true
}

// handOff gives the connection's buffers back and starts the goroutine
// that waits for its next command (idleWait); the caller's goroutine then
// ends without finishing the connection.
func (c *conn) handOff() {
	c.srv.handOffs.Add(1)
	c.putReader()
	c.releaseOut()
	c.putBusy()
	// The sweeper may have moved the deadline: the command's stands.
	c.restoreReadDeadline()
	go c.idleWait()
}

// park hands the connection to the Server's watcher, if it has one: no
// goroutine serves it until the watcher, its timer, Shutdown or Close
// starts one (unpark). It reports false if the connection stays with the
// caller.
func (c *conn) park() bool {
	if !parkSupported || c.srv.watch(c) != nil {
		return false
	}
	if c.srv.shutdown.Load() {
		c.interruptIdle() // Shutdown may have looked before it was parked
	}
	return true
}

// unpark starts the goroutine of a parked connection, with err (if not
// nil) as what its next read returns; it does nothing if the connection
// is not parked (any more).
func (c *conn) unpark(err error) {
	if !c.parked.CompareAndSwap(true, false) {
		return
	}
	if t := c.parkTimer; t != nil {
		t.Stop()
		c.parkTimer = nil
	}
	go c.resume(err)
}

// parkTimeout runs at the command's deadline of a parked connection: its
// next read times out (RFC 5321 4.5.3.2.7).
func (c *conn) parkTimeout() {
	c.srv.unwatchConn(c)
	c.unpark(os.ErrDeadlineExceeded)
}

// resume serves a connection that was parked.
func (c *conn) resume(err error) {
	c.getBusy()
	c.tr = c.getReader()
	if err != nil {
		c.pendErr = err
	}
	c.restoreReadDeadline() // the sweeper may have moved it
	c.deadlineSet = true    // the command's, armed before the hand-off
	c.kicked.Store(false)   // parked by the sweeper: it may interrupt once more
	c.run(false)
}

// idleWait waits for the next command of a handed-off connection, then
// serves it on in this goroutine. Its stack stays at the starting size
// while it waits: the call chain down to the runtime's park is short.
func (c *conn) idleWait() {
	err := c.waitIdle()
	for err == errPark {
		// Idle for a while: the watcher waits, not this goroutine.
		if c.park() {
			return
		}
		c.restoreReadDeadline()
		err = c.waitIdle()
	}
	c.getBusy()
	c.tr = c.getReader()
	if err != nil {
		c.pendErr = err // after the bytes read, if any (see Read)
	}
	c.deadlineSet = true // the command's, armed before the hand-off
	c.run(false)
}

// waitIdle waits for the next command without holding buffers, and reads
// what came into a borrowed buffer (pending for c.tr). It returns
// errShutdown if Shutdown interrupts the wait, a timeout error after the
// command's deadline, or the read error.
func (c *conn) waitIdle() error {
	c.idle.Store(true)
	defer c.idle.Store(false)
	if c.srv.shutdown.Load() {
		return errShutdown
	}
	// The sweeper sees this wait too: after a while it moves the
	// connection to the watcher (errPark).
	c.kicked.Store(false)
	c.waitEpoch.Store(c.srv.epoch.Load() - (handOffTicks - 1)) // parked at the next sweep
	c.cmdWait.Store(true)
	c.waiting.Store(true)
	defer func() {
		c.waiting.Store(false)
		c.cmdWait.Store(false)
	}()
	if parkSupported {
		c.srv.startSweeper()
	}
	for {
		c.idleErr = nil
		err := c.rc.Read(c.idleRead)
		if err == nil {
			err = c.idleErr
		}
		if err != nil && isTimeout(err) && c.interrupted() {
			switch {
			case c.srv.shutdown.Load():
				return errShutdown
			case parkSupported && c.kicked.Load():
				return errPark
			}
			// An interrupt meant for an earlier wait: wait on.
			c.restoreReadDeadline()
			continue
		}
		if err != nil && isTimeout(err) && c.extendCommand() {
			continue
		}
		return err
	}
}

// errPark ends the wait of a handed-off connection that the sweeper found
// waiting for a while: it goes to the watcher.
var errPark = errors.New("smtp server: idle connection parked")

// readIdle is the RawConn read function of waitIdle: it reads into a
// borrowed buffer once the socket is readable.
func (c *conn) readIdle(fd uintptr) bool {
	slab := c.srv.slabs.Get().(*[]byte)
	var n int
	var err errno
	for {
		n, err = sysRead(fd, *slab)
		if err != errInterrupted {
			break
		}
	}
	switch {
	case err == errWouldBlock:
		c.srv.slabs.Put(slab)
		return false
	case err != 0:
		c.idleErr = os.NewSyscallError("read", err)
		c.srv.slabs.Put(slab)
	case n == 0:
		c.idleErr = io.EOF
		c.srv.slabs.Put(slab)
	default:
		c.slab = slab
		c.pend = (*slab)[:n]
	}
	return true
}

// readPending copies bytes read by waitIdle (or pauseReading) into p.
func (c *conn) readPending(p []byte) int {
	n := copy(p, c.pend)
	c.pend = c.pend[n:]
	if len(c.pend) == 0 {
		c.srv.slabs.Put(c.slab)
		c.slab, c.pend = nil, nil
	}
	return n
}

// startSweeper starts the sweeper unless it runs.
func (s *Server) startSweeper() {
	if !s.sweeping.Load() && s.sweeping.CompareAndSwap(false, true) {
		go s.sweep()
	}
}

// sweep interrupts, every sweepInterval, the waits for a command of the
// connections found waiting handOffTicks times in a row, so that they
// hand themselves off (see the top of this file). It ends when no
// connection waits, or with the server.
func (s *Server) sweep() {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.baseCtx.Done():
			s.sweeping.Store(false)
			return
		}
		if s.sweepOnce() == 0 {
			// Stop, unless a connection began to wait meanwhile and
			// found the sweeper running.
			s.sweeping.Store(false)
			if s.sweepOnce() == 0 || !s.sweeping.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// sweepOnce advances the epoch and interrupts the waits begun
// handOffTicks epochs ago or more; it returns the number of connections
// waiting for a command.
func (s *Server) sweepOnce() int {
	e := s.epoch.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if !c.waiting.Load() || !c.cmdWait.Load() {
			continue
		}
		n++
		if e-c.waitEpoch.Load() >= handOffTicks && !c.kicked.Load() {
			c.kicked.Store(true)
			s.kicks.Add(1)
			c.raw.SetReadDeadline(time.Unix(1, 0))
		}
	}
	return n
}
