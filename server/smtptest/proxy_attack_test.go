package smtptest_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/internal/proxyproto"
	"github.com/smtpkit/smtp/server/smtptest"
)

// rawHeaderDialer dials TCP (from local, if set) and sends head first.
type rawHeaderDialer struct {
	head  []byte
	local string
}

func (d rawHeaderDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := &net.Dialer{}
	if d.local != "" {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(d.local)}
	}
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(d.head); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func v2Header(t *testing.T, h proxyproto.Header) []byte {
	t.Helper()
	h.Version = 2
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttackFaultUnixEmptyPathCutsAnother: a version 2 header for a UNIX
// socket with an unnamed client (what a proxy listening on a UNIX socket
// sends) gives the address "". A connection whose header has no address
// (PROXY UNKNOWN, LOCAL) has source() "" as well, so the fault may cut it
// instead of its own.
func TestAttackFaultUnixEmptyPathCutsAnother(t *testing.T) {
	unixHead := v2Header(t, proxyproto.Header{Command: proxyproto.Proxy,
		Source: &net.UnixAddr{Name: "", Net: "unix"}, Destination: &net.UnixAddr{Name: "/run/smtp.sock", Net: "unix"}})
	for i := range 5 {
		ts := smtptest.NewUnstartedServer(t, smtptest.DropAt("MAIL", 1))
		ts.Config.ProxyProtocol = true
		ts.Start()
		var others []*client.Client
		for range 3 {
			o, err := client.Dial(ctxT(t), ts.Addr, &client.Options{Dialer: rawHeaderDialer{head: []byte("PROXY UNKNOWN\r\n")}})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			others = append(others, o)
		}
		_, err := send(t, ts, &client.Options{Dialer: rawHeaderDialer{head: unixHead}}, "x\r\n")
		var ne *client.NetError
		if !errors.As(err, &ne) {
			t.Errorf("round %d: err = %v (%T), want a *NetError", i, err, err)
		}
		for j, o := range others {
			if err := o.Noop(ctxT(t)); err != nil {
				t.Fatalf("round %d: the PROXY UNKNOWN connection %d was cut: %v", i, j, err)
			}
		}
		ts.Close()
	}
}

// TestAttackFaultUntrustedPeerClaimsSource: with ProxyTrustedNetworks, a
// peer outside them is served directly and whatever it sends is SMTP.
// If its first line looks like a PROXY header, it must not be taken for
// the header of a connection behind the proxy: the fault of the proxied
// client must cut the proxied client, never the untrusted peer.
func TestAttackFaultUntrustedPeerClaimsSource(t *testing.T) {
	const fake = "PROXY TCP4 192.0.2.7 192.0.2.1 1000 25\r\n"
	for i := range 5 {
		ts := smtptest.NewUnstartedServer(t, smtptest.DropAt("MAIL", 1))
		ts.Config.ProxyProtocol = true
		ts.Config.ProxyTrustedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
		ts.Start()
		// The untrusted peer (127.0.0.1) sends the fake header as a command.
		hostile, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer hostile.Close()
		br := bufio.NewReader(hostile)
		if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "220") {
			t.Fatalf("greeting %q, %v", l, err)
		}
		hostile.Write([]byte(fake))
		if l, err := br.ReadString('\n'); err != nil || l[0] != '5' {
			t.Fatalf("reply to the fake header %q, %v", l, err)
		}
		// The proxied client, through the trusted proxy at 127.0.0.2.
		_, err = send(t, ts, &client.Options{Dialer: rawHeaderDialer{head: []byte(fake), local: "127.0.0.2"}}, "x\r\n")
		var ne *client.NetError
		if !errors.As(err, &ne) {
			t.Errorf("round %d: err = %v (%T), want a *NetError", i, err, err)
		}
		hostile.Write([]byte("NOOP\r\n"))
		if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "250") {
			t.Fatalf("round %d: the untrusted peer was cut: %q, %v", i, l, err)
		}
		ts.Close()
	}
}

// TestAttackFaultSequentialSameSource: a careless test reuses one PROXY
// header for connection after connection (never two at once). Each one's
// fault must cut it: a closed connection with the same source, not yet
// forgotten, must not be taken for it.
func TestAttackFaultSequentialSameSource(t *testing.T) {
	ts := smtptest.NewUnstartedServer(t, smtptest.DropAt("MAIL", 0))
	ts.Config.ProxyProtocol = true
	ts.Start()
	for i := range 300 {
		_, err := send(t, ts, &client.Options{Dialer: proxyDialer{"192.0.2.7:1000"}}, "x\r\n")
		var ne *client.NetError
		if !errors.As(err, &ne) {
			t.Fatalf("connection %d: err = %v (%T), want a *NetError", i, err, err)
		}
	}
}
