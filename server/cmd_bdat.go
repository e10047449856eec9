package server

import (
	"errors"
	"io"
	"time"

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
//
// The limits count what the backend receives, after the policy made bare
// LFs CRLF, as the DotReader does for DATA: the same message gets the same
// answer whichever way it came.
type bdatState struct {
	c         *conn
	filter    textproto.BDATFilter
	binary    bool // BODY=BINARYMIME: taken verbatim (RFC 3030 3)
	cr        *textproto.ChunkReader
	src       io.Reader // cr, or the filter over it
	size      int64     // of the current chunk
	last      bool      // the current chunk is the last
	chunkDone bool      // the current chunk was read to its end
	answered  bool      // the current chunk (not the last) was answered
	n         int64     // octets given to the backend: what MaxMessageBytes counts
	lineLen   int       // text octets of the current line given to the backend
	err       error     // sticky: io.EOF at the end of the message
	pending   []byte    // the command that interrupted the transfer
	spill     []byte    // the unread end of the current chunk, in spillBuf
	spillBuf  [spillSize]byte
}

// spillSize holds what the filter may still have of a chunk once the
// chunk's last octet came in: at most one read's worth of input (textproto
// reads 512 octets at a time), doubled if every octet is a bare LF that
// becomes CRLF. A chunk whose end does not fit is answered on the
// backend's next read instead.
const spillSize = 1024 + 16

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
			c.countError()
			c.answer(session.BDAT, reply.NotImplemented("BDAT not offered"))
		}
		return
	}
	if c.emptyChunk(size, last) {
		return // next answers 421
	}
	if c.bdat == nil {
		c.bdat = &bdatState{}
	}
	b := c.bdat
	b.reset(c)
	c.startData() // RFC 5321 4.5.3.2.5, for the whole message
	b.startChunk(size, last)

	perRcpt, err := c.deliver(b)

	switch {
	case b.err == nil && err == nil:
		// The backend accepted without reading everything: read the
		// rest of the message, chunk by chunk.
		io.Copy(io.Discard, b)
	case b.err == nil:
		// The backend refused. RFC 3030 2: the client must send no more
		// chunks once one was refused; the refusal answers the current
		// chunk, or the next BDAT when this one was answered already.
		if b.answered {
			b.nextChunk()
		}
		if b.err == nil {
			if derr := b.cr.Discard(); derr != nil {
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
		c.endMessage()
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
		c.command(line) // traced when it was read
	case b.err == errBDATSyntax:
		c.closing = true
	case b.err == errTooManyErrors:
		// next answers the command with 421 and closes: one reply.
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

// reset prepares b for a new message of c.
func (b *bdatState) reset(c *conn) {
	b.c = c
	b.filter.Reset(c.srv.Policy)
	b.binary = c.mailParams.Body == envelope.BodyBinaryMIME
	b.n, b.lineLen = 0, 0
	b.err = nil
	b.pending = b.pending[:0]
	b.spill = nil
}

// failMessage answers the current chunk with r and ends the transaction
// (RFC 3030 2: after a failed chunk the transaction is over). In LMTP the
// last chunk gets r once per accepted recipient (RFC 2033 4.3), as the end
// of DATA does. The refusal counts as an error (see answerMessage).
func (c *conn) failMessage(r *reply.Reply) {
	c.sm.Fail(session.BDAT)
	if c.srv.LMTP && c.bdat.last {
		c.answerMessage(nil, r)
	} else {
		c.reply(r)
		c.refused(r)
	}
	c.endMessage()
}

// startChunk sets up the reading of a chunk of size octets.
func (b *bdatState) startChunk(size int64, last bool) {
	c := b.c
	b.size, b.last, b.chunkDone, b.answered = size, last, false, false
	// The data timeout counts across the chunks (see waitChunk): the
	// octets that came with the BDAT line, read in command mode, count
	// as progress now; Read counts the others.
	c.blockTimeout = c.cfg.dataBlockTimeout
	c.countData(int(min(size, int64(c.tr.Buffered()))))
	b.cr = c.tr.ChunkReader(size)
	if b.binary {
		b.src = b.cr
	} else {
		b.src = b.filter.Chunk(b.cr, last)
	}
}

// Read implements io.Reader over the whole chunked message.
func (b *bdatState) Read(p []byte) (int, error) {
	for {
		if len(b.spill) > 0 {
			n := copy(p, b.spill)
			b.spill = b.spill[n:]
			return n, nil
		}
		if b.err != nil {
			return 0, b.err
		}
		if !b.chunkDone {
			n, err := b.readChunk(p)
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		if b.last {
			b.err = io.EOF
			b.c.stage.extend(b.c.cfg.dataTimeout) // RFC 5321 4.5.3.2.6
			continue
		}
		b.nextChunk()
	}
}

// readChunk reads from the current chunk into p, counting what it gives.
// Once the last octet of the chunk has come in, the chunk is answered at
// once rather than on the backend's next read: the client may be waiting
// for that reply.
func (b *bdatState) readChunk(p []byte) (int, error) {
	n, err := b.src.Read(p)
	n = b.count(p[:n])
	switch {
	case b.err != nil:
		return n, nil // the error comes with the next read
	case err == io.EOF:
		b.endChunk()
		return n, nil
	case err != nil:
		b.err = err
		return n, err
	}
	if b.cr.Remaining() == 0 {
		b.finishChunk()
	}
	return n, nil
}

// finishChunk reads what the filter still holds of a chunk whose octets
// have all come in into the spill, so that the chunk is checked against
// the limits and answered now.
func (b *bdatState) finishChunk() {
	buf := b.spillBuf[:0]
	for len(buf) < len(b.spillBuf) {
		n, err := b.src.Read(b.spillBuf[len(buf):])
		buf = buf[:len(buf)+b.count(b.spillBuf[len(buf):len(buf)+n])]
		switch {
		case b.err != nil:
		case err == io.EOF:
			b.endChunk()
		case err != nil:
			b.err = err
		case n > 0:
			continue
		}
		break
	}
	b.spill = buf
}

// endChunk marks the current chunk read, and answers it if it is not the
// last (RFC 3030 2: every chunk but the last is answered on its own).
func (b *bdatState) endChunk() {
	b.chunkDone = true
	if b.last || b.answered {
		return
	}
	b.answered = true
	c := b.c
	c.sm.ApplyBDAT(false)
	c.reply(reply.ChunkReceived(b.size))
	if err := c.flush(); err != nil {
		b.err = err
	}
}

// count checks p, about to be given to the backend, against
// MaxMessageBytes and MaxTextLineLength, as the DotReader does for DATA,
// and returns how much of it may be given. On a violation it skips the
// rest of the chunk and records the error, which the next read returns.
func (b *bdatState) count(p []byte) int {
	c := b.c
	n := len(p)
	var fail error
	if maxLn := c.cfg.maxTextLine; maxLn > 0 && !b.binary {
		// RFC 5321 4.5.3.1.6: the text line limit counts the CRLF.
		for i, x := range p {
			if x == '\r' || x == '\n' {
				b.lineLen = 0
				continue
			}
			if b.lineLen++; b.lineLen > maxLn-2 {
				n, fail = i, &textproto.LineTooLongError{Limit: maxLn}
				break
			}
		}
	}
	if max := c.cfg.maxMessage; max > 0 && b.n+int64(n) > max {
		// RFC 1870 6.1, RFC 5321 4.5.3.1.10.
		n, fail = int(max-b.n), &textproto.MessageTooLargeError{Limit: max}
	}
	b.n += int64(n)
	if fail != nil && b.err == nil {
		b.chunkDone = true
		if err := b.cr.Discard(); err != nil {
			fail = err // the connection failed
		}
		b.err = fail
	}
	return n
}

// nextChunk reads the next command once a chunk was read and answered:
// BDAT continues the message, NOOP is answered, anything else aborts it.
func (b *bdatState) nextChunk() {
	c := b.c
	for {
		line, err := c.waitChunk()
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
			if c.emptyChunk(size, last) {
				b.err = errTooManyErrors
				return
			}
			b.startChunk(size, last)
			return
		case session.NOOP:
			c.junk()
			c.reply(c.cfg.canned.ok)
			if c.tooManyErrors() {
				b.err = errTooManyErrors
				return
			}
		default:
			b.pending = append(b.pending[:0], line...)
			b.err = errBDATAborted
			return
		}
	}
}

// waitChunk reads the command after a chunk. The message is still in
// progress: the wait counts towards DataBlockTimeout as the waits for the
// chunks' octets do (at least dataProgress octets of message data per
// DataBlockTimeout spent waiting), so that a client sending a chunk of a
// few octets now and then cannot hold the connection, and Shutdown, for
// ever (RFC 5321 4.5.3.2.5); it is bounded by CommandTimeout too
// (4.5.3.2.7).
func (c *conn) waitChunk() ([]byte, error) {
	t := c.cfg.dataBlockTimeout
	if t <= 0 {
		return c.readCommand()
	}
	wait := max(t-c.dataWaited, time.Millisecond)
	if ct := c.cfg.commandTimeout; ct > 0 {
		wait = min(wait, ct)
	}
	start := c.srv.clock()
	if c.rc != nil {
		// The raw path arms a command's deadline when a read waits
		// (beginWait): armed now instead, for readCommand to keep.
		c.cmdArmed, c.cmdDeadline = true, start+mono(wait)
	}
	c.setDeadline(wait)
	c.deadlineSet = true
	line, err := c.readCommand()
	c.dataWaited += time.Duration(c.srv.clock() - start)
	return line, err
}

// emptyChunk counts an empty chunk that is not the last as junk: it moves
// no mail, like a NOOP between chunks (RFC 3030 2 allows it, but a client
// sending them for ever would hold the connection, and Shutdown, with a
// transaction open at no cost). It reports whether MaxErrors is reached.
func (c *conn) emptyChunk(size int64, last bool) bool {
	if size == 0 && !last {
		c.junk()
	}
	return c.tooManyErrors()
}

// bdatSyntax answers a malformed BDAT. Where its chunk ends is unknown,
// so the connection cannot stay in step: it is closed.
func (c *conn) bdatSyntax() {
	c.countError()
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
