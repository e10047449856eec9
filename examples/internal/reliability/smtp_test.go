package reliability

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests drive mailsink with this minimal SMTP client of their own
// rather than the library's: it can stop anywhere in a transaction, write
// anything, and it does not depend on the code under test.

// replyError is a reply with an unexpected code.
type replyError struct {
	Cmd  string
	Code int
	Text string
}

func (e *replyError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.Cmd, e.Code, e.Text)
}

// smtpConn is one client connection.
type smtpConn struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration // per step
	ext     string        // the EHLO reply's text, upper case
}

// stepTimeout bounds each command and reply of the test client.
const stepTimeout = 20 * time.Second

// dial connects to addr from the loopback address local ("" = any) and
// reads the greeting, which must be 220.
func dial(addr, local string) (*smtpConn, error) {
	d := net.Dialer{Timeout: stepTimeout}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := newConn(nc)
	if code, text, err := c.readReply(); err != nil || code != 220 {
		nc.Close()
		if err == nil {
			err = &replyError{"greeting", code, text}
		}
		return nil, err
	}
	return c, nil
}

func newConn(nc net.Conn) *smtpConn {
	return &smtpConn{nc: nc, r: bufio.NewReaderSize(nc, 4096), w: bufio.NewWriterSize(nc, 16<<10), timeout: stepTimeout}
}

// Close closes the connection.
func (c *smtpConn) Close() error { return c.nc.Close() }

// readReply reads one (possibly multi-line) reply and returns its code
// and its text lines joined with "\n". It checks the syntax of RFC 5321
// 4.2: every line is a 3-digit code, then "-" or " ", and ends with CRLF.
func (c *smtpConn) readReply() (int, string, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	var text strings.Builder
	code := 0
	for n := 0; ; n++ {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, text.String(), err
		}
		if n >= 1000 || len(line) > 2048 {
			return 0, "", errors.New("reply too long")
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) || len(line) < 5 || (line[3] != ' ' && line[3] != '-') {
			return 0, "", fmt.Errorf("malformed reply line %q", line)
		}
		cl, err := strconv.Atoi(string(line[:3]))
		if err != nil || cl < 200 || cl > 599 || (code != 0 && cl != code) {
			return 0, "", fmt.Errorf("malformed reply line %q", line)
		}
		code = cl
		if n > 0 {
			text.WriteByte('\n')
		}
		text.Write(line[4 : len(line)-2])
		if line[3] == ' ' {
			return code, text.String(), nil
		}
	}
}

// write writes s and flushes.
func (c *smtpConn) write(s string) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	c.w.WriteString(s)
	return c.w.Flush()
}

// cmd sends line (without CRLF) and reads the reply.
func (c *smtpConn) cmd(line string) (int, string, error) {
	if err := c.write(line + "\r\n"); err != nil {
		return 0, "", err
	}
	return c.readReply()
}

// expect sends line and checks that the reply has code want.
func (c *smtpConn) expect(line string, want int) error {
	code, text, err := c.cmd(line)
	if err != nil {
		return fmt.Errorf("%s: %w", verbOf(line), err)
	}
	if code != want {
		return &replyError{verbOf(line), code, text}
	}
	return nil
}

func verbOf(line string) string {
	v, _, _ := strings.Cut(line, " ")
	return v
}

// ehlo says EHLO and keeps the extensions.
func (c *smtpConn) ehlo(name string) error {
	code, text, err := c.cmd("EHLO " + name)
	if err != nil {
		return err
	}
	if code != 250 {
		return &replyError{"EHLO", code, text}
	}
	c.ext = strings.ToUpper(text)
	return nil
}

// has reports whether the EHLO reply advertised the keyword.
func (c *smtpConn) has(keyword string) bool {
	for l := range strings.SplitSeq(c.ext, "\n") {
		if l == keyword || strings.HasPrefix(l, keyword+" ") {
			return true
		}
	}
	return false
}

// startTLS runs STARTTLS and the handshake (certificate not verified).
func (c *smtpConn) startTLS() error {
	if err := c.expect("STARTTLS", 220); err != nil {
		return err
	}
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	tc.SetDeadline(time.Now().Add(c.timeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	c.nc = tc
	c.r.Reset(tc)
	c.w.Reset(tc)
	return nil
}

// dotStuff appends body to dst with leading dots doubled (RFC 5321
// 4.5.2), followed by the end of data. body must end with CRLF.
func dotStuff(dst, body []byte) []byte {
	bol := true
	for _, b := range body {
		if bol && b == '.' {
			dst = append(dst, '.')
		}
		dst = append(dst, b)
		bol = b == '\n'
	}
	return append(dst, ".\r\n"...)
}

// send runs one transaction: MAIL, RCPT for each of to, DATA and the
// message, and returns the code of the reply to the message (250 if
// stored) or an error; mail is the MAIL argument after "FROM:".
func (c *smtpConn) send(mail string, to []string, body []byte) (int, error) {
	if err := c.expect("MAIL FROM:"+mail, 250); err != nil {
		return 0, err
	}
	for _, r := range to {
		if err := c.expect("RCPT TO:<"+r+">", 250); err != nil {
			return 0, err
		}
	}
	if err := c.expect("DATA", 354); err != nil {
		return 0, err
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := c.w.Write(dotStuff(nil, body)); err != nil {
		return 0, err
	}
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	code, _, err := c.readReply()
	return code, err
}

// stored returns what mailsink stores for a message: the contract's
// envelope lines, then the message.
func stored(from string, to []string, body []byte) []byte {
	b := []byte("Return-Path: <" + from + ">\r\nX-Envelope-To: " + strings.Join(to, ", ") + "\r\n")
	return append(b, body...)
}

// transaction runs a whole session against addr (EHLO, one message,
// QUIT) and fails the test unless the message gets 250 within limit.
func transaction(t testing.TB, addr string, limit time.Duration, body []byte) time.Duration {
	t.Helper()
	start := time.Now()
	err := func() error {
		c, err := dial(addr, "")
		if err != nil {
			return err
		}
		defer c.Close()
		c.timeout = limit
		if err := c.ehlo("probe.test"); err != nil {
			return err
		}
		code, err := c.send("<probe@rel.test>", []string{"probe@rel.test"}, body)
		if err != nil {
			return err
		}
		if code != 250 {
			return &replyError{"end of data", code, ""}
		}
		return c.expect("QUIT", 221)
	}()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("a normal transaction failed after %v: %v", d.Round(time.Millisecond), err)
	}
	if d > limit {
		t.Fatalf("a normal transaction took %v, more than %v", d.Round(time.Millisecond), limit)
	}
	return d
}
