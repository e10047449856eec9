package smtptest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/smtpkit/smtp/reply"
)

// maxReplyLines bounds the lines of one reply a Conn reads, so that a
// broken server cannot make a test read for ever.
const maxReplyLines = 1000

// Conn is a test client for testing servers: it sends exact bytes or
// commands and checks the replies, failing the test (through the TB it
// was made with) when they are not the expected ones.
type Conn struct {
	// Timeout bounds each read and write; zero means DefaultTimeout.
	Timeout time.Duration
	// TLSConfig is used by StartTLS and the !tls directive of Run.
	TLSConfig *tls.Config
	// Trace, if not nil, receives every line sent ("C: ...") and
	// received ("S: ..."), without CRLF: a transcript of the session.
	Trace io.Writer

	tb TB
	nc net.Conn
	r  *bufio.Reader
}

// Dial connects to addr in plain text. The connection is closed when the
// test ends. The greeting is not read.
func Dial(tb TB, addr string) *Conn {
	tb = orNoTest(tb)
	tb.Helper()
	nc, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		tb.Fatalf("smtptest: dial %s: %v", addr, err)
	}
	return NewConn(tb, nc)
}

// DialTLS connects to addr with TLS from the first byte (RFC 8314 3.3).
func DialTLS(tb TB, addr string, cfg *tls.Config) *Conn {
	tb = orNoTest(tb)
	tb.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: DefaultTimeout}, "tcp", addr, cfg)
	if err != nil {
		tb.Fatalf("smtptest: TLS dial %s: %v", addr, err)
	}
	c := NewConn(tb, nc)
	c.TLSConfig = cfg
	return c
}

// NewConn makes a test client of an open connection; it is closed when the
// test ends.
func NewConn(tb TB, nc net.Conn) *Conn {
	tb = orNoTest(tb)
	tb.Cleanup(func() { nc.Close() })
	return &Conn{tb: tb, nc: nc, r: bufio.NewReader(nc)}
}

// NetConn returns the connection (a *tls.Conn once TLS started).
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

func (c *Conn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Send writes s exactly as given: nothing is added, so s holds its own
// CRLFs (or the bare LFs a test wants to see refused). A failure ends the
// test.
func (c *Conn) Send(s string) {
	c.tb.Helper()
	if err := c.Write([]byte(s)); err != nil {
		c.tb.Fatalf("smtptest: sending %q: %v", s, err)
	}
}

// Write writes p exactly and returns the error, for a test that expects
// the server to have gone.
func (c *Conn) Write(p []byte) error {
	c.trace('C', string(p))
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout()))
	_, err := c.nc.Write(p)
	return err
}

// Cmd sends line with CRLF and returns the server's reply, whatever its
// code. A network failure or a malformed reply ends the test.
func (c *Conn) Cmd(line string) *reply.Reply {
	c.tb.Helper()
	c.Send(line + "\r\n")
	r, err := c.ReadReply()
	if err != nil {
		c.tb.Fatalf("smtptest: reply to %q: %v", line, err)
	}
	return r
}

// ReadReply reads one reply and parses it.
func (c *Conn) ReadReply() (*reply.Reply, error) {
	raw, err := c.ReadRawReply()
	if err != nil {
		return nil, err
	}
	r, err := reply.NewReader(strings.NewReader(raw), reply.Limits{MaxLines: maxReplyLines, MaxLineLength: len(raw)}).ReadReply()
	if err != nil {
		return nil, fmt.Errorf("smtptest: malformed reply %q: %w", raw, err)
	}
	return r, nil
}

// ReadRawReply reads one reply and returns it as it came, CRLFs included:
// the lines up to one whose fourth byte is not '-' (RFC 5321 4.2.1).
func (c *Conn) ReadRawReply() (string, error) {
	var b strings.Builder
	for range maxReplyLines {
		line, err := c.readLine()
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if len(line) < 4 || line[3] != '-' {
			return b.String(), nil
		}
	}
	return b.String(), fmt.Errorf("smtptest: reply longer than %d lines", maxReplyLines)
}

// readLine reads one line, its CRLF included, under the timeout.
func (c *Conn) readLine() (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.timeout()))
	line, err := readBoundedLine(c.r)
	c.trace('S', line)
	if err != nil {
		err = readError(err, c.timeout())
	}
	return line, err
}

// maxLineLength bounds a line a Conn or a Peer reads, so that a peer
// under test that never ends its line fails the test instead of filling
// its memory until the timeout. It is far above any line SMTP allows
// (RFC 5321 4.5.3.1.4-6: 512 octets for a command or reply line, 1000
// for a line of text), so a test can still see an overlong one.
const maxLineLength = 1 << 20

// errLineTooLong is the read error past maxLineLength.
var errLineTooLong = fmt.Errorf("a line longer than %d bytes", maxLineLength)

// readBoundedLine reads up to and including the next LF, at most
// maxLineLength bytes. Past it, it returns the line's first bytes (enough
// to recognise it in a report) and errLineTooLong.
func readBoundedLine(r *bufio.Reader) (string, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > maxLineLength {
			line = append(line, frag[:min(len(frag), 80)]...)
			return string(line[:min(len(line), 80)]), errLineTooLong
		}
		line = append(line, frag...)
		if err != bufio.ErrBufferFull {
			return string(line), err
		}
	}
}

// readError names a read failure for a test's log.
func readError(err error, timeout time.Duration) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("nothing within %v: %w", timeout, err)
	}
	return err
}

// Expect reads one reply and ends the test unless it matches pattern:
// the code ("250", or with x for any digit: "2xx", "45x"), then
// optionally the enhanced code ("2.1.0", "5.x.x") and the text, in which
// "{*}" matches any run of characters, line breaks included (the lines of
// a multi-line reply are joined with "\n"). Without text any text
// matches:
//
//	c.Expect("250")
//	c.Expect("550 5.1.1 {*}no such user{*}")
//	c.Expect("250 {*}\nPIPELINING\n{*}") // an EHLO reply that offers PIPELINING
func (c *Conn) Expect(pattern string) *reply.Reply {
	c.tb.Helper()
	p, err := parseReplyPattern(pattern)
	if err != nil {
		c.tb.Fatalf("smtptest: %v", err)
	}
	r, err := c.ReadReply()
	if err != nil {
		c.tb.Fatalf("smtptest: reading the reply (want %q): %v", pattern, err)
	}
	if !p.match(r) {
		c.tb.Fatalf("smtptest: reply mismatch\n    want: %s\n     got: %q", pattern, r.AppendWire(nil, r.Enhanced.Valid()))
	}
	return r
}

// StartTLS runs the client side of the TLS handshake with TLSConfig,
// after the server's 220 reply to STARTTLS. Bytes from the server before
// the handshake end the test: a server must wait for it (RFC 3207 4).
func (c *Conn) StartTLS() {
	c.tb.Helper()
	if c.TLSConfig == nil {
		c.tb.Fatalf("smtptest: StartTLS without a TLSConfig")
	}
	if n := c.r.Buffered(); n > 0 {
		c.tb.Fatalf("smtptest: %d bytes from the server before the TLS handshake", n)
	}
	tc := tls.Client(c.nc, c.TLSConfig)
	tc.SetDeadline(time.Now().Add(c.timeout()))
	if err := tc.Handshake(); err != nil {
		c.tb.Fatalf("smtptest: TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	c.nc, c.r = tc, bufio.NewReader(tc)
	c.tb.Cleanup(func() { tc.Close() })
}

// ExpectClosed ends the test unless the server closes the connection
// without sending anything more.
func (c *Conn) ExpectClosed() {
	c.tb.Helper()
	if got := c.closed(); got != "" {
		c.tb.Fatalf("smtptest: want the connection closed by the server, got %s", got)
	}
}

// closed waits for the server to close the connection and returns "", or
// what came instead.
func (c *Conn) closed() string {
	c.nc.SetReadDeadline(time.Now().Add(c.timeout()))
	b, err := io.ReadAll(c.r)
	switch {
	case len(b) > 0:
		c.trace('S', string(b))
		return fmt.Sprintf("%q", b)
	case err == nil || isConnGone(err):
		return ""
	}
	return readError(err, c.timeout()).Error()
}

// isConnGone reports whether err says the peer closed the connection.
func isConnGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		isResetOrPipe(err)
}

// Run plays the client side of a transcript: it sends the "C: " lines
// (a run of them in one write, as a pipelining client does) and reads one
// line for each "S: " line, ending the test at the first that does not
// match, with the transcript around it. "!tls" runs StartTLS, "!close"
// closes the connection, "!eof" expects the server to close it.
func (c *Conn) Run(text string) {
	c.tb.Helper()
	t, err := parseTranscript(text)
	if err != nil {
		c.tb.Fatalf("smtptest: %v", err)
	}
	var batch strings.Builder
	flush := func() {
		if batch.Len() > 0 {
			c.Send(batch.String())
			batch.Reset()
		}
	}
	for i, s := range t.steps {
		switch {
		case s.kind == 'C':
			batch.WriteString(s.text + "\r\n")
			continue
		case s.kind == 'S':
			flush()
			line, err := c.readLine()
			switch {
			case err != nil:
				c.tb.Fatalf("%v", t.mismatch(i, gotError(line, err)))
			case !strings.HasSuffix(line, "\r\n") || !matchLine(s.text, line[:len(line)-2]):
				c.tb.Fatalf("%v", t.mismatch(i, quoteLine('S', line)))
			}
		case s.text == dirTLS:
			flush()
			c.StartTLS()
		case s.text == dirClose:
			flush()
			c.Close()
		case s.text == dirEOF:
			flush()
			if got := c.closed(); got != "" {
				c.tb.Fatalf("%v", t.mismatch(i, got))
			}
		}
	}
	flush()
}

// gotError describes a failed read of a line for a MismatchError.
func gotError(partial string, err error) string {
	s := "the connection was closed"
	if !isConnGone(err) {
		s = err.Error()
	}
	if partial != "" {
		s += fmt.Sprintf(" after %q", partial)
	}
	return s
}

func (c *Conn) trace(kind byte, s string) {
	if c.Trace == nil || s == "" {
		return
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l == "" {
			continue
		}
		// As a transcript line: "C:" alone for an empty line.
		b.WriteString(step{kind: kind, text: strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")}.String())
		b.WriteString("\n")
	}
	io.WriteString(c.Trace, b.String())
}

// replyPattern is a parsed Expect pattern.
type replyPattern struct {
	code     string // three characters, digits or 'x'
	enhanced string // "" or class.subject.detail, parts may be "x"
	text     string
	hasText  bool
}

func parseReplyPattern(s string) (replyPattern, error) {
	var p replyPattern
	code, rest, hasRest := strings.Cut(s, " ")
	if len(code) != 3 || strings.Trim(strings.ToLower(code), "0123456789x") != "" {
		return p, fmt.Errorf("reply pattern %q: want a three-character code first (\"250\", \"5xx\")", s)
	}
	p.code = strings.ToLower(code)
	if !hasRest {
		return p, nil
	}
	if first, text, ok := strings.Cut(rest, " "); isEnhancedPattern(first) {
		p.enhanced = strings.ToLower(first)
		p.text, p.hasText = text, ok
	} else {
		p.text, p.hasText = rest, true
	}
	return p, nil
}

// isEnhancedPattern reports whether s looks like an enhanced status code,
// with "x" allowed for any part.
func isEnhancedPattern(s string) bool {
	parts := strings.Split(strings.ToLower(s), ".")
	if len(parts) != 3 {
		return false
	}
	for _, part := range parts {
		if part != "x" && (part == "" || len(part) > 3 || strings.Trim(part, "0123456789") != "") {
			return false
		}
	}
	return true
}

func (p replyPattern) match(r *reply.Reply) bool {
	code := r.Code.String()
	for i := 0; i < 3; i++ {
		if p.code[i] != 'x' && (i >= len(code) || p.code[i] != code[i]) {
			return false
		}
	}
	if p.enhanced != "" {
		if !r.Enhanced.Valid() {
			return false
		}
		got := strings.Split(r.Enhanced.String(), ".")
		for i, want := range strings.Split(p.enhanced, ".") {
			if want != "x" && want != got[i] {
				return false
			}
		}
	}
	return !p.hasText || matchWild(p.text, strings.Join(r.Lines, "\n"), "")
}
