package server

import (
	"errors"
	"io"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/textproto"
)

var (
	// errBDATAborted: a command other than BDAT or NOOP came between the
	// chunks of a message; it is processed after the message is dropped.
	errBDATAborted = errors.New("smtp server: BDAT transfer aborted by another command")
	// errBDATSyntax: a malformed BDAT command; the end of its chunk is
	// unknown, so the connection is closed.
	errBDATSyntax = errors.New("smtp server: malformed BDAT command")
)

// maxChunkDigits bounds the digits of a chunk size so it fits an int64.
const maxChunkDigits = 18

// parseBDAT parses the argument of BDAT (RFC 3030 2: chunk-size
// [SP "LAST"]).
func parseBDAT(arg []byte) (size int64, last bool, ok bool) {
	i := 0
	for i < len(arg) && arg[i] >= '0' && arg[i] <= '9' {
		if i == maxChunkDigits {
			return 0, false, false
		}
		size = size*10 + int64(arg[i]-'0')
		i++
	}
	if i == 0 {
		return 0, false, false
	}
	rest := arg[i:]
	switch {
	case len(rest) == 0:
		return size, false, true
	case len(rest) == 5 && rest[0] == ' ' && equalFoldASCII(rest[1:], "LAST"):
		return size, true, true
	}
	return 0, false, false
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x := b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if x != s[i] {
			return false
		}
	}
	return true
}

// bdatState is the message stream of a BDAT transfer, given to the
// backend's Data as an io.Reader. When a chunk ends it answers the chunk,
// reads the next BDAT command and goes on, in the connection's goroutine,
// so a chunked message streams like a DATA one (RFC 3030 2).
type bdatState struct {
	c         *conn
	filter    textproto.BDATFilter
	binary    bool // BODY=BINARYMIME: taken verbatim (RFC 3030 3)
	src       io.Reader
	size      int64 // of the current chunk
	last      bool  // the current chunk is the last
	chunkDone bool
	total     int64
	err       error // sticky: io.EOF at the end of the message
	pending   []byte
}

// cmdBDAT answers BDAT (RFC 3030 2): it starts a chunked message, hands it
// to the backend as one stream and answers the chunks and the message.
func (c *conn) cmdBDAT(arg []byte) {
	size, last, ok := parseBDAT(arg)
	if !ok {
		c.bdatSyntax()
		return
	}
	if !c.srv.EnableChunking || !c.sm.Extended() {
		// Not advertised: still skip the octets (RFC 3030 2).
		if c.discardChunk(size) {
			c.errors++
			c.answer(session.BDAT, reply.NotImplemented("BDAT not offered"))
		}
		return
	}
	if c.bdat == nil {
		c.bdat = &bdatState{}
	}
	b := c.bdat
	pending := b.pending[:0]
	b.filter.Reset(c.srv.Policy)
	*b = bdatState{c: c, binary: c.mailParams.Body == envelope.BodyBinaryMIME, pending: pending, filter: b.filter}
	b.startChunk(size, last)

	perRcpt, err := c.deliver(b)

	switch {
	case b.err == nil && err == nil:
		// The backend accepted without reading everything: read the
		// rest of the message, chunk by chunk.
		io.Copy(io.Discard, b)
	case b.err == nil:
		// The backend refused: skip the rest of this chunk and answer
		// it; the client must send no more chunks (RFC 3030 2).
		if !b.chunkDone {
			if _, derr := io.Copy(io.Discard, b.src); derr != nil {
				b.err = derr
			}
		}
		if b.err == nil {
			c.failMessage(c.backendReply("Data", err))
			return
		}
	}
	c.blockTimeout = 0
	switch {
	case b.err == io.EOF:
		c.sm.ApplyBDAT(true)
		c.answerMessage(perRcpt, err)
		c.resetTransaction(true)
	case b.err == errBDATAborted:
		// RFC 3030 2: only BDAT continues a chunked message (NOOP was
		// answered in nextChunk). Any other command ends it: the chunks
		// received are dropped with the transaction before the command
		// runs, so that a later BDAT ... LAST is refused (503) instead
		// of delivering the rest of the message as if it were whole.
		line := b.pending
		c.violation("BDAT message interrupted by another command")
		c.sm.Fail(session.BDAT)
		verb, _ := textproto.SplitCommand(line)
		if session.ParseCommand(verb) != session.RSET {
			c.resetTransaction(true) // RSET does it itself
		}
		if c.srv.Trace != nil {
			c.traceCommand(line, false)
		}
		c.command(line)
	case b.err == errBDATSyntax:
		c.closing = true
	case b.err == errTooManyErrors:
		c.closeTooManyErrors()
	default:
		if r := c.dataViolation(b.err); r != nil {
			c.failMessage(r)
			return
		}
		if isTimeout(b.err) && !c.closing {
			// Not yet answered (a timeout between chunks was, by
			// readFailed).
			c.reply(c.cfg.canned.timeout)
		}
		c.closing = true
	}
}

// failMessage answers the current chunk with r and ends the transaction
// (RFC 3030 2: after a failed chunk the transaction is over).
func (c *conn) failMessage(r *reply.Reply) {
	c.sm.Fail(session.BDAT)
	c.reply(r)
	c.resetTransaction(true)
}

// startChunk sets up the reading of a chunk of size octets. Past the
// message size limit it skips the chunk and fails the stream with a
// *textproto.MessageTooLargeError.
func (b *bdatState) startChunk(size int64, last bool) bool {
	c := b.c
	b.size, b.last, b.chunkDone = size, last, false
	c.startData() // RFC 5321 4.5.3.2.5
	cr := c.tr.ChunkReader(size)
	b.total += size
	if max := c.cfg.maxMessage; max > 0 && (b.total > max || b.total < 0) {
		if err := cr.Discard(); err != nil {
			b.err = err
			return false
		}
		b.chunkDone = true
		b.err = &textproto.MessageTooLargeError{Limit: max}
		return false
	}
	if b.binary {
		b.src = cr
	} else {
		b.src = b.filter.Chunk(cr, last)
	}
	return true
}

// Read implements io.Reader over the whole chunked message.
func (b *bdatState) Read(p []byte) (int, error) {
	for b.err == nil {
		if !b.chunkDone {
			n, err := b.src.Read(p)
			switch {
			case err == io.EOF:
				b.chunkDone = true
			case err != nil:
				b.err = err
				return n, err
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		if b.last {
			b.err = io.EOF
			b.c.stage.extend(b.c.cfg.dataTimeout) // RFC 5321 4.5.3.2.6
			break
		}
		b.nextChunk()
	}
	return 0, b.err
}

// nextChunk answers the chunk just read and reads the next command: BDAT
// continues the message, NOOP is answered, anything else aborts it.
func (b *bdatState) nextChunk() {
	c := b.c
	// RFC 3030 2: every chunk but the last is answered on its own.
	c.sm.ApplyBDAT(false)
	c.reply(reply.ChunkReceived(b.size))
	for {
		line, err := c.readCommand()
		if err != nil {
			goesOn := c.readFailed(err)
			switch {
			case goesOn && !c.tooManyErrors():
				continue
			case goesOn:
				err = errTooManyErrors
			case errors.Is(err, io.EOF):
				// The client left before BDAT ... LAST: only the end of
				// the last chunk ends the message (RFC 3030 2), and
				// io.EOF from this stream would tell the backend the
				// message is complete.
				err = io.ErrUnexpectedEOF
			}
			b.err = err
			return
		}
		if c.srv.Trace != nil {
			c.traceCommand(line, false)
		}
		verb, arg := textproto.SplitCommand(line)
		cmd := session.ParseCommand(verb)
		c.cmd, c.verb = cmd, cmd.String()
		switch cmd {
		case session.BDAT:
			size, last, ok := parseBDAT(arg)
			if !ok {
				c.bdatSyntax()
				b.err = errBDATSyntax
				return
			}
			b.startChunk(size, last)
			return
		case session.NOOP:
			c.reply(c.cfg.canned.ok)
		default:
			b.pending = append(b.pending[:0], line...)
			b.err = errBDATAborted
			return
		}
	}
}

// bdatSyntax answers a malformed BDAT. Where its chunk ends is unknown,
// so the connection cannot stay in step: it is closed.
func (c *conn) bdatSyntax() {
	c.errors++
	c.reply(reply.ParamSyntax("Malformed BDAT command; closing connection"))
	c.closing = true
}

// discardChunk skips size octets of a BDAT chunk that is refused. It
// reports whether the session goes on.
func (c *conn) discardChunk(size int64) bool {
	c.startData()
	err := c.tr.ChunkReader(size).Discard()
	c.blockTimeout = 0
	if err != nil {
		c.closing = true
		if isTimeout(err) {
			c.reply(c.cfg.canned.timeout)
		}
		return false
	}
	return true
}

// skipChunk is discardChunk for the argument of a BDAT refused by the
// state machine.
func (c *conn) skipChunk(arg []byte) bool {
	size, _, ok := parseBDAT(arg)
	if !ok {
		c.bdatSyntax()
		return false
	}
	return c.discardChunk(size)
}
