package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// after is what the peer sends after its header; every successful read must
// leave it intact.
const after = "EHLO client.example\r\n"

// readers returns the ways a test feeds input to ReadHeader: a whole buffer
// (an io.ByteReader), one byte per Read (not an io.ByteReader), and a
// bufio.Reader over one byte per Read. Each comes with a function returning
// what is left to read.
func readers(in []byte) map[string]func() (io.Reader, func() ([]byte, error)) {
	return map[string]func() (io.Reader, func() ([]byte, error)){
		"whole": func() (io.Reader, func() ([]byte, error)) {
			r := bytes.NewReader(in)
			return r, func() ([]byte, error) { return io.ReadAll(r) }
		},
		"onebyte": func() (io.Reader, func() ([]byte, error)) {
			r := iotest.OneByteReader(bytes.NewReader(in))
			return r, func() ([]byte, error) { return io.ReadAll(r) }
		},
		"bufio": func() (io.Reader, func() ([]byte, error)) {
			r := bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(in)), 16)
			return r, func() ([]byte, error) { return io.ReadAll(r) }
		},
	}
}

func tcp(ip string, port int) *net.TCPAddr {
	return &net.TCPAddr{IP: net.ParseIP(ip), Port: port}
}

// assertAddr compares addresses by network and string form, so that a
// 4-byte and a 16-byte net.IP of the same IPv4 address are equal.
func assertAddr(t *testing.T, want, got net.Addr, what string) {
	t.Helper()
	if want == nil {
		assert.Nil(t, got, what)
		return
	}
	require.NotNil(t, got, what)
	assert.Equal(t, want.Network(), got.Network(), what)
	assert.Equal(t, want.String(), got.String(), what)
}

type readCase struct {
	name    string
	in      string
	want    *Header // nil: an error is expected
	wantErr error   // checked with errors.Is when set
}

func runReadCases(t *testing.T, cases []readCase) {
	t.Helper()
	for _, tc := range cases {
		for rname, mk := range readers([]byte(tc.in + after)) {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				r, rest := mk()
				h, err := ReadHeader(r)
				if tc.want == nil {
					require.Error(t, err)
					var he *HeaderError
					require.ErrorAs(t, err, &he)
					assert.NotEmpty(t, he.Reason)
					if tc.wantErr != nil {
						assert.ErrorIs(t, err, tc.wantErr)
					}
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tc.want.Version, h.Version)
				assert.Equal(t, tc.want.Command, h.Command)
				assertAddr(t, tc.want.Source, h.Source, "source")
				assertAddr(t, tc.want.Destination, h.Destination, "destination")
				assert.Equal(t, tc.want.TLVs, h.TLVs)
				left, err := rest()
				require.NoError(t, err)
				assert.Equal(t, after, string(left), "bytes after the header")
			})
		}
	}
}

func TestReadHeaderV1(t *testing.T) {
	v1 := func(src, dst net.Addr) *Header {
		return &Header{Version: 1, Command: Proxy, Source: src, Destination: dst}
	}
	long := "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
	runReadCases(t, []readCase{
		{name: "tcp4", in: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n",
			want: v1(tcp("192.0.2.1", 56324), tcp("198.51.100.2", 25))},
		{name: "tcp4 extremes", in: "PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n",
			want: v1(tcp("255.255.255.255", 65535), tcp("0.0.0.0", 0))},
		{name: "tcp6", in: "PROXY TCP6 2001:db8::1 2001:DB8::2 1024 587\r\n",
			want: v1(tcp("2001:db8::1", 1024), tcp("2001:db8::2", 587))},
		{name: "tcp6 full", in: "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			want: v1(tcp("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535), tcp("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535))},
		{name: "tcp6 v4-mapped", in: "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n",
			want: v1(tcp("::ffff:192.0.2.1", 1), tcp("::1", 2))},
		{name: "unknown short", in: "PROXY UNKNOWN\r\n", want: v1(nil, nil)},
		{name: "unknown with addresses", in: "PROXY UNKNOWN 192.0.2.1 192.0.2.2 1 2\r\n", want: v1(nil, nil)},
		{name: "unknown with garbage", in: "PROXY UNKNOWN \x00\xff junk\r\n", want: v1(nil, nil)},
		{name: "unknown 107 bytes", in: long, want: v1(nil, nil)},

		{name: "108 bytes", in: strings.Replace(long, "65535 65535", "65535 655350", 1)},
		{name: "no CRLF", in: "PROXY TCP4 192.0.2.1 192.0.2.2 1 2" + strings.Repeat(" ", 100)},
		{name: "bare LF", in: "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n"},
		{name: "bare CR", in: "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r"},
		{name: "early LF", in: "PROXY\r\n"},
		{name: "lowercase", in: "proxy TCP4 192.0.2.1 192.0.2.2 1 2\r\n"},
		{name: "no space", in: "PROXYTCP4 192.0.2.1 192.0.2.2 1 2\r\n"},
		{name: "unknown protocol", in: "PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n"},
		{name: "unknownx", in: "PROXY UNKNOWNX\r\n"},
		{name: "tcp4 with v6", in: "PROXY TCP4 ::1 ::1 1 2\r\n"},
		{name: "tcp6 with v4", in: "PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n"},
		{name: "mixed families", in: "PROXY TCP4 192.0.2.1 ::1 1 2\r\n"},
		{name: "leading zero address", in: "PROXY TCP4 192.0.2.01 192.0.2.2 1 2\r\n"},
		{name: "octet too big", in: "PROXY TCP4 192.0.2.256 192.0.2.2 1 2\r\n"},
		{name: "three octets", in: "PROXY TCP4 192.0.2 192.0.2.2 1 2\r\n"},
		{name: "zone", in: "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"},
		{name: "leading zero port", in: "PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n"},
		{name: "port too big", in: "PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n"},
		{name: "negative port", in: "PROXY TCP4 192.0.2.1 192.0.2.2 -1 2\r\n"},
		{name: "port with sign", in: "PROXY TCP4 192.0.2.1 192.0.2.2 +1 2\r\n"},
		{name: "double space", in: "PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n"},
		{name: "trailing space", in: "PROXY TCP4 192.0.2.1 192.0.2.2 1 2 \r\n"},
		{name: "too few fields", in: "PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n"},
		{name: "too many fields", in: "PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n"},
		{name: "tab separator", in: "PROXY TCP4 192.0.2.1\t192.0.2.2 1 2\r\n"},
		{name: "smtp instead", in: "EHLO client.example\r\n"},
		{name: "tls instead", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"},
	})
}

func TestReadHeaderTruncated(t *testing.T) {
	inputs := []string{
		"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n",
		"PROXY UNKNOWN\r\n",
		string(mustV2(t, &Header{Command: Proxy, Source: tcp("192.0.2.1", 1), Destination: tcp("192.0.2.2", 2),
			TLVs: []TLV{{Type: TypeAuthority, Value: []byte("mx.example")}}})),
	}
	for _, in := range inputs {
		for n := 1; n < len(in); n++ {
			for rname, mk := range readers([]byte(in[:n])) {
				r, _ := mk()
				_, err := ReadHeader(r)
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "%q cut at %d (%s)", in, n, rname)
				var he *HeaderError
				assert.ErrorAs(t, err, &he)
			}
		}
	}
	_, err := ReadHeader(bytes.NewReader(nil))
	assert.ErrorIs(t, err, io.EOF)
	assert.NotErrorIs(t, err, io.ErrUnexpectedEOF)
}

// v2 builds a version 2 header by hand, independently of AppendV2.
func v2(verCmd, fam byte, body []byte) string {
	b := []byte(v2Signature)
	b = append(b, verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return string(append(b, body...))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func tlv(t TLVType, v string) []byte {
	return append([]byte{byte(t), byte(len(v) >> 8), byte(len(v))}, v...)
}

func mustV2(t testing.TB, h *Header) []byte {
	b, err := h.AppendV2(nil)
	require.NoError(t, err)
	return b
}

func TestReadHeaderV2(t *testing.T) {
	v4 := []byte{192, 0, 2, 1, 198, 51, 100, 2, 0xDB, 0xC4, 0, 25}
	v6 := cat(net.ParseIP("2001:db8::1"), net.ParseIP("2001:db8::2"), []byte{4, 0, 2, 0x4B})
	unixPath := func(s string) []byte { b := make([]byte, 108); copy(b, s); return b }
	hdr := func(cmd Command, src, dst net.Addr, tlvs ...TLV) *Header {
		return &Header{Version: 2, Command: cmd, Source: src, Destination: dst, TLVs: tlvs}
	}
	withCRC := func(fam byte, body []byte) string {
		full := []byte(v2(0x21, fam, cat(body, tlv(TypeCRC32C, "\x00\x00\x00\x00"))))
		binary.BigEndian.PutUint32(full[len(full)-4:], crc32.Checksum(full, crc32.MakeTable(crc32.Castagnoli)))
		return string(full)
	}
	goodCRC := withCRC(0x11, v4)
	badCRC := []byte(goodCRC)
	badCRC[len(badCRC)-1] ^= 1

	runReadCases(t, []readCase{
		{name: "tcp4", in: v2(0x21, 0x11, v4), want: hdr(Proxy, tcp("192.0.2.1", 56260), tcp("198.51.100.2", 25))},
		{name: "udp4", in: v2(0x21, 0x12, v4), want: hdr(Proxy,
			&net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 56260}, &net.UDPAddr{IP: net.ParseIP("198.51.100.2"), Port: 25})},
		{name: "tcp6", in: v2(0x21, 0x21, v6), want: hdr(Proxy, tcp("2001:db8::1", 1024), tcp("2001:db8::2", 587))},
		{name: "unix stream", in: v2(0x21, 0x31, cat(unixPath("/run/a.sock"), unixPath("/run/b.sock"))),
			want: hdr(Proxy, &net.UnixAddr{Name: "/run/a.sock", Net: "unix"}, &net.UnixAddr{Name: "/run/b.sock", Net: "unix"})},
		{name: "unix dgram abstract", in: v2(0x21, 0x32, cat(unixPath("\x00abs"), unixPath(strings.Repeat("x", 108)))),
			want: hdr(Proxy, &net.UnixAddr{Name: "@abs", Net: "unixgram"}, &net.UnixAddr{Name: strings.Repeat("x", 108), Net: "unixgram"})},
		{name: "tlvs", in: v2(0x21, 0x11, cat(v4, tlv(TypeALPN, "smtp"), tlv(TypeNoop, ""), tlv(0xEA, "vpce-1"))),
			want: hdr(Proxy, tcp("192.0.2.1", 56260), tcp("198.51.100.2", 25),
				TLV{TypeALPN, []byte("smtp")}, TLV{TypeNoop, []byte{}}, TLV{0xEA, []byte("vpce-1")})},
		{name: "crc32c", in: goodCRC, want: hdr(Proxy, tcp("192.0.2.1", 56260), tcp("198.51.100.2", 25),
			TLV{TypeCRC32C, []byte(goodCRC[len(goodCRC)-4:])})},
		{name: "local", in: v2(0x20, 0x00, nil), want: hdr(Local, nil, nil)},
		{name: "local with addresses", in: v2(0x20, 0x11, v4), want: hdr(Local, nil, nil)},
		{name: "local short block", in: v2(0x20, 0x21, v4), want: hdr(Local, nil, nil)},
		{name: "local unknown family", in: v2(0x20, 0xFF, []byte("junk")), want: hdr(Local, nil, nil)},
		{name: "local tlvs", in: v2(0x20, 0x00, tlv(TypeUniqueID, "id")), want: hdr(Local, nil, nil, TLV{TypeUniqueID, []byte("id")})},
		{name: "proxy unspec", in: v2(0x21, 0x00, nil), want: hdr(Proxy, nil, nil)},
		{name: "proxy unspec tlvs", in: v2(0x21, 0x00, tlv(TypeAuthority, "mx")), want: hdr(Proxy, nil, nil, TLV{TypeAuthority, []byte("mx")})},
		{name: "inet unspec protocol", in: v2(0x21, 0x10, v4), want: hdr(Proxy, nil, nil)},
		{name: "unspec family stream", in: v2(0x21, 0x01, []byte("xx")), want: hdr(Proxy, nil, nil)},

		{name: "bad crc32c", in: string(badCRC)},
		{name: "crc32c wrong size", in: v2(0x21, 0x11, cat(v4, tlv(TypeCRC32C, "abc")))},
		{name: "version 1 byte", in: v2(0x11, 0x11, v4)},
		{name: "version 3 byte", in: v2(0x31, 0x11, v4)},
		{name: "unknown command", in: v2(0x22, 0x11, v4)},
		{name: "unknown family", in: v2(0x21, 0x41, v4)},
		{name: "unknown protocol", in: v2(0x21, 0x13, v4)},
		{name: "truncated tcp4 block", in: v2(0x21, 0x11, v4[:8])},
		{name: "truncated tcp6 block", in: v2(0x21, 0x21, v4)},
		{name: "truncated unix block", in: v2(0x21, 0x31, unixPath("/a"))},
		{name: "tlv overruns", in: v2(0x21, 0x11, cat(v4, []byte{byte(TypeALPN), 0, 5, 's'}))},
		{name: "tlv stray bytes", in: v2(0x21, 0x11, cat(v4, tlv(TypeALPN, "smtp"), []byte{1, 0}))},
		{name: "too long", in: v2(0x21, 0x11, cat(v4, tlv(TypeNoop, strings.Repeat("x", DefaultMaxHeaderLength))))},
		{name: "max length 65535", in: v2(0x21, 0x11, nil)[:14] + "\xff\xff"},
		{name: "wrong signature", in: "\r\n\r\n\x00\r\nQUIT\r" + v2(0x21, 0x11, v4)[12:]},
		{name: "crlf crlf", in: "\r\n\r\nEHLO x\r\nMAIL FROM:<>\r\n"},
	})
}

func TestReadHeaderLimit(t *testing.T) {
	v4 := []byte{192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2}
	in := v2(0x21, 0x11, cat(v4, tlv(TypeNoop, strings.Repeat("x", 5000))))
	_, err := ReadHeader(strings.NewReader(in))
	var he *HeaderError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "v2: header too long", he.Reason)

	h, err := ReadHeaderLimit(strings.NewReader(in), len(in))
	require.NoError(t, err)
	assert.Len(t, h.TLVs[0].Value, 5000)

	_, err = ReadHeaderLimit(strings.NewReader(in), len(in)-1)
	assert.ErrorAs(t, err, &he)

	// A limit below MinMaxHeaderLength still admits UNIX addresses.
	unix := v2(0x21, 0x31, make([]byte, 216))
	_, err = ReadHeaderLimit(strings.NewReader(unix), 20)
	assert.NoError(t, err)
}

func TestHeaderError(t *testing.T) {
	err := error(&HeaderError{Reason: "truncated header", Err: io.ErrUnexpectedEOF})
	assert.Equal(t, "proxyproto: truncated header: unexpected EOF", err.Error())
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF))
	assert.False(t, err.(*HeaderError).Timeout())
	assert.Equal(t, "proxyproto: v1: bad source port", headerErr("v1: bad source port").Error())

	u := &UntrustedSourceError{Addr: tcp("192.0.2.9", 4000)}
	assert.Equal(t, "proxyproto: connection from untrusted source 192.0.2.9:4000", u.Error())
}

// zeroReader returns (0, nil) forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReadHeaderNoProgress(t *testing.T) {
	_, err := ReadHeader(zeroReader{})
	assert.ErrorIs(t, err, io.ErrNoProgress)
}
