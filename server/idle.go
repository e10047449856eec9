package server

import (
	"io"
	"net"
	"os"
	"time"

	"github.com/smtpkit/smtp/textproto"
)

// An idle connection (waiting for a command with nothing buffered) holds
// neither its textproto.Reader (about 1.4 KiB with its inline buffer) nor
// a read buffer: the Reader goes back to a per-Server pool, and the
// goroutine waits for the socket to become readable through
// syscall.RawConn, borrowing a buffer only for the read itself. This is
// what keeps an idle connection to one goroutine and a few hundred bytes
// (issue: at most 8 KiB per idle connection after EHLO). It applies to
// plain TCP connections; TLS keeps its own buffers anyway.

// idleSlabSize is the size of the buffer borrowed for the first read after
// an idle wait: one read's worth of commands.
const idleSlabSize = 1024

// setRawConn enables the idle path when nc is a plain TCP connection on
// a platform that has it (rawReadSupported).
func (c *conn) setRawConn(nc net.Conn) {
	c.rc = nil
	if tc, ok := nc.(*net.TCPConn); ok && rawReadSupported {
		if rc, err := tc.SyscallConn(); err == nil {
			c.rc = rc
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

// waitIdle waits for the next command without holding buffers. It
// returns errShutdown if Shutdown interrupts the wait of a session outside
// a transaction, a timeout error after CommandTimeout, or the read error.
// On return (even with an error) c.tr is set again, and the bytes read are
// pending for it.
func (c *conn) waitIdle() error {
	c.putReader()
	defer func() { c.tr = c.getReader() }()
	c.blockTimeout = 0
	c.setDeadline(c.cfg.commandTimeout) // RFC 5321 4.5.3.2.7, for the whole command
	c.deadlineSet = true
	// A session in a transaction (between MAIL and the end of the
	// message) is not idle even while it waits here: Shutdown lets it
	// finish (see Server.Shutdown).
	idle := !c.sm.InTransaction()
	c.idle.Store(idle)
	defer c.idle.Store(false)
	if idle && c.srv.shutdown.Load() {
		return errShutdown
	}
	if c.idleRead == nil {
		c.idleRead = c.readIdle // one allocation per connection, not per wait
	}
	for {
		c.idleErr = nil
		err := c.rc.Read(c.idleRead)
		if err == nil {
			err = c.idleErr
		}
		if err != nil && isTimeout(err) && c.srv.shutdown.Load() &&
			(c.deadline.IsZero() || time.Now().Before(c.deadline)) {
			// Shutdown interrupted the wait.
			if idle {
				return errShutdown
			}
			// It saw the session idle a moment ago: wait on, under the
			// real deadline.
			c.nc.SetReadDeadline(c.deadline)
			continue
		}
		return err
	}
}

// readIdle is the syscall.RawConn read function of waitIdle: it reads
// into a borrowed buffer once the socket is readable.
func (c *conn) readIdle(fd uintptr) bool {
	slab := c.srv.slabs.Get().(*[]byte)
	var n int
	var err error
	for {
		n, err = sysRead(fd, *slab)
		if err != errInterrupted {
			break
		}
	}
	if err == errWouldBlock {
		c.srv.slabs.Put(slab)
		// Nothing to read: answer what we have (RFC 2920 3.1) and wait
		// holding no buffer.
		if ferr := c.flush(); ferr != nil {
			c.idleErr = ferr
			return true
		}
		c.releaseOut()
		return false
	}
	switch {
	case err != nil:
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

// rawRead reads into p through the RawConn, flushing the queued replies
// only if the read would block.
func (c *conn) rawRead(p []byte) (int, error) {
	if c.rawReadFn == nil {
		c.rawReadFn = c.readInto // one allocation per connection
	}
	c.rdBuf, c.rdN, c.rdErr = p, 0, nil
	err := c.rc.Read(c.rawReadFn)
	c.rdBuf = nil
	if err == nil {
		err = c.rdErr
	}
	return c.rdN, err
}

// readInto is the RawConn read function of rawRead.
func (c *conn) readInto(fd uintptr) bool {
	var n int
	var err error
	for {
		n, err = sysRead(fd, c.rdBuf)
		if err != errInterrupted {
			break
		}
	}
	switch {
	case err == errWouldBlock:
		if ferr := c.flush(); ferr != nil {
			c.rdErr = ferr
			return true
		}
		return false
	case err != nil:
		c.rdErr = os.NewSyscallError("read", err)
	case n == 0:
		c.rdErr = io.EOF
	default:
		c.rdN = n
	}
	return true
}

// readPending copies bytes read by waitIdle into p.
func (c *conn) readPending(p []byte) int {
	n := copy(p, c.pend)
	c.pend = c.pend[n:]
	if len(c.pend) == 0 {
		c.srv.slabs.Put(c.slab)
		c.slab, c.pend = nil, nil
	}
	return n
}
