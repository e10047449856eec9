package server

import (
	"context"
	"errors"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
)

// cmdMail answers MAIL FROM (RFC 5321 4.1.1.2).
func (c *conn) cmdMail(arg []byte) *reply.Reply {
	if c.srv.AuthRequired && !c.sm.Authenticated() {
		// RFC 4954 6: 530 5.7.0 until the client authenticates.
		c.countError()
		return c.cfg.canned.authRequired
	}
	from, params, err := envelope.ParseMailCommand(c.argString(0, arg), c.parseOptions(true))
	if err != nil {
		c.countError()
		return envelopeReply(err)
	}
	if params.Auth != "" && !c.sm.Authenticated() {
		// RFC 4954 5: a client that has not authenticated cannot vouch
		// for who submitted the message; the server MUST behave as if
		// AUTH=<> had been given.
		params.Auth = "<>"
	}
	if c.cfg.maxMessage > 0 && params.Size > c.cfg.maxMessage {
		// RFC 1870 6.1: a declared size over the fixed maximum gets 552.
		c.countError()
		return reply.MessageTooBig(c.cfg.maxMessage)
	}
	// RFC 5321 4.5.3.2.2: the client waits 5 minutes for the reply.
	r := c.ask("Mail", c.cfg.canned.senderOK, func(ctx context.Context) error {
		return c.sess.Mail(ctx, from, params)
	})
	if r.Code.IsPositive() {
		c.transacted = true
		c.mailParams = params
		c.rcpts = c.rcpts[:0]
		c.nrcpts, c.overshoot = 0, 0
	}
	c.refused(r)
	return r
}

// cmdRcpt answers RCPT TO (RFC 5321 4.1.1.3).
func (c *conn) cmdRcpt(arg []byte) *reply.Reply {
	to, params, err := envelope.ParseRcptCommand(c.argString(1, arg), c.parseOptions(false))
	if err != nil {
		c.countError()
		r := envelopeReply(err)
		c.recipientEvent(to, r)
		return r
	}
	if c.cfg.maxRcpts > 0 && c.nrcpts >= c.cfg.maxRcpts {
		// RFC 5321 4.5.3.1.10: 452 4.5.3; the client sends the other
		// recipients in a later transaction. A client that goes on past
		// MaxRecipientOvershoot of them is not listening: each further
		// one is an error too (Postfix's smtpd_recipient_overshoot_limit).
		if c.overshoot++; c.cfg.maxOvershoot > 0 && c.overshoot > c.cfg.maxOvershoot {
			c.countError()
		}
		c.recipientEvent(to, c.cfg.canned.tooManyRcpts)
		return c.cfg.canned.tooManyRcpts
	}
	// RFC 5321 4.5.3.2.3: the client waits 5 minutes for the reply.
	r := c.ask("Rcpt", c.cfg.canned.rcptOK, func(ctx context.Context) error {
		return c.sess.Rcpt(ctx, to, params)
	})
	if r.Code.IsPositive() {
		c.nrcpts++
		if c.srv.LMTP {
			// RFC 2033 4.2: one reply per accepted recipient later.
			c.rcpts = append(c.rcpts, to)
		}
	}
	c.refused(r)
	c.recipientEvent(to, r)
	return r
}

// argString returns arg, the argument of a MAIL (i 0) or RCPT (i 1), as a
// string: the paths given to the backend point into it, and it may keep
// them. An argument equal to the last one of its command (one sender for
// every message of a connection, as bulk senders and relays do) is the
// same string again, not a new copy: strings cannot change, so sharing
// one is safe.
func (c *conn) argString(i int, arg []byte) string {
	if c.lastArg[i] == string(arg) {
		return c.lastArg[i]
	}
	s := string(arg)
	c.lastArg[i] = s
	return s
}

// ask runs a backend method with a context carrying CommandTimeout's
// deadline and returns its reply: ok for nil, the backend's own reply
// (positive or not) when it returned a *reply.Reply, else 451.
func (c *conn) ask(method string, ok *reply.Reply, f func(ctx context.Context) error) *reply.Reply {
	ctx := c.begin(c.cfg.commandTimeout)
	err := c.call(method, func() error { return f(ctx) })
	c.stage.end()
	if err == nil {
		return ok
	}
	return c.backendReply(method, err)
}

// envelopeReply is the reply to a MAIL or RCPT argument the envelope
// package refused.
func envelopeReply(err error) *reply.Reply {
	var e *envelope.Error
	if errors.As(err, &e) {
		return e.Reply()
	}
	return reply.ParamSyntax("")
}
