package mta

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/queue"
)

// answerTransport is a program's Transport (the exported interface) that
// answers every recipient with one Outcome.
type answerTransport struct {
	mu  sync.Mutex
	out Outcome
	n   int
}

func (a *answerTransport) Deliver(_ context.Context, m *queue.Message, _ string, rcpts []int, _ io.ReaderAt, _ int64) []Outcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	outs := make([]Outcome, len(rcpts))
	for i := range outs {
		outs[i] = a.out
	}
	return outs
}

// TestDeliveryTransport: a program's Transport through the relay's
// engine: its Retry-After pushes the next attempt past the schedule's
// delay (not past -max-age), its refusal bounces into the Bounces queue,
// and Finished sees the message before it leaves.
func TestDeliveryTransport(t *testing.T) {
	tr := &answerTransport{out: Outcome{State: queue.Pending, Status: "4.3.0", Diag: "503", RetryAfter: 10 * time.Minute}}
	r := newTestRelay(t, t.TempDir(), newFake())
	r.d.tr = programTransport{tr}
	bq, err := queue.Open(filepath.Join(t.TempDir(), "bounces"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bq.Close() })
	r.d.bounces = newDiskQueue(bq, Options{})
	var finished []*queue.Message
	r.d.finished = func(m *queue.Message) { finished = append(finished, m.Clone()) }
	ctx := context.Background()

	id := r.add(t, "sender@x.test", "a@hook.test")
	// The schedule says 1 minute; the receiver asked for 10.
	if next := r.process(ctx, id); !next.Equal(r.now.Add(10 * time.Minute)) {
		t.Errorf("next attempt %v, want the Retry-After's %v", next, r.now.Add(10*time.Minute))
	}
	// Never after the give-up time (-max-age 1h).
	tr.out.RetryAfter = 5 * time.Hour
	r.now = r.now.Add(10 * time.Minute)
	if next := r.process(ctx, id); !next.Equal(r.now.Add(50 * time.Minute)) {
		t.Errorf("next attempt %v, want the give-up time %v", next, r.now.Add(50*time.Minute))
	}
	// A refusal: bounced into the other queue, the message finished.
	tr.out = Outcome{State: queue.Failed, Status: "5.7.1", Diag: "the application refused the message: 403 Forbidden", Relay: "hook.test[https]"}
	r.now = r.now.Add(time.Minute)
	if next := r.process(ctx, id); !next.IsZero() {
		t.Errorf("message still queued, next %v", next)
	}
	if ids := r.ids(t); len(ids) != 0 {
		t.Errorf("left in the queue: %v (the bounce went there?)", ids)
	}
	bounces, _ := bq.Load()
	if len(bounces) != 1 || bounces[0].From != "" || bounces[0].Recipients[0].Addr != "sender@x.test" {
		t.Fatalf("bounces %+v", bounces)
	}
	data, _ := bq.ReadData(bounces[0].ID)
	if !strings.Contains(string(data), "403 Forbidden") || !strings.Contains(string(data), "Status: 5.7.1") {
		t.Errorf("bounce:\n%s", data)
	}
	if len(finished) != 1 || finished[0].ID != id || finished[0].Recipients[0].State != queue.Failed {
		t.Errorf("finished %+v", finished)
	}
	if log := r.log.String(); !strings.Contains(log, "relay=hook.test[https]") || !strings.Contains(log, "status=bounced") {
		t.Errorf("mail log:\n%s", log)
	}
}

// TestDeliveryRun: Run works the queue with the program's Transport until
// take ends.
func TestDeliveryRun(t *testing.T) {
	q, err := openDiskQueue(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	tr := &answerTransport{out: Outcome{State: queue.Delivered, Status: "2.0.0", Diag: "200 OK"}}
	done := make(chan string, 1)
	d := &Delivery{Queue: q, Transport: tr, Hostname: "gw.test", Finished: func(m *queue.Message) { done <- m.ID }}
	take, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan struct{})
	go func() {
		d.Run(take, context.Background(), 2)
		close(ran)
	}()
	m := &queue.Message{From: "a@x.test", Recipients: []queue.Recipient{{Addr: "b@y.test", State: queue.Pending}},
		Created: time.Now(), NextAttempt: time.Now()}
	if err := q.Add(context.Background(), m, []byte("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-done:
		if id != m.ID {
			t.Errorf("finished %s, want %s", id, m.ID)
		}
	case <-time.After(time.Minute):
		t.Fatal("not delivered")
	}
	stop()
	<-ran
}

// TestDeliveryFlushed: an operator's flush clears the SMTP transport's
// dead-destination backoff (a program's own Transport has none).
func TestDeliveryFlushed(t *testing.T) {
	d := &Delivery{Hostname: "gw.test", Routes: map[string]string{"*": "127.0.0.1:1"}, Schedule: queue.Schedule{Delays: []time.Duration{time.Hour}}}
	dc := d.smtpTransport().dests
	dials := 0
	dc.dial = func(context.Context, string, string) (net.Conn, error) {
		dials++
		return nil, errors.New("connection refused")
	}
	ctx := context.Background()
	dc.DialContext(ctx, "tcp", "127.0.0.1:1")
	var de *DestUnreachableError
	if _, err := dc.DialContext(ctx, "tcp", "127.0.0.1:1"); !errors.As(err, &de) || dials != 1 {
		t.Fatalf("second dial: %v after %d dials, want the backoff", err, dials)
	}
	d.Flushed()
	if dc.DialContext(ctx, "tcp", "127.0.0.1:1"); dials != 2 {
		t.Error("destination still in backoff after the flush")
	}
	(&Delivery{Transport: &answerTransport{}}).Flushed() // no SMTP transport: nothing to do
}

// refusingQueue is a Queue whose Add fails (a bounce queue that is down).
type refusingQueue struct{ Queue }

func (refusingQueue) Add(context.Context, *queue.Message, []byte) error {
	return errors.New("bounce queue unreachable")
}

// TestBounceFailureKeepsNextAttempt: a bounce that cannot be queued is
// tried again at the message's next attempt; it does not move that
// attempt. Its retry time overrode the one the attempt had set, so that a
// pending recipient's Retry-After (and the give-up time bound) was lost
// whenever another recipient's bounce failed.
func TestBounceFailureKeepsNextAttempt(t *testing.T) {
	r := newTestRelay(t, t.TempDir(), newFake())
	r.tr.set("gone@y.test", outcome{state: queue.Failed, status: "5.1.1", diag: "550 5.1.1 no such user", remote: "mx.y.test"})
	r.tr.set("busy@z.test", outcome{state: queue.Pending, status: "4.3.0", diag: "the application answered 503", retryAfter: 10 * time.Minute})
	r.d.bounces = refusingQueue{r.q}
	id := r.add(t, "sender@x.test", "gone@y.test", "busy@z.test")
	// The schedule says 1 minute; the receiver asked for 10.
	if next := r.process(context.Background(), id); !next.Equal(r.now.Add(10 * time.Minute)) {
		t.Errorf("next attempt %v, want the Retry-After's %v", next, r.now.Add(10*time.Minute))
	}
	m, err := r.q.q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Recipients[0].Notified || m.Bounces != 0 {
		t.Errorf("failure marked reported though its bounce was not queued: %+v", m.Recipients[0])
	}
	// Every recipient final, the bounce still refused: the message stays
	// for it, due again after the schedule's delay.
	r.tr.set("busy@z.test", outcome{})
	r.now = r.now.Add(10 * time.Minute)
	if next := r.process(context.Background(), id); !next.Equal(r.now.Add(time.Minute)) {
		t.Errorf("next attempt %v, want the bounce retried at %v", next, r.now.Add(time.Minute))
	}
}

// shortTransport is a broken program Transport: it answers for no
// recipient.
type shortTransport struct{}

func (shortTransport) Deliver(context.Context, *queue.Message, string, []int, io.ReaderAt, int64) []Outcome {
	return nil
}

// TestDeliveryTransportShortAnswer: a program's Transport that returns
// fewer outcomes than recipients made the worker index past them and
// panic, killing the program, and again at each restart (the message was
// still queued). The recipients without an outcome stay pending, with
// the reason, and the message is tried again.
func TestDeliveryTransportShortAnswer(t *testing.T) {
	r := newTestRelay(t, t.TempDir(), newFake())
	r.d.tr = programTransport{shortTransport{}}
	id := r.add(t, "sender@x.test", "a@hook.test", "b@hook.test")
	if next := r.process(context.Background(), id); !next.Equal(r.now.Add(time.Minute)) {
		t.Errorf("next attempt %v, want the schedule's %v", next, r.now.Add(time.Minute))
	}
	m, err := r.q.q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range m.Recipients {
		if rc.State != queue.Pending || !strings.Contains(rc.Diagnostic, "no outcome") {
			t.Errorf("recipient %s: %s %q, want pending with the reason", rc.Addr, rc.State, rc.Diagnostic)
		}
	}
}
