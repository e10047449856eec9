package textproto

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDotReader(t *testing.T) {
	def := DefaultIntakePolicy()
	crNorm := with(def, func(p *Policy) { p.BareCR = Normalize })
	lfAllow := with(def, func(p *Policy) { p.BareLF = Allow })
	crAllow := with(def, func(p *Policy) { p.BareCR = Allow })
	tests := []struct {
		name string
		in   string
		lim  DataLimits
		out  string // checked only when err is errNone
		err  errKind
		v    ViolationKind
		rest string
	}{
		{name: "simple", in: "Hello\r\n.\r\nQUIT\r\n", out: "Hello\r\n", rest: "QUIT\r\n"},
		{name: "empty message", in: ".\r\nQUIT\r\n", out: "", rest: "QUIT\r\n"},
		{name: "empty line", in: "\r\n.\r\n", out: "\r\n"},
		{name: "multi line", in: "a\r\nb\r\n\r\nc\r\n.\r\n", out: "a\r\nb\r\n\r\nc\r\n"},
		// RFC 5321 4.5.2: transparency.
		{name: "stuffed", in: "..foo\r\n.\r\n", out: ".foo\r\n"},
		{name: "stuffed dot line", in: "a\r\n..\r\n.\r\nNOOP\r\n", out: "a\r\n.\r\n", rest: "NOOP\r\n"},
		{name: "unstuffed dot", in: ".foo\r\n.\r\n", out: "foo\r\n"},
		{name: "three dots", in: "...\r\n.\r\n", out: "..\r\n"},
		{name: "dot mid line", in: "a.b\r\n a.\r\n.\r\n", out: "a.b\r\n a.\r\n"},
		{name: "dot space", in: ". \r\n.\r\n", out: " \r\n"},
		{name: "terminator in body text", in: "x\r\n.\r\n.\r\n", out: "x\r\n", rest: ".\r\n"},
		// Bare LF, default policy: a line end, never part of the end.
		{name: "bare LF normalised", in: "a\nb\r\n.\r\n", out: "a\r\nb\r\n"},
		{name: "bare LF stuffed", in: "a\n..b\r\n.\r\n", out: "a\r\n.b\r\n"},
		{name: "only bare LF end", in: "a\nb\n.\r\n.\r\nNOOP\r\n", err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		// SMTP smuggling, CVE-2023-51764/51765/51766: none of these ends the data.
		{name: "smuggle LF.LF", in: "a\n.\nMAIL FROM:<x>\r\n.\r\nNOOP\r\n", err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle CRLF.LF", in: "a\r\n.\nMAIL FROM:<x>\r\n.\r\nNOOP\r\n", err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle LF.CRLF", in: "a\n.\r\nMAIL FROM:<x>\r\n.\r\nNOOP\r\n", err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle CR.CRLF", in: "a\r.\r\nMAIL FROM:<x>\r\n.\r\nNOOP\r\n", err: errViolation, v: BareCR, rest: "NOOP\r\n"},
		{name: "smuggle CR.CRLF normalised", in: "a\r.\r\nMAIL FROM:<x>\r\n.\r\nNOOP\r\n", lim: DataLimits{Policy: crNorm}, err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle CR.CRLF allowed", in: "a\r.\r\nMAIL FROM:<x>\r\n.\r\nNOOP\r\n", lim: DataLimits{Policy: crAllow}, err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle CRLF.CR", in: "a\r\n.\rMAIL FROM:<x>\r\n.\r\nNOOP\r\n", err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle CR.CR", in: "a\r.\rMAIL\r\n.\r\nNOOP\r\n", lim: DataLimits{Policy: crNorm}, err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle CRLF.CRCRLF", in: "a\r\n.\r\r\n.\r\nNOOP\r\n", err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle LF.LF allowed", in: "a\n.\nb\r\n.\r\nNOOP\r\n", lim: DataLimits{Policy: lfAllow}, err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle LF.CRLF allowed", in: "a\n.\r\nb\r\n.\r\nNOOP\r\n", lim: DataLimits{Policy: lfAllow}, err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle at start LF", in: ".\nMAIL\r\n.\r\nNOOP\r\n", err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle at start CR", in: ".\rMAIL\r\n.\r\nNOOP\r\n", err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		{name: "smuggle strict", in: "a\n.\nb\r\n.\r\nNOOP\r\n", lim: DataLimits{Policy: StrictIntakePolicy()}, err: errViolation, v: BareLF, rest: "NOOP\r\n"},
		{name: "smuggle discarding then real end", in: "a\n.\n\r\n.\r\nNOOP\r\n", err: errViolation, v: FakeEndOfData, rest: "NOOP\r\n"},
		// Bare LF and CR under other policies.
		{name: "bare LF strict", in: "a\nb\r\n.\r\nNOOP\r\n", lim: DataLimits{Policy: StrictIntakePolicy()}, err: errViolation, v: BareLF, rest: "NOOP\r\n"},
		{name: "bare LF allowed", in: "a\n.b\nc\r\n.\r\n", lim: DataLimits{Policy: lfAllow}, out: "a\n.b\nc\r\n"},
		{name: "bare CR rejected", in: "a\rb\r\n.\r\nNOOP\r\n", err: errViolation, v: BareCR, rest: "NOOP\r\n"},
		{name: "bare CR normalised", in: "a\rb\r\n.\r\n", lim: DataLimits{Policy: crNorm}, out: "a\r\nb\r\n"},
		{name: "bare CR normalised stuffed", in: "a\r..b\r\n.\r\n", lim: DataLimits{Policy: crNorm}, out: "a\r\n.b\r\n"},
		{name: "bare CR allowed", in: "a\r.b\r\n.\r\n", lim: DataLimits{Policy: crAllow}, out: "a\r.b\r\n"},
		{name: "CR CR LF", in: "a\r\r\n.\r\nNOOP\r\n", err: errViolation, v: BareCR, rest: "NOOP\r\n"},
		// NUL and 8-bit.
		{name: "NUL rejected", in: "a\x00b\r\n.\r\nNOOP\r\n", err: errViolation, v: NUL, rest: "NOOP\r\n"},
		{name: "NUL dropped", in: "a\x00b\x00\r\n.\r\n", lim: DataLimits{Policy: Policy{NUL: Normalize}}, out: "ab\r\n"},
		{name: "NUL allowed", in: "a\x00b\r\n.\r\n", lim: DataLimits{Policy: Policy{NUL: Allow}}, out: "a\x00b\r\n"},
		{name: "8bit allowed", in: "caf\xc3\xa9\r\n.\r\n", out: "caf\xc3\xa9\r\n"},
		{name: "8bit counted", in: "caf\xc3\xa9\r\n.\r\n", lim: DataLimits{Policy: Policy{EightBit: Normalize}}, out: "caf\xc3\xa9\r\n"},
		{name: "8bit rejected", in: "caf\xc3\xa9\r\n.\r\nNOOP\r\n", lim: DataLimits{Policy: Policy{EightBit: Reject}}, err: errViolation, v: EightBit, rest: "NOOP\r\n"},
		// Limits.
		{name: "size at limit", in: "0123456789\r\n.\r\n", lim: DataLimits{MaxSize: 12}, out: "0123456789\r\n"},
		{name: "size over", in: "0123456789\r\n.\r\nNOOP\r\n", lim: DataLimits{MaxSize: 11}, err: errTooLarge, rest: "NOOP\r\n"},
		{name: "size over early", in: "0123456789\r\n" + strings.Repeat("abc\r\n", 1000) + ".\r\nNOOP\r\n", lim: DataLimits{MaxSize: 5}, err: errTooLarge, rest: "NOOP\r\n"},
		{name: "size counts decoded", in: "..\r\n.\r\n", lim: DataLimits{MaxSize: 3}, out: ".\r\n"},
		{name: "line at limit", in: "12345678\r\n.\r\n", lim: DataLimits{MaxLineLength: 10}, out: "12345678\r\n"},
		{name: "line over", in: "123456789\r\n.\r\nNOOP\r\n", lim: DataLimits{MaxLineLength: 10}, err: errTooLong, rest: "NOOP\r\n"},
		// RFC 5321 4.5.3.1.6 limits the text line; the stuffed dot is
		// transparency (4.5.2) and a dropped NUL is not delivered: the
		// limit counts what is delivered.
		{name: "line at limit stuffed", in: "..3456789\r\n.\r\n", lim: DataLimits{MaxLineLength: 10}, out: ".3456789\r\n"},
		{name: "line over stuffed", in: "..34567890\r\n.\r\nNOOP\r\n", lim: DataLimits{MaxLineLength: 10}, err: errTooLong, rest: "NOOP\r\n"},
		{name: "line at limit NUL dropped", in: "1234\x00\x005678\r\n.\r\n", lim: DataLimits{MaxLineLength: 10, Policy: Policy{NUL: Normalize}}, out: "12345678\r\n"},
		{name: "line over NUL dropped", in: "1234\x0056789\r\n.\r\nNOOP\r\n", lim: DataLimits{MaxLineLength: 10, Policy: Policy{NUL: Normalize}}, err: errTooLong, rest: "NOOP\r\n"},
		{name: "line at limit NUL allowed", in: "1234\x00567\r\n.\r\n", lim: DataLimits{MaxLineLength: 10, Policy: Policy{NUL: Allow}}, out: "1234\x00567\r\n"},
		{name: "line over NUL allowed", in: "1234\x005678\r\n.\r\nNOOP\r\n", lim: DataLimits{MaxLineLength: 10, Policy: Policy{NUL: Allow}}, err: errTooLong, rest: "NOOP\r\n"},
		// Both limits crossed in one line: the first crossed answers.
		{name: "size crossed before line", in: "1234567890\r\n.\r\nNOOP\r\n", lim: DataLimits{MaxLineLength: 10, MaxSize: 5}, err: errTooLarge, rest: "NOOP\r\n"},
		{name: "line crossed before size", in: "1234567890\r\n.\r\nNOOP\r\n", lim: DataLimits{MaxLineLength: 5, MaxSize: 10}, err: errTooLong, rest: "NOOP\r\n"},
		{name: "both at one octet", in: "1234567890\r\n.\r\nNOOP\r\n", lim: DataLimits{MaxLineLength: 5, MaxSize: 3}, err: errTooLong, rest: "NOOP\r\n"},
		{name: "first error wins", in: "a\x00\r\n" + strings.Repeat("x", 100) + "\r\n.\r\n", lim: DataLimits{MaxSize: 10}, err: errViolation, v: NUL},
		// Truncated input.
		{name: "eof in line", in: "abc", err: errUnexpectedEOF},
		{name: "eof after CRLF", in: "abc\r\n", err: errUnexpectedEOF},
		{name: "eof after dot", in: "abc\r\n.", err: errUnexpectedEOF},
		{name: "eof after dot CR", in: "abc\r\n.\r", err: errUnexpectedEOF},
		{name: "eof while discarding", in: "a\x00\r\n", err: errUnexpectedEOF},
		{name: "eof empty", in: "", err: errUnexpectedEOF},
	}
	outSizes := []int{1, 2, 3, 4096}
	for _, tt := range tests {
		for _, rk := range readerKinds {
			for _, sz := range outSizes {
				name := tt.name + "/" + rk.name + "/" + string(rune('0'+sz%10))
				t.Run(name, func(t *testing.T) {
					r := NewReader(rk.wrap(strings.NewReader(tt.in)))
					d := r.DotReader(tt.lim)
					var out bytes.Buffer
					buf := make([]byte, sz)
					var err error
					for {
						var n int
						n, err = d.Read(buf)
						out.Write(buf[:n])
						if err != nil {
							break
						}
					}
					if tt.err == errNone {
						if err != io.EOF {
							t.Fatalf("err = %v, want io.EOF", err)
						}
						if out.String() != tt.out {
							t.Fatalf("out = %q, want %q", out.String(), tt.out)
						}
						if d.N() != int64(len(tt.out)) {
							t.Fatalf("N = %d, want %d", d.N(), len(tt.out))
						}
					} else {
						checkErr(t, err, tt.err, tt.v)
					}
					if tt.lim.MaxSize > 0 && int64(out.Len()) > tt.lim.MaxSize {
						t.Fatalf("delivered %d bytes over MaxSize %d", out.Len(), tt.lim.MaxSize)
					}
					if tt.err == errUnexpectedEOF {
						return
					}
					// Sticky result.
					if n, err2 := d.Read(buf); n != 0 || err2 != err {
						t.Fatalf("second Read = %d, %v; want 0, %v", n, err2, err)
					}
					if rest := readRest(t, r); rest != tt.rest {
						t.Fatalf("rest = %q, want %q", rest, tt.rest)
					}
				})
			}
		}
	}
}

func TestDotReaderPipelinedLines(t *testing.T) {
	in := "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\n..hi\r\n.\r\nQUIT\r\n"
	for _, rk := range readerKinds {
		src := &readSizes{r: rk.wrap(strings.NewReader(in))}
		r := NewReader(src)
		for _, want := range []string{"MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA"} {
			line, err := r.ReadLine(0, Policy{})
			if err != nil || string(line) != want {
				t.Fatalf("%s: got %q, %v", rk.name, line, err)
			}
		}
		body, err := io.ReadAll(r.DotReader(DataLimits{}))
		if err != nil || string(body) != "Subject: x\r\n\r\n.hi\r\n" {
			t.Fatalf("%s: body %q, %v", rk.name, body, err)
		}
		line, err := r.ReadLine(0, Policy{})
		if err != nil || string(line) != "QUIT" {
			t.Fatalf("%s: got %q, %v", rk.name, line, err)
		}
		checkSmallAtRead(t, rk.name, r, src)
	}
}

func TestDotReaderDiscard(t *testing.T) {
	in := strings.Repeat("line of text\r\n", 5000) + ".\r\nNOOP\r\n"
	r := NewReader(strings.NewReader(in))
	d := r.DotReader(DataLimits{})
	buf := make([]byte, 100)
	if _, err := d.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "NOOP" {
		t.Fatalf("got %q, %v", line, err)
	}
	// Discard reports what Read would have.
	r = NewReader(strings.NewReader("a\n.\nb\r\n.\r\nNOOP\r\n"))
	err := r.DotReader(DataLimits{}).Discard()
	checkErr(t, err, errViolation, FakeEndOfData)
	if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "NOOP" {
		t.Fatalf("got %q, %v", line, err)
	}
}

func TestDotReaderViolations(t *testing.T) {
	r := NewReader(strings.NewReader("a\nb\nc\xff\r\n.\r\n"))
	var calls int
	r.OnViolation = func(ViolationKind, Action) { calls++ }
	d := r.DotReader(DataLimits{Policy: Policy{EightBit: Normalize}})
	body, err := io.ReadAll(d)
	if err != nil || string(body) != "a\r\nb\r\nc\xff\r\n" {
		t.Fatalf("got %q, %v", body, err)
	}
	c := d.Violations()
	if c[BareLF] != 2 || c[EightBit] != 1 || calls != 2 {
		t.Fatalf("counts %v, calls %d", c, calls)
	}
}

func TestDotReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("abc\r\n"), iotest.ErrReader(boom)))
	_, err := io.ReadAll(r.DotReader(DataLimits{}))
	if err != boom {
		t.Fatalf("err = %v, want boom", err)
	}
}

// Constant memory: a message far larger than the buffer, with a line far
// longer than the buffer, keeps the pooled buffer size.
func TestDotReaderConstantMemory(t *testing.T) {
	src := io.MultiReader(io.LimitReader(repeatReader('x'), 5<<20), strings.NewReader("\r\n.\r\nNOOP\r\n"))
	r := NewReader(src)
	d := r.DotReader(DataLimits{MaxSize: 1 << 20})
	n, err := io.Copy(io.Discard, d)
	checkErr(t, err, errTooLarge, 0)
	if n != 1<<20 {
		t.Fatalf("delivered %d", n)
	}
	if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "NOOP" {
		t.Fatalf("got %q, %v", line, err)
	}
}
