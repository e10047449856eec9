package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/smtpkit/smtp/examples/gateway/internal/api"
	"github.com/smtpkit/smtp/examples/gateway/internal/records"
	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// outbound is the API's queue: the outbound queue, and the final state of
// the messages that left it, kept for the API's status for a while.
type outbound struct {
	q mta.Queue
	// dir is the queue's directory, where Status reads a message's state.
	dir     string
	history *records.Dir
	// hostname names the gateway in Received fields.
	hostname string
	log      *slog.Logger
	mlog     *mta.MailLog
	now      func() time.Time
}

// Submit implements api.Queue.
func (o *outbound) Submit(ctx context.Context, env *api.Envelope, msg []byte, prepare func(string) error) (string, error) {
	sp, err := o.q.Create(ctx)
	if err != nil {
		return "", err
	}
	if prepare != nil {
		if err := prepare(sp.ID()); err != nil {
			sp.Abort()
			return "", err
		}
	}
	now := o.now()
	if _, err := sp.Write(o.received(env, sp.ID(), now)); err != nil {
		sp.Abort()
		return "", err
	}
	if _, err := sp.Write(msg); err != nil {
		sp.Abort()
		return "", err
	}
	m := &queue.Message{From: env.From, SMTPUTF8: env.SMTPUTF8, EightBit: env.EightBit,
		Created: now, NextAttempt: now, Client: env.Client + " (http api)"}
	for _, r := range env.To {
		m.Recipients = append(m.Recipients, queue.Recipient{Addr: r, State: queue.Pending})
	}
	if err := sp.Commit(ctx, m); err != nil {
		return "", err
	}
	o.mlog.Printf(m.ID, "from=<%s>, size=%d, nrcpt=%d, client=%s, proto=HTTP (queue active)", m.From, m.Size, len(m.Recipients), env.Client)
	return m.ID, nil
}

// received returns the trace field of a message the API took (RFC 5321
// 4.4 asks it of every host that handles a message; RFC 5322 3.6.7):
// "Received: from [IP] by HOSTNAME with HTTP id ID; DATE", HTTPS when the
// request came over TLS, as the HTTP submission services write it.
func (o *outbound) received(env *api.Envelope, id string, now time.Time) []byte {
	ip := "unknown"
	if host, _, err := net.SplitHostPort(env.Client); err == nil {
		ip = mta.TraceName(host)
	}
	proto := "HTTP"
	if env.TLS {
		proto = "HTTPS"
	}
	b := []byte("Received: from [" + ip + "]\r\n\tby " + mta.TraceName(o.hostname) + " with " + proto + " id " + id + ";\r\n\t")
	b = now.AppendFormat(b, time.RFC1123Z)
	return append(b, "\r\n"...)
}

// Status implements api.Queue: a queued message's state, else its final
// state if it left the queue recently.
func (o *outbound) Status(_ context.Context, id string) (*queue.Message, error) {
	m, err := queue.Read(o.dir, id)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, queue.ErrNotFound) {
		return nil, err
	}
	m = new(queue.Message)
	err = o.history.Get(id, m)
	if errors.Is(err, records.ErrNotFound) {
		return nil, api.ErrNotFound
	}
	return m, err
}

// finished keeps the final state of a message that leaves the queue. It
// is written before the message is removed, so that the status of a
// message the API accepted is never lost in between.
func (o *outbound) finished(m *queue.Message) {
	if err := o.history.Put(m.ID, m); err != nil {
		o.log.Error("cannot keep the final state of a message for the API", "id", m.ID, "err", err)
	}
}
