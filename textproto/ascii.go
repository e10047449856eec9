package textproto

import (
	"encoding/binary"
	"math/bits"
)

const (
	hiBits = 0x8080808080808080
	loBits = 0x0101010101010101
)

// indexNonASCII returns the index of the first byte >= 0x80 in b, or -1.
// It tests eight bytes at a time.
func indexNonASCII(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&hiBits != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return i
		}
	}
	return -1
}

// countNonASCII returns the number of bytes >= 0x80 in b.
func countNonASCII(b []byte) int {
	n := 0
	for _, c := range b {
		n += int(c >> 7)
	}
	return n
}

// printableLen returns the length of the run of printable ASCII bytes (0x20
// to 0x7E) at the start of b. It tests eight bytes at a time: in a word
// with no byte below 0x20 (the subtraction borrows into the high bit of
// such a byte, and only of such a byte while all are below 0x80), none at
// 0x7F (the addition carries into the high bit) and none with the high bit
// set, every byte is printable.
func printableLen(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i : i+8])
		if m := ((w - 0x20*loBits) | (w + loBits) | w) & hiBits; m != 0 {
			// The lowest flagged byte is the first one that is not
			// printable: no borrow or carry reaches a byte from below
			// unless a flagged byte is there.
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c >= 0x7f {
			break
		}
	}
	return i
}

// dataSpecial holds, for each policy class (see specialIndex), the bytes of
// message data that need attention one by one: CR and LF always, NUL
// unless the policy allows it, 8-bit bytes unless the policy allows them.
// Every other byte is copied through unchanged. It is built once and only
// read.
var dataSpecial = func() (t [4][256]bool) {
	for i := range t {
		t[i]['\r'] = true
		t[i]['\n'] = true
		t[i][0] = i&1 != 0
		for c := 0x80; c < 0x100; c++ {
			t[i][c] = i&2 != 0
		}
	}
	return t
}()

// specialIndex returns the index in dataSpecial of the resolved policy p.
func specialIndex(p Policy) int {
	i := 0
	if p.NUL != Allow {
		i |= 1
	}
	if p.EightBit != Allow {
		i |= 2
	}
	return i
}

// plainLen returns the length of the run at the start of b of bytes that
// dataSpecial[class] does not mark. It tests eight bytes at a time: the
// subtraction borrows into the high bit of a byte below 0x0E (CR, LF, NUL
// and the other controls below it), and of no byte before the first such
// one, so the lowest flagged byte of a word is its first byte below 0x0E,
// or with the high bit set when the class marks 8-bit bytes. Only that byte
// is looked up; if it needs nothing (a TAB), the scan goes on after it.
func plainLen(b []byte, class int) int {
	special := &dataSpecial[class]
	high := uint64(0)
	if class&2 != 0 {
		high = hiBits
	}
	i := 0
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i : i+8])
		if m := ((w-0x0e*loBits)&^w | w&high) & hiBits; m != 0 {
			j := i + bits.TrailingZeros64(m)>>3
			if special[b[j]] {
				return j
			}
			i = j + 1
			continue
		}
		i += 8
	}
	for ; i < len(b); i++ {
		if special[b[i]] {
			return i
		}
	}
	return i
}
