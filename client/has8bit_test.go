package client

import "testing"

// TestHas8bit: the word-at-a-time scan finds an 8-bit byte at every
// position of buffers of every length around its strides, and none where
// there is none.
func TestHas8bit(t *testing.T) {
	for n := 0; n <= 40; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = 0x7f
		}
		if has8bit(b) {
			t.Fatalf("7-bit buffer of %d reported 8-bit", n)
		}
		for pos := 0; pos < n; pos++ {
			for _, v := range []byte{0x80, 0xc3, 0xff} {
				b[pos] = v
				if !has8bit(b) {
					t.Fatalf("byte %#x at %d of %d not found", v, pos, n)
				}
				b[pos] = 0x7f
			}
		}
	}
}
