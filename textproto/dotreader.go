package textproto

import (
	"bytes"
	"io"
)

// DataLimits bounds the message data read by a DotReader.
type DataLimits struct {
	// MaxSize is the maximum size of the decoded message in octets
	// (RFC 1870 SIZE); 0 means unlimited. When exceeded, the DotReader stops
	// delivering data, reads to the real end and returns a
	// *MessageTooLargeError (reply 552, RFC 5321 4.5.3.1.10).
	MaxSize int64
	// MaxLineLength is the maximum length of a text line in octets
	// including its CRLF; 0 means unlimited. RFC 5321 4.5.3.1.6 sets
	// MaxTextLine (1000) but real mail exceeds it, so the server decides.
	// It counts the line as delivered: the dot removed by unstuffing (RFC
	// 5321 4.5.2, transparency) and a NUL dropped by the policy are not
	// part of it, so a BDAT message of the same content (which the
	// server counts as it delivers it) gets the same answer. When a line
	// crosses MaxLineLength and MaxSize, the limit crossed first in the
	// delivered data is reported.
	MaxLineLength int
	// Policy applies to bare LF, bare CR, NUL and 8-bit bytes in the data;
	// zero fields mean DefaultIntakePolicy.
	Policy Policy
}

// Decoder states.
const (
	stBOL  = iota // at the start of a line
	stLine        // inside a line
	stDone        // terminator consumed
)

// Kinds of line start, for the dot rules.
const (
	bolCRLF = iota // after CRLF or at the start of the data: the only place "." CRLF ends the data
	bolNorm        // after a bare LF or CR taken as a line end (Normalize)
	bolRaw         // after a bare LF or CR passed through (Allow) or refused
)

// terminator is the end of data (RFC 5321 4.1.1.4), the start of the data
// counting as if it followed a CRLF.
const terminator = "\r\n.\r\n"

// DotReader decodes message data sent after DATA (RFC 5321 4.5.2,
// 4.1.1.4). Get one from Reader.DotReader.
//
// It delivers the message with every line ending in CRLF (the CRLF of the
// terminator ends the last line and is part of the message), a stuffed
// leading dot removed. The data ends only at CR LF "." CR LF. A line "."
// next to a bare LF or bare CR ("\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n",
// "\r\n.\r", ...) is not the end; it is what the SMTP smuggling attacks
// (CVE-2023-51764, CVE-2023-51765, CVE-2023-51766) send to hide a second
// message from one receiver and show it to another. Delivering it as a
// line "." would hand the trick to the next hop, so DotReader refuses such
// a message with a *ViolationError of kind FakeEndOfData, whatever the
// policy (as Postfix does for bare-LF-dot).
//
// On any error caused by the data (policy violation, line or size limit)
// it stops delivering data, keeps reading to the real end so that the
// commands pipelined after the data stay readable, and only then returns
// the first such error from Read; later calls return it again. A read
// error of the connection is returned at once (io.ErrUnexpectedEOF if the
// input ends before the terminator). Memory use is constant.
type DotReader struct {
	r     *Reader
	p     Policy
	max   int64 // MaxSize, 0 = none
	maxLn int   // MaxLineLength, 0 = none

	state   uint8
	bol     uint8
	pendLF  bool  // an LF of a CRLF that did not fit in the caller's buffer
	discard bool  // an error occurred: read to the end without delivering
	m       int   // terminator bytes matched while discarding
	lineLen int   // wire bytes of the current line so far
	n       int64 // decoded bytes delivered
	wire    int64 // wire bytes consumed
	err     error // first data error, reported at the end
	seen    uint8
	counts  ViolationCounts
}

// DotReader returns a reader of the message data that follows a 354 reply.
// It must be read until it returns an error (io.EOF at a clean end), or
// drained with Discard, before r is used again. It points into r: calling
// DotReader again reuses it. While it runs, r uses a pooled 32 KiB buffer,
// returned when ReadLine next reads from the source (or at Reset): the
// commands pipelined after the data, and the next message's data, use it
// as they find it.
func (r *Reader) DotReader(l DataLimits) *DotReader {
	r.resetLine()
	r.grow(bigBufSize)
	r.dot = DotReader{r: r, p: l.Policy.intake(), max: l.MaxSize, maxLn: l.MaxLineLength}
	if r.dot.max < 0 {
		r.dot.max = 0
	}
	if r.dot.maxLn < 0 {
		r.dot.maxLn = 0
	}
	return &r.dot
}

// N returns the number of decoded octets delivered so far.
func (d *DotReader) N() int64 { return d.n }

// Violations returns the violations seen in this message, including those
// normalised or allowed. Counting stops at the first error.
func (d *DotReader) Violations() ViolationCounts { return d.counts }

// Discard reads and drops the rest of the data, up to and including the
// terminator, still checking the limits and the policy. It returns nil if
// the data was valid, else the error Read would have returned at the end.
func (d *DotReader) Discard() error {
	if d.state == stDone {
		// Read to the end already (a server drains after every
		// message): no scratch buffer to clear.
		if err := d.final(); err != io.EOF {
			return err
		}
		return nil
	}
	var scratch [scratchSize]byte
	for {
		_, err := d.Read(scratch[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fail records the first data error and switches to discarding.
func (d *DotReader) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	if !d.discard {
		d.discard = true
		// Terminator bytes already matched: at the start of a line
		// that follows a real CRLF, "\r\n" is.
		d.m = 0
		if d.state == stBOL && d.bol == bolCRLF {
			d.m = 2
		}
	}
}

// note counts a violation and applies a to it; it reports whether the
// message is refused.
func (d *DotReader) note(k ViolationKind, a Action, n int) bool {
	d.counts[k] += int64(n)
	if d.seen&(1<<k) == 0 {
		d.seen |= 1 << k
		if d.r.OnViolation != nil {
			d.r.OnViolation(k, a)
		}
	}
	if a == Reject {
		d.fail(&ViolationError{Kind: k, Offset: d.wire})
		return true
	}
	return false
}

func (d *DotReader) consume(n int) {
	d.r.r += n
	d.wire += int64(n)
}

// room returns how many more decoded bytes MaxSize allows, capped at want.
func (d *DotReader) room(want int) int {
	if d.max == 0 {
		return want
	}
	left := d.max - d.n
	if int64(want) > left {
		return int(left)
	}
	return want
}

// end is called once the terminator has been consumed.
func (d *DotReader) end() (int, error) {
	d.state = stDone
	return 0, d.final()
}

func (d *DotReader) final() error {
	if d.err != nil {
		return d.err
	}
	return io.EOF
}

// Read implements io.Reader.
func (d *DotReader) Read(p []byte) (int, error) {
	if d.state == stDone {
		return 0, d.final()
	}
	if d.discard {
		return d.skip()
	}
	r := d.r
	n := 0
	if d.pendLF && len(p) > 0 {
		p[0] = '\n'
		n, d.pendLF = 1, false
	}
	for n < len(p) && !d.discard {
		s := r.buf[r.r:r.w]
		if d.state == stBOL {
			// Up to three bytes decide a line that starts with a dot.
			if len(s) == 0 || (s[0] == '.' && len(s) < 3) {
				if n > 0 {
					return n, nil
				}
				if err := d.fill(); err != nil {
					return 0, err
				}
				continue
			}
			if s[0] == '.' {
				switch {
				case s[1] == '\r' && s[2] == '\n' && d.bol == bolCRLF:
					// RFC 5321 4.1.1.4: CRLF "." CRLF ends the data.
					d.consume(3)
					if n > 0 {
						d.state = stDone
						return n, nil
					}
					return d.end()
				case s[1] == '\r' || s[1] == '\n':
					// A line "." delimited by a bare CR or LF: a fake end.
					d.note(FakeEndOfData, Reject, 1)
					continue
				case d.bol != bolRaw:
					// RFC 5321 4.5.2: the first of the dots of a line
					// starting with one is removed. It is transparency,
					// not text: the line limit (4.5.3.1.6) does not
					// count it.
					d.consume(1)
				}
			}
			d.state = stLine
			continue
		}
		k, need := d.line(s, p[n:])
		n += k
		if need {
			if n > 0 {
				return n, nil
			}
			if err := d.fill(); err != nil {
				return 0, err
			}
		}
	}
	if d.discard && n == 0 {
		return d.skip()
	}
	return n, nil
}

// fill reads more input; at the end of input before the terminator it
// returns io.ErrUnexpectedEOF.
func (d *DotReader) fill() error {
	err := d.r.more()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// line decodes from s, the buffered input inside a line, into dst (not
// empty). It returns the number of bytes written, and need when s is too
// short to decide anything. It consumes input, changes state and records
// errors.
func (d *DotReader) line(s, dst []byte) (int, bool) {
	// Fast path: the run of whole CRLF-terminated lines that need no
	// attention is delivered in one copy; a line starting with "." goes
	// back to Read for the dot rules. The run stays within dst and
	// MaxSize: a line that does not fit is left to slowLine.
	room := min(len(s), len(dst))
	if d.max > 0 {
		room = int(min(int64(room), d.max-d.n))
	}
	w, lineLen := d.bulkLines(s[:room]), d.lineLen
	if w > 0 {
		if w == len(s) || s[w] == '.' {
			d.deliverLines(s[:w], dst)
			d.state = stBOL
			return w, false
		}
		lineLen = 0
	}
	// Line by line, up to the first line that needs attention.
	for {
		t := s[w:room]
		lf := bytes.IndexByte(t, '\n')
		if lf < 1 || t[lf-1] != '\r' {
			break
		}
		text := t[:lf-1]
		if bytes.IndexByte(text, '\r') >= 0 ||
			(d.p.NUL != Allow && bytes.IndexByte(text, 0) >= 0) ||
			(d.p.EightBit != Allow && indexNonASCII(text) >= 0) ||
			(d.maxLn > 0 && lineLen+len(text) > d.maxLn-2) {
			break
		}
		w += lf + 1
		lineLen = 0
		if w == len(s) || s[w] == '.' {
			d.deliverLines(s[:w], dst)
			d.state = stBOL
			return w, false
		}
	}
	if w > 0 {
		d.deliverLines(s[:w], dst)
		s = s[w:]
	}
	if w == len(dst) {
		return w, false
	}
	k, need := d.slowLine(s, dst[w:])
	return w + k, need && w == 0
}

// bulkLines returns the length of the run of whole lines at the start of
// s that need no attention (see crlfLines). Each line is checked against
// MaxLineLength (the first one counting d.lineLen). It returns 0 when the
// run is empty or a check fails: line then goes line by line.
func (d *DotReader) bulkLines(s []byte) int {
	maxText := len(s) // of a line; no limit
	if d.maxLn > 0 {
		maxText = d.maxLn - 2
	}
	return crlfLines(s, maxText-d.lineLen, maxText, d.p.NUL != Allow, d.p.EightBit != Allow)
}

// crlfLines returns the length of the run of whole lines at the start of
// s that need no attention, checked with a few scans of the whole run
// rather than line by line: the run goes from one CR to the next
// (IndexByte), each followed by LF, and ends before the first line that
// starts with a dot (the dot rules) or does not end with CRLF; it holds
// no bare LF if it holds as many LFs as lines, and no NUL (nul) or 8-bit
// byte (eight) when asked. The first line holds at most room octets of
// text, the others maxText. It returns 0 when the run is empty or one of
// these checks fails.
func crlfLines(s []byte, room, maxText int, nul, eight bool) int {
	w, lines := 0, 0
	for {
		t := s[w:]
		cr := bytes.IndexByte(t, '\r')
		if cr < 0 || cr+1 >= len(t) || t[cr+1] != '\n' || cr > room {
			break
		}
		w += cr + 2
		lines++
		room = maxText
		if w < len(s) && s[w] == '.' {
			break
		}
	}
	run := s[:w]
	if w == 0 || bytes.Count(run, lfByte) != lines ||
		(nul && bytes.IndexByte(run, 0) >= 0) ||
		(eight && indexNonASCII(run) >= 0) {
		return 0
	}
	return w
}

var lfByte = []byte{'\n'}

// deliverLines delivers whole lines, the run of line's fast path.
func (d *DotReader) deliverLines(lines, dst []byte) {
	copy(dst, lines)
	d.consume(len(lines))
	d.n += int64(len(lines))
	d.lineLen, d.bol = 0, bolCRLF
}

// slowLine is line without the fast path: it handles one run of plain
// text, or one special byte.
func (d *DotReader) slowLine(s, dst []byte) (int, bool) {
	// Find the first byte that needs attention: LF, CR, and NUL or 8-bit
	// when the policy inspects them.
	lf := bytes.IndexByte(s, '\n')
	run := s
	if lf >= 0 {
		run = s[:lf]
	}
	if cr := bytes.IndexByte(run, '\r'); cr >= 0 {
		run = run[:cr]
	}
	if d.p.NUL != Allow {
		if i := bytes.IndexByte(run, 0); i >= 0 {
			run = run[:i]
		}
	}
	if d.p.EightBit == Reject {
		if i := indexNonASCII(run); i >= 0 {
			run = run[:i]
		}
	}
	if len(run) > 0 {
		// RFC 5321 4.5.3.1.6: the text line limit counts the CRLF. Of
		// the two limits, the one the run crosses first answers; at the
		// same octet, the line limit (as the server counts BDAT).
		if d.maxLn > 0 {
			if left := d.maxLn - 2 - d.lineLen; len(run) > left && (d.max == 0 || int64(left) <= d.max-d.n) {
				d.fail(&LineTooLongError{Limit: d.maxLn})
				return 0, false
			}
		}
		c := min(len(run), len(dst))
		if k := d.room(c); k < c {
			copy(dst, run[:k])
			d.consume(k)
			d.n += int64(k)
			d.fail(&MessageTooLargeError{Limit: d.max})
			return k, false
		}
		if d.p.EightBit == Normalize {
			if k := countNonASCII(run[:c]); k > 0 {
				d.note(EightBit, Normalize, k)
			}
		}
		copy(dst, run[:c])
		d.consume(c)
		d.n += int64(c)
		d.lineLen += c
		return c, false
	}
	if len(s) == 0 {
		return 0, true
	}
	switch s[0] {
	case '\r':
		if len(s) < 2 {
			return 0, true
		}
		if s[1] == '\n' {
			d.consume(2)
			return d.eol(dst, bolCRLF, "\r\n"), false
		}
		// RFC 5321 2.3.8: a bare CR.
		if d.note(BareCR, d.p.BareCR, 1) {
			d.consume(1)
			d.state, d.bol = stBOL, bolRaw
			return 0, false
		}
		d.consume(1)
		if d.p.BareCR == Normalize {
			return d.eol(dst, bolNorm, "\r\n"), false
		}
		return d.eol(dst, bolRaw, "\r"), false
	case '\n':
		// RFC 5321 2.3.8: a bare LF (a CRLF was handled above).
		if d.note(BareLF, d.p.BareLF, 1) {
			d.consume(1)
			d.state, d.bol = stBOL, bolRaw
			return 0, false
		}
		d.consume(1)
		if d.p.BareLF == Normalize {
			return d.eol(dst, bolNorm, "\r\n"), false
		}
		return d.eol(dst, bolRaw, "\n"), false
	case 0:
		if !d.note(NUL, d.p.NUL, 1) {
			// Normalize drops it; the line limit counts what is
			// delivered, so not this.
			d.consume(1)
		}
		return 0, false
	default: // 8-bit under Reject
		d.note(EightBit, Reject, 1)
		return 0, false
	}
}

// eol delivers the line end le (already consumed) and starts a new line.
func (d *DotReader) eol(dst []byte, bol uint8, le string) int {
	d.state, d.bol, d.lineLen = stBOL, bol, 0
	if d.room(len(le)) < len(le) {
		d.fail(&MessageTooLargeError{Limit: d.max})
		return 0
	}
	d.n += int64(len(le))
	c := copy(dst, le)
	if c < len(le) {
		d.pendLF = true // only "\r\n" can be cut, after its CR
	}
	return c
}

// skip reads and drops input up to and including the terminator.
func (d *DotReader) skip() (int, error) {
	r := d.r
	for {
		s := r.buf[r.r:r.w]
		if d.m == 2 {
			// At the start of a line after CRLF: "." CRLF ends the data.
			switch {
			case len(s) >= 3 && s[0] == '.' && s[1] == '\r' && s[2] == '\n':
				d.consume(3)
				return d.end()
			case len(s) >= 3 || !bytes.HasPrefix([]byte(".\r\n"), s):
				d.m = 0
			}
		}
		if d.m == 0 {
			if k := bytes.Index(s, []byte(terminator)); k >= 0 {
				d.consume(k + len(terminator))
				return d.end()
			}
			// Keep what could be the start of a terminator.
			if len(s) >= len(terminator) {
				d.consume(len(s) - (len(terminator) - 1))
			}
		}
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
}
