package client

import (
	"context"
	"errors"
	"io"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
)

// Message is one message of SendBatch: its envelope and its content.
type Message struct {
	Envelope envelope.Envelope
	Body     io.Reader
}

// BatchResult is the outcome of one message of SendBatch: the Result and
// the error that Send would have returned for it.
type BatchResult struct {
	Result Result
	Err    error
}

// SendBatch sends msgs one after the other, as as many calls of Send
// would, and returns one BatchResult per message, in order. The results
// belong to the Client and are overwritten by its next SendBatch; copy
// what you keep.
//
// The difference is the round trips: when the server offers PIPELINING,
// the final dot of a message sent with DATA goes in one write with the
// next message's MAIL, RCPT and DATA (RFC 2920 3.1), so that each message
// costs one round trip instead of two. (With CHUNKING, Send already takes
// one.)
//
// Recipients that a server's limit of recipients per transaction put off
// (452 4.5.3) are StatusDeferred with that reply: SendBatch does not send
// them again (Send does); send Result.Retry of that message.
//
// A failure of one message does not stop the others, but a broken
// connection does: when the connection breaks while the reply to a
// message's final dot is awaited, that message's outcome is unknown (an
// *OutcomeUnknownError) and the later messages get a *NetError: they were
// not delivered. A message whose final dot never left (the context ended
// while the next message was read, before the dot went out with its
// commands) was not delivered either: a *NetError, StatusDeferred.
func (c *Client) SendBatch(ctx context.Context, msgs []Message) []BatchResult {
	if cap(c.batch) < len(msgs) {
		c.batch = make([]BatchResult, len(msgs))
	}
	c.batch = c.batch[:len(msgs)]
	for i := range c.batch {
		b := &c.batch[i]
		res := &b.Result
		res.Code, res.Enhanced, res.text = 0, reply.EnhancedCode{}, res.text[:0]
		res.Recipients = res.Recipients[:0]
		for _, r := range msgs[i].Envelope.To {
			res.Recipients = append(res.Recipients, RecipientResult{Path: r.Path})
		}
		b.Err = nil
	}
	if len(msgs) == 0 {
		return c.batch
	}
	if err := c.ensureHello(ctx, "MAIL"); err != nil {
		for i := range c.batch {
			c.batch[i].Err = err
			setAllErr(c.batch[i].Result.Recipients, err)
		}
		return c.batch
	}
	defer c.unwatch(c.watch(ctx))
	pipe := c.ext.Pipelining && !c.opts.NoPipelining
	c.pend, c.pendRead = c.pend[:0], 0
	var prev *sendState // a message whose end reply is still to be read
	prevIdx := 0
	for i := range msgs {
		s := &c.sts[i%2]
		*s = sendState{lmtp: c.opts.LMTP, res: &c.batch[i].Result}
		c.cur = s
		var err error
		if e := c.usable(); e != nil {
			err = notSent("MAIL", e)
		} else {
			c.deferEnd = pipe && i+1 < len(msgs)
			err = c.send(ctx, &msgs[i].Envelope, msgs[i].Body)
			c.deferEnd = false
		}
		if prev != nil {
			c.batch[prevIdx].Err = c.finishDeferred(ctx, prev)
			prev = nil
		}
		if s.deferred && err == nil {
			prev, prevIdx = s, i
			continue
		}
		c.batch[i].Err = c.finish(s, err)
	}
	if prev != nil {
		c.batch[prevIdx].Err = c.finishDeferred(ctx, prev)
	}
	return c.batch
}

// finishDeferred completes a message whose end reply was left to be read
// with the next message's replies: send read it, unless it stopped before
// sending anything (then it is read now). When it could not be read, the
// final dot may have reached the server: the outcome is unknown. But when
// the dot never left (the context ended before it was written, or its
// write failed), the server cannot have the message: it was not sent.
func (c *Client) finishDeferred(ctx context.Context, s *sendState) error {
	if !s.ended && s.endErr == nil && c.usable() == nil {
		if c.out.end > 0 && ctxDone(ctx, s.lastCmd) != nil {
			// The caller gave up before the end of the message left:
			// keep it unsent. DATA cannot be cancelled but by closing
			// the connection (RFC 5321 4.1.1.4).
			c.out.held, c.out.end, c.out.endLost = c.out.held[:0], 0, true
			c.broken(ctx, s.lastCmd, ctx.Err())
		} else {
			c.drain(ctx, 0)
		}
	}
	if !s.ended && s.endErr == nil && c.out.endLost {
		return c.finish(s, c.usable())
	}
	if !s.ended && s.endErr == nil {
		cause := c.usable()
		var ne *NetError
		if errors.As(cause, &ne) {
			cause = ne.Err
		}
		s.endErr = &OutcomeUnknownError{Command: s.lastCmd, Err: cause}
	}
	return c.finish(s, nil)
}

// notSent turns the failure that left an earlier message's outcome unknown
// into the failure of a message that was not sent.
func notSent(cmd string, err error) error {
	var oe *OutcomeUnknownError
	if errors.As(err, &oe) {
		return &NetError{Command: cmd, Err: oe.Err}
	}
	return err
}
