package mta

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// fakeTransport answers from a table: outcome by recipient address, a
// delivered outcome for any other; it records every delivery.
type fakeTransport struct {
	mu     sync.Mutex
	result map[string]outcome
	sent   map[string]int    // recipient -> deliveries
	data   map[string][]byte // recipient -> last message
}

func (f *fakeTransport) deliver(_ context.Context, m *queue.Message, _ string, rcpts []int, msg io.ReaderAt, size int64) []outcome {
	data, _ := io.ReadAll(io.NewSectionReader(msg, 0, size))
	f.mu.Lock()
	defer f.mu.Unlock()
	outs := make([]outcome, len(rcpts))
	for i, idx := range rcpts {
		addr := m.Recipients[idx].Addr
		o, ok := f.result[addr]
		if !ok {
			o = outcome{state: queue.Delivered, status: "2.0.0", diag: "250 2.0.0 OK"}
		}
		if o.state == queue.Delivered {
			f.sent[addr]++
			f.data[addr] = data
		}
		outs[i] = o
	}
	return outs
}

func (f *fakeTransport) set(addr string, o outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o.state == "" {
		delete(f.result, addr)
	} else {
		f.result[addr] = o
	}
}

func (f *fakeTransport) count(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[addr]
}

type testRelay struct {
	q   *diskQueue
	d   *deliverer
	tr  *fakeTransport
	now time.Time
	log *e2e.Buffer // the mail log
}

func newTestRelay(t *testing.T, dir string, tr *fakeTransport) *testRelay {
	t.Helper()
	q, err := queue.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	r := &testRelay{tr: tr, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), log: &e2e.Buffer{}}
	mlog := NewMailLog(r.log, "relay")
	r.q = newDiskQueue(q, Options{MailLog: mlog})
	r.q.now = func() time.Time { return r.now }
	r.d = &deliverer{
		q: r.q, tr: tr, hostname: "relay.test",
		schedule: queue.Schedule{Delays: []time.Duration{time.Minute}, MaxAge: time.Hour},
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		mlog:     mlog,
		now:      func() time.Time { return r.now },
	}
	return r
}

// process claims message id and makes one delivery attempt, as a worker
// does; it returns the next attempt time, zero when the message left the
// queue or is on hold.
func (r *testRelay) process(ctx context.Context, id string) time.Time {
	w := r.q.claim(id)
	if w == nil {
		return time.Time{}
	}
	r.d.process(ctx, w)
	m, err := r.q.q.Get(id)
	if err != nil || m.Held {
		return time.Time{}
	}
	return m.NextAttempt
}

func newFake() *fakeTransport {
	return &fakeTransport{result: map[string]outcome{}, sent: map[string]int{}, data: map[string][]byte{}}
}

func (r *testRelay) add(t *testing.T, from string, rcpts ...string) string {
	t.Helper()
	m := &queue.Message{From: from, Created: r.now, NextAttempt: r.now}
	for _, a := range rcpts {
		m.Recipients = append(m.Recipients, queue.Recipient{Addr: a, State: queue.Pending})
	}
	if err := r.q.q.Add(m, []byte("Subject: test\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// onlyBounce returns the id and data of the one message in the queue,
// which must not be id: the bounce that replaced it.
func (r *testRelay) onlyBounce(t *testing.T, id string) (string, []byte) {
	t.Helper()
	ids := r.ids(t)
	if len(ids) != 1 || ids[0] == id {
		t.Fatalf("queue %v, want the bounce alone", ids)
	}
	data, err := r.q.q.ReadData(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	return ids[0], data
}

func (r *testRelay) ids(t *testing.T) []string {
	msgs, errs := r.q.q.Load()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return ids
}

var (
	transient = outcome{state: queue.Pending, status: "4.4.1", diag: "connection refused"}
	permanent = outcome{state: queue.Failed, status: "5.1.1", diag: "550 5.1.1 no such user", remote: "mx.y.test"}
)

// TestPartialSuccessNoDuplicate: one recipient delivered, one deferred;
// the next attempt (here after a "restart": a new deliverer on the same
// queue) sends only to the deferred one.
func TestPartialSuccessNoDuplicate(t *testing.T) {
	dir := t.TempDir()
	tr := newFake()
	tr.set("c@z.test", transient)
	r := newTestRelay(t, dir, tr)
	id := r.add(t, "a@x.test", "b@y.test", "c@z.test")
	next := r.process(context.Background(), id)
	if want := r.now.Add(time.Minute); !next.Equal(want) {
		t.Errorf("next attempt %v, want %v", next, want)
	}
	m, _ := r.q.q.Get(id)
	if m.Recipients[0].State != queue.Delivered || m.Recipients[1].State != queue.Pending || m.Attempts != 1 || m.LastError != "connection refused" {
		t.Fatalf("state after attempt 1: %+v", m)
	}
	r.q.q.Close()

	tr.set("c@z.test", outcome{})
	r2 := newTestRelay(t, dir, tr)
	r2.now = r.now.Add(time.Minute)
	if next := r2.process(context.Background(), id); !next.IsZero() {
		t.Errorf("message not finished: next %v", next)
	}
	if tr.count("b@y.test") != 1 || tr.count("c@z.test") != 1 {
		t.Errorf("deliveries b=%d c=%d, want 1 each", tr.count("b@y.test"), tr.count("c@z.test"))
	}
	if ids := r2.ids(t); len(ids) != 0 {
		t.Errorf("queue not empty: %v", ids)
	}
}

// TestPermanentFailureBounces: a 5xx fails the recipient and queues one
// RFC 3464 report to the sender with the null reverse-path.
func TestPermanentFailureBounces(t *testing.T) {
	tr := newFake()
	tr.set("nobody@y.test", permanent)
	r := newTestRelay(t, t.TempDir(), tr)
	id := r.add(t, "a@x.test", "b@y.test", "nobody@y.test")
	if next := r.process(context.Background(), id); !next.IsZero() {
		t.Errorf("next %v, want done", next)
	}
	bid, data := r.onlyBounce(t, id)
	b, _ := r.q.q.Get(bid)
	if b.From != "" || len(b.Recipients) != 1 || b.Recipients[0].Addr != "a@x.test" {
		t.Errorf("bounce envelope %+v", b)
	}
	for _, want := range []string{"report-type=delivery-status", "Final-Recipient: rfc822; nobody@y.test", "Status: 5.1.1",
		"Action: failed", "Diagnostic-Code: smtp; 550 5.1.1 no such user", "Reporting-MTA: dns; relay.test", "Subject: test"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("bounce lacks %q", want)
		}
	}
	// The bounce is delivered like any message.
	if next := r.process(context.Background(), bid); !next.IsZero() || tr.count("a@x.test") != 1 {
		t.Errorf("bounce not delivered: next %v count %d", next, tr.count("a@x.test"))
	}
}

// TestNeverBounceABounce: a message with the null reverse-path that fails
// is dropped with a log line, no new report (RFC 5321 4.5.5).
func TestNeverBounceABounce(t *testing.T) {
	tr := newFake()
	tr.set("a@x.test", permanent)
	r := newTestRelay(t, t.TempDir(), tr)
	id := r.add(t, "", "a@x.test")
	r.process(context.Background(), id)
	if ids := r.ids(t); len(ids) != 0 {
		t.Errorf("queue %v, want empty (no bounce of a bounce)", ids)
	}
}

// TestNotifyNever: RFC 3461 NOTIFY=NEVER suppresses the report.
func TestNotifyNever(t *testing.T) {
	tr := newFake()
	tr.set("b@y.test", permanent)
	r := newTestRelay(t, t.TempDir(), tr)
	m := &queue.Message{From: "a@x.test", Created: r.now, Recipients: []queue.Recipient{{Addr: "b@y.test", State: queue.Pending, Notify: "NEVER"}}}
	r.q.q.Add(m, []byte("x\r\n"))
	r.process(context.Background(), m.ID)
	if ids := r.ids(t); len(ids) != 0 {
		t.Errorf("queue %v, want empty", ids)
	}
}

// TestExpiry: transient failures until MaxAge, then a bounce with 4.4.7.
func TestExpiry(t *testing.T) {
	tr := newFake()
	tr.set("b@y.test", transient)
	r := newTestRelay(t, t.TempDir(), tr)
	id := r.add(t, "a@x.test", "b@y.test")
	start := r.now
	attempts := 0
	for {
		attempts++
		next := r.process(context.Background(), id)
		if next.IsZero() {
			break
		}
		if next.After(start.Add(time.Hour)) {
			t.Fatalf("attempt scheduled after the give-up time: %v", next)
		}
		r.now = next
		if attempts > 100 {
			t.Fatal("never gives up")
		}
	}
	// 0, 1m, ..., 60m: 61 attempts, the last at the give-up time.
	if attempts != 61 {
		t.Errorf("%d attempts, want 61", attempts)
	}
	ids := r.ids(t)
	if len(ids) != 1 {
		t.Fatalf("queue %v, want the bounce", ids)
	}
	data, _ := r.q.q.ReadData(ids[0])
	if !strings.Contains(string(data), "Status: 4.4.7") || !strings.Contains(string(data), "<b@y.test>: delivery time expired; last attempt: connection refused") ||
		strings.Contains(string(data), " said: ") {
		t.Errorf("expiry bounce:\n%s", data)
	}
}

// TestShutdownCutsAttempt: an attempt interrupted by shutdown leaves the
// recipient pending, due at once, without counting a failure.
func TestShutdownCutsAttempt(t *testing.T) {
	tr := newFake()
	r := newTestRelay(t, t.TempDir(), tr)
	id := r.add(t, "a@x.test", "b@y.test")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if next := r.process(ctx, id); !next.Equal(r.now) {
		t.Errorf("next %v, want due at once", next)
	}
	m, _ := r.q.q.Get(id)
	if m.Recipients[0].State != queue.Pending || m.LastError != "" {
		t.Errorf("state %+v", m.Recipients[0])
	}
}

func TestByDomain(t *testing.T) {
	m := &queue.Message{Recipients: []queue.Recipient{{Addr: "a@X.test"}, {Addr: "b@y.test"}, {Addr: "c@x.TEST"}}}
	gs := byDomain(m, []int{0, 1, 2})
	if len(gs) != 2 || gs[0].domain != "x.test" || len(gs[0].idx) != 2 || gs[1].domain != "y.test" {
		t.Errorf("groups %+v", gs)
	}
}

func TestScheduler(t *testing.T) {
	s := newScheduler()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	now := time.Now()
	s.add("late", now.Add(150*time.Millisecond))
	s.add("early", now)
	s.add("early", now.Add(time.Hour)) // a later time does not postpone
	got := []string{<-s.work, <-s.work}
	if got[0] != "early" || got[1] != "late" {
		t.Errorf("order %v", got)
	}
	if time.Since(now) < 100*time.Millisecond {
		t.Error("late message dispatched early")
	}
	// A running message is not dispatched twice.
	s.add("late", now)
	select {
	case id := <-s.work:
		t.Errorf("%s dispatched while running", id)
	case <-time.After(50 * time.Millisecond):
	}
	s.done("late", time.Now())
	if id := <-s.work; id != "late" {
		t.Errorf("got %s", id)
	}
}

func TestListLine(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &queue.Message{ID: "id1", From: "a@x.test", Size: 10, Attempts: 2, NextAttempt: now.Add(90 * time.Second),
		Created: now.Add(-5 * time.Minute), LastError: "connection refused",
		Recipients: []queue.Recipient{{Addr: "b@y.test", State: queue.Delivered, Diagnostic: "250 ok"}, {Addr: "c@z.test", State: queue.Pending, Diagnostic: `451 4.3.0 "busy"`},
			{Addr: "d@w.test", State: queue.Pending, Diagnostic: "connection refused"}}}
	want := `id1 <a@x.test> b@y.test(delivered),c@z.test(pending),d@w.test(pending) size=10 attempts=2 next=2026-01-01T00:01:30Z (in 1m30s) error="connection refused" arrival=2025-12-31T23:55:00Z age=5m0s reason(c@z.test)="451 4.3.0 \"busy\""`
	if got := listLine(m, now); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	m.Held = true
	want = `id1 <a@x.test> b@y.test(delivered),c@z.test(pending),d@w.test(pending) size=10 attempts=2 error="connection refused" arrival=2025-12-31T23:55:00Z age=5m0s held reason(c@z.test)="451 4.3.0 \"busy\""`
	if got := listLine(m, now); got != want {
		t.Errorf("held: got  %s\nwant %s", got, want)
	}
	if _, err := (&diskAdmin{dir: t.TempDir()}).List(context.Background()); err == nil {
		t.Error("list of a directory without a queue succeeded")
	}
}

// TestMissingDataNotRetried: a state file whose data file is gone is
// reported and dropped from the schedule (not retried forever), and its
// state stays in the queue for the operator.
func TestMissingDataNotRetried(t *testing.T) {
	dir := t.TempDir()
	tr := newFake()
	r := newTestRelay(t, dir, tr)
	id := r.add(t, "a@x.test", "b@y.test")
	if err := os.Remove(filepath.Join(dir, "data", id)); err != nil {
		t.Fatal(err)
	}
	if next := r.process(context.Background(), id); !next.IsZero() {
		t.Errorf("process of a message without data scheduled a retry at %v", next)
	}
	if n := tr.count("b@y.test"); n != 0 {
		t.Errorf("%d deliveries of a message without data", n)
	}
	if ids := r.ids(t); len(ids) != 1 || ids[0] != id {
		t.Errorf("queue holds %v, want the state of %s kept", ids, id)
	}
}

// TestUnreadableDataGivesUp: data that exists but cannot be opened (a
// symbolic link to itself: ELOOP, even for root) is retried on the
// schedule, and once the give-up time has passed the message is held
// for the operator with the reason, as one without data is, instead of
// being retried at the first delay for ever.
func TestUnreadableDataGivesUp(t *testing.T) {
	dir := t.TempDir()
	tr := newFake()
	r := newTestRelay(t, dir, tr)
	id := r.add(t, "a@x.test", "b@y.test")
	breakData(t, dir, id)
	start := r.now
	next := r.process(context.Background(), id)
	if next.IsZero() || !next.After(r.now) {
		t.Fatalf("first failed read: next attempt %v, want a retry after %v", next, r.now)
	}
	m, _ := r.q.q.Get(id)
	if !strings.Contains(m.LastError, "data") {
		t.Errorf("LastError %q does not say the data could not be read", m.LastError)
	}
	// Attempts on the schedule until past the give-up time (MaxAge is
	// an hour, the delay a minute): held then, never delivered.
	for i := 0; i < 200 && !next.IsZero(); i++ {
		r.now = next
		next = r.process(context.Background(), id)
	}
	if !next.IsZero() {
		t.Fatalf("still retried at %v, %v after the message was queued (max-age 1h)", next, next.Sub(start))
	}
	if r.now.Sub(start) < time.Hour {
		t.Errorf("held after %v, before the give-up time", r.now.Sub(start))
	}
	m, _ = r.q.q.Get(id)
	if !m.Held || !strings.Contains(m.LastError, "data") {
		t.Errorf("after the give-up time: held %v, LastError %q", m.Held, m.LastError)
	}
	if n := tr.count("b@y.test"); n != 0 {
		t.Errorf("%d deliveries of unreadable data", n)
	}
}

// TestTraceName: a name from the network written into the Received field
// loses spaces, controls, non-ASCII and the field's delimiters, and is cut
// to maxTraceName bytes.
func TestTraceName(t *testing.T) {
	for in, want := range map[string]string{
		"mx.example.test":                    "mx.example.test",
		"a b\r\n(c);d\x00\xc3\xa9<e>":        "abcde",
		strings.Repeat("a", maxTraceName+10): strings.Repeat("a", maxTraceName),
		"":                                   "",
	} {
		if got := TraceName(in); got != want {
			t.Errorf("TraceName(%q) = %q, want %q", in, got, want)
		}
	}
}
