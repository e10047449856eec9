package mta

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/durable"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/reply"
)

// NewMessage starts the queue entry of a transaction from its MAIL
// command: the reverse-path ("" for the null one) and the parameters a
// relay passes on: SMTPUTF8 (RFC 6531), BODY=8BITMIME (RFC 6152), ENVID
// and RET (RFC 3461), REQUIRETLS (RFC 8689).
func NewMessage(from envelope.Path, p envelope.MailParams) *queue.Message {
	m := &queue.Message{
		SMTPUTF8: p.SMTPUTF8,
		EightBit: p.Body == envelope.Body8BitMIME,
		EnvID:    p.EnvID,
		// RFC 8689 4.1: a server offers REQUIRETLS under TLS only;
		// accepted, the requirement goes with the message to its next
		// hop.
		RequireTLS: p.RequireTLS,
	}
	if !from.Null {
		m.From = from.Address.String()
	}
	switch p.Ret {
	case envelope.RetFull:
		m.Ret = "FULL"
	case envelope.RetHdrs:
		m.Ret = "HDRS"
	}
	return m
}

// NewRecipient is the queue entry of a RCPT command: the forward-path,
// pending, with its NOTIFY and ORCPT (RFC 3461).
func NewRecipient(to envelope.Path, p envelope.RcptParams) queue.Recipient {
	r := queue.Recipient{Addr: to.Address.String(), State: queue.Pending}
	if p.Notify != 0 {
		r.Notify = p.Notify.String()
	}
	if p.ORcpt != nil {
		r.ORcpt = p.ORcpt.AddrType + ";" + p.ORcpt.Addr
	}
	return r
}

// Accept writes a message into q and commits it with the envelope m,
// fsync of files and directories included: the trace field trace(id) for
// its queue ID first (RFC 5321 4.4), then everything r yields; m's
// Created and NextAttempt become now. It returns nil once the message is
// durable: the server may then say 250, the message is the queue's
// responsibility (RFC 5321 6.1). An error of r (a message too large, a
// connection lost) is returned as it is. A failure of the queue is logged
// and answered with 452 4.3.1 when the disk is full (RFC 3463 3.4), else
// returned as it is (the server answers 451 4.3.0); either way nothing is
// acknowledged.
func Accept(ctx context.Context, q Queue, m *queue.Message, r io.Reader, trace func(id string) []byte, now time.Time, log *slog.Logger) error {
	return acceptSigned(ctx, q, m, r, nil, trace, now, log)
}

// acceptSigned is Accept that also has each of signers sign the message
// as it is written (spoolSigned), and keeps their DKIM-Signature fields in
// m.Prefix: they go before the data (RFC 6376 5: a signer prepends its
// field), and into the queue with the envelope, signed once, before the
// 250, whatever happens to the keys later. A signature that cannot be made
// is answered 451 4.3.0, and nothing is acknowledged.
func acceptSigned(ctx context.Context, q Queue, m *queue.Message, r io.Reader, signers []*dkim.Signer, trace func(id string) []byte, now time.Time, log *slog.Logger) error {
	w, err := q.Create(ctx)
	if err != nil {
		return storeFailed(ctx, log, err)
	}
	if _, err := w.Write(trace(w.ID())); err != nil {
		w.Abort()
		return storeFailed(ctx, log, err)
	}
	sigs, err := spoolSigned(w, r, signers)
	if err != nil {
		w.Abort()
		var qe *queue.Error
		var se *dkimSignError
		switch {
		case errors.As(err, &qe):
			return storeFailed(ctx, log, err)
		case errors.As(err, &se):
			log.ErrorContext(ctx, "message not queued", "err", err)
			return reply.New(reply.CodeLocalError, reply.Enh(4, 3, 0), "Local error: the message could not be signed")
		}
		return err // the reader's: too large, connection lost...
	}
	m.Prefix = string(sigs)
	m.Created, m.NextAttempt = now, now
	if err := w.Commit(ctx, m); err != nil {
		return storeFailed(ctx, log, err)
	}
	return nil
}

// storeFailed answers a queue failure: 452 4.3.1 for a full disk (RFC 3463
// 3.4), else the server's 451 4.3.0; the message is not acknowledged.
func storeFailed(ctx context.Context, log *slog.Logger, err error) error {
	log.ErrorContext(ctx, "message not queued", "err", err)
	if durable.IsNoSpace(err) {
		return reply.InsufficientStorage()
	}
	return err
}
