package smtptest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/server/smtptest"
)

// proxyDialer dials TCP and sends a PROXY protocol version 1 header that
// names source as the client, as HAProxy in front of the server would.
type proxyDialer struct{ source string }

func (d proxyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	src, err := net.ResolveTCPAddr("tcp", d.source)
	if err != nil {
		c.Close()
		return nil, err
	}
	dst := c.RemoteAddr().(*net.TCPAddr)
	if _, err := fmt.Fprintf(c, "PROXY TCP4 %s %s %d %d\r\n", src.IP, dst.IP, src.Port, dst.Port); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// newProxyServer starts a test server behind a PROXY protocol proxy (with
// opts), whose peers in trusted, if any, must send a header.
func newProxyServer(t *testing.T, trusted []netip.Prefix, opts ...smtptest.Option) *smtptest.Server {
	t.Helper()
	ts := smtptest.NewUnstartedServer(t, opts...)
	ts.Config.ProxyProtocol = true
	ts.Config.ProxyTrustedNetworks = trusted
	ts.Start()
	return ts
}

// dialBehindProxy connects to ts as a client at source behind the proxy;
// the client is closed when the test ends.
func dialBehindProxy(t *testing.T, ts *smtptest.Server, source string) *client.Client {
	t.Helper()
	c, err := client.Dial(ctxT(t), ts.Addr, &client.Options{Dialer: proxyDialer{source}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestFaultsBehindProxy: with ProxyProtocol the connection's address is
// the one its PROXY header gives, not the socket's; the faults that cut
// a connection must still find it (they answered with an error reply
// instead, so a test of the "outcome unknown" case passed for the wrong
// reason or failed for none).
func TestFaultsBehindProxy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault smtptest.Fault
		body  string
		check func(t *testing.T, err error)
	}{
		{"DropAt-DATA", smtptest.DropAt("DATA", 1), "Subject: x\r\n\r\nbody\r\n", func(t *testing.T, err error) {
			var ou *client.OutcomeUnknownError
			if !errors.As(err, &ou) || ou.Command != "DATA" {
				t.Fatalf("err = %v (%T), want an *OutcomeUnknownError for DATA", err, err)
			}
		}},
		{"DropAt-MAIL", smtptest.DropAt("MAIL", 1), "x\r\n", func(t *testing.T, err error) {
			var ne *client.NetError
			if !errors.As(err, &ne) {
				t.Fatalf("err = %v (%T), want a *NetError", err, err)
			}
		}},
		{"CutData", smtptest.CutData("DATA", 1, 1), bigMessage, func(t *testing.T, err error) {
			var ne *client.NetError
			if !errors.As(err, &ne) || errors.Is(err, client.ErrOutcomeUnknown) {
				t.Fatalf("err = %v (%T), want a *NetError", err, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newProxyServer(t, nil, tc.fault)
			// Two connections behind the proxy at once: the fault must
			// cut its own.
			other := dialBehindProxy(t, ts, "192.0.2.8:2000")
			_, err := send(t, ts, &client.Options{Dialer: proxyDialer{"192.0.2.7:1000"}}, tc.body)
			tc.check(t, err)
			if err := other.Noop(ctxT(t)); err != nil {
				t.Errorf("the other connection was hurt: %v", err)
			}
		})
	}
}
