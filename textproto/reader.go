package textproto

import (
	"bytes"
	"errors"
	"io"
)

// errNegativeRead reports an io.Reader breaking its contract.
var errNegativeRead = errors.New("textproto: reader returned negative count")

// Reader reads SMTP command lines, DATA and BDAT from an io.Reader with its
// own buffer. An idle Reader holds only a small inline buffer; see the
// package documentation for the memory strategy.
//
// A Reader is not safe for concurrent use. While a DotReader or ChunkReader
// obtained from it is in progress, do not call ReadLine.
type Reader struct {
	// OnViolation, if not nil, is called once per line (ReadLine) or per
	// message (DotReader) for each kind of violation it holds, with the
	// action taken, so that a caller can log what was rejected, normalised
	// or allowed (allowed NUL and 8-bit bytes are not inspected). Totals
	// are in Violations and DotReader.Violations.
	OnViolation func(kind ViolationKind, action Action)

	rd     io.Reader
	buf    []byte  // small[:] or a borrowed big buffer
	pooled *[]byte // the pool entry behind buf, if any
	r, w   int     // unread data is buf[r:w]
	err    error   // read error to report once buf is exhausted

	// ReadLine state, kept across fills so that a slow sender cannot make
	// us rescan a line (bytes before scan are known to hold no line end).
	scan     int
	skipping bool          // discarding the rest of an over-long line
	seen     uint8         // bit set of ViolationKinds seen in this line
	lineErr  ViolationKind // first rejected violation in this line
	hasErr   bool
	errOff   int
	nuls     int // NULs to drop (Normalize)
	// printable: the line last returned by ReadLine is printable ASCII;
	// special: the line being read holds another byte.
	printable, special bool

	counts ViolationCounts
	dot    DotReader
	chunk  ChunkReader
	small  [smallBufSize]byte
}

// NewReader returns a Reader reading from rd.
func NewReader(rd io.Reader) *Reader {
	r := new(Reader)
	r.Reset(rd)
	return r
}

// Reset discards all state and buffered data and makes r read from rd.
// Use it after STARTTLS (RFC 3207 4.2: the server discards what the client
// sent before the TLS handshake). OnViolation is kept.
func (r *Reader) Reset(rd io.Reader) {
	putBig(r.pooled)
	// Every field but the inline buffer, whose old bytes are never read
	// (only buf[r:w] is): zeroing its kilobyte would cost more than the
	// rest of a command (a server resets a pooled Reader after each wait).
	r.rd, r.buf, r.pooled, r.r, r.w, r.err = rd, r.small[:], nil, 0, 0, nil
	r.resetLine()
	r.lineErr, r.errOff, r.printable = 0, 0, false
	r.counts, r.dot, r.chunk = ViolationCounts{}, DotReader{}, ChunkReader{}
}

// Buffered returns the number of bytes read from the underlying reader but
// not yet consumed. A server checks it after reading STARTTLS: anything
// buffered was sent before the TLS handshake and must not be executed
// (RFC 3207 5; CVE-2011-0411).
func (r *Reader) Buffered() int { return r.w - r.r }

// Idle reports whether r holds nothing of a line: no byte buffered, no
// over-long line whose rest is being skipped, no read error kept. Only
// then can r be replaced by a new Reader (a server gives an idle
// connection's Reader back to a pool) without changing what the next
// ReadLine returns: Buffered alone is 0 in the middle of a skipped line.
func (r *Reader) Idle() bool { return r.r == r.w && !r.skipping && r.err == nil }

// Printable reports whether the line last returned by ReadLine holds
// only printable ASCII (0x20 to 0x7E): a caller that validates command
// lines can skip that line.
func (r *Reader) Printable() bool { return r.printable }

// LineBuffered reports whether a whole line (up to an LF) is buffered, so
// that ReadLine can return it without reading. A server tells with it a
// client that pipelined its next command (RFC 2920) from one that waits
// for the replies with only the start of its next command sent.
func (r *Reader) LineBuffered() bool {
	return bytes.IndexByte(r.buf[r.r:r.w], '\n') >= 0
}

// Violations returns the violations ReadLine has seen since NewReader or
// Reset, including those normalised or allowed.
func (r *Reader) Violations() ViolationCounts { return r.counts }

// more reads at least one byte into the buffer, making room by moving the
// unread bytes to the front. It returns an error only when it added nothing.
func (r *Reader) more() error {
	if r.err != nil {
		err := r.err
		r.err = nil
		return err
	}
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) {
		// Callers grow the buffer before asking for more; this is a guard.
		return io.ErrShortBuffer
	}
	for range maxEmptyReads {
		n, err := r.rd.Read(r.buf[r.w:])
		if n < 0 {
			return errNegativeRead
		}
		r.w += n
		if n > 0 {
			r.err = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// grow switches to a buffer of at least size bytes, keeping unread data.
func (r *Reader) grow(size int) {
	if len(r.buf) >= size {
		return
	}
	nb, p := getBig(size)
	n := copy(nb, r.buf[r.r:r.w])
	putBig(r.pooled)
	r.buf, r.pooled, r.r, r.w = nb, p, 0, n
}

// shrink goes back to the inline buffer if what is unread fits in it.
func (r *Reader) shrink() {
	if len(r.buf) == smallBufSize || r.w-r.r > smallBufSize {
		return
	}
	n := copy(r.small[:], r.buf[r.r:r.w])
	putBig(r.pooled)
	r.buf, r.pooled, r.r, r.w = r.small[:], nil, 0, n
}

func (r *Reader) noteLine(k ViolationKind, a Action) {
	r.counts[k]++
	if r.seen&(1<<k) == 0 {
		r.seen |= 1 << k
		if r.OnViolation != nil {
			r.OnViolation(k, a)
		}
	}
	if a == Reject && !r.hasErr {
		r.hasErr, r.lineErr = true, k
	}
}

// ReadLine reads one line and returns it without its line end. The slice
// points into r's buffer and is valid until the next call on r.
//
// max is the maximum line length in octets including the CRLF; max <= 0
// means MaxCommandLine (RFC 5321 4.5.3.1.4). Use MaxAuthLine for AUTH
// responses (RFC 4954 4). A longer line is read and discarded up to its
// end, then ReadLine returns a *LineTooLongError; the next call reads the
// following line. Memory stays bounded whatever the peer sends.
//
// A line ends with CRLF. Under p (zero fields: DefaultIntakePolicy):
// a bare LF ends the line unless p.BareLF is Allow (then it is part of the
// line); with Reject the line is refused with a *ViolationError. A bare CR
// ends the line only if p.BareCR is Normalize; otherwise it is part of the
// line, and with Reject the line, read up to its real end, is refused.
// NUL and 8-bit bytes are refused (Reject), dropped (NUL, Normalize) or
// kept.
//
// At the end of input ReadLine returns io.EOF if no byte of a line was
// read, io.ErrUnexpectedEOF otherwise. Other read errors are returned as
// they are; the partial line stays buffered, so after a timeout the call
// can be repeated.
func (r *Reader) ReadLine(max int, p Policy) ([]byte, error) {
	if max <= 0 {
		max = MaxCommandLine
	}
	lim := max
	r.printable = false
	p = p.intake()
	for {
		s := r.buf[r.r:r.w]
		if r.scan == 0 && !r.skipping {
			// Fast path: a whole line of printable ASCII within the
			// limit is buffered; nothing in it is for the policy to
			// judge.
			if k := printableLen(s[:min(len(s), lim)]); k+1 < len(s) && s[k] == '\r' && s[k+1] == '\n' && k+2 <= lim {
				r.r += k + 2
				r.printable = true
				return s[:k], nil
			}
		}
		i := r.scan
		for i < len(s) {
			if lim := max - 2; i < lim {
				// Printable bytes within the limit need nothing.
				if i += printableLen(s[i:min(len(s), lim)]); i == len(s) {
					break
				}
			}
			c := s[i]
			if c >= 0x20 && c < 0x7f {
				// RFC 5321 4.5.3.1.4: the line, CRLF included, must fit
				// in max octets.
				if i >= max-2 && !r.skipping {
					r.skipping = true
				}
				i++
				continue
			}
			end, next := -1, 0
			switch {
			case c == '\r':
				if i+1 == len(s) {
					goto need // is it CRLF? wait for the next byte
				}
				if s[i+1] == '\n' {
					end, next = i, i+2
					break
				}
				// RFC 5321 2.3.8: a bare CR is not a line end unless the
				// policy normalises it (and so reports it).
				r.special = true
				if !r.skipping {
					r.noteLine(BareCR, p.BareCR)
				}
				if p.BareCR == Normalize {
					end, next = i, i+1
				}
			case c == '\n':
				// A bare LF: the CR case consumed every CRLF.
				r.special = true
				if !r.skipping {
					r.noteLine(BareLF, p.BareLF)
				}
				if p.BareLF != Allow {
					end, next = i, i+1
				}
			case c == 0:
				r.special = true
				if !r.skipping && p.NUL != Allow {
					r.noteLine(NUL, p.NUL)
					if p.NUL == Normalize {
						r.nuls++
					}
				}
			case c >= 0x80:
				r.special = true
				if !r.skipping && p.EightBit != Allow {
					r.noteLine(EightBit, p.EightBit)
				}
			default:
				r.special = true // another control, or DEL
			}
			if end < 0 {
				if i >= max-2 && !r.skipping {
					r.skipping = true
				}
				i++
				continue
			}
			if end > max-2 {
				r.skipping = true
			}
			return r.endLine(s, end, next, max)
		}
	need:
		r.scan = i
		if r.skipping && i > 0 {
			// Drop what is known to be part of the over-long line.
			r.r += i
			r.scan = 0
		}
		// About to read, maybe to wait: a big buffer borrowed for data
		// or a long line goes back now, not when the data ended, so that
		// pipelined commands after the data, and the next message's
		// data, do not move it back and forth. Also in the middle of a
		// line (scan counts from r.r, which shrink moves with the bytes)
		// or of one being skipped: a client that sends the start of its
		// next command with the end of the data, then waits, must not
		// hold 32 KiB.
		r.shrink()
		if r.r == 0 && r.w == len(r.buf) {
			// Full buffer and no line end: the limit is larger than the
			// buffer (long AUTH lines), since a skipped line never
			// fills the buffer.
			r.grow(max)
			if r.w == len(r.buf) {
				r.grow(len(r.buf) * 2) // cannot happen; guards a livelock
			}
		}
		if err := r.more(); err != nil {
			if err == io.EOF && (r.w > r.r || r.skipping) {
				err = io.ErrUnexpectedEOF
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				r.r, r.w = 0, 0
				r.resetLine()
			}
			return nil, err
		}
	}
}

func (r *Reader) resetLine() {
	r.scan, r.skipping, r.seen, r.hasErr, r.nuls, r.special = 0, false, 0, false, 0, false
}

// endLine consumes a line whose content is s[:end] and next bytes long.
func (r *Reader) endLine(s []byte, end, next, max int) ([]byte, error) {
	line := s[:end]
	r.r += next
	skipping, hasErr, k, nuls, special := r.skipping, r.hasErr, r.lineErr, r.nuls, r.special
	off := 0
	if hasErr {
		off = indexViolation(line, k)
	}
	r.resetLine()
	switch {
	case skipping:
		return nil, &LineTooLongError{Limit: max}
	case hasErr:
		return nil, &ViolationError{Kind: k, Offset: int64(off)}
	case nuls > 0:
		line = dropNUL(line)
	}
	// Known without a look when the scan met no other byte (the usual
	// case); else (a byte the policy let through or dropped, a bare line
	// end) the line is looked at.
	r.printable = !special || printableLen(line) == len(line)
	return line, nil
}

// indexViolation finds the offset of the first violation of kind k in line
// (or the line end for BareLF), for error messages.
func indexViolation(line []byte, k ViolationKind) int {
	switch k {
	case BareCR:
		for i, c := range line {
			if c == '\r' && (i+1 == len(line) || line[i+1] != '\n') {
				return i
			}
		}
	case BareLF:
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			return i
		}
	case NUL:
		if i := bytes.IndexByte(line, 0); i >= 0 {
			return i
		}
	case EightBit:
		if i := indexNonASCII(line); i >= 0 {
			return i
		}
	}
	return len(line)
}

// dropNUL removes NUL bytes from b in place.
func dropNUL(b []byte) []byte {
	j := 0
	for _, c := range b {
		if c != 0 {
			b[j] = c
			j++
		}
	}
	return b[:j]
}
