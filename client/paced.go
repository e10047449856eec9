package client

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// pacedConn is the connection as the Client reads replies from it and
// writes commands and data to it. The deadlines the Client sets for each
// step (RFC 5321 4.5.3.2: 5 minutes for MAIL and RCPT, 2 for the 354, 3
// for a block of data, 10 for the final reply, or the context's deadline
// when earlier) are the logical ones. On a plain TCP connection the
// socket's deadline is moved only when a step's deadline is earlier than
// it: a later one is left alone, and if the socket's deadline passes
// first, the read or write goes on under the step's (moved then). Moving a
// socket deadline costs a runtime timer update, and a transaction goes
// through five deadlines: paced, a connection sending one message after
// another sets almost none. A cancelled context still aborts at once (its
// past deadline is never extended). A TLS connection has its deadlines set
// as asked: crypto/tls cannot go on after a write timed out.
type pacedConn struct {
	conn net.Conn
	tcp  bool // plain TCP: paced

	rd, wd     time.Time // the logical deadlines
	rset, wset time.Time // the socket's, as set last by setRead and setWrite

	// aborted: a cancelled context set a past deadline (see
	// Client.cancelled); set from the cancellation callback too.
	aborted atomic.Bool
}

// reset makes p the view of conn, with its deadlines unknown.
func (p *pacedConn) reset(conn net.Conn) {
	_, tcp := conn.(*net.TCPConn)
	p.conn, p.tcp = conn, tcp
	p.rd, p.wd, p.rset, p.wset = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	p.aborted.Store(false)
}

// setRead sets the logical read deadline t.
func (p *pacedConn) setRead(t time.Time) {
	p.rd = t
	if !p.tcp || p.rset.IsZero() || t.Before(p.rset) {
		p.rset = t
		p.conn.SetReadDeadline(t)
	}
}

// setWrite sets the logical write deadline t.
func (p *pacedConn) setWrite(t time.Time) {
	p.wd = t
	if !p.tcp || p.wset.IsZero() || t.Before(p.wset) {
		p.wset = t
		p.conn.SetWriteDeadline(t)
	}
}

// exact sets the socket's deadlines to the logical ones, before the
// connection is used other than through p (the TLS handshake).
func (p *pacedConn) exact() {
	p.rset, p.wset = p.rd, p.wd
	p.conn.SetReadDeadline(p.rd)
	p.conn.SetWriteDeadline(p.wd)
}

// abort sets a past deadline: blocked I/O fails now, and is not extended.
func (p *pacedConn) abort() {
	p.aborted.Store(true)
	p.conn.SetDeadline(aLongTimeAgo)
}

// live ends an abort: a new call, with a live context, sets its deadlines.
func (p *pacedConn) live() {
	if p.aborted.Load() {
		p.aborted.Store(false)
	}
}

// early reports whether err is the socket's deadline passing before the
// logical deadline t: a paced deadline to move on.
func (p *pacedConn) early(err error, t time.Time) bool {
	return p.tcp && errors.Is(err, os.ErrDeadlineExceeded) && !p.aborted.Load() && time.Now().Before(t)
}

func (p *pacedConn) Read(b []byte) (int, error) {
	for {
		n, err := p.conn.Read(b)
		if err == nil || n > 0 || !p.early(err, p.rd) {
			return n, err
		}
		p.rset = p.rd
		p.conn.SetReadDeadline(p.rd)
	}
}

func (p *pacedConn) Write(b []byte) (int, error) {
	n := 0
	for {
		k, err := p.conn.Write(b[n:])
		n += k
		if err == nil || !p.early(err, p.wd) {
			return n, err
		}
		p.wset = p.wd
		p.conn.SetWriteDeadline(p.wd)
	}
}
