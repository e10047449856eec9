package mta

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/smtpkit/smtp/examples/internal/queue"
)

// Delivery runs the relay's delivery workers on a Queue for another
// program (the gateway): claims, attempts domain by domain with the state
// saved after each, the retry schedule and -max-age, bounces (RFC 3464),
// the mail log. The messages go by SMTP as the relay sends them (Routes,
// else the MX hosts; connections cached, dead destinations backed off), or
// through a Transport of the program's own.
type Delivery struct {
	Queue Queue
	// Transport delivers; nil means SMTP, as the relay does.
	Transport Transport
	// Routes, with the SMTP transport: DOMAIN (lower case, A-labels) to
	// HOST:PORT instead of the domain's MX; "*" is a smart host for
	// every other domain.
	Routes map[string]string
	// Bounces is the queue the delivery status notifications go to; nil
	// means Queue. A program whose Queue does not deliver by SMTP gives
	// one that does.
	Bounces Queue
	// Security is DANE, MTA-STS and TLS-RPT for the SMTP transport's MX
	// deliveries (routes bypass them); nil means none.
	Security *Security
	Schedule queue.Schedule
	// Hostname names this host in bounces (Reporting-MTA) and to SMTP
	// servers (EHLO).
	Hostname string
	Log      *slog.Logger
	MailLog  *MailLog
	// Finished, if not nil, sees every message whose recipients are all
	// final, in its final state, before the queue removes it.
	Finished func(m *queue.Message)

	once sync.Once
	smtp *smtpTransport // the SMTP transport, when Transport is nil
}

// smtpTransport returns the SMTP transport, made at the first call.
func (d *Delivery) smtpTransport() *smtpTransport {
	d.once.Do(func() { d.smtp = newSMTPTransport(d.Hostname, d.Routes, d.Schedule, d.Security) })
	return d.smtp
}

// Flushed tells the SMTP transport that an operator flushed the queue:
// destinations in their dead-destination backoff are tried again too, as
// Postfix's postqueue -f does. It is an Options.OnFlush.
func (d *Delivery) Flushed() {
	if d.Transport == nil {
		d.smtpTransport().dests.reset()
	}
}

// Transport delivers a message to recipients that share a domain.
type Transport interface {
	// Deliver tries m's recipients rcpts (indexes into m.Recipients, all
	// of domain, lower case) with the message msg of size bytes, and
	// returns one Outcome per index, in order.
	Deliver(ctx context.Context, m *queue.Message, domain string, rcpts []int, msg io.ReaderAt, size int64) []Outcome
}

// Outcome is the result of one attempt for one recipient.
type Outcome struct {
	// State is queue.Delivered, queue.Failed (permanent: bounced) or
	// queue.Pending (transient: tried again on the schedule).
	State queue.RcptState
	// Status is the RFC 3463 code, e.g. "5.7.1".
	Status string
	// Diag says what happened: an SMTP server's reply when Remote is set
	// (the bounce's Diagnostic-Code), else an explanation (the bounce's
	// text only).
	Diag string
	// Remote is the SMTP server whose reply Diag is.
	Remote string
	// Relay names where the attempt went, for the mail log's relay=
	// ("none" when empty).
	Relay string
	// RetryAfter is the least delay before the next attempt that the
	// receiver asked for (an HTTP Retry-After); the schedule's delay is
	// used when it is longer, and -max-age is kept either way.
	RetryAfter time.Duration
}

// Run delivers the queue's messages with workers workers until take ends;
// attempts run under attempt, so that a shutdown can let the attempts in
// progress finish (ending take) before it cuts them short (ending
// attempt). It returns when every worker has stopped.
func (d *Delivery) Run(take, attempt context.Context, workers int) {
	dl := &deliverer{
		q: d.Queue, bounces: d.Bounces, schedule: d.Schedule, hostname: d.Hostname,
		log: d.Log, mlog: d.MailLog, finished: d.Finished, now: time.Now,
	}
	if dl.log == nil {
		dl.log = discardLog()
	}
	if d.Transport != nil {
		dl.tr = programTransport{d.Transport}
	} else {
		st := d.smtpTransport()
		defer st.close()
		dl.tr = st
	}
	dl.run(take, attempt, workers)
}

// programTransport is a program's Transport as the deliverer calls it.
type programTransport struct{ t Transport }

func (p programTransport) deliver(ctx context.Context, m *queue.Message, domain string, rcpts []int, msg io.ReaderAt, size int64) []outcome {
	outs := p.t.Deliver(ctx, m, domain, rcpts, msg, size)
	res := make([]outcome, len(rcpts))
	for i := range res {
		if i >= len(outs) {
			// A Transport that broke its contract: the recipient is
			// tried again, never given up for it.
			res[i] = outcome{state: queue.Pending, status: "4.3.0", diag: "the transport returned no outcome for this recipient"}
			continue
		}
		o := outs[i]
		res[i] = outcome{state: o.State, status: o.Status, diag: o.Diag, remote: o.Remote, relay: o.Relay, retryAfter: o.RetryAfter}
	}
	return res
}

// Workers runs delivery loops (Delivery.Run, the relay's own) under the
// two contexts a shutdown needs: take, which ends when no message may be
// claimed any more, and attempt, which ends when the attempts in progress
// must stop.
type Workers struct {
	take, attempt            context.Context
	stopTaking, stopAttempts context.CancelFunc
	wg                       sync.WaitGroup
}

// StartWorkers starts each of runs in a goroutine of its own.
func StartWorkers(runs ...func(take, attempt context.Context)) *Workers {
	w := &Workers{}
	w.take, w.stopTaking = context.WithCancel(context.Background())
	w.attempt, w.stopAttempts = context.WithCancel(context.Background())
	for _, run := range runs {
		w.wg.Go(func() { run(w.take, w.attempt) })
	}
	return w
}

// Stop stops the workers: no new claim; the attempts in progress get grace
// to finish, so that a reply about to come is recorded; then they are cut
// short (what they had not delivered is due again at the next start). It
// returns when every worker has stopped.
func (w *Workers) Stop(grace time.Duration, log *slog.Logger) {
	w.stopTaking()
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		log.Warn("interrupting deliveries in progress")
		w.stopAttempts()
		<-done
	}
	w.stopAttempts()
}
