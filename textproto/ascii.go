package textproto

import "encoding/binary"

const hiBits = 0x8080808080808080

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
