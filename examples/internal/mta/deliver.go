package mta

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
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
	// diag is the remote reply ("550 5.1.1 no such user"; for a delivery,
	// the reply to the message, with the remote queue ID) when remote is
	// set, else a local explanation ("connection to mx.example.net
	// failed: dial tcp ...: connection refused").
	diag string
	// remote is the host whose reply diag is; empty when no server
	// replied.
	remote string
	// relay is the connection in Postfix's form, "host[ip]:port", or
	// "none".
	relay string
	// tls describes the connection's TLS: "TLSv1.3/verified", "none".
	tls string
	// unknown says that the connection was lost after the end of the
	// message: the recipient may have got it (it stays pending).
	unknown bool
	// retryAfter is the least delay before the next attempt the receiver
	// asked for (Outcome.RetryAfter).
	retryAfter time.Duration
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
	q  Queue
	tr transport
	// bounces is where notifications go; nil means q.
	bounces Queue
	// finished, if not nil, sees every message whose recipients are all
	// final before Finish removes it.
	finished func(m *queue.Message)
	schedule queue.Schedule
	hostname string
	log      *slog.Logger
	mlog     *MailLog
	// now is the clock; a test seam.
	now func() time.Time
	// dkim returns the keys that sign the bounces; nil: none.
	dkim func() *dkimKeys
}

// unreadableData begins the LastError of a message whose data could not
// be read.
const unreadableData = "cannot read the message data: "

// retryStoreDelay is how long a worker waits before it tries again to
// record an outcome the queue refused (PostgreSQL down, say): the outcome
// is kept until it is recorded or the claim is lost.
const retryStoreDelay = time.Second

// shutdownRecordTimeout bounds the recording of an attempt cut short by a
// shutdown.
const shutdownRecordTimeout = 5 * time.Second

// run starts workers goroutines that claim and deliver messages until take
// ends; attempts run under attempt, so that a shutdown can let the attempts
// in progress finish (ending take) before it cuts them short (ending
// attempt). It returns when every worker has stopped.
func (d *deliverer) run(take, attempt context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				w, err := d.q.Claim(take)
				if err != nil {
					if take.Err() != nil {
						return
					}
					d.log.Error("cannot claim queued mail", "err", err)
					SleepCtx(take, retryStoreDelay)
					continue
				}
				d.process(attempt, w)
			}
		})
	}
	wg.Wait()
}

// SleepCtx waits for d or the end of ctx.
func SleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// process makes one delivery attempt for a claimed message, queues the
// bounce of what failed, and ends the claim.
func (d *deliverer) process(ctx context.Context, w *Work) {
	m := w.Msg
	if w.Interrupted != "" {
		// RFC 5321 6.1 prefers a duplicate to a loss: the attempt is made
		// again, and said so.
		d.mlog.Printf(m.ID, "outcome unknown: %s; retrying %d recipient(s), who may get the message twice",
			w.Interrupted, len(m.Pending()))
	}
	data, err := d.q.Data(ctx, m.ID)
	if errors.Is(err, ErrNotFound) {
		// The state is there but the data is gone (the queue was
		// damaged): no retry can deliver it. Hold it for the operator
		// (it shows in the listing), instead of retrying it forever.
		d.log.Error("queued message has no data; placed on hold", "id", m.ID)
		m.Held = true
		m.LastError = "message data missing"
		d.mlog.Printf(m.ID, "placed on hold by the relay: %s", m.LastError)
		d.finish(ctx, m)
		return
	}
	if err != nil {
		d.log.Error("cannot read queued message data", "id", m.ID, "err", err)
		// The failed read counts as an attempt, so that the schedule
		// backs off as for any other failure.
		again := strings.HasPrefix(m.LastError, unreadableData)
		now := d.now()
		m.Attempts++
		m.LastAttempt = now
		m.LastError = unreadableData + err.Error()
		next, expired := d.schedule.Next(m.Attempts, m.Created, now)
		if expired && again {
			// RFC 5321 4.5.4.1 gives up at the give-up time; without
			// its data the message cannot be bounced with its content
			// either, so it is held for the operator, as one whose data
			// is missing, instead of being retried for ever. Only when
			// the read failed at the attempt before too: one failure
			// at the last attempt (a passing one) gets one more, which
			// bounces the message if its data can be read.
			d.log.Error("queued message data unreadable past -max-age; placed on hold", "id", m.ID)
			m.Held = true
			d.mlog.Printf(m.ID, "placed on hold by the relay: %s", m.LastError)
		} else {
			if expired {
				next = now.Add(d.schedule.Delay(m.Attempts))
			}
			m.NextAttempt = next
			d.mlog.Printf(m.ID, "deferred, attempt=%d, next attempt %s: %s", m.Attempts,
				next.UTC().Format(time.RFC3339), m.LastError)
		}
		d.finish(ctx, m)
		return
	}
	defer data.Close()
	msg, size := withPrefix(m.Prefix, data, data.Size())
	if pending := m.Pending(); len(pending) > 0 {
		if !d.attempt(ctx, m, pending, msg, size) {
			// Shutting down: the attempt did not happen (or was cut
			// short); the message is due again at once. What was
			// delivered is recorded still, for a while.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownRecordTimeout)
			defer cancel()
			d.finish(rctx, m)
			return
		}
	}
	// Bounce what failed and is not reported yet, before the message may
	// be removed (RFC 3464; never for a bounce, RFC 5321 4.5.5).
	if err := d.bounce(ctx, m, msg, size); err != nil {
		// The failed recipients stay unreported, so the message is not
		// Done: it stays queued and the bounce is tried again at its
		// next attempt, which the attempt set when recipients are still
		// pending (Retry-After, the give-up time included).
		d.log.Error("cannot queue the bounce; the message stays queued for it", "id", m.ID, "err", err)
		if len(m.Pending()) == 0 {
			m.NextAttempt = d.now().Add(d.schedule.Delay(m.Attempts))
		}
	}
	if d.finished != nil && m.Done() {
		d.finished(m)
	}
	d.finish(ctx, m)
}

// finish ends the claim of m, trying again while the queue refuses (it is
// unreachable) and the claim may still be this relay's.
func (d *deliverer) finish(ctx context.Context, m *queue.Message) {
	for tries := 1; ; tries++ {
		err := d.q.Finish(ctx, m)
		switch {
		case err == nil:
			if tries > 1 {
				d.log.Info("delivery state recorded", "id", m.ID, "tries", tries)
			}
			if m.Done() {
				d.mlog.Printf(m.ID, "removed")
			}
			return
		case errors.Is(err, ErrLost):
			d.log.Warn("message deleted by the operator or claimed by another relay during delivery; its outcome here is not recorded",
				"id", m.ID)
			return
		case ctx.Err() != nil:
			d.log.Error("cannot record the delivery state before shutdown; the next claim retries what is not recorded", "id", m.ID, "err", err)
			return
		}
		if tries == 1 {
			d.log.Error("cannot record the delivery state; retrying until it is recorded", "id", m.ID, "err", err)
		}
		SleepCtx(ctx, retryStoreDelay)
	}
}

// attempt tries every pending recipient once, domain by domain, and saves
// the state after each domain but the last (Finish saves that one), so
// that a crash never makes a delivered recipient pending again. It reports
// false when ctx ended before the attempt could finish.
func (d *deliverer) attempt(ctx context.Context, m *queue.Message, pending []int, msg io.ReaderAt, size int64) bool {
	m.Attempts++
	m.LastAttempt = d.now()
	var lastErr string
	var wait time.Duration // the longest retryAfter asked for
	groups := byDomain(m, pending)
	for gi, g := range groups {
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
					outs[i] = outcome{state: queue.Pending, diag: "interrupted by shutdown", relay: o.relay, tls: o.tls}
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
			wait = max(wait, o.retryAfter)
			d.logRecipient(m, r, o, statusWord(o.state), now)
		}
		if gi < len(groups)-1 {
			if err := d.q.Save(ctx, m); err != nil {
				d.log.Error("cannot save delivery state", "id", m.ID, "err", err)
			}
		}
	}
	m.LastError = lastErr
	if ctx.Err() != nil {
		m.NextAttempt = d.now()
		return false
	}
	if len(m.Pending()) > 0 {
		next, expired := d.schedule.Next(m.Attempts, m.Created, d.now())
		if expired {
			// RFC 5321 4.5.4.1: give up after the give-up time and
			// report the failure; RFC 3463 4.4.7 "delivery time expired".
			now := d.now()
			for _, idx := range m.Pending() {
				r := &m.Recipients[idx]
				last := r.Diagnostic
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
				r.Updated = now
				d.logRecipient(m, r, outcome{status: r.Status, diag: "delivery time expired after " +
					strconv.Itoa(m.Attempts) + " attempts; last: " + last, relay: "none"}, "expired", now)
			}
		} else {
			m.NextAttempt = later(next, d.now().Add(wait), d.schedule.GiveUp(m.Created))
		}
	}
	return true
}

// later returns the later of next and asked, but not after deadline: a
// receiver that asks for more time than the schedule gives (Retry-After)
// gets it, within the give-up time.
func later(next, asked, deadline time.Time) time.Time {
	if !asked.After(next) {
		return next
	}
	if asked.After(deadline) {
		return deadline
	}
	return asked
}

// statusWord is Postfix's status= word for a recipient state.
func statusWord(s queue.RcptState) string {
	switch s {
	case queue.Delivered:
		return "sent"
	case queue.Failed:
		return "bounced"
	}
	return "deferred"
}

// logRecipient writes the mail log line of one recipient's attempt.
func (d *deliverer) logRecipient(m *queue.Message, r *queue.Recipient, o outcome, status string, now time.Time) {
	dsnCode := o.status
	if dsnCode == "" {
		switch o.state {
		case queue.Delivered:
			dsnCode = "2.0.0"
		case queue.Failed:
			dsnCode = "5.0.0"
		default:
			dsnCode = "4.0.0"
		}
	}
	relay, tls := o.relay, o.tls
	if relay == "" {
		relay = "none"
	}
	if tls == "" {
		tls = "none"
	}
	orig := ""
	if _, addr, ok := strings.Cut(r.ORcpt, ";"); ok && !strings.EqualFold(addr, r.Addr) {
		orig = ", orig_to=<" + addr + ">"
	}
	diag := o.diag
	if o.unknown {
		diag = "outcome unknown, retrying, the recipient may get it twice: " + diag
	}
	d.mlog.Printf(m.ID, "to=<%s>%s, relay=%s, delay=%s, dsn=%s, tls=%s, attempt=%d, status=%s (%s)",
		r.Addr, orig, relay, formatDelay(now.Sub(m.Created)), dsnCode, tls, m.Attempts, status, diag)
}

// bounce queues a delivery status notification for the failed recipients
// not yet reported, then marks them reported. A crash between the two
// steps can send a second notification, never none.
func (d *deliverer) bounce(ctx context.Context, m *queue.Message, msg io.ReaderAt, size int64) error {
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
		d.mlog.Printf(m.ID, "not bouncing a bounce: %d recipient(s) failed", len(failed))
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
			// RFC 8689 5: the report of a REQUIRETLS message is
			// sent with REQUIRETLS too, unless it is redacted. It is
			// redacted, so that it reaches the sender however the
			// path to them is secured (a REQUIRETLS report that
			// cannot go on is lost: no report of a report).
			Redacted: m.RequireTLS,
			UTF8:     m.SMTPUTF8,
			Date:     d.now(),
		}
		b, eightBit, err := rep.Build()
		if err != nil {
			return err
		}
		var signers []*dkim.Signer
		if d.dkim != nil {
			// Signed like the users' mail, for the domain of the
			// relay's own From address (MAILER-DAEMON@hostname).
			var sigs []byte
			if sigs, signers, err = d.dkim().signBytes(b); err != nil {
				return err
			}
			b = append(sigs, b...)
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
		bq := d.bounces
		if bq == nil {
			bq = d.q
		}
		if err := bq.Add(ctx, bm, b); err != nil {
			return err
		}
		d.mlog.Printf(m.ID, "sender non-delivery notification: %s", bm.ID)
		d.mlog.Printf(bm.ID, "from=<>, size=%d, nrcpt=1 (queue active)", bm.Size)
		if len(signers) > 0 {
			d.mlog.Printf(bm.ID, "%s", signedNote(signers))
		}
	}
	for _, i := range failed {
		m.Recipients[i].Notified = true
	}
	m.Bounces++
	return nil
}

// withPrefix returns the message to send: prefix (header fields added
// at intake, queue.Message.Prefix) followed by the size bytes of data.
func withPrefix(prefix string, data io.ReaderAt, size int64) (io.ReaderAt, int64) {
	if prefix == "" {
		return data, size
	}
	return prefixed{prefix: prefix, data: data}, int64(len(prefix)) + size
}

// prefixed reads a prefix, then data.
type prefixed struct {
	prefix string
	data   io.ReaderAt
}

func (p prefixed) ReadAt(b []byte, off int64) (int, error) {
	pl := int64(len(p.prefix))
	if off >= pl {
		return p.data.ReadAt(b, off-pl)
	}
	n := copy(b, p.prefix[off:])
	if n == len(b) {
		return n, nil
	}
	m, err := p.data.ReadAt(b[n:], 0)
	return n + m, err
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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
