package proxyproto_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/smtpkit/smtp/internal/proxyproto"
)

// A server behind a load balancer wraps its listener, reads the header
// before its greeting, and sees the client's real address.
func ExampleNewListener() {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	l := proxyproto.NewListener(inner, proxyproto.Options{
		HeaderTimeout:  5 * time.Second,
		TrustedSources: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	defer l.Close()

	// The load balancer: a header, then the client's bytes.
	go func() {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			panic(err)
		}
		defer c.Close()
		c.Write([]byte("PROXY TCP4 203.0.113.7 198.51.100.1 40000 25\r\nEHLO client.example\r\n"))
		io.Copy(io.Discard, c)
	}()

	c, err := l.Accept()
	if err != nil {
		panic(err)
	}
	defer c.Close()
	pc := c.(*proxyproto.Conn)
	if _, err := pc.HeaderContext(context.Background()); err != nil {
		fmt.Println("dropping connection:", err)
		return
	}
	fmt.Println("client:", pc.RemoteAddr())
	pc.Write([]byte("220 mx.example ESMTP\r\n"))
	line, _ := bufio.NewReader(pc).ReadString('\n')
	fmt.Printf("%q\n", line)
	// Output:
	// client: 203.0.113.7:40000
	// "EHLO client.example\r\n"
}

func ExampleReadHeader() {
	r := bufio.NewReader(strings.NewReader("PROXY TCP6 2001:db8::7 2001:db8::1 40000 587\r\nEHLO client.example\r\n"))
	h, err := proxyproto.ReadHeader(r)
	if err != nil {
		panic(err)
	}
	rest, _ := io.ReadAll(r)
	fmt.Println(h.Version, h.Command, h.Source, h.Destination)
	fmt.Printf("%q\n", rest)
	// Output:
	// 1 PROXY [2001:db8::7]:40000 [2001:db8::1]:587
	// "EHLO client.example\r\n"
}

// A client, or a test, writes the header a receiver expects before
// speaking SMTP.
func ExampleHeader_Format() {
	h := proxyproto.Header{
		Version:     1,
		Command:     proxyproto.Proxy,
		Source:      &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 40000},
		Destination: &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 25},
	}
	v1, _ := h.Format()
	fmt.Printf("%q\n", v1)
	v2, _ := h.AppendV2(nil)
	fmt.Printf("% x\n", v2)
	// Output:
	// "PROXY TCP4 203.0.113.7 198.51.100.1 40000 25\r\n"
	// 0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11 00 0c cb 00 71 07 c6 33 64 01 9c 40 00 19
}
