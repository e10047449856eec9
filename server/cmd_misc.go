package server

import (
	"context"

	"github.com/smtpkit/smtp/reply"
)

// cmdRset answers RSET (RFC 5321 4.1.1.5): the transaction is dropped.
func (c *conn) cmdRset(arg []byte) *reply.Reply {
	if len(arg) > 0 {
		// RFC 5321 4.1.1.5: rset = "RSET" CRLF.
		c.countError()
		return reply.ParamSyntax("RSET takes no argument")
	}
	c.resetTransaction(true)
	return c.cfg.canned.ok
}

// cmdQuit answers QUIT (RFC 5321 4.1.1.10): 221, then the server closes.
func (c *conn) cmdQuit(arg []byte) *reply.Reply {
	c.closing = true
	return c.cfg.canned.closing
}

// cmdVrfy answers VRFY (RFC 5321 4.1.1.6, 3.5.3): the backend's answer
// when it implements VerifySession, else 252.
func (c *conn) cmdVrfy(arg []byte) *reply.Reply {
	if c.srv.DisableVRFY {
		return reply.NotImplemented("VRFY disabled")
	}
	if len(arg) == 0 {
		c.countError()
		return reply.ParamSyntax("VRFY needs a user name or mailbox")
	}
	v, ok := c.sess.(VerifySession)
	if !ok {
		// RFC 5321 3.5.3: 252 when the server will not verify.
		return c.cfg.canned.cannotVRFY
	}
	r := c.ask("Verify", c.cfg.canned.cannotVRFY, func(ctx context.Context) error {
		return v.Verify(ctx, string(arg))
	})
	// A refused VRFY is an error, as a refused RCPT is: otherwise VRFY
	// would be the cheaper address-harvesting oracle.
	c.refused(r)
	return r
}

// cmdExpn answers EXPN (RFC 5321 4.1.1.7): mailing lists are not expanded
// for strangers (RFC 5321 7.3 lets a server refuse), so 502.
func (c *conn) cmdExpn(arg []byte) *reply.Reply {
	return reply.NotImplemented("EXPN not available")
}

// cmdHelp answers HELP (RFC 5321 4.1.1.8).
func (c *conn) cmdHelp(arg []byte) *reply.Reply {
	if c.srv.LMTP {
		return reply.Help("Commands: LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
			"See RFC 2033 and RFC 5321")
	}
	return reply.Help("Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
		"See RFC 5321")
}
