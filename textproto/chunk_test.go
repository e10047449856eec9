package textproto

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestChunkReader(t *testing.T) {
	body := "binary\x00\r\n.\r\n\xff\n"
	in := "BDAT 14 LAST\r\n" + body + "QUIT\r\n"
	for _, rk := range readerKinds {
		r := NewReader(rk.wrap(strings.NewReader(in)))
		line, err := r.ReadLine(0, Policy{})
		if err != nil || string(line) != "BDAT 14 LAST" {
			t.Fatalf("%s: %q, %v", rk.name, line, err)
		}
		c := r.ChunkReader(int64(len(body)))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != body {
			t.Fatalf("%s: chunk %q, %v", rk.name, got, err)
		}
		if c.Remaining() != 0 {
			t.Fatalf("%s: Remaining = %d", rk.name, c.Remaining())
		}
		line, err = r.ReadLine(0, Policy{})
		if err != nil || string(line) != "QUIT" {
			t.Fatalf("%s: %q, %v", rk.name, line, err)
		}
	}
}

func TestChunkReaderLarge(t *testing.T) {
	const size = 200000
	in := strings.Repeat("z", size) + "NOOP\r\n"
	src := &readSizes{r: strings.NewReader(in)}
	r := NewReader(src)
	c := r.ChunkReader(size)
	if len(r.buf) != bigBufSize {
		t.Fatalf("buffer %d for a large chunk", len(r.buf))
	}
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != size {
		t.Fatalf("copied %d, %v", n, err)
	}
	if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "NOOP" {
		t.Fatalf("%q, %v", line, err)
	}
	checkSmallAtRead(t, "large chunk", r, src)
}

func TestChunkReaderDiscard(t *testing.T) {
	for _, rk := range readerKinds {
		r := NewReader(rk.wrap(strings.NewReader(strings.Repeat("q", 100000) + "RSET\r\n")))
		c := r.ChunkReader(100000)
		buf := make([]byte, 10)
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
		if err := c.Discard(); err != nil {
			t.Fatal(err)
		}
		if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "RSET" {
			t.Fatalf("%s: %q, %v", rk.name, line, err)
		}
	}
}

func TestChunkReaderShort(t *testing.T) {
	r := NewReader(strings.NewReader("abc"))
	_, err := io.ReadAll(r.ChunkReader(10))
	checkErr(t, err, errUnexpectedEOF, 0)
	r = NewReader(strings.NewReader("abc"))
	checkErr(t, r.ChunkReader(10).Discard(), errUnexpectedEOF, 0)
	r = NewReader(strings.NewReader(""))
	got, err := io.ReadAll(r.ChunkReader(0))
	if err != nil || len(got) != 0 {
		t.Fatalf("empty chunk: %q, %v", got, err)
	}
}

func TestBDATFilter(t *testing.T) {
	def := DefaultIntakePolicy()
	crNorm := Policy{BareCR: Normalize}
	tests := []struct {
		name   string
		chunks []string
		p      Policy
		out    string
		bad    bool
		v      ViolationKind
	}{
		{name: "clean", chunks: []string{"a\r\nb", "c\r\n"}, p: def, out: "a\r\nbc\r\n"},
		{name: "CRLF across chunks", chunks: []string{"a\r", "\nb\r\n"}, p: def, out: "a\r\nb\r\n"},
		{name: "bare LF", chunks: []string{"a\nb", "\n"}, p: def, out: "a\r\nb\r\n"},
		{name: "bare LF at chunk start", chunks: []string{"a", "\nb"}, p: def, out: "a\r\nb"},
		{name: "bare LF strict", chunks: []string{"a\nb", "c"}, p: StrictIntakePolicy(), bad: true, v: BareLF},
		{name: "bare CR across chunks", chunks: []string{"a\r", "b"}, p: def, bad: true, v: BareCR},
		{name: "bare CR at last end", chunks: []string{"a", "b\r"}, p: def, bad: true, v: BareCR},
		{name: "bare CR normalised", chunks: []string{"a\r", "b\r"}, p: crNorm, out: "a\r\nb\r\n"},
		{name: "bare CR allowed", chunks: []string{"a\rb"}, p: Policy{BareCR: Allow}, out: "a\rb"},
		{name: "NUL rejected", chunks: []string{"a\x00", "b"}, p: def, bad: true, v: NUL},
		{name: "NUL dropped", chunks: []string{"a\x00b"}, p: Policy{NUL: Normalize}, out: "ab"},
		{name: "8bit", chunks: []string{"\xff"}, p: def, out: "\xff"},
		{name: "8bit rejected", chunks: []string{"\xff"}, p: Policy{EightBit: Reject}, bad: true, v: EightBit},
		{name: "dots untouched", chunks: []string{".\r\n..\r\n"}, p: def, out: ".\r\n..\r\n"},
		{name: "empty chunks", chunks: []string{"", "a\r", "", "\n"}, p: def, out: "a\r\n"},
	}
	for _, tt := range tests {
		for _, rk := range readerKinds {
			for _, sz := range []int{1, 2, 4096} {
				var wire strings.Builder
				for _, c := range tt.chunks {
					wire.WriteString(c)
				}
				wire.WriteString("QUIT\r\n")
				r := NewReader(rk.wrap(strings.NewReader(wire.String())))
				var f BDATFilter
				f.Reset(tt.p)
				var out bytes.Buffer
				var err error
				buf := make([]byte, sz)
				for i, c := range tt.chunks {
					src := f.Chunk(r.ChunkReader(int64(len(c))), i == len(tt.chunks)-1)
					for {
						var n int
						n, err = src.Read(buf)
						out.Write(buf[:n])
						if err != nil {
							break
						}
					}
					if err != io.EOF {
						break
					}
				}
				if tt.bad {
					var ve *ViolationError
					if !errors.As(err, &ve) || ve.Kind != tt.v {
						t.Fatalf("%s/%s/%d: err = %v, want %v", tt.name, rk.name, sz, err, tt.v)
					}
				} else {
					if err != io.EOF {
						t.Fatalf("%s/%s/%d: err = %v", tt.name, rk.name, sz, err)
					}
					if out.String() != tt.out {
						t.Fatalf("%s/%s/%d: out = %q, want %q", tt.name, rk.name, sz, out.String(), tt.out)
					}
				}
				if tt.bad {
					// Remaining chunks are still read by the caller.
					continue
				}
				if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "QUIT" {
					t.Fatalf("%s/%s/%d: after chunks %q, %v", tt.name, rk.name, sz, line, err)
				}
			}
		}
	}
}

// After a rejected violation the filter reads every chunk to its end, so
// the session stays in sync.
func TestBDATFilterSync(t *testing.T) {
	r := NewReader(strings.NewReader("a\x00bcdefghij" + "second" + "NOOP\r\n"))
	var f BDATFilter
	f.Reset(Policy{})
	_, err := io.ReadAll(f.Chunk(r.ChunkReader(11), false))
	checkErr(t, err, errViolation, NUL)
	_, err = io.ReadAll(f.Chunk(r.ChunkReader(6), true))
	checkErr(t, err, errViolation, NUL)
	if line, err := r.ReadLine(0, Policy{}); err != nil || string(line) != "NOOP" {
		t.Fatalf("%q, %v", line, err)
	}
	if c := f.Violations(); c[NUL] != 1 {
		t.Fatalf("counts %v", c)
	}
}
