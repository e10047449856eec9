package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
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
	// slots bounds the -sync messages made into payloads and posted at
	// once (-workers, as the queued direction's workers do); spoolDir
	// holds the messages waiting for a slot beyond SyncSpoolMemory.
	slots    chan struct{}
	spoolDir string
	now      func() time.Time
}

// SyncSpoolMemory is how much of a message -sync keeps in memory while its
// session waits for a slot; the rest waits in an unlinked temporary file,
// so that the sessions waiting hold little memory whatever their number.
const SyncSpoolMemory = 64 << 10

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
	// Anyone may send here under any reverse-path: a bounce of what the
	// application refuses returns the header section only (RFC 3461
	// 4.3's RET=HDRS), so that a forged sender is not sent the body
	// (backscatter, RFC 5321 6.2). -sync refuses at SMTP time instead.
	m.Ret = "HDRS"
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
// and answers with what the webhook said (syncReply). The message waits
// for one of the -workers slots spooled (syncSpool): a payload holds some
// 2.7 times the message in memory, and anyone who can connect could
// otherwise make one per connection.
func (s *inSession) deliverSync(ctx context.Context, r io.Reader) error {
	now := s.b.now()
	id := syncID(now)
	sp := &syncSpool{dir: s.b.spoolDir}
	defer sp.close()
	sp.Write(s.received(id, now))
	if _, err := io.Copy(sp, r); err != nil {
		if sp.err != nil {
			s.b.log.Error("-sync: cannot spool the message", "conn", s.conn.ID(), "err", sp.err)
			return reply.New(reply.CodeLocalError, reply.Enh(4, 3, 0), "Cannot take the message now; try again later")
		}
		return err // the reader's: too large, connection lost...
	}
	select {
	case s.b.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.b.slots }()
	var buf bytes.Buffer
	if err := sp.readAll(&buf); err != nil {
		s.b.log.Error("-sync: cannot read the spooled message", "conn", s.conn.ID(), "err", err)
		return reply.New(reply.CodeLocalError, reply.Enh(4, 3, 0), "Cannot take the message now; try again later")
	}
	m := s.msg
	m.ID, m.Created, m.Client, m.Attempts = id, now, s.conn.RemoteAddr().String(), 1
	rcpts := make([]string, len(m.Recipients))
	for i, rc := range m.Recipients {
		rcpts[i] = rc.Addr
	}
	body, err := s.b.sync.payload(m, id, rcpts, buf.Bytes()) // one request: the delivery is the message
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

// syncSpool holds a -sync message while its session waits for a slot: in
// memory up to SyncSpoolMemory, then in a temporary file in dir, unlinked
// at once (it goes with its descriptor, whatever happens).
type syncSpool struct {
	dir  string
	mem  []byte
	file *os.File
	err  error // the first write error, sticky
}

func (sp *syncSpool) Write(p []byte) (int, error) {
	if sp.err == nil && sp.file == nil && len(sp.mem)+len(p) > SyncSpoolMemory {
		if sp.file, sp.err = os.CreateTemp(sp.dir, ".sync-"); sp.err == nil {
			os.Remove(sp.file.Name())
			_, sp.err = sp.file.Write(sp.mem)
			sp.mem = nil
		}
	}
	switch {
	case sp.err != nil:
		return 0, sp.err
	case sp.file != nil:
		var n int
		n, sp.err = sp.file.Write(p)
		return n, sp.err
	}
	sp.mem = append(sp.mem, p...)
	return len(p), nil
}

// readAll appends the spooled message to buf.
func (sp *syncSpool) readAll(buf *bytes.Buffer) error {
	if sp.file == nil {
		buf.Write(sp.mem)
		return nil
	}
	if _, err := sp.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := buf.ReadFrom(sp.file)
	return err
}

func (sp *syncSpool) close() {
	if sp.file != nil {
		sp.file.Close()
	}
}
