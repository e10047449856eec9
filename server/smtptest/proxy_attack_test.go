package smtptest_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

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
		ts := newProxyServer(t, nil, smtptest.DropAt("MAIL", 1))
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
		ts := newProxyServer(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, smtptest.DropAt("MAIL", 1))
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
	ts := newProxyServer(t, nil, smtptest.DropAt("MAIL", 0))
	for i := range 300 {
		_, err := send(t, ts, &client.Options{Dialer: proxyDialer{"192.0.2.7:1000"}}, "x\r\n")
		var ne *client.NetError
		if !errors.As(err, &ne) {
			t.Fatalf("connection %d: err = %v (%T), want a *NetError", i, err, err)
		}
	}
}

// slowDialer sends its header one byte at a time.
type slowDialer struct{ head []byte }

func (d slowDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	for i := range d.head {
		if _, err := c.Write(d.head[i : i+1]); err != nil {
			c.Close()
			return nil, err
		}
		time.Sleep(time.Millisecond)
	}
	return c, nil
}

// TestAttackFaultProxyVariants: the kinds of header and server that held.
func TestAttackFaultProxyVariants(t *testing.T) {
	tcp := func(s string) *net.TCPAddr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	v2v6 := v2Header(t, proxyproto.Header{Command: proxyproto.Proxy, Source: tcp("[2001:db8::7]:1000"), Destination: tcp("[2001:db8::1]:25"),
		TLVs: []proxyproto.TLV{{Type: proxyproto.TypeAuthority, Value: []byte("mx.example")}, {Type: proxyproto.TypeUniqueID, Value: make([]byte, 2000)}}})
	v2local := v2Header(t, proxyproto.Header{Command: proxyproto.Local})
	v1 := []byte("PROXY TCP4 192.0.2.7 192.0.2.1 1000 25\r\n")
	for _, tc := range []struct {
		name string
		opts []smtptest.Option
		head []byte
		slow bool
		dial func(context.Context, string, *client.Options) (*client.Client, error)
	}{
		{"v2-IPv6-TLVs", nil, v2v6, false, client.Dial},
		{"v2-LOCAL", nil, v2local, false, client.Dial},
		{"v1-UNKNOWN", nil, []byte("PROXY UNKNOWN\r\n"), false, client.Dial},
		{"v1-in-pieces", nil, v1, true, client.Dial},
		{"v2-in-pieces", nil, v2v6, true, client.Dial},
		{"STARTTLS", []smtptest.Option{smtptest.STARTTLS()}, v1, false, client.DialStartTLS},
		{"ImplicitTLS", []smtptest.Option{smtptest.ImplicitTLS()}, v1, false, client.DialTLS},
		{"Trickle", []smtptest.Option{smtptest.Trickle(100 * time.Microsecond)}, v1, false, client.Dial},
		{"LMTP", []smtptest.Option{smtptest.LMTP()}, v1, false, client.Dial},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newProxyServer(t, nil, append(tc.opts, smtptest.DropAt("DATA", 1))...)
			other, err := tc.dial(ctxT(t), ts.Addr, &client.Options{Dialer: rawHeaderDialer{head: []byte("PROXY TCP4 192.0.2.8 192.0.2.1 2000 25\r\n")}, TLSConfig: ts.ClientTLSConfig(), LMTP: ts.Config.LMTP})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			var d client.ContextDialer = rawHeaderDialer{head: tc.head}
			if tc.slow {
				d = slowDialer{tc.head}
			}
			opts := &client.Options{Dialer: d, TLSConfig: ts.ClientTLSConfig(), LMTP: ts.Config.LMTP}
			c, err := tc.dial(ctxT(t), ts.Addr, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Send(ctxT(t), newEnv(t, "a@example.org", "b@example.org"), strings.NewReader("x\r\n"))
			var ou *client.OutcomeUnknownError
			if !errors.As(err, &ou) {
				t.Fatalf("err = %v (%T), want an *OutcomeUnknownError", err, err)
			}
			if err := other.Noop(ctxT(t)); err != nil {
				t.Errorf("the other connection was hurt: %v", err)
			}
		})
	}
}

// TestAttackFaultSameSourceAtOnce: two live connections whose headers
// give the same client address cannot be told apart: the fault cuts
// neither (it cut one at random, maybe the other).
func TestAttackFaultSameSourceAtOnce(t *testing.T) {
	for i := range 5 {
		ts := newProxyServer(t, nil, smtptest.DropAt("MAIL", 1))
		other := dialBehindProxy(t, ts, "192.0.2.7:1000")
		_, err := send(t, ts, &client.Options{Dialer: proxyDialer{"192.0.2.7:1000"}}, "x\r\n")
		asError(t, err, "MAIL", 451)
		if err := other.Noop(ctxT(t)); err != nil {
			t.Fatalf("round %d: the other connection was cut: %v", i, err)
		}
		ts.Close()
	}
}
