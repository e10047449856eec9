package server_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

// TestTimeoutsTLSAndPlain: the RFC 5321 4.5.3.2 timeouts hold the same
// over plain TCP (the raw path, which arms a deadline only when a read
// waits) and over TLS (deadlines set before each read): a silent client,
// a command trickled a byte at a time, message data trickled (DATA, and
// BDAT one-octet chunks), a partial block, and a slow backend whose own
// time does not count.
func TestTimeoutsTLSAndPlain(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	open := func(t *testing.T, tlsOn bool, s *server.Server) *smtptest.Conn {
		if !tlsOn {
			return dial(t, start(t, s))
		}
		s.TLSConfig = cert.ServerConfig()
		lb := smtptest.StartTLS(t, s, cert.ServerConfig())
		c := lb.DialTLS(t, cert.ClientConfig())
		c.Expect("220 mx.test ESMTP ready\r\n")
		return c
	}
	slowData := func(r io.Reader) (string, error) {
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			sb.Write(buf[:n])
			if err == io.EOF {
				return sb.String(), nil
			}
			if err != nil {
				return "", err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Parallel()
	for _, tlsOn := range []bool{false, true} {
		name := "plain"
		if tlsOn {
			name = "tls"
		}
		t.Run(name+"/command", func(t *testing.T) {
			t.Parallel()
			s := newServer(&testBackend{})
			s.CommandTimeout = 100 * time.Millisecond
			c := open(t, tlsOn, s)
			c.Expect("421 mx.test Timeout, closing transmission channel\r\n")
			c.ExpectClosed()
		})
		t.Run(name+"/command longer than a data block", func(t *testing.T) {
			// The wait for a command gets CommandTimeout, however much
			// shorter DataBlockTimeout is, before and after a message.
			t.Parallel()
			s := newServer(&testBackend{})
			s.CommandTimeout = 2 * time.Second
			s.DataBlockTimeout = 100 * time.Millisecond
			c := open(t, tlsOn, s)
			time.Sleep(400 * time.Millisecond)
			c.Run(dataS + `
				C: x
				C: .
				S: 250 2.0.0 OK: message accepted
			`)
			time.Sleep(400 * time.Millisecond)
			c.Run(`
				C: NOOP
				S: 250 2.0.0 OK
			`)
		})
		t.Run(name+"/slowloris", func(t *testing.T) {
			t.Parallel()
			s := newServer(&testBackend{})
			s.CommandTimeout = 300 * time.Millisecond
			c := open(t, tlsOn, s)
			trickleClosed(t, c, "N", 10, 60*time.Millisecond, "421 mx.test Timeout, closing transmission channel\r\n", 2*time.Second)
		})
		// inData opens a session of a server with the given
		// DataBlockTimeout (and CHUNKING) and runs script in it.
		inData := func(t *testing.T, chunking bool, block time.Duration, script string) (*smtptest.Conn, *testBackend) {
			t.Parallel()
			b := &testBackend{}
			s := newServer(b)
			s.EnableChunking = chunking
			s.DataBlockTimeout = block
			c := open(t, tlsOn, s)
			c.Run(script)
			return c, b
		}
		t.Run(name+"/data trickle", func(t *testing.T) {
			c, b := inData(t, false, 300*time.Millisecond, dataS)
			trickleClosed(t, c, "x", 40, 50*time.Millisecond, "421 4.4.2 mx.test Timeout, closing transmission channel\r\n", 1500*time.Millisecond)
			expectNoMessages(t, b)
		})
		t.Run(name+"/bdat trickle", func(t *testing.T) {
			// The waits between the chunks count towards
			// DataBlockTimeout (TestAttackBDATTrickle).
			c, b := inData(t, true, 300*time.Millisecond, chunkS)
			expectBDATTrickleClosed(t, c, b)
		})
		t.Run(name+"/data block", func(t *testing.T) {
			c, b := inData(t, false, 100*time.Millisecond, dataS+"\nC: partial\n")
			c.Expect("421 4.4.2 mx.test Timeout, closing transmission channel\r\n")
			c.ExpectClosed()
			expectNoMessages(t, b)
		})
		t.Run(name+"/slow backend", func(t *testing.T) {
			t.Parallel()
			s := newServer(&testBackend{data: slowData})
			s.DataBlockTimeout = 150 * time.Millisecond
			c := open(t, tlsOn, s)
			c.Run(dataS)
			c.Send(strings.Repeat("0123456789abcdef\r\n", 1000) + ".\r\n")
			c.Expect("250 2.0.0 OK: message accepted\r\n")
		})
	}
}

// trickleClosed trickles n times s every interval on c (see trickle) and
// expects the server to answer want and close the connection within the
// given time.
func trickleClosed(t *testing.T, c *smtptest.Conn, s string, n int, every time.Duration, want string, within time.Duration) {
	t.Helper()
	begin := time.Now()
	trickle(c, s, n, every)
	c.Expect(want)
	c.ExpectClosed()
	if d := time.Since(begin); d > within {
		t.Errorf("closed after %v", d)
	}
}
