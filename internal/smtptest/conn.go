package smtptest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// DefaultTimeout bounds every read and write of a Conn unless its Timeout
// is changed.
const DefaultTimeout = 10 * time.Second

// MaxReplyLines bounds the lines of one reply read by ReadReply, so a
// broken server cannot make a test read forever.
const MaxReplyLines = 1000

// Conn drives one client connection byte for byte: Send writes exact bytes,
// Expect reads whole replies and compares them exactly. Failures are
// reported on the testing.TB given to NewConn.
type Conn struct {
	// Timeout bounds each read and write; zero means DefaultTimeout.
	Timeout time.Duration

	tb testing.TB
	c  net.Conn
	r  *bufio.Reader
}

// NewConn wraps c; it is closed when the test ends.
func NewConn(tb testing.TB, c net.Conn) *Conn {
	tb.Cleanup(func() { c.Close() })
	return &Conn{tb: tb, c: c, r: bufio.NewReader(c)}
}

// NetConn returns the underlying connection (a *tls.Conn after StartTLS).
func (c *Conn) NetConn() net.Conn { return c.c }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

func (c *Conn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Send writes s exactly as given (no CRLF is added).
func (c *Conn) Send(s string) {
	c.tb.Helper()
	if err := c.Write([]byte(s)); err != nil {
		c.tb.Fatalf("smtptest: send %q: %v", s, err)
	}
}

// Write writes p and returns the error, for tests that expect the server
// to have gone away.
func (c *Conn) Write(p []byte) error {
	c.c.SetWriteDeadline(time.Now().Add(c.timeout()))
	_, err := c.c.Write(p)
	return err
}

// ReadReply reads one complete reply (all its lines, with their CRLF) and
// returns it as received. A reply ends at a line whose fourth byte is a
// space or that has only three bytes (RFC 5321 4.2.1).
func (c *Conn) ReadReply() (string, error) {
	c.c.SetReadDeadline(time.Now().Add(c.timeout()))
	var b strings.Builder
	for i := 0; i < MaxReplyLines; i++ {
		line, err := c.r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = ErrTimeout
			}
			return b.String(), err
		}
		l := strings.TrimRight(line, "\r\n")
		if len(l) < 4 || l[3] != '-' {
			return b.String(), nil
		}
	}
	return b.String(), errors.New("smtptest: reply has too many lines")
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

// ExpectClosed fails the test unless the server closes the connection
// without sending anything more.
func (c *Conn) ExpectClosed() {
	c.tb.Helper()
	c.c.SetReadDeadline(time.Now().Add(c.timeout()))
	b, err := io.ReadAll(c.r)
	if len(b) > 0 {
		c.tb.Fatalf("smtptest: want connection closed, got %q (err %v)", b, err)
	}
	if err != nil && !isClosedErr(err) {
		c.tb.Fatalf("smtptest: want connection closed, got %v", err)
	}
}

func isClosedErr(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	// A reset is also the server going away.
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset by peer")
}

// Buffered reports whether bytes from the server are waiting unread.
func (c *Conn) Buffered() int { return c.r.Buffered() }

// StartTLS runs the client side of a TLS handshake on the connection (the
// caller has sent STARTTLS and read the 220). Bytes already buffered from
// the server fail the test: after 220 the server must wait for the
// handshake.
func (c *Conn) StartTLS(cfg *tls.Config) {
	c.tb.Helper()
	if n := c.r.Buffered(); n > 0 {
		c.tb.Fatalf("smtptest: %d bytes from the server before the TLS handshake", n)
	}
	tc := tls.Client(c.c, cfg)
	tc.SetDeadline(time.Now().Add(c.timeout()))
	if err := tc.Handshake(); err != nil {
		c.tb.Fatalf("smtptest: TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	c.c = tc
	c.r = bufio.NewReader(tc)
	c.tb.Cleanup(func() { tc.Close() })
}

// Run plays a transcript. Lines starting with "C: " are sent (with CRLF
// appended) and lines starting with "S: " are expected (with CRLF); a run
// of consecutive C lines is sent in one write, as a pipelining client does,
// and a run of S lines is read and compared as one block. Leading blanks on
// each line and empty lines are ignored, so a transcript can be an indented
// raw string literal. "C:" or "S:" alone stand for an empty line.
func (c *Conn) Run(script string) {
	c.tb.Helper()
	var send, want bytes.Buffer
	flush := func() {
		if send.Len() > 0 {
			c.Send(send.String())
			send.Reset()
		}
		if want.Len() > 0 {
			c.Expect(want.String())
			want.Reset()
		}
	}
	lines, err := parseScript(script)
	if err != nil {
		c.tb.Fatalf("smtptest: %v", err)
	}
	for _, l := range lines {
		switch l.kind {
		case 'C':
			if want.Len() > 0 {
				flush()
			}
			send.WriteString(l.text)
			send.WriteString("\r\n")
		case 'S':
			if send.Len() > 0 {
				c.Send(send.String())
				send.Reset()
			}
			want.WriteString(l.text)
			want.WriteString("\r\n")
		}
	}
	flush()
}

// scriptLine is one line of a transcript: kind 'C' or 'S', and its text
// without the prefix and the CRLF.
type scriptLine struct {
	kind byte
	text string
}

// parseScript splits a transcript into its lines (see Conn.Run for the
// format).
func parseScript(script string) ([]scriptLine, error) {
	var out []scriptLine
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimLeft(line, " \t")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		kind, text, ok := splitScriptLine(line)
		if !ok {
			return nil, fmt.Errorf("bad transcript line %q (want \"C: \" or \"S: \")", line)
		}
		out = append(out, scriptLine{kind, text})
	}
	return out, nil
}

func splitScriptLine(line string) (kind byte, text string, ok bool) {
	if len(line) < 2 || (line[0] != 'C' && line[0] != 'S') || line[1] != ':' {
		return 0, "", false
	}
	text = line[2:]
	text = strings.TrimPrefix(text, " ")
	return line[0], text, true
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
