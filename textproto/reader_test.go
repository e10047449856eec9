package textproto

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type lineWant struct {
	line string
	err  errKind
	v    ViolationKind
}

func ok(s string) lineWant                  { return lineWant{line: s} }
func bad(v ViolationKind) lineWant          { return lineWant{err: errViolation, v: v} }
func errw(e errKind) lineWant               { return lineWant{err: e} }
func lines(ws ...lineWant) []lineWant       { return ws }
func with(p Policy, f func(*Policy)) Policy { f(&p); return p }

func TestReadLine(t *testing.T) {
	def := DefaultIntakePolicy()
	long := strings.Repeat("x", 100000)
	tests := []struct {
		name string
		in   string
		max  int
		p    Policy
		want []lineWant
	}{
		{"simple", "EHLO example.com\r\n", 0, def, lines(ok("EHLO example.com"), errw(errEOF))},
		{"pipelined", "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 0, def,
			lines(ok("MAIL FROM:<a@b>"), ok("RCPT TO:<c@d>"), ok("DATA"), errw(errEOF))},
		{"empty line", "\r\nNOOP\r\n", 0, def, lines(ok(""), ok("NOOP"), errw(errEOF))},
		{"empty input", "", 0, def, lines(errw(errEOF))},
		{"no line end", "NOOP", 0, def, lines(errw(errUnexpectedEOF))},
		{"cr at eof", "NOOP\r", 0, def, lines(errw(errUnexpectedEOF))},
		{"zero policy is default", "A\nB\r\n", 0, Policy{}, lines(ok("A"), ok("B"), errw(errEOF))},
		// RFC 5321 2.3.8 and the intake policy.
		{"bare LF normalised", "EHLO x\nNOOP\r\n", 0, def, lines(ok("EHLO x"), ok("NOOP"), errw(errEOF))},
		{"bare LF strict", "EHLO x\nNOOP\r\n", 0, StrictIntakePolicy(), lines(bad(BareLF), ok("NOOP"), errw(errEOF))},
		{"bare LF allowed", "A\nB\r\nC\r\n", 0, with(def, func(p *Policy) { p.BareLF = Allow }), lines(ok("A\nB"), ok("C"), errw(errEOF))},
		{"bare CR rejected to real end", "A\rB\r\nNOOP\r\n", 0, def, lines(bad(BareCR), ok("NOOP"), errw(errEOF))},
		{"bare CR rejected to LF end", "A\rB\nNOOP\r\n", 0, def, lines(bad(BareCR), ok("NOOP"), errw(errEOF))},
		{"bare CR normalised", "A\rB\r\n", 0, with(def, func(p *Policy) { p.BareCR = Normalize }), lines(ok("A"), ok("B"), errw(errEOF))},
		{"bare CR allowed", "A\rB\r\n", 0, with(def, func(p *Policy) { p.BareCR = Allow }), lines(ok("A\rB"), errw(errEOF))},
		{"CR CR LF", "A\r\r\nB\r\n", 0, def, lines(bad(BareCR), ok("B"), errw(errEOF))},
		{"NUL rejected", "A\x00B\r\nC\r\n", 0, def, lines(bad(NUL), ok("C"), errw(errEOF))},
		{"NUL dropped", "A\x00B\x00\r\n", 0, with(def, func(p *Policy) { p.NUL = Normalize }), lines(ok("AB"), errw(errEOF))},
		{"NUL allowed", "A\x00B\r\n", 0, with(def, func(p *Policy) { p.NUL = Allow }), lines(ok("A\x00B"), errw(errEOF))},
		{"8bit allowed", "MAIL FROM:<j\xc3\xb6rg@x>\r\n", 0, def, lines(ok("MAIL FROM:<j\xc3\xb6rg@x>"), errw(errEOF))},
		{"8bit rejected", "A\xc3\xb6\r\nB\r\n", 0, with(def, func(p *Policy) { p.EightBit = Reject }), lines(bad(EightBit), ok("B"), errw(errEOF))},
		{"tab and ctl pass", "A\tB\x01\r\n", 0, def, lines(ok("A\tB\x01"), errw(errEOF))},
		// RFC 5321 4.5.3.1.4: the limit counts the CRLF.
		{"at limit", "12345678\r\n", 10, def, lines(ok("12345678"), errw(errEOF))},
		{"over limit", "123456789\r\nNOOP\r\n", 10, def, lines(errw(errTooLong), ok("NOOP"), errw(errEOF))},
		{"over limit bare LF", "123456789\nNOOP\r\n", 10, def, lines(errw(errTooLong), ok("NOOP"), errw(errEOF))},
		{"at limit bare LF", "12345678\nNOOP\r\n", 10, def, lines(ok("12345678"), ok("NOOP"), errw(errEOF))},
		{"over limit with CR inside", "1234\r5678\r\nNOOP\r\n", 10, def, lines(errw(errTooLong), ok("NOOP"), errw(errEOF))},
		{"over limit with 8bit", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\r\nNOOP\r\n", 10, def, lines(errw(errTooLong), ok("NOOP"), errw(errEOF))},
		{"huge line", long + "\r\nQUIT\r\n", 0, def, lines(errw(errTooLong), ok("QUIT"), errw(errEOF))},
		{"huge line no end", long, 0, def, lines(errw(errUnexpectedEOF))},
		{"huge line CR split", long + "\r\r\r\nQUIT\r\n", 0, def, lines(errw(errTooLong), ok("QUIT"), errw(errEOF))},
		{"default max", strings.Repeat("a", 510) + "\r\n" + strings.Repeat("a", 511) + "\r\nX\r\n", 0, def,
			lines(ok(strings.Repeat("a", 510)), errw(errTooLong), ok("X"), errw(errEOF))},
		// RFC 4954 4: long AUTH lines need a larger buffer.
		{"auth line", strings.Repeat("A", 12286) + "\r\nB\r\n", MaxAuthLine, def,
			lines(ok(strings.Repeat("A", 12286)), ok("B"), errw(errEOF))},
		{"auth line over", strings.Repeat("A", 12287) + "\r\nB\r\n", MaxAuthLine, def,
			lines(errw(errTooLong), ok("B"), errw(errEOF))},
		{"bigger than pool", strings.Repeat("A", 40000) + "\r\nB\r\n", 50000, def,
			lines(ok(strings.Repeat("A", 40000)), ok("B"), errw(errEOF))},
	}
	for _, tt := range tests {
		for _, rk := range readerKinds {
			t.Run(tt.name+"/"+rk.name, func(t *testing.T) {
				r := NewReader(rk.wrap(strings.NewReader(tt.in)))
				for i, w := range tt.want {
					line, err := r.ReadLine(tt.max, tt.p)
					checkErr(t, err, w.err, w.v)
					if w.err == errNone && string(line) != w.line {
						t.Fatalf("line %d = %q, want %q", i, line, w.line)
					}
					if len(r.buf) > max(bigBufSize, tt.max) {
						t.Fatalf("buffer grew to %d", len(r.buf))
					}
				}
			})
		}
	}
}

func TestReadLineShrinks(t *testing.T) {
	in := strings.Repeat("A", 5000) + "\r\nNOOP\r\n"
	src := &readSizes{r: strings.NewReader(in)}
	r := NewReader(src)
	if _, err := r.ReadLine(MaxAuthLine, Policy{}); err != nil {
		t.Fatal(err)
	}
	if len(r.buf) != bigBufSize {
		t.Fatalf("buffer = %d while reading a long line, want %d", len(r.buf), bigBufSize)
	}
	line, err := r.ReadLine(0, Policy{})
	if err != nil || string(line) != "NOOP" {
		t.Fatalf("got %q, %v", line, err)
	}
	checkSmallAtRead(t, "after a long line", r, src)
}

// An endless line without a line end must not grow the buffer.
func TestReadLineEndless(t *testing.T) {
	src := io.LimitReader(repeatReader('x'), 10<<20)
	r := NewReader(src)
	_, err := r.ReadLine(0, Policy{})
	checkErr(t, err, errUnexpectedEOF, 0)
	if len(r.buf) != smallBufSize {
		t.Fatalf("buffer grew to %d", len(r.buf))
	}
}

type repeatReader byte

func (b repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// A read error other than EOF leaves the partial line buffered so that the
// call can be repeated (for example after a timeout).
func TestReadLineResume(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReader(pr)
	errTimeout := &timeoutError{}
	go func() {
		pw.Write([]byte("NO"))
		pw.CloseWithError(errTimeout)
	}()
	_, err := r.ReadLine(0, Policy{})
	if err != errTimeout {
		t.Fatalf("err = %v", err)
	}
	r.rd = strings.NewReader("OP\r\n")
	line, err := r.ReadLine(0, Policy{})
	if err != nil || string(line) != "NOOP" {
		t.Fatalf("got %q, %v", line, err)
	}
}

type timeoutError struct{}

func (*timeoutError) Error() string { return "timeout" }

// TestIdle: a Reader is idle only between lines; in the middle of an
// over-long line it has dropped what it skipped (Buffered is 0) but is
// not idle, and the rest of the line still belongs to it.
func TestIdle(t *testing.T) {
	r := NewReader(io.MultiReader(strings.NewReader("NOOP "+strings.Repeat("x", 3000)), iotest.ErrReader(&timeoutError{})))
	if !r.Idle() {
		t.Fatal("a new Reader is not idle")
	}
	if _, err := r.ReadLine(0, Policy{}); err == nil {
		t.Fatal("no timeout")
	}
	if r.Buffered() != 0 || r.Idle() {
		t.Fatalf("in a skipped line: Buffered %d, Idle %v", r.Buffered(), r.Idle())
	}
	r.rd = strings.NewReader("QUIT\r\nNOOP\r\n")
	var tooLong *LineTooLongError
	if _, err := r.ReadLine(0, Policy{}); !errors.As(err, &tooLong) {
		t.Fatalf("the end of the line: %v", err)
	}
	if r.Idle() != (r.Buffered() == 0) {
		t.Fatalf("after the line: Buffered %d, Idle %v", r.Buffered(), r.Idle())
	}
	if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "NOOP" || !r.Idle() {
		t.Fatalf("got %q, %v, Idle %v", line, err, r.Idle())
	}
}

// RFC 3207 5: what the client sent after STARTTLS is visible.
func TestBuffered(t *testing.T) {
	r := NewReader(strings.NewReader("STARTTLS\r\nMAIL FROM:<evil@x>\r\n"))
	line, err := r.ReadLine(0, Policy{})
	if err != nil || string(line) != "STARTTLS" {
		t.Fatalf("got %q, %v", line, err)
	}
	if r.Buffered() != len("MAIL FROM:<evil@x>\r\n") {
		t.Fatalf("Buffered = %d", r.Buffered())
	}
	r.Reset(strings.NewReader("EHLO x\r\n"))
	if r.Buffered() != 0 {
		t.Fatalf("Buffered after Reset = %d", r.Buffered())
	}
	line, err = r.ReadLine(0, Policy{})
	if err != nil || string(line) != "EHLO x" {
		t.Fatalf("got %q, %v", line, err)
	}
}

func TestReadLineViolationsCounted(t *testing.T) {
	var calls []ViolationKind
	r := NewReader(strings.NewReader("A\nB\nC\xff\r\n"))
	r.OnViolation = func(k ViolationKind, a Action) { calls = append(calls, k) }
	p := Policy{EightBit: Normalize}
	for range 3 {
		if _, err := r.ReadLine(0, p); err != nil {
			t.Fatal(err)
		}
	}
	c := r.Violations()
	if c[BareLF] != 2 || c[EightBit] != 1 || c.Total() != 3 {
		t.Fatalf("counts = %v", c)
	}
	if len(calls) != 3 {
		t.Fatalf("OnViolation calls = %v", calls)
	}
}

func TestReadLineViolationOffset(t *testing.T) {
	r := NewReader(strings.NewReader("ABC\x00\r\n"))
	_, err := r.ReadLine(0, Policy{})
	ve, isVE := err.(*ViolationError)
	if !isVE || ve.Offset != 3 || ve.Kind != NUL {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(ve.Error(), "NUL") {
		t.Fatalf("message %q", ve.Error())
	}
}

func TestReadLineAllocs(t *testing.T) {
	in := bytes.Repeat([]byte("RCPT TO:<someone@example.com>\r\n"), 64)
	br := bytes.NewReader(in)
	r := NewReader(br)
	allocs := testing.AllocsPerRun(100, func() {
		br.Reset(in)
		for {
			if _, err := r.ReadLine(0, Policy{}); err != nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per 64 lines", allocs)
	}
}

// TestPrintable: Printable is true only for a line known to be printable
// ASCII (a whole line buffered at once), never for one holding another
// byte, and false again after the next line.
func TestPrintable(t *testing.T) {
	r := NewReader(strings.NewReader("MAIL FROM:<a@b>\r\nx\x01y\r\n\xc3\xa9\r\n \r\n\r\nNOOP\r\n"))
	for _, want := range []bool{true, false, false, true, true, true} {
		line, err := r.ReadLine(0, Policy{NUL: Allow, EightBit: Allow})
		if err != nil {
			t.Fatal(err)
		}
		if r.Printable() != want {
			t.Errorf("%q: Printable() = %v, want %v", line, r.Printable(), want)
		}
		if r.Printable() && printableLen(line) != len(line) {
			t.Errorf("%q reported printable", line)
		}
	}
}

// TestLineBuffered: LineBuffered tells a whole buffered line from the
// start of one.
func TestLineBuffered(t *testing.T) {
	r := NewReader(strings.NewReader("NOOP\r\nNO"))
	if r.LineBuffered() {
		t.Error("LineBuffered before any read")
	}
	if _, err := r.ReadLine(0, Policy{}); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != 2 || r.LineBuffered() {
		t.Errorf("after one line: Buffered %d, LineBuffered %v; want 2, false", r.Buffered(), r.LineBuffered())
	}
	r = NewReader(strings.NewReader("NOOP\r\nNOOP\n"))
	r.ReadLine(0, Policy{})
	if !r.LineBuffered() {
		t.Error("a second whole line is not reported")
	}
}

// chunkSource returns its chunks one per Read (a peer that sent them
// apart).
type chunkSource []string

func (s *chunkSource) Read(p []byte) (int, error) {
	if len(*s) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*s)[0])
	if (*s)[0] = (*s)[0][n:]; (*s)[0] == "" {
		*s = (*s)[1:]
	}
	return n, nil
}

// A Reader that waits for the rest of a line holds only its inline buffer,
// whatever borrowed the big one before: DATA, a BDAT chunk or a long line
// whose end came with the start of the next command (a client that sends
// "NO" and waits would otherwise hold 32 KiB per connection), or an
// over-long line being skipped.
func TestReadLineShrinksMidLine(t *testing.T) {
	long := strings.Repeat("A", 5000)
	chunk := strings.Repeat("z", 2000)
	skipped := strings.Repeat("X", 3000)
	for _, tc := range []struct {
		name   string
		chunks chunkSource
		before func(r *Reader) error
		err    errKind // of the line after
	}{
		{"data", chunkSource{"Subject: x\r\n\r\nhi\r\n.\r\nNO", "OP\r\n"}, func(r *Reader) error {
			_, err := io.Copy(io.Discard, r.DotReader(DataLimits{}))
			return err
		}, errNone},
		{"bdat", chunkSource{chunk + "NO", "OP\r\n"}, func(r *Reader) error {
			_, err := io.Copy(io.Discard, r.ChunkReader(int64(len(chunk))))
			return err
		}, errNone},
		{"long line", chunkSource{long + "\r\nNO", "OP\r\n"}, func(r *Reader) error {
			_, err := r.ReadLine(MaxAuthLine, Policy{})
			return err
		}, errNone},
		{"skipped line", chunkSource{"hi\r\n.\r\n" + skipped, "NOOP\r\n"}, func(r *Reader) error {
			_, err := io.Copy(io.Discard, r.DotReader(DataLimits{}))
			return err
		}, errTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &readSizes{r: &tc.chunks}
			r := NewReader(src)
			if err := tc.before(r); err != nil {
				t.Fatal(err)
			}
			reads := len(src.sizes)
			line, err := r.ReadLine(0, Policy{})
			checkErr(t, err, tc.err, 0)
			if tc.err == errNone && string(line) != "NOOP" {
				t.Fatalf("line %q", line)
			}
			for _, n := range src.sizes[reads:] {
				if n > smallBufSize {
					t.Fatalf("waited for the rest of a line with a %d-byte buffer (reads %v)", n, src.sizes[reads:])
				}
			}
			if len(r.buf) != smallBufSize || r.pooled != nil {
				t.Fatalf("buffer %d after the line", len(r.buf))
			}
		})
	}
}
