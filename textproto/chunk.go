package textproto

import (
	"bytes"
	"io"
)

// ChunkReader reads one BDAT chunk (RFC 3030 2): exactly the announced
// number of octets, binary-safe, without any dot processing. Get one from
// Reader.ChunkReader.
type ChunkReader struct {
	r    *Reader
	left int64
}

// ChunkReader returns a reader of the next size octets, the chunk that
// follows a BDAT command (RFC 3030 2). It returns io.EOF after size
// octets, io.ErrUnexpectedEOF if the input ends before. It must be read to
// the end, or drained with Discard, before r is used again (RFC 3030 2:
// even a chunk the server refuses must be read to stay in sync). It points
// into r: calling ChunkReader again reuses it. For a chunk larger than the
// small buffer, r borrows a pooled 32 KiB buffer, returned when ReadLine next
// reads from the source (or at Reset): a pipelined command after the chunk,
// and the next chunk, use it as they find it.
func (r *Reader) ChunkReader(size int64) *ChunkReader {
	r.resetLine()
	if size < 0 {
		size = 0
	}
	if size > int64(len(r.buf)-r.Buffered()) {
		r.grow(bigBufSize)
	}
	r.chunk = ChunkReader{r: r, left: size}
	return &r.chunk
}

// Read implements io.Reader.
func (c *ChunkReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	r := c.r
	if r.r == r.w {
		if err := r.more(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	n := copy(p, r.buf[r.r:min(int64(r.w), int64(r.r)+c.left)])
	r.r += n
	c.left -= int64(n)
	return n, nil
}

// Discard reads and drops the rest of the chunk.
func (c *ChunkReader) Discard() error {
	r := c.r
	for c.left > 0 {
		if r.r == r.w {
			if err := r.more(); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		n := int(min(int64(r.w-r.r), c.left))
		r.r += n
		c.left -= int64(n)
	}
	return nil
}

// peek returns the octets of the chunk buffered in the Reader, reading
// more when none are; (nil, io.EOF) at the end of the chunk. The slice is
// valid until the next peek, Read or Discard; advance consumes from it.
func (c *ChunkReader) peek() ([]byte, error) {
	if c.left == 0 {
		return nil, io.EOF
	}
	r := c.r
	if r.r == r.w {
		if err := r.more(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return r.buf[r.r:min(int64(r.w), int64(r.r)+c.left)], nil
}

// advance consumes n octets returned by peek.
func (c *ChunkReader) advance(n int) {
	c.r.r += n
	c.left -= int64(n)
}

// Remaining returns the number of octets of the chunk not yet read.
func (c *ChunkReader) Remaining() int64 { return c.left }

// BDATFilter applies a Policy to the content of the BDAT chunks of one
// message, keeping its state across chunk boundaries (a CR that ends one
// chunk and an LF that starts the next are a CRLF). Use it for messages not
// declared BODY=BINARYMIME (RFC 3030 3: those are taken verbatim). There
// is no dot processing in BDAT, so no FakeEndOfData.
//
// Under the policy (zero fields: DefaultIntakePolicy) a bare LF or bare CR
// becomes CRLF (Normalize) or is kept (Allow), a NUL is dropped (Normalize)
// or kept (Allow), an 8-bit byte is kept (Normalize counts it); with Reject
// the message is refused: the filter reads the current chunk to its end
// and returns the *ViolationError, for this chunk and every later one, so
// the session stays in sync (RFC 3030 2: refused chunks are still read).
//
// The zero value is ready to use. Memory use is constant.
type BDATFilter struct {
	// OnViolation, if not nil, is called the first time the message holds
	// a kind of violation, whatever the action.
	OnViolation func(kind ViolationKind, action Action)

	p       Policy
	src     io.Reader
	cr      *ChunkReader // src, when it is one: read without a copy (see peek)
	last    bool
	pendCR  bool // a CR ended the input so far: CRLF or bare CR?
	out     [2]byte
	outN    int
	in      []byte // unprocessed part of scratch
	eof     bool   // src returned io.EOF
	off     int64  // wire bytes consumed in this message
	err     error
	seen    uint8
	counts  ViolationCounts
	scratch [scratchSize]byte
}

// Reset prepares f for a new message under policy p. OnViolation is kept.
func (f *BDATFilter) Reset(p Policy) {
	// Every field but scratch, whose old bytes are never read.
	f.p, f.src, f.cr, f.last, f.pendCR, f.outN, f.in, f.eof, f.off, f.err, f.seen = p, nil, nil, false, false, 0, nil, false, 0, nil, 0
	f.counts = ViolationCounts{}
}

// Chunk makes f read the chunk src (usually a *ChunkReader) and returns f
// as an io.Reader, which returns io.EOF at the end of src. last says
// whether this is the final chunk (BDAT ... LAST): a CR at its very end is
// then a bare CR; otherwise it waits for the next chunk.
func (f *BDATFilter) Chunk(src io.Reader, last bool) io.Reader {
	f.src, f.last, f.in, f.eof = src, last, nil, false
	f.cr, _ = src.(*ChunkReader)
	return f
}

// Violations returns the violations seen in this message so far.
func (f *BDATFilter) Violations() ViolationCounts { return f.counts }

// Read implements io.Reader over the current chunk.
func (f *BDATFilter) Read(p []byte) (int, error) {
	if f.src == nil {
		return 0, io.EOF
	}
	if f.err != nil {
		return 0, f.drain()
	}
	p0 := len(p)
	for len(p) > 0 {
		if f.outN > 0 {
			c := copy(p, f.out[:f.outN])
			p = p[c:]
			f.outN = copy(f.out[:], f.out[c:f.outN])
			continue
		}
		if len(f.in) == 0 {
			if p0 > len(p) {
				break // deliver what we have before blocking
			}
			var n int
			var err error
			switch {
			case f.eof:
				err = io.EOF
			case f.cr != nil:
				// Straight from the Reader's buffer, without a copy.
				f.in, err = f.cr.peek()
				n = len(f.in)
			default:
				n, err = f.src.Read(f.scratch[:min(len(f.scratch), len(p))])
				f.in = f.scratch[:n]
				f.eof = err == io.EOF
			}
			if n == 0 {
				if err == io.EOF {
					f.endChunk()
					if f.err != nil {
						return 0, f.err
					}
					if f.outN > 0 {
						continue
					}
					f.src = nil
				}
				return 0, err
			}
			continue
		}
		in := len(f.in)
		k := f.step(p)
		if f.cr != nil {
			f.cr.advance(in - len(f.in))
		}
		p = p[k:]
		if f.err != nil {
			if p0 > len(p) {
				return p0 - len(p), nil
			}
			return 0, f.drain()
		}
	}
	return p0 - len(p), nil
}

// endChunk handles a CR at the end of the last chunk.
func (f *BDATFilter) endChunk() {
	if f.last && f.pendCR {
		f.pendCR = false
		f.bareCR()
	}
}

// drain reads the current chunk to its end and returns the recorded error.
func (f *BDATFilter) drain() error {
	for f.src != nil {
		if f.eof {
			f.src = nil
			break
		}
		_, err := f.src.Read(f.scratch[:])
		if err == io.EOF {
			f.src = nil
			break
		}
		if err != nil {
			return err
		}
	}
	return f.err
}

func (f *BDATFilter) note(k ViolationKind, a Action) bool {
	f.counts[k]++
	if f.seen&(1<<k) == 0 {
		f.seen |= 1 << k
		if f.OnViolation != nil {
			f.OnViolation(k, a)
		}
	}
	if a == Reject {
		if f.err == nil {
			f.err = &ViolationError{Kind: k, Offset: f.off}
		}
		return true
	}
	return false
}

func (f *BDATFilter) emit(s string) {
	f.outN = copy(f.out[:], s)
}

// bareCR applies the policy to a bare CR (RFC 5321 2.3.8), queuing output.
func (f *BDATFilter) bareCR() {
	p := f.p.intake()
	if f.note(BareCR, p.BareCR) {
		return
	}
	if p.BareCR == Normalize {
		f.emit("\r\n")
	} else {
		f.emit("\r")
	}
}

// crlfRun returns the length of the run at the start of b of bytes that
// dataSpecial[class] does not mark and of CRLF pairs: what a filter passes
// through unchanged. A CR that ends b is not part of it.
//
// Whole lines are taken as the DotReader's bulkLines takes them: from one
// CR to the next (IndexByte), each followed by LF, checked at once (as
// many LFs as lines, no NUL or 8-bit byte the class marks); then the
// plain bytes that follow. If the check fails, byte classes decide.
func crlfRun(b []byte, class int) int {
	w, lines := 0, 0
	for {
		cr := bytes.IndexByte(b[w:], '\r')
		if cr < 0 || w+cr+1 >= len(b) || b[w+cr+1] != '\n' {
			break
		}
		w += cr + 2
		lines++
	}
	if run := b[:w]; w > 0 && bytes.Count(run, lfByte) == lines &&
		(class&1 == 0 || bytes.IndexByte(run, 0) < 0) && (class&2 == 0 || indexNonASCII(run) < 0) {
		return w + plainLen(b[w:], class)
	}
	return crlfRunBytes(b, class)
}

// crlfRunBytes is crlfRun by byte classes alone.
func crlfRunBytes(b []byte, class int) int {
	k := 0
	for {
		k += plainLen(b[k:], class)
		if k+1 >= len(b) || b[k] != '\r' || b[k+1] != '\n' {
			return k
		}
		k += 2
	}
}

// step processes f.in into dst; it stops when dst is full, when output is
// queued, or at an error. It returns the bytes written.
func (f *BDATFilter) step(dst []byte) int {
	p := f.p.intake()
	class := specialIndex(p)
	o := 0
	for len(f.in) > 0 && o < len(dst) && f.outN == 0 && f.err == nil {
		c := f.in[0]
		if f.pendCR {
			f.pendCR = false
			if c == '\n' {
				f.in, f.off = f.in[1:], f.off+1
				if len(dst)-o >= 2 {
					// The common CRLF goes straight out.
					dst[o], dst[o+1] = '\r', '\n'
					o += 2
					continue
				}
				f.emit("\r\n")
				break
			}
			f.bareCR()
			continue
		}
		if n := crlfRun(f.in[:min(len(f.in), len(dst)-o)], class); n > 0 {
			// Fast path: copy the run of ordinary bytes and CRLFs at
			// once.
			o += copy(dst[o:], f.in[:n])
			f.in, f.off = f.in[n:], f.off+int64(n)
			continue
		}
		f.in, f.off = f.in[1:], f.off+1
		switch {
		case c == '\r':
			f.pendCR = true
		case c == '\n':
			if !f.note(BareLF, p.BareLF) {
				if p.BareLF == Normalize {
					f.emit("\r\n")
				} else {
					f.emit("\n")
				}
			}
		case c == 0 && p.NUL != Allow:
			f.note(NUL, p.NUL) // Normalize drops it
		case c >= 0x80 && p.EightBit != Allow:
			if !f.note(EightBit, p.EightBit) {
				dst[o] = c
				o++
			}
		default:
			dst[o] = c
			o++
		}
	}
	if f.outN > 0 && o < len(dst) {
		c := copy(dst[o:], f.out[:f.outN])
		o += c
		f.outN = copy(f.out[:], f.out[c:f.outN])
	}
	return o
}
