package e2e

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

// Sunk is a message a RecordingSink accepted.
type Sunk struct {
	// RequireTLS says that its MAIL carried REQUIRETLS (RFC 8689), TLS
	// that the session was under TLS.
	RequireTLS, TLS bool
	Data            []byte
}

// RecordingSink is an in-process destination that keeps every message it
// accepts, with what its transaction announced.
type RecordingSink struct {
	Addr string
	mu   sync.Mutex
	got  []Sunk
}

// ServeRecordingSink serves a RecordingSink on addr (port 0: a free one)
// until the test ends. With cert it offers STARTTLS, and REQUIRETLS under
// TLS (RFC 8689 4); without, neither.
func ServeRecordingSink(tb testing.TB, addr string, cert *tls.Certificate) *RecordingSink {
	tb.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	s := &RecordingSink{Addr: l.Addr().String()}
	srv := &server.Server{Hostname: "sink.test", Backend: s}
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
		srv.EnableRequireTLS = true
	}
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	return s
}

// Messages returns the messages accepted so far.
func (s *RecordingSink) Messages() []Sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sunk(nil), s.got...)
}

// NewSession implements server.Backend.
func (s *RecordingSink) NewSession(_ context.Context, c *server.Conn) (server.Session, error) {
	return &recordingSession{s: s, c: c}, nil
}

type recordingSession struct {
	s          *RecordingSink
	c          *server.Conn
	requireTLS bool
}

func (rs *recordingSession) Mail(_ context.Context, _ envelope.Path, p envelope.MailParams) error {
	rs.requireTLS = p.RequireTLS
	return nil
}
func (rs *recordingSession) Rcpt(context.Context, envelope.Path, envelope.RcptParams) error {
	return nil
}
func (rs *recordingSession) Reset(context.Context)        {}
func (rs *recordingSession) Logout(context.Context) error { return nil }

func (rs *recordingSession) Data(_ context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rs.s.mu.Lock()
	rs.s.got = append(rs.s.got, Sunk{RequireTLS: rs.requireTLS, TLS: rs.c.TLS() != nil, Data: b})
	rs.s.mu.Unlock()
	return nil
}

// Login opens a submission session at addr as a mail user agent does:
// EHLO, STARTTLS (certificate not verified), EHLO again, AUTH PLAIN as
// user; it returns the connection and the EHLO reply under TLS. The test
// closes the connection.
func Login(tb testing.TB, addr, user, pass string) (*smtptest.Conn, string) {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	c := smtptest.NewConn(tb, nc) // closed when the test ends
	c.ExpectCode("220 ")
	c.Send("EHLO client.test\r\n")
	c.ExpectCode("250")
	c.Send("STARTTLS\r\n")
	c.ExpectCode("220 ")
	c.StartTLS(&tls.Config{InsecureSkipVerify: true})
	c.Send("EHLO client.test\r\n")
	ehlo := c.ExpectCode("250")
	c.Send("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + "\r\n")
	c.ExpectCode("235 ")
	return c, ehlo
}

// SubmitRequireTLS submits msg (CRLF line ends, no dot line) to the
// submission server at addr with MAIL ... REQUIRETLS (RFC 8689 4), after
// Login as user; the EHLO under TLS must offer REQUIRETLS, and every reply
// must be a success.
func SubmitRequireTLS(tb testing.TB, addr, user, pass, msg, from string, to ...string) {
	tb.Helper()
	c, ehlo := Login(tb, addr, user, pass)
	if !strings.Contains(ehlo, "REQUIRETLS") {
		tb.Fatalf("REQUIRETLS not offered under TLS: %q", ehlo)
	}
	c.Send("MAIL FROM:<" + from + "> REQUIRETLS\r\n")
	c.ExpectCode("250 ")
	for _, r := range to {
		c.Send("RCPT TO:<" + r + ">\r\n")
		c.ExpectCode("250 ")
	}
	c.Send("DATA\r\n")
	c.ExpectCode("354 ")
	c.Send(msg + ".\r\n")
	c.ExpectCode("250 ")
	c.Send("QUIT\r\n")
	c.ExpectCode("221 ")
}
