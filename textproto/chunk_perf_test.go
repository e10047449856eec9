package textproto

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/iotest"
)

// BenchmarkBDATFilter measures the filter over a message of ordinary text
// under the client's policy (OutputPolicy) and the server's default.
func BenchmarkBDATFilter(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Policy
		size int
	}{
		{"output-1k", OutputPolicy(), 1 << 10},
		{"output-64k", OutputPolicy(), 64 << 10},
		{"intake-64k", DefaultIntakePolicy(), 64 << 10},
		{"strict8bit-64k", Policy{EightBit: Reject}, 64 << 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			msg, _ := benchMessage(bc.size)
			var f BDATFilter
			var src bytes.Reader
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				src.Reset(msg)
				f.Reset(bc.p)
				readToEOF(b, f.Chunk(&src, true), buf)
			}
		})
	}
}

// BenchmarkBDATFilterInPlace is the server's case: the filter over the
// ChunkReader of a Reader, which it reads in place (see ChunkReader.peek),
// with each chunk's BDAT command read before it.
func BenchmarkBDATFilterInPlace(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(strconv.Itoa(size>>10)+"k", func(b *testing.B) {
			msg, _ := benchMessage(size)
			wire := append([]byte("BDAT "+strconv.Itoa(len(msg))+" LAST\r\n"), msg...)
			var src bytes.Reader
			r := NewReader(&src)
			var f BDATFilter
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				src.Reset(wire)
				r.Reset(&src)
				if _, err := r.ReadLine(0, Policy{}); err != nil {
					b.Fatal(err)
				}
				f.Reset(DefaultIntakePolicy())
				readToEOF(b, f.Chunk(r.ChunkReader(int64(len(msg))), true), buf)
			}
		})
	}
}

// readToEOF reads r into buf until io.EOF, failing b on another error.
func readToEOF(b *testing.B, r io.Reader, buf []byte) {
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// bdatResult is what a BDATFilter run shows a caller.
type bdatResult struct {
	out    string
	counts ViolationCounts
	calls  string // OnViolation calls, in order
	err    string // "" or kind@offset of the *ViolationError
}

// refBDAT is a plain byte-at-a-time model of BDATFilter over a message
// sent as any number of chunks (only the end of the last one matters).
func refBDAT(data []byte, p Policy) bdatResult {
	p = p.intake()
	var r bdatResult
	var out []byte
	var seen [numViolationKinds]bool
	var failed bool
	note := func(k ViolationKind, a Action, off int) bool {
		r.counts[k]++
		if !seen[k] {
			seen[k] = true
			r.calls += k.String() + "/" + a.String() + ";"
		}
		if a == Reject {
			r.err = k.String() + "@" + strconv.Itoa(off)
			failed = true
			return true
		}
		return false
	}
	bareCR := func(off int) {
		if note(BareCR, p.BareCR, off) {
			return
		}
		out = append(out, '\r')
		if p.BareCR == Normalize {
			out = append(out, '\n')
		}
	}
	pendCR := false
	for i := 0; i < len(data) && !failed; i++ {
		c := data[i]
		if pendCR {
			pendCR = false
			if c == '\n' {
				out = append(out, '\r', '\n')
				continue
			}
			if bareCR(i); failed {
				break
			}
		}
		switch {
		case c == '\r':
			pendCR = true
		case c == '\n':
			if !note(BareLF, p.BareLF, i+1) {
				if p.BareLF == Normalize {
					out = append(out, '\r')
				}
				out = append(out, '\n')
			}
		case c == 0 && p.NUL != Allow:
			note(NUL, p.NUL, i+1)
		case c >= 0x80 && p.EightBit != Allow:
			if !note(EightBit, p.EightBit, i+1) {
				out = append(out, c)
			}
		default:
			out = append(out, c)
		}
	}
	if pendCR && !failed {
		bareCR(len(data))
	}
	r.out = string(out)
	return r
}

// runBDAT feeds data to a BDATFilter as chunks of the given sizes, each
// source wrapped by wrap, reading into a buffer of bufSize bytes.
func runBDAT(t testing.TB, data []byte, sizes []int, p Policy, wrap func(io.Reader) io.Reader, bufSize int) bdatResult {
	var r bdatResult
	var f BDATFilter
	f.OnViolation = func(k ViolationKind, a Action) { r.calls += k.String() + "/" + a.String() + ";" }
	f.Reset(p)
	var out bytes.Buffer
	buf := make([]byte, bufSize)
	rest := data
	for i, n := range sizes {
		src := f.Chunk(wrap(bytes.NewReader(rest[:n])), i == len(sizes)-1)
		rest = rest[n:]
		for {
			k, err := src.Read(buf)
			out.Write(buf[:k])
			if err == nil {
				continue
			}
			if err == io.EOF {
				break
			}
			var ve *ViolationError
			if !errors.As(err, &ve) {
				t.Fatalf("chunk %d: unexpected error %v", i, err)
			}
			if k != 0 {
				t.Fatalf("chunk %d: %d bytes with error %v", i, k, err)
			}
			e := ve.Kind.String() + "@" + strconv.FormatInt(ve.Offset, 10)
			if r.err != "" && r.err != e {
				t.Fatalf("error changed: %s then %s", r.err, e)
			}
			r.err = e
			break
		}
	}
	r.out, r.counts = out.String(), f.Violations()
	return r
}

// checkBDATDiff compares the filter, fed in several ways, with refBDAT.
func checkBDATDiff(t testing.TB, data, cuts []byte, p Policy) {
	want := refBDAT(data, p)
	var sizes []int
	left := len(data)
	for _, c := range cuts {
		n := min(int(c), left)
		sizes = append(sizes, n)
		left -= n
	}
	sizes = append(sizes, left)
	for _, run := range []struct {
		name  string
		sizes []int
		wrap  func(io.Reader) io.Reader
		buf   int
	}{
		{"whole", []int{len(data)}, func(r io.Reader) io.Reader { return r }, 4096},
		{"whole-1byte-src", []int{len(data)}, iotest.OneByteReader, 4096},
		{"whole-1byte-dst", []int{len(data)}, func(r io.Reader) io.Reader { return r }, 1},
		{"whole-3byte-dst", []int{len(data)}, func(r io.Reader) io.Reader { return r }, 3},
		{"split", sizes, func(r io.Reader) io.Reader { return r }, 7},
		{"split-1byte-src", sizes, iotest.OneByteReader, 2},
	} {
		got := runBDAT(t, data, run.sizes, p, run.wrap, run.buf)
		if got != want {
			t.Fatalf("%s, policy %+v, input %q:\n got %+v\nwant %+v", run.name, p, data, got, want)
		}
	}
}

// The fast path of BDATFilter.step must behave exactly like a byte at a
// time model: same output, counts, OnViolation calls and error offset.
func TestBDATFilterDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab.\r\n\x00\xff\x80 ")
	acts := [...]Action{Default, Reject, Normalize, Allow}
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	for range iters {
		data := make([]byte, rng.IntN(600))
		for i := range data {
			if rng.IntN(4) == 0 {
				data[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				data[i] = byte('a' + rng.IntN(26))
			}
		}
		cuts := make([]byte, rng.IntN(6))
		for i := range cuts {
			cuts[i] = byte(rng.IntN(200))
		}
		p := Policy{
			BareLF:   acts[rng.IntN(4)],
			BareCR:   acts[rng.IntN(4)],
			NUL:      acts[rng.IntN(4)],
			EightBit: acts[rng.IntN(4)],
		}
		checkBDATDiff(t, data, cuts, p)
	}
}

func FuzzBDATFilterDiff(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), []byte{1, 3}, byte(1))
	}
	f.Add([]byte("plain text\r\nwith\nbare\rends\x00and\xff8bit\r"), []byte{5, 0, 9}, byte(80))
	f.Fuzz(func(t *testing.T, data, cuts []byte, sel byte) {
		if len(cuts) > 64 {
			cuts = cuts[:64]
		}
		acts := [...]Action{Default, Reject, Normalize, Allow}
		p := Policy{BareLF: acts[sel&3], BareCR: acts[sel>>2&3], NUL: acts[sel>>4&3], EightBit: acts[sel>>6&3]}
		checkBDATDiff(t, data, cuts, p)
	})
}
