package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/maildir"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// sink is the server.Backend of mailsink: every session stores into the same
// Maildir (or nowhere with -discard).
type sink struct {
	dir *maildir.Dir // nil: discard
	// create starts a delivery into dir; a test seam (a full disk).
	create func() (delivery, error)
	users  cli.Users
	reject map[string]bool // lower-cased addresses refused at RCPT
	out    *cli.Printer
	quiet  bool
	log    *slog.Logger
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
	if len(s.users) > 0 {
		// Only a session with the authenticator methods makes the server
		// offer AUTH.
		return &authSession{session{sink: s, conn: c}}, nil
	}
	return &session{sink: s, conn: c}, nil
}

// session is one connection's transaction state.
type session struct {
	sink *sink
	conn *server.Conn
	from envelope.Path
	to   []envelope.Path
	head []byte // the header lines, reused between messages
	line []byte // the printed line, reused
}

// Mail implements server.Session. The server has already required AUTH
// when -auth is given (RFC 4954 6: 530 5.7.0).
func (s *session) Mail(_ context.Context, from envelope.Path, _ envelope.MailParams) error {
	s.from = from
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
	path, n, err := s.store(r)
	if err != nil {
		return s.fail(ctx, err)
	}
	s.print(n, path)
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
// "Return-Path: <from>" and "X-Envelope-To: a, b", and returns the path of
// the file and the size of the message.
func (s *session) store(r io.Reader) (string, int64, error) {
	if s.sink.create == nil {
		n, err := io.Copy(io.Discard, r)
		return "", n, err
	}
	w, err := s.sink.create()
	if err != nil {
		return "", 0, err
	}
	s.head = appendEnvelope(s.head[:0], s.from, s.to)
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

// print writes the line of a received message: from, recipients, size and
// file.
func (s *session) print(size int64, path string) {
	if s.sink.quiet {
		return
	}
	b := append(s.line[:0], "from=<"...)
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

// Reset implements server.Session.
func (s *session) Reset(context.Context) {
	s.from = envelope.Path{}
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
