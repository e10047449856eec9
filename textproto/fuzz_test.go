package textproto

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

var fuzzSeeds = []string{
	"EHLO x\r\nMAIL FROM:<a@b>\r\n",
	"a\n.\nb\r\n.\r\nNOOP\r\n",
	"a\r\n.\nMAIL FROM:<x>\r\n.\r\nNOOP\r\n",
	"a\r.\r\n.\r\n",
	"a\n.\r\n.\r\n",
	"a\r\n.\r\r\n.\r\n",
	"..\r\n...\r\n.\r\n",
	".\r\n",
	"\r\n.\r\n",
	"a\x00b\r\n\xff\r\n.\r\n",
	"x\r\r\r\n\n\n\r\n.\r\n",
	"",
	".",
	"\r",
	// Runs longer than a word, with bytes at the edges of the word tests.
	"MAIL FROM:<0123456789abcdef@example.org> SIZE=1\r\nxxxxxxx\x0e\x7f\x80yyyyyyyy\r\n.\r\n",
	"AAAAAAA\tAAAAAAAAAAAAAAAA\r\nBBBBBBBB\x00CCCCCCCC\r\nDDDDDDDDDDDDDDD\rEEEEEEEEEEEEEEEE\nFFFFFFFF\r\n.\r\n",
	// An over-long line whose tail looks like a command.
	"NOOP " + strings.Repeat("x", 600) + "QUIT\r\nNOOP\r\n",
}

// policies indexes a few policies for the fuzzers.
func fuzzPolicy(sel byte) Policy {
	acts := [...]Action{Reject, Normalize, Allow}
	return Policy{
		BareLF:   acts[sel%3],
		BareCR:   acts[(sel/3)%3],
		NUL:      acts[(sel/9)%3],
		EightBit: acts[(sel/27)%3],
	}
}

type lineResult struct {
	line      string
	err       string
	printable bool // Reader.Printable after the line
}

func readAllLines(rd io.Reader, max int, p Policy) []lineResult {
	return collectLines(NewReader(rd), max, p, nil)
}

// collectLines reads every line of r; where a read fails with errWait it
// reads on from the Reader wait returns.
func collectLines(r *Reader, max int, p Policy, wait func(*Reader) *Reader) []lineResult {
	var res []lineResult
	for {
		line, err := r.ReadLine(max, p)
		if err == errWait {
			r = wait(r)
			continue
		}
		if err != nil {
			res = append(res, lineResult{err: err.Error()})
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return res
			}
			var lt *LineTooLongError
			var ve *ViolationError
			if !errors.As(err, &lt) && !errors.As(err, &ve) {
				return res
			}
			continue
		}
		res = append(res, lineResult{line: string(line), printable: r.Printable()})
	}
}

// errWait is what waitingReader returns between its bytes: a read that
// would block.
var errWait = errors.New("would block")

// waitingReader returns one byte per read, each after a read that fails
// with errWait.
type waitingReader struct {
	src    io.Reader
	waited bool
}

func (w *waitingReader) Read(p []byte) (int, error) {
	if !w.waited {
		w.waited = true
		return 0, errWait
	}
	w.waited = false
	return w.src.Read(p[:min(len(p), 1)])
}

// readAllLinesHandedOff is readAllLines over a source that makes the
// reader wait before each byte; at each wait where the Reader is Idle it
// is replaced by a new one, as a server does when it hands off an idle
// connection (its Reader goes back to a pool).
func readAllLinesHandedOff(rd io.Reader, max int, p Policy) []lineResult {
	src := &waitingReader{src: rd}
	return collectLines(NewReader(src), max, p, func(r *Reader) *Reader {
		if r.Idle() {
			return NewReader(src)
		}
		return r
	})
}

func FuzzReadLine(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(0), byte(0))
		f.Add([]byte(s), uint16(5), byte(4))
	}
	f.Fuzz(func(t *testing.T, data []byte, max uint16, sel byte) {
		m := int(max % 2000)
		p := fuzzPolicy(sel)
		whole := readAllLines(bytes.NewReader(data), m, p)
		one := readAllLines(iotest.OneByteReader(bytes.NewReader(data)), m, p)
		if len(whole) != len(one) {
			t.Fatalf("whole %d results, one-byte %d", len(whole), len(one))
		}
		handedOff := readAllLinesHandedOff(bytes.NewReader(data), m, p)
		if len(whole) != len(handedOff) {
			t.Fatalf("whole %d results, handed off when idle %d", len(whole), len(handedOff))
		}
		if m <= 0 {
			m = MaxCommandLine
		}
		for i := range whole {
			if whole[i] != one[i] {
				t.Fatalf("result %d: whole %+v, one-byte %+v", i, whole[i], one[i])
			}
			if whole[i] != handedOff[i] {
				t.Fatalf("result %d: whole %+v, handed off when idle %+v", i, whole[i], handedOff[i])
			}
			if whole[i].err != "" {
				continue
			}
			l := whole[i].line
			if whole[i].printable != (printableLen([]byte(l)) == len(l)) {
				t.Fatalf("line %q: Printable() = %v", l, whole[i].printable)
			}
			if len(l)+2 > m {
				t.Fatalf("line of %d bytes over limit %d", len(l), m)
			}
			if p.BareLF != Allow && bytes.IndexByte([]byte(l), '\n') >= 0 {
				t.Fatalf("LF in line %q", l)
			}
			if p.BareCR != Allow && bytes.IndexByte([]byte(l), '\r') >= 0 {
				t.Fatalf("CR in line %q", l)
			}
			if p.NUL != Allow && bytes.IndexByte([]byte(l), 0) >= 0 {
				t.Fatalf("NUL in line %q", l)
			}
		}
		if len(whole) > len(data)+1 {
			t.Fatalf("%d results for %d bytes", len(whole), len(data))
		}
	})
}

type dotResult struct {
	out  string
	err  error
	rest string
}

func decodeWith(t *testing.T, rd io.Reader, lim DataLimits, outSize int) dotResult {
	r := NewReader(rd)
	d := r.DotReader(lim)
	var out bytes.Buffer
	buf := make([]byte, outSize)
	var err error
	for {
		var n int
		n, err = d.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	res := dotResult{out: out.String(), err: err}
	if err == io.EOF || !errors.Is(err, io.ErrUnexpectedEOF) {
		res.rest = readRest(t, r)
	}
	return res
}

// refDecode is a slow, obvious model of DotReader under
// DefaultIntakePolicy. bad means some *ViolationError.
func refDecode(data []byte) (out, rest []byte, bad, eof bool) {
	p := append([]byte("\r\n"), data...)
	k := bytes.Index(p, []byte(terminator))
	if k < 0 {
		return nil, nil, false, true
	}
	wire, rest := data[:k], data[k+3:]
	for i, c := range wire {
		if c == 0 || (c == '\r' && (i+1 == len(wire) || wire[i+1] != '\n')) {
			bad = true
		}
	}
	var norm []byte
	for i, c := range wire {
		if c == '\n' && (i == 0 || wire[i-1] != '\r') {
			norm = append(norm, '\r')
		}
		norm = append(norm, c)
	}
	lines := bytes.SplitAfter(norm, []byte("\r\n"))
	for _, l := range lines {
		if len(l) == 0 {
			continue
		}
		if string(l) == ".\r\n" {
			bad = true
		}
		if l[0] == '.' {
			l = l[1:]
		}
		out = append(out, l...)
	}
	return out, rest, bad, false
}

func FuzzDotRoundTrip(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Encoding then decoding gives back the normalised input.
		got, err := roundTrip(data)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if want := normalize(data); !bytes.Equal(got, want) {
			t.Fatalf("round trip: got %q, want %q", got, want)
		}

		// Decoding arbitrary input: same result whatever the chunking,
		// and the same as the model.
		lim := DataLimits{}
		whole := decodeWith(t, bytes.NewReader(data), lim, 4096)
		one := decodeWith(t, iotest.OneByteReader(bytes.NewReader(data)), lim, 1)
		half := decodeWith(t, iotest.HalfReader(bytes.NewReader(data)), lim, 3)
		for _, other := range []dotResult{one, half} {
			if other.err != whole.err && other.err.Error() != whole.err.Error() {
				t.Fatalf("errors differ: %v / %v", whole.err, other.err)
			}
			if other.rest != whole.rest {
				t.Fatalf("rest differs: %q / %q", whole.rest, other.rest)
			}
			if whole.err == io.EOF && other.out != whole.out {
				t.Fatalf("output differs: %q / %q", whole.out, other.out)
			}
		}
		out, rest, bad, eof := refDecode(data)
		switch {
		case eof:
			if whole.err != io.ErrUnexpectedEOF {
				t.Fatalf("err = %v, want unexpected EOF", whole.err)
			}
			return
		case bad:
			var ve *ViolationError
			if !errors.As(whole.err, &ve) {
				t.Fatalf("err = %v, want a violation", whole.err)
			}
		default:
			if whole.err != io.EOF {
				t.Fatalf("err = %v, want io.EOF", whole.err)
			}
			if whole.out != string(out) {
				t.Fatalf("out = %q, want %q", whole.out, out)
			}
		}
		if whole.rest != string(rest) {
			t.Fatalf("rest = %q, want %q", whole.rest, rest)
		}

		// Limits: never more than MaxSize delivered, and still in sync.
		lim = DataLimits{MaxSize: int64(len(data) / 3), MaxLineLength: 20}
		limited := decodeWith(t, iotest.HalfReader(bytes.NewReader(data)), lim, 7)
		if lim.MaxSize > 0 && int64(len(limited.out)) > lim.MaxSize {
			t.Fatalf("%d bytes over MaxSize %d", len(limited.out), lim.MaxSize)
		}
		if limited.rest != string(rest) {
			t.Fatalf("limited rest = %q, want %q", limited.rest, rest)
		}
	})
}

func FuzzChunk(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), []byte{1, 3}, byte(1))
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte, sel byte) {
		p := fuzzPolicy(sel)
		if len(cuts) > 64 {
			cuts = cuts[:64]
		}
		whole, werr := filterChunks(t, data, []int{len(data)}, p)
		var sizes []int
		left := len(data)
		for _, c := range cuts {
			n := min(int(c), left)
			sizes = append(sizes, n)
			left -= n
		}
		sizes = append(sizes, left)
		split, serr := filterChunks(t, data, sizes, p)
		if (werr == nil) != (serr == nil) {
			t.Fatalf("errors differ: %v / %v", werr, serr)
		}
		if werr == nil && !bytes.Equal(whole, split) {
			t.Fatalf("output differs: %q / %q", whole, split)
		}
		// Read one byte at a time, the filter never takes its fast path
		// (runs of ordinary bytes copied at once): the same result.
		slow, oerr := filterChunksWith(t, data, []int{len(data)}, p, iotest.OneByteReader)
		if (werr == nil) != (oerr == nil) || werr != nil && werr.Error() != oerr.Error() {
			t.Fatalf("errors differ: %v / one byte at a time %v", werr, oerr)
		}
		if !bytes.Equal(whole, slow) {
			t.Fatalf("output differs: %q / one byte at a time %q", whole, slow)
		}
		// A source that is not a *ChunkReader is copied through the
		// filter's own buffer instead of read in place: the same result.
		copied, cerr := filterChunksSrc(t, data, sizes, p, func(r io.Reader) io.Reader { return struct{ io.Reader }{r} })
		if (serr == nil) != (cerr == nil) || serr != nil && serr.Error() != cerr.Error() {
			t.Fatalf("errors differ: %v / copied %v", serr, cerr)
		}
		if !bytes.Equal(split, copied) {
			t.Fatalf("output differs: %q / copied %q", split, copied)
		}
		if p.BareLF == Normalize && p.BareCR == Normalize && p.NUL == Allow && werr == nil {
			want := normalize(data)
			if !bytes.HasSuffix(data, []byte("\n")) && !bytes.HasSuffix(data, []byte("\r")) && len(want) > 0 {
				want = want[:len(want)-2]
			}
			if !bytes.Equal(whole, want) {
				t.Fatalf("normalised %q, want %q", whole, want)
			}
		}
	})
}

func filterChunks(t *testing.T, data []byte, sizes []int, p Policy) ([]byte, error) {
	t.Helper()
	return filterChunksWith(t, data, sizes, p, func(r io.Reader) io.Reader { return r })
}

// filterChunksWith reads the chunks through wrap(filter).
func filterChunksWith(t *testing.T, data []byte, sizes []int, p Policy, wrap func(io.Reader) io.Reader) ([]byte, error) {
	t.Helper()
	return filterChunksBoth(t, data, sizes, p, wrap, func(r io.Reader) io.Reader { return r })
}

// filterChunksSrc reads the chunks through a filter of wrapSrc(chunk).
func filterChunksSrc(t *testing.T, data []byte, sizes []int, p Policy, wrapSrc func(io.Reader) io.Reader) ([]byte, error) {
	t.Helper()
	return filterChunksBoth(t, data, sizes, p, func(r io.Reader) io.Reader { return r }, wrapSrc)
}

func filterChunksBoth(t *testing.T, data []byte, sizes []int, p Policy, wrap, wrapSrc func(io.Reader) io.Reader) ([]byte, error) {
	t.Helper()
	r := NewReader(bytes.NewReader(append(data, "QUIT\r\n"...)))
	var f BDATFilter
	f.Reset(p)
	var out bytes.Buffer
	var firstErr error
	for i, n := range sizes {
		_, err := io.Copy(&out, wrap(f.Chunk(wrapSrc(r.ChunkReader(int64(n))), i == len(sizes)-1)))
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "QUIT" {
		t.Fatalf("out of sync after chunks: %q, %v", line, err)
	}
	return out.Bytes(), firstErr
}

// FuzzDotReaderFastPath: the DotReader's fast path (runs of whole lines
// copied at once, taken when the caller's buffer has room) gives exactly
// what the byte-at-a-time path gives (a one-byte buffer never takes it),
// under any policy and limits: the same data, error, violations, count
// and the same input left for the next command.
func FuzzDotReaderFastPath(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), byte(0), uint16(0), uint16(0))
		f.Add([]byte(s), byte(13), uint16(30), uint16(12))
	}
	f.Fuzz(func(t *testing.T, data []byte, sel byte, maxSize, maxLine uint16) {
		lim := DataLimits{MaxSize: int64(maxSize % 4096), MaxLineLength: int(maxLine % 1100), Policy: fuzzPolicy(sel)}
		type result struct {
			dotResult
			n      int64
			counts ViolationCounts
		}
		run := func(rd io.Reader, outSize int) result {
			r := NewReader(rd)
			d := r.DotReader(lim)
			var out bytes.Buffer
			buf := make([]byte, outSize)
			var err error
			for err == nil {
				var n int
				n, err = d.Read(buf)
				out.Write(buf[:n])
			}
			res := result{dotResult: dotResult{out: out.String(), err: err}, n: d.N(), counts: d.Violations()}
			if err == io.EOF || !errors.Is(err, io.ErrUnexpectedEOF) {
				res.rest = readRest(t, r)
			}
			return res
		}
		fast := run(bytes.NewReader(data), 4096)
		slow := run(iotest.OneByteReader(bytes.NewReader(data)), 1)
		if fast.err.Error() != slow.err.Error() {
			t.Fatalf("errors differ: fast %v, slow %v", fast.err, slow.err)
		}
		if fast.rest != slow.rest {
			t.Fatalf("rest differs: fast %q, slow %q", fast.rest, slow.rest)
		}
		// What was delivered before an error depends on how the input
		// came (a line's first bytes may go before it is known to be too
		// long): compare it for whole messages.
		if fast.err == io.EOF && (fast.out != slow.out || fast.n != slow.n || fast.counts != slow.counts) {
			t.Fatalf("fast %+v\nslow %+v", fast, slow)
		}
	})
}

// FuzzDotWriterFastPath compares the DotWriter given the data in one Write
// (whole CRLF lines take the fast path, crlfLines) with one byte per Write
// (which never does), under every policy: the same bytes out, the same
// error at the same offset.
func FuzzDotWriterFastPath(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), byte(0))
		f.Add([]byte(s), byte(44))
	}
	f.Fuzz(func(t *testing.T, data []byte, sel byte) {
		p := fuzzPolicy(sel)
		encode := func(step int) (string, string) {
			var wire bytes.Buffer
			d := NewWriter(&wire).DotWriter(p)
			var err error
			for b := data; len(b) > 0 && err == nil; {
				k := min(step, len(b))
				_, err = d.Write(b[:k])
				b = b[k:]
			}
			if cerr := d.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return wire.String(), err.Error()
			}
			return wire.String(), ""
		}
		whole, wholeErr := encode(len(data))
		one, oneErr := encode(1)
		if wholeErr != oneErr {
			t.Fatalf("error %q whole, %q one byte at a time", wholeErr, oneErr)
		}
		if wholeErr == "" && whole != one {
			t.Fatalf("whole %q, one byte at a time %q", whole, one)
		}
	})
}
