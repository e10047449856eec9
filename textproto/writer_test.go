package textproto

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestDotWriter(t *testing.T) {
	lfAllow := Policy{BareLF: Allow}
	crAllow := Policy{BareCR: Allow}
	tests := []struct {
		name string
		in   string
		p    Policy
		out  string
		v    ViolationKind
		bad  bool
	}{
		{name: "empty", in: "", out: ".\r\n"},
		{name: "no final CRLF", in: "a", out: "a\r\n.\r\n"},
		{name: "final CRLF", in: "a\r\n", out: "a\r\n.\r\n"},
		{name: "empty line", in: "\r\n", out: "\r\n.\r\n"},
		// RFC 5321 4.5.2.
		{name: "stuff first line", in: ".a\r\n", out: "..a\r\n.\r\n"},
		{name: "stuff dot line", in: "a\r\n.\r\nb", out: "a\r\n..\r\nb\r\n.\r\n"},
		{name: "stuff two dots", in: "..\r\n", out: "...\r\n.\r\n"},
		{name: "no stuff mid line", in: "a.b.\r\n", out: "a.b.\r\n.\r\n"},
		// RFC 5321 2.3.8: only CRLF goes out.
		{name: "bare LF", in: "a\nb\n", out: "a\r\nb\r\n.\r\n"},
		{name: "bare LF dot", in: "a\n.\n", out: "a\r\n..\r\n.\r\n"},
		{name: "bare CR", in: "a\rb", out: "a\r\nb\r\n.\r\n"},
		{name: "final bare CR", in: "a\r", out: "a\r\n.\r\n"},
		{name: "CR CR LF", in: "a\r\r\n", out: "a\r\n\r\n.\r\n"},
		{name: "LF CR", in: "a\n\rb", out: "a\r\n\r\nb\r\n.\r\n"},
		{name: "bare CR dot", in: "a\r.\r", out: "a\r\n..\r\n.\r\n"},
		{name: "smuggle attempt", in: "a\r\n.\nMAIL FROM:<x>\r\n", out: "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n"},
		// Other policies.
		{name: "bare LF rejected", in: "a\nb", p: Policy{BareLF: Reject}, bad: true, v: BareLF},
		{name: "bare CR rejected", in: "a\rb", p: Policy{BareCR: Reject}, bad: true, v: BareCR},
		{name: "bare LF allowed stays safe", in: "a\n.\n", p: lfAllow, out: "a\n..\n\r\n.\r\n"},
		{name: "bare LF allowed at end", in: "a\n", p: lfAllow, out: "a\n\r\n.\r\n"},
		{name: "bare CR allowed stays safe", in: "a\r.\r", p: crAllow, out: "a\r..\r\r\n.\r\n"},
		{name: "NUL allowed", in: "a\x00b", out: "a\x00b\r\n.\r\n"},
		{name: "NUL dropped", in: "a\x00b", p: Policy{NUL: Normalize}, out: "ab\r\n.\r\n"},
		{name: "NUL rejected", in: "a\x00b", p: Policy{NUL: Reject}, bad: true, v: NUL},
		{name: "8bit allowed", in: "\xc3\xa9", out: "\xc3\xa9\r\n.\r\n"},
		{name: "8bit rejected", in: "ab\xc3\xa9", p: Policy{EightBit: Reject}, bad: true, v: EightBit},
	}
	for _, tt := range tests {
		for _, piece := range []int{1, 2, 3, 1 << 20} {
			var out bytes.Buffer
			w := NewWriter(&out)
			d := w.DotWriter(tt.p)
			var err error
			for s := tt.in; len(s) > 0 && err == nil; {
				k := min(piece, len(s))
				_, err = d.Write([]byte(s[:k]))
				s = s[k:]
			}
			cerr := d.Close()
			if tt.bad {
				var ve *ViolationError
				if !errors.As(err, &ve) || ve.Kind != tt.v {
					t.Fatalf("%s/%d: err = %v, want %v", tt.name, piece, err, tt.v)
				}
				if cerr != err {
					t.Fatalf("%s/%d: Close = %v, want %v", tt.name, piece, cerr, err)
				}
				if strings.HasSuffix(out.String(), ".\r\n") {
					t.Fatalf("%s/%d: terminator written after error: %q", tt.name, piece, out.String())
				}
				continue
			}
			if err != nil || cerr != nil {
				t.Fatalf("%s/%d: errors %v, %v", tt.name, piece, err, cerr)
			}
			if out.String() != tt.out {
				t.Fatalf("%s/%d: out = %q, want %q", tt.name, piece, out.String(), tt.out)
			}
			if _, err := d.Write([]byte("x")); err != ErrClosed {
				t.Fatalf("%s: Write after Close = %v", tt.name, err)
			}
			if w.pooled != nil {
				t.Fatalf("%s: pooled buffer kept after Close", tt.name)
			}
		}
	}
}

// The output of DotWriter decodes back to the normalised input, and a
// strict decoder finds no bare CR or LF in it.
func TestDotRoundTrip(t *testing.T) {
	inputs := []string{
		"", "a", ".", "..", ".\r\n", "\r\n.\r\n", "a\n.\nb", "a\r.\rb", "\n", "\r", "\r\n",
		"line1\r\n.line2\r\n..line3\n", strings.Repeat("x", 70000) + "\n.\n",
	}
	for _, in := range inputs {
		got, err := roundTrip([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if want := normalize([]byte(in)); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %q, want %q", in, got, want)
		}
	}
}

// normalize is the reference: every line end becomes CRLF and a last line
// without one gets one.
func normalize(in []byte) []byte {
	var out []byte
	for i := 0; i < len(in); i++ {
		switch c := in[i]; c {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(in) && in[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

func roundTrip(in []byte) ([]byte, error) {
	var wire bytes.Buffer
	w := NewWriter(&wire)
	d := w.DotWriter(OutputPolicy())
	if _, err := d.Write(in); err != nil {
		return nil, err
	}
	if err := d.Close(); err != nil {
		return nil, err
	}
	wire.WriteString("QUIT\r\n")
	r := NewReader(&wire)
	strict := Policy{BareLF: Reject, BareCR: Reject, NUL: Allow, EightBit: Allow}
	out, err := io.ReadAll(r.DotReader(DataLimits{Policy: strict}))
	if err != nil {
		return out, err
	}
	if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "QUIT" {
		return out, errors.New("not in sync after data: " + string(line))
	}
	return out, nil
}

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	if err := w.WriteLine("MAIL FROM:<a@b>"); err != nil {
		t.Fatal(err)
	}
	w.WriteString("RCPT TO:<c@d>\r\n")
	w.Write([]byte("DATA\r\n"))
	if out.Len() != 0 {
		t.Fatalf("written before Flush: %q", out.String())
	}
	if w.Buffered() != len("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n") {
		t.Fatalf("Buffered = %d", w.Buffered())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" || w.Buffered() != 0 {
		t.Fatalf("out = %q", out.String())
	}
	// Larger than the buffer.
	out.Reset()
	big := strings.Repeat("y", 3*smallBufSize+17)
	w.WriteString("x")
	w.WriteString(big)
	w.Write([]byte(big))
	w.Flush()
	if out.String() != "x"+big+big {
		t.Fatalf("big write: %d bytes", out.Len())
	}
}

func TestWriteLineInjection(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	for _, tc := range []struct {
		s string
		v ViolationKind
	}{
		{"RCPT TO:<a@b>\r\nDATA", BareCR},
		{"RCPT TO:<a@b>\nDATA", BareLF},
		{"RCPT TO:<a\x00@b>", NUL},
	} {
		err := w.WriteLine(tc.s)
		var ve *ViolationError
		if !errors.As(err, &ve) || ve.Kind != tc.v {
			t.Fatalf("%q: err = %v", tc.s, err)
		}
	}
	if w.Buffered() != 0 {
		t.Fatalf("refused line was buffered")
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("broken pipe")
	}
	k := min(f.n, len(p))
	f.n -= k
	return k, nil
}

func TestWriterError(t *testing.T) {
	w := NewWriter(&failWriter{n: 3})
	w.WriteString("hello")
	err := w.Flush()
	if err == nil {
		t.Fatal("no error")
	}
	if w.Buffered() != 2 {
		t.Fatalf("Buffered = %d", w.Buffered())
	}
	if err2 := w.WriteLine("x"); err2 != err {
		t.Fatalf("sticky error: %v", err2)
	}
	d := w.DotWriter(Policy{})
	if _, err2 := d.Write([]byte(strings.Repeat("z", 100000))); err2 != err {
		t.Fatalf("DotWriter error: %v", err2)
	}
	if err2 := d.Close(); err2 != err {
		t.Fatalf("Close error: %v", err2)
	}
	w.Reset(io.Discard)
	if err := w.WriteLine("ok"); err != nil {
		t.Fatal(err)
	}
}

func TestDotWriterAllocs(t *testing.T) {
	msg := bytes.Repeat([]byte("Some text of a message line.\n.dot line\r\n"), 100)
	w := NewWriter(io.Discard)
	allocs := testing.AllocsPerRun(50, func() {
		d := w.DotWriter(Policy{})
		d.Write(msg)
		d.Close()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per message", allocs)
	}
}
