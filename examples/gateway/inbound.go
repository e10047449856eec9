package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// inbound is the server.Backend of the SMTP listener: it takes mail for
// the routed domains only, and queues it durably before the 250, or, with
// -sync, hands it to the webhook and answers with what the webhook said.
type inbound struct {
	routes   routes
	q        mta.Queue
	hostname string
	log      *slog.Logger
	mlog     *mta.MailLog
	// sync, when set, makes the webhook's answer the reply to the
	// message; nothing is queued.
	sync *hookTransport
	now  func() time.Time
}

// NewSession implements server.Backend.
func (b *inbound) NewSession(_ context.Context, c *server.Conn) (server.Session, error) {
	return &inSession{b: b, conn: c}, nil
}

type inSession struct {
	b    *inbound
	conn *server.Conn
	msg  *queue.Message // the transaction, nil before MAIL
	// url is the webhook of the transaction's recipients (-sync).
	url string
}

// Mail implements server.Session.
func (s *inSession) Mail(_ context.Context, from envelope.Path, p envelope.MailParams) error {
	s.msg, s.url = mta.NewMessage(from, p), ""
	return nil
}

// Rcpt implements server.Session: a recipient of a routed domain is
// accepted; any other is refused as relaying (RFC 5321 3.6.2: 550 5.7.1),
// since the gateway delivers nowhere else.
func (s *inSession) Rcpt(_ context.Context, to envelope.Path, p envelope.RcptParams) error {
	if s.msg == nil {
		return reply.BadSequence("Need MAIL first")
	}
	if to.Address.Domain == "" {
		// <Postmaster> alone is this host's postmaster (RFC 5321
		// 4.1.1.3); the gateway has no mailboxes of its own.
		return reply.MailboxUnavailable("No local mailboxes here; write to postmaster@ a routed domain")
	}
	addr := to.Address.String()
	url := s.b.routes.lookup(addr)
	if url == "" {
		s.b.log.Info("relay denied", "conn", s.conn.ID(), "remote", s.conn.RemoteAddr().String(), "rcpt", addr)
		return reply.RelayDenied()
	}
	if s.b.sync != nil && s.url != "" && url != s.url {
		// One webhook's answer makes the reply to the message: the
		// recipients of another go in a later transaction, which
		// clients do on 452 (RFC 5321 4.5.3.1.10).
		return reply.New(reply.CodeInsufficientStorage, reply.EnhTooManyRecipients(),
			"Recipients of another domain in a later transaction, please")
	}
	s.url = url
	s.msg.Recipients = append(s.msg.Recipients, mta.NewRecipient(to, p))
	return nil
}

// Data implements server.Session: the message with a Received field (RFC
// 5321 4.4) is committed to the queue, fsync of files and directories
// included, before the 250 (RFC 5321 6.1: the gateway is then responsible
// for it); the webhook gets it from a worker, so a slow webhook never
// holds the session.
func (s *inSession) Data(ctx context.Context, r io.Reader) error {
	m := s.msg
	if m == nil || len(m.Recipients) == 0 {
		return reply.BadSequence("No valid recipients")
	}
	if s.b.sync != nil {
		return s.deliverSync(ctx, r)
	}
	now := s.b.now()
	m.Client = s.conn.RemoteAddr().String()
	trace := func(id string) []byte { return s.received(id, now) }
	if err := mta.Accept(ctx, s.b.q, m, r, trace, now, s.b.log.With("conn", s.conn.ID())); err != nil {
		return err
	}
	s.b.mlog.Printf(m.ID, "from=<%s>, size=%d, nrcpt=%d, client=%s, helo=%s (queue active)",
		m.From, m.Size, len(m.Recipients), m.Client, mta.TraceName(s.conn.Hello()))
	s.msg = nil
	return reply.Queued(m.ID)
}

// deliverSync posts the message to the webhook while the client waits
// and answers with what the webhook said (syncReply).
func (s *inSession) deliverSync(ctx context.Context, r io.Reader) error {
	now := s.b.now()
	id := syncID(now)
	var buf bytes.Buffer
	buf.Write(s.received(id, now))
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	m := s.msg
	m.ID, m.Created, m.Client, m.Attempts = id, now, s.conn.RemoteAddr().String(), 1
	rcpts := make([]string, len(m.Recipients))
	for i, rc := range m.Recipients {
		rcpts[i] = rc.Addr
	}
	body, err := s.b.sync.payload(m, rcpts, buf.Bytes())
	if err != nil {
		return err
	}
	res := s.b.sync.client.Post(ctx, s.url, body, id, 1)
	s.b.mlog.Printf(id, "from=<%s>, size=%d, nrcpt=%d, client=%s, relay=%s, status=%s (-sync: %s)",
		m.From, buf.Len(), len(rcpts), m.Client, relayName(s.url), res.Outcome.String(), res.Describe())
	s.msg = nil
	return syncReply(&res, id)
}

// syncID names a message delivered with -sync, in the queue IDs' form.
func syncID(now time.Time) string {
	var b [5]byte
	rand.Read(b[:])
	return strconv.FormatInt(now.UnixMicro(), 36) + ".s." + hex.EncodeToString(b[:])
}

// received returns the message's Received field (RFC 5321 4.4), naming
// the recipient when there is one.
func (s *inSession) received(id string, now time.Time) []byte {
	rcpt := ""
	if len(s.msg.Recipients) == 1 {
		rcpt = s.msg.Recipients[0].Addr
	}
	return mta.Received(s.conn, s.b.hostname, id, rcpt, s.msg.SMTPUTF8, now)
}

// Reset implements server.Session.
func (s *inSession) Reset(context.Context) { s.msg, s.url = nil, "" }

// Logout implements server.Session.
func (s *inSession) Logout(context.Context) error { return nil }
