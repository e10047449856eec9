package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/maildir"
	"github.com/smtpkit/smtp/examples/mailsink/internal/mailstore"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// sink is the server.Backend of mailsink: every session stores into the same
// Maildir (or nowhere with -discard).
type sink struct {
	dir *maildir.Dir // nil: discard
	// store indexes what is delivered (for the web UI, -max-messages and
	// the Message-ID of the printed line); nil with -discard.
	store *mailstore.Store
	// create starts a delivery into dir; a test seam (a full disk).
	create func() (delivery, error)
	users  cli.Users
	// acceptAny offers AUTH and takes any credentials (-auth-accept-any).
	acceptAny bool
	hostname  string          // the server's name, for the Received field
	lmtp      bool            // LMTP instead of SMTP, for the Received field
	reject    map[string]bool // lower-cased addresses refused at RCPT
	out       *cli.Printer
	quiet     bool
	log       *slog.Logger
	// hellos holds the command each connection greeted with (HELO, EHLO
	// or LHLO; *server.Conn to string), from the server's events: the
	// Received field's protocol depends on it (RFC 3848).
	hellos sync.Map
}

// delivery is what the sink needs of a *maildir.Delivery.
type delivery interface {
	io.Writer
	io.ReaderFrom
	Commit() (string, error)
	Abort() error
}

// newSink returns a sink storing into dir (nil: discarding).
func newSink(dir *maildir.Dir) *sink {
	s := &sink{dir: dir, reject: map[string]bool{}}
	if dir != nil {
		s.create = func() (delivery, error) {
			d, err := dir.Create()
			if err != nil {
				return nil, err
			}
			return d, nil
		}
	}
	return s
}

// NewSession implements server.Backend.
func (s *sink) NewSession(_ context.Context, c *server.Conn) (server.Session, error) {
	switch {
	case s.acceptAny:
		return &acceptAnySession{session{sink: s, conn: c}}, nil
	case len(s.users) > 0:
		// Only a session with the authenticator methods makes the server
		// offer AUTH.
		return &authSession{session{sink: s, conn: c}}, nil
	}
	return &session{sink: s, conn: c}, nil
}

// Event implements server.Events: it notes the greeting command of each
// connection, and forgets it when the connection ends.
func (s *sink) Event(c *server.Conn, e server.Event) {
	switch e.Kind {
	case server.EventHello:
		s.hellos.Store(c, e.Command)
	case server.EventDisconnect:
		s.hellos.Delete(c)
	}
}

// WantEvent implements server.EventFilter: of the events, the sink needs
// only the greetings and the ends of connections (the others are logged
// by the server, at the level of -v).
func (s *sink) WantEvent(k server.EventKind) bool {
	return k == server.EventHello || k == server.EventDisconnect
}

// session is one connection's transaction state.
type session struct {
	sink     *sink
	conn     *server.Conn
	from     envelope.Path
	smtputf8 bool // MAIL had SMTPUTF8 (RFC 6531)
	to       []envelope.Path
	head     []byte // the header lines, reused between messages
	line     []byte // the printed line, reused
	clientIP string // of the printed line, once known
	stamp    stamp  // of the printed line
}

// Mail implements server.Session. The server has already required AUTH
// when -auth is given (RFC 4954 6: 530 5.7.0).
func (s *session) Mail(_ context.Context, from envelope.Path, p envelope.MailParams) error {
	s.from = from
	s.smtputf8 = p.SMTPUTF8
	return nil
}

// Rcpt implements server.Session; -reject addresses get 550 5.1.1.
func (s *session) Rcpt(_ context.Context, to envelope.Path, _ envelope.RcptParams) error {
	if len(s.sink.reject) > 0 && s.sink.reject[strings.ToLower(to.Address.String())] {
		// RFC 5321 4.2.2 / RFC 3463 3.2: 550 5.1.1, mailbox does not exist.
		return reply.New(reply.CodeMailboxUnavailable, reply.EnhBadMailbox(), "No such user here")
	}
	s.to = append(s.to, to)
	return nil
}

// Data implements server.Session: the message is stored (and synced to
// disk) before the server answers 250.
func (s *session) Data(ctx context.Context, r io.Reader) error {
	now := time.Now()
	path, n, err := s.store(r, now)
	if err != nil {
		return s.fail(ctx, err)
	}
	msgID := ""
	if s.sink.store != nil {
		// The message is on disk and acknowledged whatever happens here:
		// a file the index cannot read is still in the Maildir.
		sum, err := s.sink.store.Add(path)
		if err != nil {
			s.sink.log.WarnContext(ctx, "message not indexed", "conn", s.conn.ID(), "file", path, "err", err)
		}
		msgID = sum.MessageID
	}
	s.print(now, msgID, n, path)
	return nil
}

// LMTPData implements server.LMTPSession: one file for the message, so every
// recipient gets the same outcome (RFC 2033 4.2 allows one reply per
// recipient; they are all equal here).
func (s *session) LMTPData(ctx context.Context, r io.Reader) ([]error, error) {
	if err := s.Data(ctx, r); err != nil {
		return nil, err
	}
	return make([]error, len(s.to)), nil
}

// fail turns a storage error into the reply the client gets. A full disk is
// transient: 452 4.3.1 (RFC 5321 4.2.2, RFC 3463 3.4). An error of the data
// reader (a message too large, a broken connection) goes back to the server
// as it is, which knows its reply.
func (s *session) fail(ctx context.Context, err error) error {
	var me *maildir.Error
	if !errors.As(err, &me) {
		return err
	}
	s.sink.log.ErrorContext(ctx, "message not stored", "conn", s.conn.ID(), "err", err)
	if maildir.IsNoSpace(err) {
		return reply.InsufficientStorage()
	}
	// Any other storage failure: a transient local error, 451 4.3.0.
	return reply.LocalError()
}

// store writes the message, preceded by the contract's envelope lines
// "Return-Path: <from>" and "X-Envelope-To: a, b" and a Received field, and
// returns the path of the file and the size of the message.
func (s *session) store(r io.Reader, now time.Time) (string, int64, error) {
	if s.sink.create == nil {
		n, err := io.Copy(io.Discard, r)
		return "", n, err
	}
	w, err := s.sink.create()
	if err != nil {
		return "", 0, err
	}
	s.head = appendEnvelope(s.head[:0], s.from, s.to)
	tr := s.trace(now)
	s.head = tr.AppendReceived(s.head)
	if _, err := w.Write(s.head); err != nil {
		w.Abort()
		return "", 0, err
	}
	n, err := w.ReadFrom(r)
	if err != nil {
		w.Abort()
		return "", n, err
	}
	path, err := w.Commit()
	return path, n, err
}

// appendEnvelope appends the envelope header lines. The addresses were
// parsed by the server, so they hold no CR or LF.
func appendEnvelope(b []byte, from envelope.Path, to []envelope.Path) []byte {
	b = append(b, "Return-Path: <"...)
	if !from.Null {
		b = from.Address.AppendTo(b)
	}
	b = append(b, ">\r\nX-Envelope-To: "...)
	for i, t := range to {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = t.Address.AppendTo(b)
	}
	return append(b, "\r\n"...)
}

// trace describes the session for the Received field (RFC 5321 4.4).
func (s *session) trace(now time.Time) mailstore.Trace {
	c := s.conn
	t := mailstore.Trace{
		ClientIP: clientIP(c.RemoteAddr()),
		Helo:     c.Hello(),
		AuthUser: c.Identity(),
		ConnID:   c.ID(),
		Hostname: s.sink.hostname,
		Time:     now,
	}
	if st := c.TLS(); st != nil {
		t.TLSVersion, t.TLSCipher = tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)
	}
	base := "ESMTP"
	if cmd, _ := s.sink.hellos.Load(c); cmd == "HELO" {
		base = "SMTP"
	}
	if s.sink.lmtp {
		base = "LMTP"
	}
	t.Protocol = mailstore.Protocol(base, s.smtputf8, t.TLSVersion != "", t.AuthUser != "")
	if len(s.to) == 1 {
		// Only for one recipient: with more, "for" would tell each of
		// them the others, Bcc included (RFC 5321 7.2).
		t.For = s.to[0].Address.String()
	}
	return t
}

// clientIP returns the IP address of a client's address.
func clientIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// print writes the line of a received message: the time, connection id,
// client IP, Message-ID, from, recipients, size and file.
func (s *session) print(now time.Time, msgID string, size int64, path string) {
	if s.sink.quiet {
		return
	}
	b := s.stamp.append(s.line[:0], now)
	b = append(b, " conn="...)
	b = append(b, s.conn.ID()...)
	b = append(b, " client="...)
	if s.clientIP == "" {
		s.clientIP = clientIP(s.conn.RemoteAddr()) // the connection's, for good
	}
	b = append(b, s.clientIP...)
	b = append(b, " msgid="...)
	if msgID == "" {
		b = append(b, '-')
	} else {
		b = append(b, '<')
		b = appendToken(b, msgID)
		b = append(b, '>')
	}
	// The addresses come from the client: SMTPUTF8 lets them carry any
	// UTF-8 beyond ASCII (RFC 6531 3.3, RFC 6532 3.2), C1 controls and
	// bidirectional overrides included, which act on a terminal.
	mark := len(b)
	b = append(b, " from=<"...)
	if !s.from.Null {
		b = s.from.Address.AppendTo(b)
	}
	b = append(b, "> to="...)
	for i, t := range s.to {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '<')
		b = t.Address.AppendTo(b)
		b = append(b, '>')
	}
	b = cli.PrintableTail(b, mark)
	b = append(b, " size="...)
	b = strconv.AppendInt(b, size, 10)
	b = append(b, " file="...)
	if path == "" {
		path = "-"
	}
	b = append(b, path...)
	s.line = b
	s.sink.out.Line(b)
}

// stampLayout is the time of the printed line.
const stampLayout = "2006-01-02T15:04:05.000Z07:00"

// stamp formats times as stampLayout, the date, the time to the second and
// the zone once per second (formatting the whole layout costs more than the
// rest of the line).
type stamp struct {
	sec  int64  // the Unix second of text
	text []byte // a time of sec formatted with stampLayout
	frac int    // the offset of the milliseconds in text
}

// append appends t formatted with stampLayout. All times given to one
// stamp must have the same Location (time.Now's).
func (s *stamp) append(b []byte, t time.Time) []byte {
	if sec := t.Unix(); sec != s.sec || s.text == nil {
		s.text = t.AppendFormat(s.text[:0], stampLayout)
		s.sec, s.frac = sec, bytes.LastIndexByte(s.text, '.')+1
	}
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, s.text[:s.frac]...)
	b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, s.text[s.frac+3:]...)
}

// maxLogToken bounds a value from the message in the printed line.
const maxLogToken = 250

// appendToken appends a value from the message (a Message-ID) to the
// printed line, with spaces, controls, angle brackets and non-ASCII bytes
// replaced by "?", so that one message is always one line.
func appendToken(b []byte, s string) []byte {
	for i := 0; i < len(s) && i < maxLogToken; i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

// Reset implements server.Session.
func (s *session) Reset(context.Context) {
	s.from = envelope.Path{}
	s.smtputf8 = false
	s.to = s.to[:0]
}

// Logout implements server.Session.
func (s *session) Logout(context.Context) error { return nil }

// authSession is a session that offers AUTH (with -auth).
type authSession struct{ session }

// AuthPassword implements server.PasswordAuthenticator (AUTH PLAIN and
// LOGIN). Acting as another user is not allowed.
func (s *authSession) AuthPassword(_ context.Context, identity, username, password string) error {
	if !s.sink.users.Authenticate(identity, username, password) {
		return server.ErrAuthFailed
	}
	return nil
}

// AuthSecret implements server.SecretAuthenticator (CRAM-MD5).
func (s *authSession) AuthSecret(_ context.Context, username string) (string, error) {
	pw, ok := s.sink.users[username]
	if !ok {
		return "", server.ErrAuthFailed
	}
	return pw, nil
}

// acceptAnySession offers AUTH PLAIN and LOGIN and accepts any credentials
// (-auth-accept-any), as mail catchers do, so that an application
// configured to authenticate can send. The user name is recorded in the
// Received field; the password is neither checked nor kept.
type acceptAnySession struct{ session }

// AuthPassword implements server.PasswordAuthenticator.
func (s *acceptAnySession) AuthPassword(context.Context, string, string, string) error { return nil }
