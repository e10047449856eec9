package smtptest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	kit "github.com/smtpkit/smtp/server/smtptest"
)

// DefaultTimeout bounds every read and write of a Conn unless its Timeout
// is changed.
const DefaultTimeout = kit.DefaultTimeout

// Conn drives one client connection byte for byte: it is the public kit's
// test client (server/smtptest.Conn: Send writes exact bytes, Run plays a
// transcript) with Expect comparing whole replies as they came on the
// wire. Failures are reported on the testing.TB given to NewConn.
type Conn struct {
	*kit.Conn
	tb testing.TB
}

// NewConn wraps c; it is closed when the test ends.
func NewConn(tb testing.TB, c net.Conn) *Conn {
	return &Conn{Conn: kit.NewConn(tb, c), tb: tb}
}

// ReadReply reads one complete reply (all its lines, with their CRLF) and
// returns it as received. A reply ends at a line whose fourth byte is a
// space or that has only three bytes (RFC 5321 4.2.1).
func (c *Conn) ReadReply() (string, error) {
	r, err := c.ReadRawReply()
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return r, err
}

// Expect reads as many whole replies as want holds and fails the test
// unless they match want exactly. want may hold several replies
// (pipelining); in want, "{*}" matches any run of bytes within a line (a
// host name, a queue id). It returns what was read.
func (c *Conn) Expect(want string) string {
	c.tb.Helper()
	n := CountReplies(want)
	var got strings.Builder
	for i := 0; i < n; i++ {
		r, err := c.ReadReply()
		got.WriteString(r)
		if err != nil {
			c.tb.Fatalf("smtptest: reading reply: %v\n got: %q\nwant: %q", err, got.String(), want)
		}
	}
	if !Match(want, got.String()) {
		c.tb.Fatalf("smtptest: reply mismatch\n got: %q\nwant: %q", got.String(), want)
	}
	return got.String()
}

// CountReplies counts the complete replies in s: lines whose fourth byte
// is not '-'.
func CountReplies(s string) int {
	n := 0
	for _, l := range strings.SplitAfter(s, "\n") {
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			continue
		}
		if len(l) < 4 || l[3] != '-' {
			n++
		}
	}
	return n
}

// ExpectCode reads one reply and fails the test unless its code is code.
// It returns the reply.
func (c *Conn) ExpectCode(code string) string {
	c.tb.Helper()
	r, err := c.ReadReply()
	if err != nil {
		c.tb.Fatalf("smtptest: reading reply: %v (got %q, want code %s)", err, r, code)
	}
	if !strings.HasPrefix(r, code) {
		c.tb.Fatalf("smtptest: got reply %q, want code %s", r, code)
	}
	return r
}

// StartTLS runs the client side of a TLS handshake with cfg on the
// connection (the caller has sent STARTTLS and read the 220). Bytes
// already buffered from the server fail the test: after 220 the server
// must wait for the handshake.
func (c *Conn) StartTLS(cfg *tls.Config) {
	c.tb.Helper()
	c.TLSConfig = cfg
	c.Conn.StartTLS()
}

// Match reports whether got matches the pattern want, in which "{*}"
// matches any run of bytes other than CR and LF.
func Match(want, got string) bool {
	if !strings.Contains(want, "{*}") {
		return want == got
	}
	parts := strings.Split(want, "{*}")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re, err := regexp.Compile(`^` + strings.Join(parts, `[^\r\n]*`) + `$`)
	return err == nil && re.MatchString(got)
}
