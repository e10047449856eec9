package server

import (
	"crypto/tls"

	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
)

// cmdStartTLS answers STARTTLS and runs the handshake (RFC 3207 4).
func (c *conn) cmdStartTLS(arg []byte) {
	if c.srv.TLSConfig == nil {
		c.countError()
		c.answer(session.STARTTLS, reply.NotImplemented("STARTTLS not offered"))
		return
	}
	if len(arg) > 0 {
		// RFC 3207 4: "STARTTLS" with no parameters; 501 otherwise.
		c.countError()
		c.answer(session.STARTTLS, reply.ParamSyntax("STARTTLS takes no argument"))
		return
	}
	// RFC 3207 5, CVE-2011-0411: bytes the client sent after STARTTLS,
	// before the handshake, were not protected by TLS and must not be
	// taken as commands of the TLS session. They are dropped below with
	// the reader's buffer.
	if c.tr.Buffered() > 0 || len(c.pend) > 0 {
		c.violation("STARTTLS command injection: data pipelined after STARTTLS dropped")
	}
	if c.slab != nil {
		c.srv.slabs.Put(c.slab)
		c.slab, c.pend = nil, nil
	}
	c.answer(session.STARTTLS, reply.ReadyToStartTLS())
	if err := c.flush(); err != nil {
		c.closing = true
		return
	}
	if c.rc != nil {
		// The sweeper may have seen this connection waiting for the
		// command just read, and its interrupt (a read deadline in the
		// past) land in the handshake, which cannot go on after a read
		// error (the raw path's reads take it in their stride). It
		// interrupts under the Server's lock: once that is taken, any
		// sweep that saw the wait is over, and no later one sees it.
		c.srv.mu.Lock()
		c.srv.mu.Unlock()
	}
	tc := tls.Server(c.nc, c.srv.TLSConfig)
	if !c.handshake(tc, c.cfg.commandTimeout) {
		c.closing = true
		c.nc = tc // closed with it
		return
	}
	c.nc = tc
	c.tr.Reset(c)
	c.setRawConn(tc) // TLS: no idle path
	// RFC 3207 4.2: the server forgets what it knew from the client (the
	// EHLO name and any transaction; no AUTH could have come before a
	// STARTTLS, or it is dropped too), and so must the backend, whether a
	// transaction was open or not. The client must send EHLO again.
	c.resetTransaction(true)
}
