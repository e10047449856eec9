package textproto

import (
	"bytes"
	"errors"
	"io"
)

// ErrClosed is returned by a DotWriter used after Close.
var ErrClosed = errors.New("textproto: write to closed DotWriter")

// Writer is a buffered writer for SMTP output: a pipelining peer (RFC 2920)
// queues several lines and flushes once. An idle Writer holds only a small
// inline buffer; a DotWriter borrows a 32 KiB pooled buffer until Close.
//
// After a write error, every later call returns that error until Reset.
// A Writer is not safe for concurrent use.
type Writer struct {
	wr     io.Writer
	buf    []byte  // small[:] or a pooled big buffer
	pooled *[]byte // the pool entry behind buf, if any
	n      int     // buffered bytes: buf[:n]
	err    error
	dot    DotWriter
	small  [smallBufSize]byte
}

// NewWriter returns a Writer writing to wr.
func NewWriter(wr io.Writer) *Writer {
	w := new(Writer)
	w.Reset(wr)
	return w
}

// Reset discards buffered data and any error and makes w write to wr (for
// example the TLS connection after STARTTLS).
func (w *Writer) Reset(wr io.Writer) {
	putBig(w.pooled)
	w.wr, w.buf, w.pooled, w.n, w.err, w.dot = wr, w.small[:], nil, 0, nil, DotWriter{}
}

// Buffered returns the number of bytes written but not yet flushed.
func (w *Writer) Buffered() int { return w.n }

// Flush writes the buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.n == 0 {
		return nil
	}
	k, err := w.wr.Write(w.buf[:w.n])
	if k < w.n && err == nil {
		err = io.ErrShortWrite
	}
	if err != nil {
		if k > 0 && k < w.n {
			copy(w.buf, w.buf[k:w.n])
		}
		w.n -= k
		w.err = err
		return err
	}
	w.n = 0
	return nil
}

// Write implements io.Writer; data is buffered, and a write larger than
// the buffer goes straight through when nothing is buffered.
func (w *Writer) Write(p []byte) (int, error) {
	nn := 0
	for len(p) > len(w.buf)-w.n && w.err == nil {
		var k int
		if w.n == 0 {
			k, w.err = w.wr.Write(p)
			if k < len(p) && w.err == nil {
				w.err = io.ErrShortWrite
			}
		} else {
			k = copy(w.buf[w.n:], p)
			w.n += k
			w.Flush()
		}
		nn += k
		p = p[k:]
	}
	if w.err != nil {
		return nn, w.err
	}
	k := copy(w.buf[w.n:], p)
	w.n += k
	return nn + k, nil
}

// WriteString is Write for a string; it does not allocate.
func (w *Writer) WriteString(s string) (int, error) {
	nn := 0
	for len(s) > len(w.buf)-w.n && w.err == nil {
		k := copy(w.buf[w.n:], s)
		w.n += k
		nn += k
		s = s[k:]
		w.Flush()
	}
	if w.err != nil {
		return nn, w.err
	}
	k := copy(w.buf[w.n:], s)
	w.n += k
	return nn + k, nil
}

// WriteLine writes s followed by CRLF, buffered. s must not hold CR, LF or
// NUL (RFC 5321 2.3.8: a line ends only with CRLF): such a line is refused
// with a *ViolationError and nothing is written, so a value taken from a
// user (an address, a parameter) cannot inject a command.
func (w *Writer) WriteLine(s string) error {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			return &ViolationError{Kind: BareCR, Offset: int64(i)}
		case '\n':
			return &ViolationError{Kind: BareLF, Offset: int64(i)}
		case 0:
			return &ViolationError{Kind: NUL, Offset: int64(i)}
		}
	}
	w.WriteString(s)
	_, err := w.WriteString("\r\n")
	return err
}

// grow switches to a pooled big buffer, keeping buffered data.
func (w *Writer) grow() {
	if len(w.buf) >= bigBufSize {
		return
	}
	nb, p := getBig(bigBufSize)
	w.n = copy(nb, w.buf[:w.n])
	w.buf, w.pooled = nb, p
}

// shrink goes back to the inline buffer if the buffered data fits in it.
func (w *Writer) shrink() {
	if w.pooled == nil || w.n > smallBufSize {
		return
	}
	w.n = copy(w.small[:], w.buf[:w.n])
	putBig(w.pooled)
	w.buf, w.pooled = w.small[:], nil
}

// DotWriter encodes message data for DATA (RFC 5321 4.5.2). Get one from
// Writer.DotWriter.
type DotWriter struct {
	w      *Writer
	p      Policy
	bol    bool  // at the start of a line: a "." must be stuffed
	crlf   bool  // the last line end written was CRLF
	cr     bool  // the last input byte was a CR, not yet known to be CRLF
	off    int64 // input bytes consumed
	err    error
	closed bool
}

// DotWriter returns a writer that encodes message data for DATA, to use
// after the 354 reply. It doubles a "." at the start of every line (RFC
// 5321 4.5.2) and treats line ends as p says (zero fields: OutputPolicy,
// which turns bare LF and bare CR into CRLF, RFC 5321 2.3.8). On Close it
// ends the last line with CRLF if the data did not, writes the terminator
// "." CRLF (RFC 5321 4.1.1.4) and flushes w.
//
// Even where p allows a bare LF or CR through, the dot after it is doubled
// and the data ends with a real CRLF, so no fake end-of-data sequence
// (CVE-2023-51764 and kin) ever goes out.
//
// A violation that p rejects makes Write return a *ViolationError; the
// DotWriter then refuses further writes and Close returns the error
// without writing the terminator: the data sent so far is incomplete and
// the caller must drop the connection. Memory use is constant and no
// allocation happens per line. The DotWriter points into w: calling
// DotWriter again reuses it. While it is open, w uses a pooled 32 KiB
// buffer, returned on Close.
func (w *Writer) DotWriter(p Policy) *DotWriter {
	w.grow()
	w.dot = DotWriter{w: w, p: p.output(), bol: true, crlf: true}
	return &w.dot
}

func (d *DotWriter) violation(k ViolationKind) error {
	d.err = &ViolationError{Kind: k, Offset: d.off}
	return d.err
}

// lineEnd writes the line end for a bare CR or LF under action a.
func (d *DotWriter) lineEnd(k ViolationKind, a Action, raw string) error {
	switch a {
	case Reject:
		return d.violation(k)
	case Allow:
		d.w.WriteString(raw)
		d.crlf = false
	default:
		d.w.WriteString("\r\n")
		d.crlf = true
	}
	d.bol = true
	return nil
}

// Write implements io.Writer.
func (d *DotWriter) Write(b []byte) (int, error) {
	if d.closed {
		return 0, ErrClosed
	}
	if d.err != nil {
		return 0, d.err
	}
	w := d.w
	n := 0
	for n < len(b) {
		c := b[n]
		if d.cr {
			d.cr = false
			if c == '\n' {
				w.WriteString("\r\n")
				d.bol, d.crlf = true, true
				n++
				d.off++
				continue
			}
			if err := d.lineEnd(BareCR, d.p.BareCR, "\r"); err != nil {
				return n, err
			}
			continue
		}
		if d.bol && c == '.' {
			// RFC 5321 4.5.2: a line starting with "." gets one more.
			w.WriteString(".")
		}
		rest := b[n:]
		// Whole CRLF lines, none but the first starting with a dot, go
		// out in one copy (the line by line path below decides the rest).
		if k := crlfLines(rest, len(rest), len(rest), d.p.NUL != Allow, d.p.EightBit == Reject); k > 0 {
			w.Write(rest[:k])
			n += k
			d.off += int64(k)
			d.bol, d.crlf = true, true
			continue
		}
		run := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			run = rest[:i]
		}
		if i := bytes.IndexByte(run, '\r'); i >= 0 {
			run = run[:i]
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
			w.Write(run)
			n += len(run)
			d.off += int64(len(run))
			d.bol = false
			continue
		}
		switch {
		case c == '\r':
			d.cr = true
		case c == '\n':
			if err := d.lineEnd(BareLF, d.p.BareLF, "\n"); err != nil {
				return n, err
			}
		case c == 0:
			if d.p.NUL == Reject {
				return n, d.violation(NUL)
			}
			// Normalize drops it.
		default:
			return n, d.violation(EightBit)
		}
		n++
		d.off++
	}
	if w.err != nil {
		d.err = w.err
		return n, w.err
	}
	return n, nil
}

// Close ends the data: it completes the last line with CRLF if needed,
// writes "." CRLF and flushes the Writer. After an error it writes nothing
// and returns the error.
func (d *DotWriter) Close() error {
	if d.closed {
		return ErrClosed
	}
	d.closed = true
	w := d.w
	defer w.shrink()
	if d.err != nil {
		return d.err
	}
	if d.cr {
		// A CR at the very end of the data is a bare CR.
		d.cr = false
		if err := d.lineEnd(BareCR, d.p.BareCR, "\r"); err != nil {
			return err
		}
	}
	if !d.bol || !d.crlf {
		// RFC 5321 4.1.1.4: the data ends with CRLF before the ".".
		w.WriteString("\r\n")
	}
	w.WriteString(".\r\n")
	return w.Flush()
}
