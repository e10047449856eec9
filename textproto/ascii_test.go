package textproto

import (
	"math/rand/v2"
	"testing"
)

func naivePlainLen(b []byte, class int) int {
	for i, c := range b {
		if dataSpecial[class][c] {
			return i
		}
	}
	return len(b)
}

func naivePrintableLen(b []byte) int {
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			return i
		}
	}
	return len(b)
}

// TestWordScans: the eight-bytes-at-a-time scans give what a byte loop
// gives, and crlfRun what it gives by byte classes alone: every byte value at every position of a plain run (each class,
// each alignment), and random mixes of the bytes at the edges of the
// word tests (0x0D, 0x0E, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xFF, NUL, TAB).
func TestWordScans(t *testing.T) {
	check := func(b []byte) {
		t.Helper()
		for class := range dataSpecial {
			if got, want := plainLen(b, class), naivePlainLen(b, class); got != want {
				t.Fatalf("plainLen(%q, %d) = %d, want %d", b, class, got, want)
			}
		}
		if got, want := printableLen(b), naivePrintableLen(b); got != want {
			t.Fatalf("printableLen(%q) = %d, want %d", b, got, want)
		}
		for class := range dataSpecial {
			if got, want := crlfRun(b, class), crlfRunBytes(b, class); got != want {
				t.Fatalf("crlfRun(%q, %d) = %d, want %d", b, class, got, want)
			}
		}
	}
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for v := 0; v < 256; v++ {
				b := make([]byte, n)
				for i := range b {
					b[i] = 'a'
				}
				b[pos] = byte(v)
				check(b)
			}
		}
	}
	edges := []byte{0, '\t', '\n', '\r', '\r', '\n', 0x0e, 0x1f, ' ', 'x', '~', 0x7f, 0x80, 0xc3, 0xff}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = edges[rng.IntN(len(edges))]
			} else {
				b[i] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		check(b)
	}
	// Lines ending in CRLF, with now and then a defect: what crlfRun
	// takes in bulk, and where it must stop.
	for range 50000 {
		var b []byte
		for range rng.IntN(6) {
			for range rng.IntN(20) {
				b = append(b, byte(0x20+rng.IntN(0x5f)))
			}
			if rng.IntN(8) == 0 {
				b = append(b, edges[rng.IntN(len(edges))])
			}
			b = append(b, '\r', '\n')
		}
		if n := len(b); n > 0 && rng.IntN(3) == 0 {
			b = b[:rng.IntN(n)]
		}
		check(b)
	}
}
