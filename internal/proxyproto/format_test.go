package proxyproto

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendV1(t *testing.T) {
	cases := []struct {
		name string
		h    Header
		want string
	}{
		{"tcp4", Header{Command: Proxy, Source: tcp("192.0.2.1", 56324), Destination: tcp("198.51.100.2", 25)},
			"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n"},
		{"tcp6", Header{Command: Proxy, Source: tcp("2001:db8::1", 1), Destination: tcp("2001:db8::2", 465)},
			"PROXY TCP6 2001:db8::1 2001:db8::2 1 465\r\n"},
		{"mixed families", Header{Command: Proxy, Source: tcp("192.0.2.1", 1), Destination: tcp("::1", 2)},
			"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n"},
		{"local", Header{Command: Local, Source: tcp("192.0.2.1", 1), Destination: tcp("192.0.2.2", 2)},
			"PROXY UNKNOWN\r\n"},
		{"no addresses", Header{Command: Proxy}, "PROXY UNKNOWN\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.h.AppendV1([]byte("x"))
			require.NoError(t, err)
			assert.Equal(t, "x"+tc.want, string(got))
		})
	}
}

func TestAppendV2Bytes(t *testing.T) {
	h := Header{Command: Proxy, Source: tcp("192.0.2.1", 56260), Destination: tcp("198.51.100.2", 25)}
	got, err := h.AppendV2(nil)
	require.NoError(t, err)
	assert.Equal(t, v2(0x21, 0x11, []byte{192, 0, 2, 1, 198, 51, 100, 2, 0xDB, 0xC4, 0, 25}), string(got))

	got, err = (&Header{Command: Local}).AppendV2(nil)
	require.NoError(t, err)
	assert.Equal(t, v2(0x20, 0x00, nil), string(got))
}

func TestFormatRoundTrip(t *testing.T) {
	udp := func(ip string, port int) *net.UDPAddr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: port} }
	headers := []Header{
		{Version: 1, Command: Proxy, Source: tcp("192.0.2.1", 1), Destination: tcp("192.0.2.2", 65535)},
		{Version: 1, Command: Proxy, Source: tcp("2001:db8::1", 0), Destination: tcp("2001:db8::2", 25)},
		{Version: 1, Command: Proxy},
		{Version: 2, Command: Proxy, Source: tcp("192.0.2.1", 1), Destination: tcp("192.0.2.2", 2)},
		{Version: 2, Command: Proxy, Source: tcp("2001:db8::1", 1), Destination: tcp("2001:db8::2", 2)},
		{Version: 2, Command: Proxy, Source: udp("192.0.2.1", 53), Destination: udp("192.0.2.2", 53)},
		{Version: 2, Command: Proxy, Source: udp("2001:db8::1", 53), Destination: udp("2001:db8::2", 53)},
		{Version: 2, Command: Proxy, Source: &net.UnixAddr{Name: "/tmp/a", Net: "unix"}, Destination: &net.UnixAddr{Name: "@b", Net: "unix"}},
		{Version: 2, Command: Proxy, Source: &net.UnixAddr{Name: "", Net: "unixgram"}, Destination: &net.UnixAddr{Name: strings.Repeat("p", 108), Net: "unixgram"}},
		{Version: 2, Command: Local},
		{Version: 2, Command: Local, TLVs: []TLV{{TypeUniqueID, []byte("abc")}}},
		{Version: 2, Command: Proxy, TLVs: []TLV{{TypeNetNS, []byte("blue")}}},
		{Version: 2, Command: Proxy, Source: tcp("192.0.2.1", 1), Destination: tcp("192.0.2.2", 2), TLVs: []TLV{
			{TypeALPN, []byte("smtp")}, {TypeAuthority, []byte("mx.example")}, {TypeNoop, []byte{}},
			{TypeCRC32C, []byte{0, 0, 0, 0}}, {0xEA, bytes.Repeat([]byte{7}, 300)},
		}},
	}
	for _, h := range headers {
		b, err := h.Format()
		require.NoError(t, err, "%+v", h)
		got, err := ReadHeader(bytes.NewReader(b))
		require.NoError(t, err, "%+v -> %q", h, b)
		assert.Equal(t, h.Version, got.Version)
		assert.Equal(t, h.Command, got.Command)
		assertAddr(t, h.Source, got.Source, "source")
		assertAddr(t, h.Destination, got.Destination, "destination")
		require.Len(t, got.TLVs, len(h.TLVs))
		for i := range h.TLVs {
			assert.Equal(t, h.TLVs[i].Type, got.TLVs[i].Type)
			if h.TLVs[i].Type != TypeCRC32C {
				assert.Equal(t, h.TLVs[i].Value, got.TLVs[i].Value)
			}
		}
		// Re-encoding what was read gives the same bytes.
		again, err := got.Format()
		require.NoError(t, err)
		assert.Equal(t, b, again)
	}
}

func TestFormatErrors(t *testing.T) {
	udp := &net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}
	cases := []struct {
		name    string
		h       Header
		version int
	}{
		{"version 0", Header{Command: Proxy}, 0},
		{"version 3", Header{Version: 3, Command: Proxy}, 3},
		{"v1 tlvs", Header{Command: Proxy, TLVs: []TLV{{TypeNoop, nil}}}, 1},
		{"v1 udp", Header{Command: Proxy, Source: udp, Destination: udp}, 1},
		{"v1 one address", Header{Command: Proxy, Source: tcp("192.0.2.1", 1)}, 1},
		{"v1 bad command", Header{Command: 7, Source: tcp("192.0.2.1", 1), Destination: tcp("192.0.2.1", 1)}, 1},
		{"v1 port", Header{Command: Proxy, Source: tcp("192.0.2.1", 70000), Destination: tcp("192.0.2.1", 1)}, 1},
		{"v1 no ip", Header{Command: Proxy, Source: &net.TCPAddr{}, Destination: tcp("192.0.2.1", 1)}, 1},
		{"v2 one address", Header{Command: Proxy, Destination: tcp("192.0.2.1", 1)}, 2},
		{"v2 mixed types", Header{Command: Proxy, Source: tcp("192.0.2.1", 1), Destination: udp}, 2},
		{"v2 nil tcp", Header{Command: Proxy, Source: (*net.TCPAddr)(nil), Destination: tcp("192.0.2.1", 1)}, 2},
		{"v2 ip addr", Header{Command: Proxy, Source: &net.IPAddr{}, Destination: &net.IPAddr{}}, 2},
		{"v2 port", Header{Command: Proxy, Source: udp, Destination: &net.UDPAddr{IP: net.ParseIP("::1"), Port: -1}}, 2},
		{"v2 unix net", Header{Command: Proxy, Source: &net.UnixAddr{Net: "unixpacket"}, Destination: &net.UnixAddr{Net: "unixpacket"}}, 2},
		{"v2 unix mixed", Header{Command: Proxy, Source: &net.UnixAddr{Net: "unix"}, Destination: &net.UnixAddr{Net: "unixgram"}}, 2},
		{"v2 unix long", Header{Command: Proxy, Source: &net.UnixAddr{Name: strings.Repeat("p", 109)}, Destination: &net.UnixAddr{}}, 2},
		{"v2 bad command", Header{Command: 2}, 2},
		{"v2 tlv too long", Header{Command: Local, TLVs: []TLV{{TypeNoop, make([]byte, 65536)}}}, 2},
		{"v2 too long", Header{Command: Local, TLVs: []TLV{{TypeNoop, make([]byte, 40000)}, {TypeNoop, make([]byte, 40000)}}}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			h.Version = tc.version
			b, err := h.Format()
			var he *HeaderError
			require.ErrorAs(t, err, &he)
			assert.Empty(t, b)
			if tc.version == 2 {
				// AppendV2 leaves dst as it was.
				out, err := h.AppendV2([]byte("keep"))
				assert.Error(t, err)
				assert.Equal(t, "keep", string(out))
			}
		})
	}
}

func TestSSLInfo(t *testing.T) {
	value := append([]byte{ClientSSL | ClientCertConn, 0, 0, 0, 0},
		cat(tlv(SubtypeSSLVersion, "TLSv1.3"), tlv(SubtypeSSLCN, "client.example"),
			tlv(SubtypeSSLCipher, "TLS_AES_128_GCM_SHA256"), tlv(SubtypeSSLSigAlg, "RSA-SHA256"),
			tlv(SubtypeSSLKeyAlg, "RSA2048"))...)
	h := Header{Version: 2, Command: Proxy, Source: tcp("192.0.2.1", 1), Destination: tcp("192.0.2.2", 465),
		TLVs: []TLV{{TypeSSL, value}}}
	got, err := ReadHeader(bytes.NewReader(mustV2(t, &h)))
	require.NoError(t, err)
	info, ok := got.SSL()
	require.True(t, ok)
	assert.True(t, info.TLS())
	assert.True(t, info.Verified())
	assert.Equal(t, SSLInfo{Client: 3, Version: "TLSv1.3", CN: "client.example",
		Cipher: "TLS_AES_128_GCM_SHA256", SigAlg: "RSA-SHA256", KeyAlg: "RSA2048"}, info)

	for _, bad := range [][]byte{{1, 0, 0}, {1, 0, 0, 0, 0, 0x21, 0, 9}} {
		_, ok := (&Header{TLVs: []TLV{{TypeSSL, bad}}}).SSL()
		assert.False(t, ok, "%q", bad)
	}
	_, ok = (&Header{}).SSL()
	assert.False(t, ok)
	info, ok = (&Header{TLVs: []TLV{{TypeSSL, []byte{0, 0, 0, 0, 1}}}}).SSL()
	require.True(t, ok)
	assert.False(t, info.TLS())
	assert.False(t, info.Verified())

	v, ok := h.TLV(TypeSSL)
	assert.True(t, ok)
	assert.Equal(t, value, v)
	_, ok = h.TLV(TypeALPN)
	assert.False(t, ok)
}

func TestCommandString(t *testing.T) {
	assert.Equal(t, "LOCAL", Local.String())
	assert.Equal(t, "PROXY", Proxy.String())
	assert.Equal(t, "Command(9)", Command(9).String())
}
