package proxyproto

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listen starts a Listener on a loopback port.
func listen(t *testing.T, opts Options) *Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := NewListener(inner, opts)
	t.Cleanup(func() { l.Close() })
	return l
}

func dial(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func accept(t *testing.T, l *Listener) *Conn {
	t.Helper()
	c, err := l.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	pc, ok := c.(*Conn)
	require.True(t, ok)
	return pc
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	require.NoError(t, err)
	return string(b)
}

func TestListenerEndToEnd(t *testing.T) {
	cases := []struct {
		name     string
		header   Header
		src, dst net.Addr // nil: the real socket address
	}{
		{"v1 tcp4", Header{Version: 1, Command: Proxy, Source: tcp("203.0.113.7", 40000), Destination: tcp("198.51.100.1", 25)},
			tcp("203.0.113.7", 40000), tcp("198.51.100.1", 25)},
		{"v1 tcp6", Header{Version: 1, Command: Proxy, Source: tcp("2001:db8::7", 40000), Destination: tcp("2001:db8::1", 587)},
			tcp("2001:db8::7", 40000), tcp("2001:db8::1", 587)},
		{"v1 unknown", Header{Version: 1, Command: Proxy}, nil, nil},
		{"v2 tcp4", Header{Version: 2, Command: Proxy, Source: tcp("203.0.113.7", 40000), Destination: tcp("198.51.100.1", 25),
			TLVs: []TLV{{TypeAuthority, []byte("mx.example")}}}, tcp("203.0.113.7", 40000), tcp("198.51.100.1", 25)},
		{"v2 tcp6", Header{Version: 2, Command: Proxy, Source: tcp("2001:db8::7", 1), Destination: tcp("2001:db8::1", 465)},
			tcp("2001:db8::7", 1), tcp("2001:db8::1", 465)},
		{"v2 local", Header{Version: 2, Command: Local}, nil, nil},
	}
	writes := map[string]func(t *testing.T, c net.Conn, hdr []byte){
		"one write": func(t *testing.T, c net.Conn, hdr []byte) {
			_, err := c.Write(append(hdr, after...))
			assert.NoError(t, err)
		},
		"byte by byte": func(t *testing.T, c net.Conn, hdr []byte) {
			for _, b := range append(hdr, after...) {
				if _, err := c.Write([]byte{b}); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
		},
	}
	for _, tc := range cases {
		for wname, write := range writes {
			t.Run(tc.name+"/"+wname, func(t *testing.T) {
				l := listen(t, Options{HeaderTimeout: 5 * time.Second})
				client := dial(t, l)
				hdr, err := tc.header.Format()
				require.NoError(t, err)
				go write(t, client, hdr)

				pc := accept(t, l)
				h, err := pc.HeaderContext(context.Background())
				require.NoError(t, err)
				assert.Equal(t, tc.header.Version, h.Version)
				assert.Equal(t, tc.header.TLVs, h.TLVs)

				wantSrc, wantDst := tc.src, tc.dst
				if wantSrc == nil {
					wantSrc, wantDst = client.LocalAddr(), client.RemoteAddr()
				}
				assertAddr(t, wantSrc, pc.RemoteAddr(), "RemoteAddr")
				assertAddr(t, wantDst, pc.LocalAddr(), "LocalAddr")
				assert.Equal(t, after, readN(t, pc, len(after)))

				_, err = pc.Write([]byte("250 ok\r\n"))
				require.NoError(t, err)
				assert.Equal(t, "250 ok\r\n", readN(t, client, 8))
			})
		}
	}
}

// TestLazyRead checks that Read, without an explicit Header call, reads the
// header and returns what follows it.
func TestLazyRead(t *testing.T) {
	l := listen(t, Options{})
	client := dial(t, l)
	_, err := client.Write([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 1000 25\r\nQUIT\r\n"))
	require.NoError(t, err)
	pc := accept(t, l)
	assert.Equal(t, "QUIT\r\n", readN(t, pc, 6))
	assert.Equal(t, "192.0.2.1:1000", pc.RemoteAddr().String())
	assert.NotEqual(t, "192.0.2.1:1000", pc.NetConn().RemoteAddr().String())
}

func TestNoHeaderRejected(t *testing.T) {
	for _, in := range []string{"EHLO client.example\r\n", "PROXY TCP4 1.2.3.4\r\n", "\x16\x03\x01\x00\x05hello"} {
		l := listen(t, Options{})
		client := dial(t, l)
		_, err := client.Write([]byte(in))
		require.NoError(t, err)
		pc := accept(t, l)

		n, err := pc.Read(make([]byte, 10))
		assert.Zero(t, n)
		var he *HeaderError
		require.ErrorAs(t, err, &he, "%q", in)
		// The error is sticky and nothing can be written.
		_, err2 := pc.Write([]byte("220 greeting\r\n"))
		assert.Same(t, err, err2)
		_, err2 = pc.Header()
		assert.Same(t, err, err2)
		// Addresses fall back to the real ones.
		assert.Equal(t, client.LocalAddr().String(), pc.RemoteAddr().String())
		// The connection was aborted: the client sees the end, no greeting.
		require.NoError(t, client.SetReadDeadline(time.Now().Add(5*time.Second)))
		b, _ := io.ReadAll(client)
		assert.Empty(t, b)
		assert.NoError(t, pc.Close())
	}
}

func TestPeerClosesBeforeHeader(t *testing.T) {
	l := listen(t, Options{})
	client := dial(t, l)
	require.NoError(t, client.Close())
	pc := accept(t, l)
	_, err := pc.Header()
	assert.ErrorIs(t, err, io.EOF)
}

// TestSilentClientDoesNotBlockAccept: a peer that never sends its header
// holds neither Accept nor the other connections, and times out.
func TestSilentClientDoesNotBlockAccept(t *testing.T) {
	const timeout = 500 * time.Millisecond
	l := listen(t, Options{HeaderTimeout: timeout})
	silent := dial(t, l)
	_ = silent
	pc1 := accept(t, l)

	good := dial(t, l)
	start := time.Now()
	_, err := good.Write([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 1000 25\r\n"))
	require.NoError(t, err)
	pc2 := accept(t, l)
	h, err := pc2.Header()
	require.NoError(t, err)
	assert.Equal(t, "192.0.2.1:1000", h.Source.String())
	assert.Less(t, time.Since(start), timeout, "the silent peer delayed another connection")

	_, err = pc1.Header()
	var he *HeaderError
	require.ErrorAs(t, err, &he)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.True(t, he.Timeout())
	var ne net.Error
	assert.True(t, errors.As(err, &ne) && ne.Timeout())
	assert.GreaterOrEqual(t, time.Since(start), timeout-50*time.Millisecond)
}

// testCert returns a self-signed certificate for mx.example.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mx.example"},
		DNSNames:              []string{"mx.example"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// prefixConn sends prefix together with the first Write, so that the
// header and the TLS ClientHello arrive in one segment.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Write(b []byte) (int, error) {
	if c.prefix != nil {
		p := append(c.prefix, b...)
		c.prefix = nil
		n, err := c.Conn.Write(p)
		return max(0, n-(len(p)-len(b))), err
	}
	return c.Conn.Write(b)
}

// TestImplicitTLS: the header is followed at once by a TLS ClientHello,
// which must reach tls.Server intact.
func TestImplicitTLS(t *testing.T) {
	cert, pool := testCert(t)
	l := listen(t, Options{})
	raw := dial(t, l)
	hdr, err := (&Header{Command: Proxy, Source: tcp("203.0.113.9", 50000), Destination: tcp("198.51.100.1", 465)}).AppendV2(nil)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		tc := tls.Client(&prefixConn{Conn: raw, prefix: hdr}, &tls.Config{RootCAs: pool, ServerName: "mx.example"})
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		_, err := tc.Write([]byte("EHLO tls.example\r\n"))
		done <- err
	}()

	pc := accept(t, l)
	_, err = pc.Header()
	require.NoError(t, err)
	ts := tls.Server(pc, &tls.Config{Certificates: []tls.Certificate{cert}})
	require.NoError(t, ts.SetDeadline(time.Now().Add(5*time.Second)))
	require.NoError(t, ts.Handshake())
	assert.Equal(t, "203.0.113.9:50000", ts.RemoteAddr().String())
	assert.Equal(t, "EHLO tls.example\r\n", readN(t, ts, 18))
	require.NoError(t, <-done)
}

func TestTrustedSources(t *testing.T) {
	header := "PROXY TCP4 192.0.2.1 192.0.2.2 1000 25\r\n"

	t.Run("trusted", func(t *testing.T) {
		l := listen(t, Options{TrustedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}})
		client := dial(t, l)
		_, err := client.Write([]byte(header + after))
		require.NoError(t, err)
		pc := accept(t, l)
		assert.Equal(t, "192.0.2.1:1000", pc.RemoteAddr().String())
		assert.Equal(t, after, readN(t, pc, len(after)))
	})

	t.Run("rejected", func(t *testing.T) {
		l := listen(t, Options{TrustedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		client := dial(t, l)
		_, err := client.Write([]byte(header))
		require.NoError(t, err)
		pc := accept(t, l)
		_, err = pc.Read(make([]byte, 10))
		var ue *UntrustedSourceError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, client.LocalAddr().String(), ue.Addr.String())
		_, err = pc.Write([]byte("220 x\r\n"))
		assert.ErrorAs(t, err, &ue)
		require.NoError(t, client.SetReadDeadline(time.Now().Add(5*time.Second)))
		b, _ := io.ReadAll(client)
		assert.Empty(t, b)
		assert.NoError(t, pc.Close())
	})

	t.Run("direct", func(t *testing.T) {
		l := listen(t, Options{TrustedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Untrusted: DirectUntrusted})
		client := dial(t, l)
		_, err := client.Write([]byte(header + after))
		require.NoError(t, err)
		pc := accept(t, l)
		h, err := pc.Header()
		assert.NoError(t, err)
		assert.Nil(t, h)
		assert.Equal(t, client.LocalAddr().String(), pc.RemoteAddr().String())
		assert.Equal(t, client.RemoteAddr().String(), pc.LocalAddr().String())
		// A header from an untrusted peer is plain data, never interpreted.
		assert.Equal(t, header+after, readN(t, pc, len(header+after)))
	})

	t.Run("non-IP peer", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		pc := NewConn(a, Options{TrustedSources: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}})
		_, err := pc.Header()
		var ue *UntrustedSourceError
		assert.ErrorAs(t, err, &ue)
	})
}

func TestTrusted(t *testing.T) {
	p := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	cases := []struct {
		addr net.Addr
		want bool
	}{
		{tcp("192.0.2.7", 1), true},
		{tcp("::ffff:192.0.2.7", 1), true},
		{tcp("192.0.3.7", 1), false},
		{tcp("2001:db8::1", 1), true},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Zone: "eth0"}, true},
		{&net.UDPAddr{IP: net.ParseIP("192.0.2.1")}, true},
		{&net.IPAddr{IP: net.ParseIP("192.0.2.1")}, true},
		{&net.TCPAddr{}, false},
		{&net.UnixAddr{Name: "/x", Net: "unix"}, false},
		{nil, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, Trusted(tc.addr, p), "%v", tc.addr)
	}
}

// TestWriteWaitsForHeader: the greeting is not sent before the header has
// arrived and been checked (spec 2, SMTP is server-speaks-first).
func TestWriteWaitsForHeader(t *testing.T) {
	l := listen(t, Options{})
	client := dial(t, l)
	pc := accept(t, l)

	wrote := make(chan error, 1)
	go func() {
		_, err := pc.Write([]byte("220 mx.example ESMTP\r\n"))
		wrote <- err
	}()
	require.NoError(t, client.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	_, err := client.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "greeting sent before the header")

	_, err = client.Write([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 1000 25\r\n"))
	require.NoError(t, err)
	require.NoError(t, <-wrote)
	require.NoError(t, client.SetReadDeadline(time.Time{}))
	assert.Equal(t, "220 mx.example ESMTP\r\n", readN(t, client, 22))
	assert.Equal(t, "192.0.2.1:1000", pc.RemoteAddr().String())
}

func TestDeadlines(t *testing.T) {
	const header = "PROXY TCP4 192.0.2.1 192.0.2.2 1000 25\r\n"

	t.Run("header deadline is lifted", func(t *testing.T) {
		l := listen(t, Options{HeaderTimeout: 100 * time.Millisecond})
		client := dial(t, l)
		_, err := client.Write([]byte(header))
		require.NoError(t, err)
		pc := accept(t, l)
		_, err = pc.Header()
		require.NoError(t, err)
		go func() {
			time.Sleep(300 * time.Millisecond)
			client.Write([]byte(after))
		}()
		assert.Equal(t, after, readN(t, pc, len(after)))
	})

	t.Run("application deadline is kept", func(t *testing.T) {
		l := listen(t, Options{HeaderTimeout: 5 * time.Second})
		client := dial(t, l)
		_, err := client.Write([]byte(header))
		require.NoError(t, err)
		pc := accept(t, l)
		require.NoError(t, pc.SetDeadline(time.Now().Add(200*time.Millisecond)))
		_, err = pc.Header()
		require.NoError(t, err)
		start := time.Now()
		_, err = pc.Read(make([]byte, 1))
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("earlier application deadline bounds the header", func(t *testing.T) {
		l := listen(t, Options{HeaderTimeout: 10 * time.Second})
		dial(t, l)
		pc := accept(t, l)
		require.NoError(t, pc.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
		start := time.Now()
		_, err := pc.Header()
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("deadline in the past aborts a pending header", func(t *testing.T) {
		l := listen(t, Options{HeaderTimeout: 10 * time.Second})
		dial(t, l)
		pc := accept(t, l)
		go func() {
			time.Sleep(50 * time.Millisecond)
			pc.SetDeadline(time.Now())
		}()
		start := time.Now()
		_, err := pc.Header()
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("close aborts a pending header", func(t *testing.T) {
		l := listen(t, Options{HeaderTimeout: 10 * time.Second})
		dial(t, l)
		pc := accept(t, l)
		go func() {
			time.Sleep(50 * time.Millisecond)
			pc.Close()
		}()
		start := time.Now()
		_, err := pc.Header()
		assert.ErrorIs(t, err, net.ErrClosed)
		assert.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("context cancel", func(t *testing.T) {
		l := listen(t, Options{HeaderTimeout: 10 * time.Second})
		dial(t, l)
		pc := accept(t, l)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := pc.HeaderContext(ctx)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("context already done", func(t *testing.T) {
		l := listen(t, Options{})
		client := dial(t, l)
		_, err := client.Write([]byte(header))
		require.NoError(t, err)
		pc := accept(t, l)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = pc.HeaderContext(ctx)
		assert.ErrorIs(t, err, context.Canceled)
	})

	t.Run("context deadline", func(t *testing.T) {
		l := listen(t, Options{HeaderTimeout: 10 * time.Second})
		dial(t, l)
		pc := accept(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := pc.HeaderContext(ctx)
		var he *HeaderError
		assert.ErrorAs(t, err, &he)
		assert.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("context cancelled after the header", func(t *testing.T) {
		l := listen(t, Options{})
		client := dial(t, l)
		_, err := client.Write([]byte(header))
		require.NoError(t, err)
		pc := accept(t, l)
		ctx, cancel := context.WithCancel(context.Background())
		_, err = pc.HeaderContext(ctx)
		require.NoError(t, err)
		cancel()
		go func() {
			time.Sleep(100 * time.Millisecond)
			client.Write([]byte(after))
		}()
		assert.Equal(t, after, readN(t, pc, len(after)))
	})
}

// TestConcurrentUse runs the methods that trigger the header read from
// several goroutines at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	l := listen(t, Options{})
	client := dial(t, l)
	pc := accept(t, l)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { assert.Equal(t, "192.0.2.1:1000", pc.RemoteAddr().String()) })
		wg.Go(func() { assert.Equal(t, "192.0.2.2:25", pc.LocalAddr().String()) })
		wg.Go(func() { pc.SetReadDeadline(time.Now().Add(5 * time.Second)) })
	}
	wg.Go(func() { assert.Equal(t, after, readN(t, pc, len(after))) })
	time.Sleep(20 * time.Millisecond)
	_, err := client.Write([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 1000 25\r\n" + after))
	require.NoError(t, err)
	wg.Wait()
}
