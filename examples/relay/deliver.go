package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtp/examples/internal/dsn"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// outcome is the result of one attempt for one recipient.
type outcome struct {
	// state is Delivered, Failed (a permanent failure) or Pending (a
	// transient one: try again later).
	state queue.RcptState
	// status is the RFC 3463 code, e.g. "5.1.1" (may be empty).
	status string
	// diag is the remote reply ("550 5.1.1 no such user") when remote
	// is set, else a local explanation ("connection to mx.example.net
	// failed: dial tcp ...: connection refused").
	diag string
	// remote is the host whose reply diag is; empty when no server
	// replied.
	remote string
}

// transport sends a message to recipients that share a domain.
type transport interface {
	// deliver tries m's recipients rcpts (indexes into m.Recipients, all
	// of domain) with the message msg of size bytes, and returns one
	// outcome per index, in order.
	deliver(ctx context.Context, m *queue.Message, domain string, rcpts []int, msg io.ReaderAt, size int64) []outcome
}

// deliverer runs the delivery workers.
type deliverer struct {
	q        *queue.Queue
	sched    *scheduler
	tr       transport
	schedule queue.Schedule
	hostname string
	log      *slog.Logger
	// now is the clock; a test seam.
	now func() time.Time
}

// run starts workers goroutines that deliver what the scheduler hands out
// until take ends; attempts run under attempt, so that a shutdown can let
// the attempts in progress finish (ending take) before it cuts them short
// (ending attempt). It returns when every worker has stopped.
func (d *deliverer) run(take, attempt context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case id := <-d.sched.work:
					d.sched.done(id, d.process(attempt, id))
				case <-take.Done():
					return
				}
			}
		})
	}
	wg.Wait()
}

// process makes one delivery attempt for message id and returns the time of
// the next one, or zero when the message is finished (or unreadable).
func (d *deliverer) process(ctx context.Context, id string) time.Time {
	m, err := d.q.Get(id)
	if err != nil {
		if !errors.Is(err, queue.ErrNotFound) {
			d.log.Error("cannot read queued message", "id", id, "err", err)
		}
		return time.Time{}
	}
	// The message is read from its file for each attempt, never held
	// whole in memory.
	f, err := d.q.OpenData(id)
	if errors.Is(err, queue.ErrNotFound) {
		// The state file is there but the data is gone (the queue was
		// damaged): no retry can deliver it. Leave the state in place for
		// the operator (it shows in the listing) and stop scheduling it.
		d.log.Error("queued message has no data file; left in the queue, not retried", "id", id)
		return time.Time{}
	}
	if err != nil {
		d.log.Error("cannot read queued message data", "id", id, "err", err)
		return d.now().Add(d.schedule.Delay(m.Attempts + 1))
	}
	defer f.Close()
	size := m.Size
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	if pending := m.Pending(); len(pending) > 0 {
		if !d.attempt(ctx, m, pending, f, size) {
			// Shutting down: the attempt did not happen (or was cut
			// short), and its state is saved; try again at restart.
			return time.Time{}
		}
	}
	// Bounce what failed and is not reported yet, before the message may
	// be removed (RFC 3464; never for a bounce, RFC 5321 4.5.5).
	if err := d.bounce(m, f, size); err != nil {
		d.log.Error("cannot queue the bounce", "id", id, "err", err)
		return d.now().Add(d.schedule.Delay(m.Attempts))
	}
	if m.Done() {
		if err := d.q.Remove(id); err != nil {
			d.log.Error("cannot remove delivered message", "id", id, "err", err)
		}
		d.log.Info("done", "id", id, "delivered", count(m, queue.Delivered), "failed", count(m, queue.Failed))
		return time.Time{}
	}
	return m.NextAttempt
}

// attempt tries every pending recipient once, domain by domain, and saves
// the state after each domain, so that a crash never makes a delivered
// recipient pending again. It reports false when ctx ended before the
// attempt could finish.
func (d *deliverer) attempt(ctx context.Context, m *queue.Message, pending []int, msg io.ReaderAt, size int64) bool {
	m.Attempts++
	m.LastAttempt = d.now()
	var lastErr string
	for _, g := range byDomain(m, pending) {
		if ctx.Err() != nil {
			break
		}
		outs := d.tr.deliver(ctx, m, g.domain, g.idx, msg, size)
		if ctx.Err() != nil {
			// Cut short by shutdown: a transient result caused by the
			// cancellation must not count, but a delivery that did
			// happen must be recorded.
			for i, o := range outs {
				if o.state != queue.Delivered {
					outs[i] = outcome{state: queue.Pending, diag: "interrupted by shutdown"}
				}
			}
		}
		now := d.now()
		for i, idx := range g.idx {
			o := outs[i]
			r := &m.Recipients[idx]
			r.Status, r.Diagnostic, r.RemoteMTA, r.Updated = o.status, o.diag, o.remote, now
			r.State = o.state
			if o.state != queue.Delivered {
				lastErr = o.diag
			}
			d.log.Info("attempt", "id", m.ID, "attempt", m.Attempts, "rcpt", r.Addr, "result", string(o.state),
				"remote", o.remote, "reply", o.diag)
		}
		if err := d.q.Save(m); err != nil {
			d.log.Error("cannot save delivery state", "id", m.ID, "err", err)
		}
	}
	m.LastError = lastErr
	if ctx.Err() != nil {
		m.NextAttempt = d.now()
		d.q.Save(m)
		return false
	}
	if len(m.Pending()) > 0 {
		next, expired := d.schedule.Next(m.Attempts, m.Created, d.now())
		if expired {
			// RFC 5321 4.5.4.1: give up after the give-up time and
			// report the failure; RFC 3463 4.4.7 "delivery time expired".
			for _, idx := range m.Pending() {
				r := &m.Recipients[idx]
				r.State = queue.Failed
				r.Status = "4.4.7"
				switch {
				case r.Diagnostic == "":
					r.Diagnostic = "delivery time expired"
				case r.RemoteMTA == "":
					// No server replied: say what happened (a
					// server's last reply is kept as it is, for
					// the bounce's Diagnostic-Code).
					r.Diagnostic = "delivery time expired; last attempt: " + r.Diagnostic
				}
				r.Updated = d.now()
			}
			d.log.Warn("giving up", "id", m.ID, "attempts", m.Attempts, "age", d.now().Sub(m.Created).Round(time.Second).String())
		} else {
			m.NextAttempt = next
			d.log.Info("deferred", "id", m.ID, "next", next.Format(time.RFC3339), "pending", len(m.Pending()))
		}
	}
	if err := d.q.Save(m); err != nil {
		d.log.Error("cannot save delivery state", "id", m.ID, "err", err)
	}
	return true
}

// bounce queues a delivery status notification for the failed recipients
// not yet reported, then marks them reported. A crash between the two
// steps can send a second notification, never none.
func (d *deliverer) bounce(m *queue.Message, msg io.ReaderAt, size int64) error {
	var failed []int
	for i, r := range m.Recipients {
		if r.State == queue.Failed && !r.Notified {
			failed = append(failed, i)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	var rs []dsn.Recipient
	for _, i := range failed {
		r := m.Recipients[i]
		// RFC 3461 4.1: NOTIFY=NEVER (or a list without FAILURE) asks
		// for no failure report.
		if !dsn.NotifyOnFailure(r.Notify) {
			continue
		}
		rs = append(rs, dsn.Recipient{
			FinalRecipient:    r.Addr,
			OriginalRecipient: r.ORcpt,
			Action:            dsn.ActionFailed,
			Status:            r.Status,
			RemoteMTA:         r.RemoteMTA,
			Diagnostic:        r.Diagnostic,
			LastAttempt:       r.Updated,
		})
	}
	switch {
	case !dsn.ShouldNotify(m.From):
		// RFC 5321 4.5.5: a message with the null reverse-path is a
		// notification itself; its failure is logged, never bounced.
		d.log.Warn("not bouncing a bounce", "id", m.ID, "failed", len(failed))
	case len(rs) > 0:
		// The report carries the original, or only its header section
		// when it is large: read no more than that.
		limit := size
		if m.Ret == "HDRS" || limit > dsn.DefaultMaxOriginal {
			limit = min(size, headerReadLimit)
		}
		data, err := io.ReadAll(io.NewSectionReader(msg, 0, limit))
		if err != nil {
			return err
		}
		rep := &dsn.Report{
			ReportingMTA: d.hostname,
			To:           m.From,
			EnvID:        m.EnvID,
			Arrival:      m.Created,
			Recipients:   rs,
			Original:     data,
			HeadersOnly:  m.Ret == "HDRS" || limit < size,
			UTF8:         m.SMTPUTF8,
			Date:         d.now(),
		}
		b, eightBit, err := rep.Build()
		if err != nil {
			return err
		}
		bm := &queue.Message{
			From:       "", // RFC 5321 4.5.5: null reverse-path
			SMTPUTF8:   !isASCII(m.From),
			EightBit:   eightBit,
			Recipients: []queue.Recipient{{Addr: m.From, State: queue.Pending}},
			Created:    d.now(),
			Client:     "bounce of " + m.ID,
		}
		bm.NextAttempt = bm.Created
		if err := d.q.Add(bm, b); err != nil {
			return err
		}
		d.log.Info("bounce queued", "id", bm.ID, "for", m.ID, "to", "<"+m.From+">", "failed", len(rs))
		d.sched.add(bm.ID, bm.Created)
	}
	for _, i := range failed {
		m.Recipients[i].Notified = true
	}
	m.Bounces++
	return d.q.Save(m)
}

// headerReadLimit bounds what is read of a large message to return its
// header section in a report.
const headerReadLimit = 256 << 10

// domainGroup is the pending recipients of one domain.
type domainGroup struct {
	domain string
	idx    []int
}

// byDomain groups recipients by domain (case-insensitive, RFC 5321 2.4),
// in order of first appearance.
func byDomain(m *queue.Message, idx []int) []domainGroup {
	var gs []domainGroup
	pos := map[string]int{}
	for _, i := range idx {
		dom := domainOf(m.Recipients[i].Addr)
		p, ok := pos[dom]
		if !ok {
			p = len(gs)
			pos[dom] = p
			gs = append(gs, domainGroup{domain: dom})
		}
		gs[p].idx = append(gs[p].idx, i)
	}
	return gs
}

// domainOf returns the lower-cased domain of an address.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

func count(m *queue.Message, s queue.RcptState) int {
	n := 0
	for _, r := range m.Recipients {
		if r.State == s {
			n++
		}
	}
	return n
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// loadQueue schedules every message of the queue, for a start or restart.
func loadQueue(q *queue.Queue, sched *scheduler, log *slog.Logger) int {
	msgs, errs := q.Load()
	for _, err := range errs {
		log.Error("damaged queue file left in place", "err", err)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].NextAttempt.Before(msgs[j].NextAttempt) })
	for _, m := range msgs {
		sched.add(m.ID, m.NextAttempt)
	}
	return len(msgs)
}
