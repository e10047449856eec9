package mta

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// submission is the server.Backend of the relay's listener: authenticated
// clients hand in mail, which is queued durably before the 250.
type submission struct {
	q        Queue
	mlog     *MailLog
	hostname string
	log      *slog.Logger
	// policy holds the logins and the senders they may use; SIGHUP
	// replaces it.
	policy atomic.Pointer[policy]
}

// policy is who may log in and which senders each login may use.
type policy struct {
	users cli.Users
	// senders binds senders to logins; nil: any login may use any
	// sender (no -senders file).
	senders *senderPolicy
	// dkim are the signing keys; nil: none.
	dkim *dkimKeys
}

// NewSession implements server.Backend.
func (b *submission) NewSession(_ context.Context, c *server.Conn) (server.Session, error) {
	return &submitSession{b: b, conn: c}, nil
}

type submitSession struct {
	b    *submission
	conn *server.Conn
	msg  *queue.Message // the transaction, nil before MAIL
}

// AuthPassword implements server.PasswordAuthenticator (AUTH PLAIN, LOGIN).
// Acting as another user is not allowed.
func (s *submitSession) AuthPassword(_ context.Context, identity, username, password string) error {
	if !s.b.policy.Load().users.Authenticate(identity, username, password) {
		s.b.log.Warn("authentication failed", "conn", s.conn.ID(), "remote", s.conn.RemoteAddr().String(), "user", username)
		return server.ErrAuthFailed
	}
	return nil
}

// AuthSecret implements server.SecretAuthenticator (CRAM-MD5).
func (s *submitSession) AuthSecret(_ context.Context, username string) (string, error) {
	pw, ok := s.b.policy.Load().users[username]
	if !ok {
		return "", server.ErrAuthFailed
	}
	return pw, nil
}

// Mail implements server.Session. The server refuses MAIL with 530 5.7.0
// before AUTH (RFC 4954 6, Server.AuthRequired); the check here is a second
// lock on the door: no open relay (RFC 5321 3.6.2, 7.1).
func (s *submitSession) Mail(_ context.Context, from envelope.Path, p envelope.MailParams) error {
	user := s.conn.Identity()
	if user == "" {
		return reply.AuthRequired()
	}
	// -senders: a login gives only the reverse-paths it owns (as
	// Postfix's reject_sender_login_mismatch: 553 5.7.1), so that an
	// authenticated user cannot send as someone else.
	if sp := s.b.policy.Load().senders; sp != nil && !sp.allows(user, from) {
		s.b.log.Warn("sender not allowed", "conn", s.conn.ID(), "remote", s.conn.RemoteAddr().String(),
			"user", user, "from", from.String())
		return reply.New(reply.CodeMailboxNameNotAllowed, reply.EnhNotAuthorized(),
			"Sender address rejected: not owned by user "+user)
	}
	s.msg = NewMessage(from, p)
	return nil
}

// Rcpt implements server.Session: any recipient of an authenticated client
// is relayed.
func (s *submitSession) Rcpt(_ context.Context, to envelope.Path, p envelope.RcptParams) error {
	if s.conn.Identity() == "" || s.msg == nil {
		// RFC 5321 3.6.2: relaying denied.
		return reply.RelayDenied()
	}
	if to.Address.Domain == "" {
		// <Postmaster> without a domain is this host's postmaster (RFC
		// 5321 4.1.1.3); a relay without local mailboxes has none.
		return reply.MailboxUnavailable("No local mailboxes here")
	}
	s.msg.Recipients = append(s.msg.Recipients, NewRecipient(to, p))
	return nil
}

// Data implements server.Session: it writes the message with a Received
// field (RFC 5321 4.4) into the queue and commits it, fsync of files and
// directories included, before the server says 250 (RFC 5321 6.1: the
// relay is then responsible for the message).
func (s *submitSession) Data(ctx context.Context, r io.Reader) error {
	m := s.msg
	if m == nil || len(m.Recipients) == 0 {
		return reply.BadSequence("No valid recipients")
	}
	now := time.Now()
	m.Client = s.client()
	trace := func(id string) []byte { return s.received(id, now) }
	signers, unsigned, r, err := s.signers(r)
	if err != nil {
		return err // the reader's: too large, connection lost...
	}
	if err := acceptSigned(ctx, s.b.q, m, r, signers, trace, now, s.b.log.With("conn", s.conn.ID())); err != nil {
		return err
	}
	s.b.mlog.Printf(m.ID, "from=<%s>, size=%d, nrcpt=%d, client=%s, sasl_username=%s (queue active)",
		m.From, m.Size, len(m.Recipients), s.conn.RemoteAddr(), s.conn.Identity())
	switch {
	case len(signers) > 0:
		s.b.mlog.Printf(m.ID, "%s", signedNote(signers))
	case unsigned != "":
		s.b.mlog.Printf(m.ID, "not DKIM-signed: %s", unsigned)
	}
	s.msg = nil
	return reply.Queued(m.ID)
}

// signers reads the header section of the message from r when there are
// DKIM keys, and returns the signers for it (or why none, when there are
// keys), and the whole message to read. Only authenticated submissions
// reach Data (Mail refuses the others): the relay signs what its users
// send, never what it merely passes on.
func (s *submitSession) signers(r io.Reader) (signers []*dkim.Signer, unsigned string, msg io.Reader, err error) {
	pol := s.b.policy.Load()
	if pol.dkim.count() == 0 {
		return nil, "", r, nil
	}
	br := bufio.NewReader(r)
	header, complete, err := readHeaderSection(br, dkim.DefaultMaxHeaderSize)
	if err != nil {
		return nil, "", nil, err
	}
	signers, unsigned = pol.dkim.choose(header, complete, s.conn.Identity(), pol.senders)
	return signers, unsigned, io.MultiReader(bytes.NewReader(header), br), nil
}

// client describes the submitter for logs and the listing.
func (s *submitSession) client() string {
	return s.conn.RemoteAddr().String() + " user=" + s.conn.Identity()
}

// received returns the trace field of a submitted message (Received).
func (s *submitSession) received(id string, now time.Time) []byte {
	return Received(s.conn, s.b.hostname, id, "", s.msg.SMTPUTF8, now)
}

// Received returns the trace field RFC 5321 4.4 requires of a server that
// takes a message, over connection c: "Received: from HELO ([IP])
// (Authenticated sender: USER) by HOSTNAME with PROTOCOL id ID for <RCPT>;
// DATE". The protocol is named per RFC 3848 (ESMTPSA: ESMTP with TLS and
// AUTH) and RFC 6531 (UTF8SMTPSA...), the login in Postfix's form, so that
// a message can be traced to the account that sent it; "for" only when
// rcpt is given (naming several recipients would tell each about the
// others).
func Received(c *server.Conn, hostname, id, rcpt string, smtputf8 bool, now time.Time) []byte {
	proto := "ESMTP"
	if smtputf8 {
		proto = "UTF8SMTP"
	}
	if c.TLS() != nil {
		proto += "S"
	}
	if c.Identity() != "" {
		proto += "A"
	}
	ip := "unknown"
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip = ta.IP.String()
	}
	helo := TraceName(c.Hello())
	if helo == "" {
		helo = "unknown"
	}
	var b []byte
	b = append(b, "Received: from "...)
	b = append(b, helo...)
	b = append(b, " (["...)
	b = append(b, ip...)
	b = append(b, "])\r\n\t"...)
	if user := c.Identity(); user != "" {
		b = append(b, "(Authenticated sender: "...)
		b = appendComment(b, user)
		b = append(b, ")\r\n\t"...)
	}
	b = append(b, "by "...)
	b = append(b, TraceName(hostname)...)
	b = append(b, " with "...)
	b = append(b, proto...)
	b = append(b, " id "...)
	b = append(b, id...)
	if rcpt != "" {
		b = append(b, "\r\n\tfor <"...)
		b = append(b, TraceName(rcpt)...)
		b = append(b, '>')
	}
	b = append(b, ";\r\n\t"...)
	b = now.AppendFormat(b, time.RFC1123Z)
	return append(b, "\r\n"...)
}

// maxTraceName bounds a name from the network written into a trace field:
// a domain's limit, RFC 1035 2.3.4.
const maxTraceName = 255

// TraceName keeps a name from the network to printable ASCII without
// spaces and the delimiters of a trace field ("(", ")", ";", "<", ">"), at
// most maxTraceName characters, so that it cannot break the field it goes
// into.
func TraceName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f || r == '(' || r == ')' || r == ';' || r == '<' || r == '>' {
			return -1
		}
		return r
	}, s)
	if len(s) > maxTraceName {
		s = s[:maxTraceName]
	}
	return s
}

// appendComment appends s as the text of an RFC 5322 3.2.2 comment:
// printable ASCII, with '(', ')' and '\' escaped as quoted-pairs and any
// other character replaced by '?', at most maxTraceName characters.
func appendComment(b []byte, s string) []byte {
	n := 0
	for _, r := range s {
		if n == maxTraceName {
			break
		}
		n++
		switch {
		case r == '(' || r == ')' || r == '\\':
			b = append(b, '\\', byte(r))
		case r > ' ' && r < 0x7f:
			b = append(b, byte(r))
		default:
			b = append(b, '?')
		}
	}
	return b
}

// Reset implements server.Session.
func (s *submitSession) Reset(context.Context) { s.msg = nil }

// Logout implements server.Session.
func (s *submitSession) Logout(context.Context) error { return nil }
