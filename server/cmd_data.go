package server

import (
	"errors"
	"io"
	"sync"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/textproto"
)

// cmdData answers DATA, receives the message and answers it (RFC 5321
// 4.1.1.4).
func (c *conn) cmdData(arg []byte) {
	if len(arg) > 0 {
		// RFC 5321 4.1.1.4: DATA takes no argument.
		c.countError()
		c.answer(session.DATA, reply.ParamSyntax("DATA takes no argument"))
		return
	}
	if c.mailParams.Body == envelope.BodyBinaryMIME {
		// RFC 3030 3: a BINARYMIME message can only be sent with BDAT.
		c.countError()
		c.answer(session.DATA, reply.BadSequence("BODY=BINARYMIME requires BDAT"))
		return
	}
	c.answer(session.DATA, c.cfg.canned.startData)
	// The client waits for the 354 (RFC 5321 4.5.3.2.4: 2 minutes; DATA
	// ends a pipelined group, RFC 2920 3.1): send it now, not when the
	// backend first reads. A client that sent its message without
	// waiting is not waiting for it: it goes with the final reply.
	if !c.inputBuffered() {
		if err := c.flush(); err != nil {
			c.closing = true
			return
		}
	}

	dr := c.tr.DotReader(textproto.DataLimits{
		MaxSize:       c.cfg.maxMessage,
		MaxLineLength: c.cfg.maxTextLine,
		Policy:        c.srv.Policy,
	})
	c.startData() // RFC 5321 4.5.3.2.5
	c.body = dataBody{c: c, r: dr}
	perRcpt, err := c.deliver(&c.body)
	// Read to the real end before answering, whatever the backend did.
	derr := dr.Discard()
	c.blockTimeout = 0
	c.sm.EndMessage()
	if derr != nil {
		if v := c.dataViolation(derr); v != nil {
			err, perRcpt = v, nil
		} else {
			// The connection failed: nothing is acknowledged.
			c.closing = true
			if isTimeout(derr) {
				c.reply(c.cfg.canned.timeout)
			}
			return
		}
	}
	c.answerMessage(perRcpt, err)
	c.endMessage()
}

// endMessage ends the transaction after the reply to its message: the
// reply goes out before the backend's Reset runs, unless more commands
// are waiting (then it goes with their replies, RFC 2920 3.1).
func (c *conn) endMessage() {
	if !c.inputBuffered() {
		if err := c.flush(); err != nil {
			c.closing = true
		}
	}
	c.resetTransaction(true)
}

// dataBody is the io.Reader given to Data: the message stream, which moves
// the deadline of the backend's context to DataTimeout after the end of
// the data once the end was read (RFC 5321 4.5.3.2.6).
type dataBody struct {
	c   *conn
	r   io.Reader
	eof bool
}

func (b *dataBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && !b.eof {
		b.eof = true
		b.c.stage.extend(b.c.cfg.dataTimeout)
	}
	return n, err
}

// deliver hands the message to the backend: LMTPData in LMTP mode when the
// session has it, else Data.
func (c *conn) deliver(src io.Reader) (perRcpt []error, err error) {
	d := c.newData()
	d.body.src = src
	ctx := c.stage.start(&d.ctx, c.cfg.dataTimeout)
	body := &d.body
	if ls, ok := c.sess.(LMTPSession); ok && c.srv.LMTP {
		err = c.call("LMTPData", func() error {
			var err error
			perRcpt, err = ls.LMTPData(ctx, body)
			return err
		})
	} else {
		err = c.call("Data", func() error { return c.sess.Data(ctx, body) })
	}
	body.close()
	c.stage.end()
	return perRcpt, err
}

// dataCall is what the backend gets for one call: its context and, for a
// message, the message reader (see conn.newData).
type dataCall struct {
	ctx  callCtx
	body msgReader
}

// errReaderClosed is what a message reader returns once Data has
// returned.
var errReaderClosed = errors.New("smtp server: message reader used after Data returned")

// msgReader is the io.Reader given to Data for one message. It reads the
// message from the connection until Data returns, then fails for good, so
// that a reader kept past Data can never read the commands or the message
// that come next. The lock only matters to a backend that breaks the rule
// and reads from another goroutine after Data returned: close waits for
// that read instead of racing with the connection's own.
type msgReader struct {
	mu  sync.Mutex
	src io.Reader // nil once Data returned
}

func (r *msgReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.src == nil {
		return 0, errReaderClosed
	}
	return r.src.Read(p)
}

// close ends the reader.
func (r *msgReader) close() {
	r.mu.Lock()
	r.src = nil
	r.mu.Unlock()
}

// dataViolation returns the reply for an error of the data stream that
// leaves the session in step (the reader went to the real end), or nil
// for a network failure.
func (c *conn) dataViolation(err error) *reply.Reply {
	var tooBig *textproto.MessageTooLargeError
	var tooLong *textproto.LineTooLongError
	var viol *textproto.ViolationError
	switch {
	case errors.As(err, &tooBig):
		// RFC 1870 6.1, RFC 5321 4.5.3.1.10: 552 after draining.
		c.violation("message too large")
		return reply.MessageTooBig(tooBig.Limit)
	case errors.As(err, &tooLong):
		// RFC 5321 4.5.3.1.10.
		c.violation("text line too long")
		return c.cfg.canned.lineTooLong
	case errors.As(err, &viol):
		// RFC 5321 2.3.8, 4.1.1.4: bare CR, bare LF under a strict
		// policy, NUL, or a fake end of data (SMTP smuggling).
		c.violation(viol.Kind.String() + " in message data")
		return reply.New(reply.CodeTransactionFailed, reply.EnhMediaError(),
			"Message refused: "+viol.Kind.String())
	}
	return nil
}

// answerMessage sends the reply (or, in LMTP, the replies) to the end of a
// message. err is the backend's error or a stream violation reply;
// perRcpt the LMTP statuses.
//
// A message refused for every recipient counts as an error, as a refused
// RCPT does (see refused): a client looping on messages the server or the
// backend refuses (smuggling attempts, oversized or spam messages) meets
// MaxErrors; one accepted for a recipient starts the count again.
func (c *conn) answerMessage(perRcpt []error, err error) {
	r := c.messageReply("Data", err)
	if !c.srv.LMTP {
		if r.Code.IsPositive() {
			c.forgive()
		}
		c.reply(r)
		c.refused(r)
		return
	}
	// RFC 2033 4.2, 4.3: one reply per accepted recipient, in order.
	var refusal *reply.Reply // the first refusal
	delivered := false
	for i, to := range c.rcpts {
		ri := r
		if err == nil && perRcpt != nil {
			if i < len(perRcpt) {
				ri = c.messageReply("LMTPData", perRcpt[i])
			} else {
				ri = c.cfg.canned.localError
			}
		}
		if ri.Code.IsPositive() {
			c.forgive()
			delivered = true
		} else if refusal == nil {
			refusal = ri
		}
		c.reply(ri)
		c.recipientEvent(to, ri)
	}
	if !delivered && refusal != nil {
		c.refused(refusal)
	}
}

// messageReply is the reply to a message given the backend's error.
func (c *conn) messageReply(method string, err error) *reply.Reply {
	if err == nil {
		return c.cfg.canned.queued
	}
	return c.backendReply(method, err)
}

// resetTransaction forgets the transaction and tells the backend (always
// when force is set, else only if a transaction was open).
func (c *conn) resetTransaction(force bool) {
	open := c.sm.InTransaction()
	c.mailParams = envelope.MailParams{}
	c.rcpts = c.rcpts[:0]
	c.nrcpts, c.overshoot = 0, 0
	if (force || open) && c.sess != nil {
		ctx := c.begin(c.cfg.commandTimeout)
		c.call("Reset", func() error { c.sess.Reset(ctx); return nil })
		c.stage.end()
	}
}
