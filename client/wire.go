package client

import (
	"context"
	"errors"
	"io"

	"github.com/smtpkit/smtp/reply"
)

// replyReader is the client's view of reply.Reader: every reply the client
// reads goes through it, with the bounds of Options.
type replyReader struct {
	rd *reply.Reader
}

func newReplyReader(conn io.Reader, maxLine, maxLines int) *replyReader {
	return &replyReader{rd: reply.NewReader(conn, reply.Limits{MaxLineLength: maxLine, MaxLines: maxLines})}
}

// readReply reads one reply under the deadline already set. A network
// error, a malformed reply or a reply over the limits breaks the
// connection: what follows could not be trusted to be in step.
func (c *Client) readReply(ctx context.Context, cmd string) (*reply.Reply, error) {
	r, err := c.readRaw(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return r.Reply(), nil
}

// readEnd reads the reply to the end of a message (final dot or BDAT
// LAST): a failure here leaves the outcome unknown (RFC 5321 6.1).
func (c *Client) readEnd(ctx context.Context, cmd string) (*reply.Reply, error) {
	r, err := c.readEndRaw(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return r.Reply(), nil
}

// readRaw reads one reply as a view valid until the next read: the hot
// path, which allocates nothing.
func (c *Client) readRaw(ctx context.Context, cmd string) (reply.RawReply, error) {
	r, err := c.r.rd.ReadRaw()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return r, c.broken(ctx, cmd, err)
	}
	if c.opts.Trace != nil {
		c.traceReply(r.Reply())
	}
	c.closing(cmd, r)
	return r, nil
}

// closing makes a 421 reply sticky: RFC 5321 3.8 says the server closes
// the connection after it, so later calls fail at once with that reply (a
// transient error a queue retries) instead of with a broken pipe.
func (c *Client) closing(cmd string, r reply.RawReply) {
	if r.Code == reply.CodeServiceNotAvailable && c.err == nil {
		c.err = newReplyError(cmd, r.Reply())
	}
}

// isClosing reports the sticky 421 *Error that closing records.
func isClosing(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == reply.CodeServiceNotAvailable
}

// readEndRaw is readEnd for the hot path.
func (c *Client) readEndRaw(ctx context.Context, cmd string) (reply.RawReply, error) {
	r, err := c.r.rd.ReadRaw()
	if err != nil {
		return r, c.unknownOutcome(ctx, cmd, err)
	}
	if c.opts.Trace != nil {
		c.traceReply(r.Reply())
	}
	c.closing(cmd, r)
	return r, nil
}

// outWriter is the connection as the Client's textproto.Writer sees it.
// SendBatch holds in it the end of a message's data (the Writer flushes
// the final dot at once), so that the dot and the next message's commands
// leave in one write: a server that answers the dot alone, then the
// commands that come a moment later, has its second reply held back by
// Nagle's algorithm until the client's delayed ACK, tens of milliseconds.
type outWriter struct {
	conn io.Writer // the Client's pacedConn
	held []byte
	hold bool
	// end is how many bytes at the start of held complete a message (its
	// final dot): until they are written, the server cannot have taken
	// it. endLost reports a write that failed before they all left.
	end     int
	endLost bool
}

func (o *outWriter) Write(p []byte) (int, error) {
	if !o.hold && len(o.held) == 0 {
		return o.conn.Write(p)
	}
	o.held = append(o.held, p...)
	if o.hold {
		return len(p), nil
	}
	if err := o.flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes what the Client queued.
func (c *Client) flush() error {
	if err := c.w.Flush(); err != nil {
		return err
	}
	return c.out.flush()
}

// flush writes what is held.
func (o *outWriter) flush() error {
	if len(o.held) == 0 {
		return nil
	}
	n, err := o.conn.Write(o.held)
	if err != nil && n < o.end {
		o.endLost = true
	}
	o.held, o.end = o.held[:0], 0
	return err
}

// trace writes one line sent by the client ('C') to Options.Trace.
func (c *Client) trace(dir byte, line []byte) {
	if c.opts.Trace == nil {
		return
	}
	b := make([]byte, 0, len(line)+5)
	b = append(b, dir, ':', ' ')
	b = append(b, line...)
	b = append(b, '\r', '\n')
	c.opts.Trace.Write(b)
}

// traceReply writes a reply received to Options.Trace.
func (c *Client) traceReply(r *reply.Reply) {
	if c.opts.Trace == nil {
		return
	}
	wire := r.AppendWire(nil, true)
	for len(wire) > 0 {
		i := 0
		for i < len(wire) && wire[i] != '\n' {
			i++
		}
		line := wire[:i]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		c.trace('S', line)
		if i < len(wire) {
			i++
		}
		wire = wire[i:]
	}
}
