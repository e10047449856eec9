package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/smtpkit/smtp/examples/internal/dsn"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// outcome is the result of one attempt for one recipient.
type outcome struct {
	// state is Delivered, Failed (permanent) or Pending (try again).
	state queue.RcptState
	// status is the RFC 3463 code, e.g. "5.7.1".
	status string
	// diag says what happened: an SMTP server's reply (with remote), or
	// an explanation ("the application answered 403 Forbidden: ...").
	diag string
	// remote is the SMTP server whose reply diag is; empty otherwise (a
	// webhook's answer is not an MTA's, RFC 3464 2.3.5).
	remote string
	// retryAfter is the least delay before the next attempt the receiver
	// asked for (HTTP Retry-After).
	retryAfter time.Duration
}

// transport delivers the messages of one queue: to the webhooks, or by
// SMTP.
type transport interface {
	// groups splits the pending recipients (indexes into m.Recipients)
	// into the groups one delivery serves: a webhook's, a domain's.
	groups(m *queue.Message, pending []int) [][]int
	// deliver makes one attempt for the recipients rcpts of m, and
	// returns one outcome per recipient, in order.
	deliver(ctx context.Context, m *queue.Message, rcpts []int, data messageData) []outcome
}

// engine runs the workers of one queue: each claims a due message, tries
// its pending recipients once, records the outcome, queues a delivery
// status notification (RFC 3464) for the recipients that failed, and
// finishes the message (removed once every recipient is final and
// reported, else due again on the retry schedule).
type engine struct {
	name string // "inbound" or "outbound", in logs
	q    store
	tr   transport
	// bounces is where notifications go: the outbound queue.
	bounces  store
	schedule queue.Schedule
	hostname string
	log      *slog.Logger
	// finished, if not nil, sees every message that leaves the queue, in
	// its final state, before it is removed.
	finished func(m *queue.Message)
	now      func() time.Time
}

// retryStoreDelay is the pause before a worker claims again after the
// queue failed.
const retryStoreDelay = time.Second

// run starts workers that claim and deliver until take ends; attempts run
// under attempt, so that a shutdown lets those in progress finish (take
// ended) before it cuts them short (attempt ended). It returns when every
// worker has stopped.
func (e *engine) run(take, attempt context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				m, err := e.q.Claim(take)
				if err != nil {
					if take.Err() != nil {
						return
					}
					e.log.Error("cannot claim queued mail", "queue", e.name, "err", err)
					sleep(take, retryStoreDelay)
					continue
				}
				e.process(attempt, m)
			}
		})
	}
	wg.Wait()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// process makes one attempt for a claimed message, queues the bounce of
// what failed, and finishes the message.
func (e *engine) process(ctx context.Context, m *queue.Message) {
	data, err := e.q.Data(ctx, m.ID)
	if errors.Is(err, queue.ErrNotFound) {
		// The state is there, the data not (a damaged queue): no attempt
		// can deliver it. It stays for the operator and is not retried.
		e.log.Error("queued message has no data; left in the queue, not retried", "queue", e.name, "id", m.ID)
		m.NextAttempt = time.Time{}
		m.LastError = "message data missing"
		e.finish(ctx, m)
		return
	}
	if err != nil {
		e.log.Error("cannot read queued message", "queue", e.name, "id", m.ID, "err", err)
		m.NextAttempt = e.now().Add(e.schedule.Delay(m.Attempts + 1))
		e.finish(ctx, m)
		return
	}
	defer data.Close()
	if pending := m.Pending(); len(pending) > 0 {
		if !e.attempt(ctx, m, pending, data) {
			// Shutting down: what was delivered is recorded, the rest
			// is due again at the next start.
			e.finish(context.WithoutCancel(ctx), m)
			return
		}
	}
	if err := e.bounce(ctx, m, data); err != nil {
		e.log.Error("cannot queue the bounce; trying again later", "queue", e.name, "id", m.ID, "err", err)
		m.NextAttempt = e.now().Add(e.schedule.Delay(m.Attempts))
	}
	if settled(m) && e.finished != nil {
		e.finished(m)
	}
	e.finish(ctx, m)
}

// settled reports whether m can leave the queue: every recipient final,
// every failure reported (or needing no report).
func settled(m *queue.Message) bool {
	for _, r := range m.Recipients {
		if !r.State.Final() || (r.State == queue.Failed && !r.Notified) {
			return false
		}
	}
	return true
}

func (e *engine) finish(ctx context.Context, m *queue.Message) {
	if err := e.q.Finish(ctx, m); err != nil {
		e.log.Error("cannot record the delivery state; the next attempt starts from the last one recorded",
			"queue", e.name, "id", m.ID, "err", err)
	}
}

// attempt tries every pending recipient once, group by group, and saves
// the state after each group, so that a recipient that got the message is
// never given it again after a crash. It reports false when ctx ended
// before the attempt could finish.
func (e *engine) attempt(ctx context.Context, m *queue.Message, pending []int, data messageData) bool {
	m.Attempts++
	m.LastAttempt = e.now()
	var lastErr string
	var wait time.Duration
	for _, g := range e.tr.groups(m, pending) {
		if ctx.Err() != nil {
			break
		}
		outs := e.tr.deliver(ctx, m, g, data)
		if ctx.Err() != nil {
			// Cut short by a shutdown: a failure caused by it does not
			// count; a delivery that happened does.
			for i, o := range outs {
				if o.state != queue.Delivered {
					outs[i] = outcome{state: queue.Pending, diag: "interrupted by shutdown"}
				}
			}
		}
		now := e.now()
		for i, idx := range g {
			o := outs[i]
			r := &m.Recipients[idx]
			r.State, r.Status, r.Diagnostic, r.RemoteMTA, r.Updated = o.state, o.status, o.diag, o.remote, now
			if o.state != queue.Delivered {
				lastErr = o.diag
			}
			wait = max(wait, o.retryAfter)
			e.log.Info("attempt", "queue", e.name, "id", m.ID, "attempt", m.Attempts, "rcpt", r.Addr,
				"result", string(o.state), "status", o.status, "reply", o.diag)
		}
		if err := e.q.Save(ctx, m); err != nil {
			e.log.Error("cannot save the delivery state", "queue", e.name, "id", m.ID, "err", err)
		}
	}
	m.LastError = lastErr
	if ctx.Err() != nil {
		m.NextAttempt = e.now()
		return false
	}
	if len(m.Pending()) == 0 {
		return true
	}
	now := e.now()
	next, expired := e.schedule.Next(m.Attempts, m.Created, now)
	if expired {
		// RFC 5321 4.5.4.1: give up after the give-up time, and report
		// it (RFC 3463 4.4.7: delivery time expired).
		for _, idx := range m.Pending() {
			r := &m.Recipients[idx]
			r.State, r.Status, r.Updated = queue.Failed, "4.4.7", now
			if r.Diagnostic == "" {
				r.Diagnostic = "delivery time expired"
			} else if r.RemoteMTA == "" {
				r.Diagnostic = "delivery time expired; last attempt: " + r.Diagnostic
			}
		}
		e.log.Warn("giving up", "queue", e.name, "id", m.ID, "attempts", m.Attempts)
		return true
	}
	// A receiver that asked for more time (Retry-After) gets it, within
	// the give-up time.
	if ra := now.Add(wait); ra.After(next) {
		next = earlier(ra, m.Created.Add(maxAge(e.schedule)))
	}
	m.NextAttempt = next
	e.log.Info("deferred", "queue", e.name, "id", m.ID, "next", next.Format(time.RFC3339), "pending", len(m.Pending()))
	return true
}

func maxAge(s queue.Schedule) time.Duration {
	if s.MaxAge > 0 {
		return s.MaxAge
	}
	return queue.DefaultMaxAge
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// headerReadLimit bounds what is read of a large message to return its
// header section in a notification.
const headerReadLimit = 256 << 10

// bounce queues a delivery status notification (RFC 3464) to the sender
// for the failed recipients not reported yet, then marks them reported.
// A crash between the two steps can send a second notification, never
// none. A message with the null reverse-path is a notification itself and
// is never answered with one (RFC 5321 4.5.5).
func (e *engine) bounce(ctx context.Context, m *queue.Message, data messageData) error {
	var failed []int
	var rs []dsn.Recipient
	for i, r := range m.Recipients {
		if r.State != queue.Failed || r.Notified {
			continue
		}
		failed = append(failed, i)
		// RFC 3461 4.1: NOTIFY without FAILURE asks for no report.
		if dsn.NotifyOnFailure(r.Notify) {
			rs = append(rs, dsn.Recipient{
				FinalRecipient: r.Addr, OriginalRecipient: r.ORcpt, Action: dsn.ActionFailed,
				Status: r.Status, RemoteMTA: r.RemoteMTA, Diagnostic: r.Diagnostic, LastAttempt: r.Updated,
			})
		}
	}
	if len(failed) == 0 {
		return nil
	}
	switch {
	case !dsn.ShouldNotify(m.From):
		e.log.Warn("not bouncing a bounce", "queue", e.name, "id", m.ID, "failed", len(failed))
	case len(rs) > 0:
		size := data.Size()
		limit := size
		if m.Ret == "HDRS" || size > dsn.DefaultMaxOriginal {
			limit = min(size, headerReadLimit)
		}
		orig, err := io.ReadAll(io.NewSectionReader(data, 0, limit))
		if err != nil {
			return err
		}
		now := e.now()
		rep := &dsn.Report{
			ReportingMTA: e.hostname, To: m.From, EnvID: m.EnvID, Arrival: m.Created, Recipients: rs,
			Original: orig, HeadersOnly: m.Ret == "HDRS" || limit < size, UTF8: m.SMTPUTF8, Date: now,
		}
		b, eightBit, err := rep.Build()
		if err != nil {
			return err
		}
		bm := &queue.Message{
			From:        "", // RFC 5321 4.5.5: the null reverse-path
			SMTPUTF8:    !ascii(m.From),
			EightBit:    eightBit,
			Recipients:  []queue.Recipient{{Addr: m.From, State: queue.Pending}},
			Created:     now,
			NextAttempt: now,
			Client:      "bounce of " + e.name + " " + m.ID,
		}
		if err := e.bounces.Add(ctx, bm, b); err != nil {
			return err
		}
		e.log.Info("bounce queued", "queue", e.name, "id", bm.ID, "for", m.ID, "to", "<"+m.From+">", "failed", len(rs))
	}
	for _, i := range failed {
		m.Recipients[i].Notified = true
	}
	m.Bounces++
	return e.q.Save(ctx, m)
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
