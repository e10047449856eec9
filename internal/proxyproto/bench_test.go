package proxyproto

import (
	"bufio"
	"bytes"
	"net"
	"testing"
)

func BenchmarkReadHeader(b *testing.B) {
	h := Header{Command: Proxy, Source: tcp("2001:db8::7", 40000), Destination: tcp("2001:db8::1", 25)}
	for _, version := range []int{1, 2} {
		h.Version = version
		in, err := h.Format()
		if err != nil {
			b.Fatal(err)
		}
		b.Run("v"+string(rune('0'+version)), func(b *testing.B) {
			r := bytes.NewReader(in)
			br := bufio.NewReaderSize(r, 512)
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				r.Reset(in)
				br.Reset(r)
				if _, err := ReadHeader(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnRead measures Read on a Conn after its header, the steady
// state of a proxied SMTP session: it must add no allocation.
func BenchmarkConnRead(b *testing.B) {
	a, c := net.Pipe()
	defer a.Close()
	defer c.Close()
	pc := NewConn(a, Options{})
	go func() {
		c.Write([]byte("PROXY UNKNOWN\r\n"))
		buf := make([]byte, 64)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	if _, err := pc.Header(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pc.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}
