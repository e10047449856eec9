package proxyproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// FuzzReadHeader feeds arbitrary bytes to ReadHeader, whole and one byte at
// a time, and checks that it never panics, that both agree, that a success
// consumes exactly the header, and that a parsed header re-encodes to
// something that parses the same.
func FuzzReadHeader(f *testing.F) {
	seeds := []string{
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n",
		"PROXY TCP6 2001:db8::1 2001:db8::2 1024 587\r\nEHLO x\r\n",
		"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		"PROXY TCP4 192.0.2.01 192.0.2.2 1 2\r\n",
		"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n",
		"PROXY\r\n",
		"EHLO client.example\r\n",
		"\r\n\r\n\x00\r\nQUIT\n",
		v2(0x21, 0x11, []byte{192, 0, 2, 1, 198, 51, 100, 2, 0xDB, 0xC4, 0, 25}),
		v2(0x21, 0x21, make([]byte, 36)),
		v2(0x21, 0x31, make([]byte, 216)),
		v2(0x20, 0x00, nil),
		v2(0x20, 0xFF, []byte("x")),
		v2(0x21, 0x00, tlv(TypeAuthority, "mx")),
		v2(0x21, 0x11, cat(make([]byte, 12), tlv(TypeSSL, "\x01\x00\x00\x00\x00\x21\x00\x07TLSv1.3"), tlv(TypeNoop, ""))),
		v2(0x21, 0x11, cat(make([]byte, 12), tlv(TypeCRC32C, "\x00\x00\x00\x00"))),
		v2(0x21, 0x11, cat(make([]byte, 12), []byte{1, 0, 9})),
		v2(0x21, 0x11, nil)[:14] + "\xff\xff",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		h, err := ReadHeader(r)
		one := bufio.NewReader(iotest.OneByteReader(bytes.NewReader(in)))
		h1, err1 := ReadHeader(one)
		if (err == nil) != (err1 == nil) {
			t.Fatalf("whole: %v, one byte: %v", err, err1)
		}
		if err != nil {
			var he *HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("error %T is not a *HeaderError: %v", err, err)
			}
			return
		}
		consumed := len(in) - r.Len()
		if h.Version == 1 {
			if i := bytes.IndexByte(in, '\n'); i+1 != consumed || consumed > MaxV1Length {
				t.Fatalf("v1 consumed %d bytes, line ends at %d", consumed, i+1)
			}
		} else if want := v2FixedLength + (int(in[14])<<8 | int(in[15])); consumed != want {
			t.Fatalf("v2 consumed %d bytes, header is %d", consumed, want)
		}
		rest, _ := io.ReadAll(one)
		if !bytes.Equal(rest, in[consumed:]) {
			t.Fatalf("one-byte reader left %q, want %q", rest, in[consumed:])
		}
		if h1.Version != h.Version || h1.Command != h.Command || len(h1.TLVs) != len(h.TLVs) {
			t.Fatalf("whole %+v, one byte %+v", h, h1)
		}
		h.SSL() // must not panic

		b, err := h.Format()
		if err != nil {
			t.Fatalf("cannot re-encode %+v: %v", h, err)
		}
		h2, err := ReadHeader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", b, err)
		}
		if h2.Command != h.Command || addrString(h2.Source) != addrString(h.Source) ||
			addrString(h2.Destination) != addrString(h.Destination) || len(h2.TLVs) != len(h.TLVs) {
			t.Fatalf("round trip: %+v became %+v", h, h2)
		}
	})
}

func addrString(a interface{ String() string }) string {
	if a == nil {
		return "<nil>"
	}
	return a.String()
}
