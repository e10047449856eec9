package mta

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// breakData makes the data of id unreadable (a symbolic link to itself:
// ELOOP, even for root) and returns what restores it.
func breakData(t *testing.T, dir, id string) (restore func()) {
	t.Helper()
	p := filepath.Join(dir, "data", id)
	saved, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(id, p); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, saved, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAttackUnreadableDataBacksOff: data that cannot be read is tried
// again on the schedule, and the schedule backs off as it does for any
// failed attempt (1m, 2m, 4m, 8m, ...), not at its first delay until the
// give-up time (it used to be: Attempts never rose).
func TestAttackUnreadableDataBacksOff(t *testing.T) {
	dir := t.TempDir()
	r := newTestRelay(t, dir, newFake())
	r.d.schedule.Delays = []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	id := r.add(t, "a@x.test", "b@y.test")
	breakData(t, dir, id)
	var gaps []time.Duration
	next := r.process(context.Background(), id)
	for i := 0; i < 200 && !next.IsZero(); i++ {
		gaps = append(gaps, next.Sub(r.now))
		r.now = next
		next = r.process(context.Background(), id)
	}
	if len(gaps) < 3 || gaps[1] <= gaps[0] || gaps[2] <= gaps[1] {
		t.Errorf("delays between reads of unreadable data %v: no back-off (%d reads in the hour)", gaps[:min(len(gaps), 5)], len(gaps)+1)
	}
	m, _ := r.q.q.Get(id)
	if m.Attempts < 2 {
		t.Errorf("attempts=%d after %d failed reads: the listing shows no attempt made", m.Attempts, len(gaps)+1)
	}
}

// TestAttackOneReadErrorAtGiveUpStillBounces: a message deferred until its
// give-up time whose data read fails once, at that last attempt (too many
// open files, a database blip), is not held without a bounce: the sender
// is told of the failure (RFC 5321 4.5.4.1, 6.1) once the data is
// readable again. A message is held only when its data stays unreadable.
func TestAttackOneReadErrorAtGiveUpStillBounces(t *testing.T) {
	dir := t.TempDir()
	tr := newFake()
	tr.set("b@y.test", transient)
	r := newTestRelay(t, dir, tr)
	id := r.add(t, "a@x.test", "b@y.test")
	start := r.now
	next := r.process(context.Background(), id)
	for next.Before(start.Add(time.Hour)) {
		r.now = next
		next = r.process(context.Background(), id)
	}
	// The last attempt, at the give-up time; its read fails once.
	restore := breakData(t, dir, id)
	r.now = next
	next = r.process(context.Background(), id)
	restore()
	m, _ := r.q.q.Get(id)
	if m.Held {
		t.Fatalf("held after one failed read at the give-up time, no bounce: error=%q", m.LastError)
	}
	if next.IsZero() {
		t.Fatal("no further attempt scheduled")
	}
	r.now = next
	if n := r.process(context.Background(), id); !n.IsZero() {
		t.Fatalf("still queued, next %v", n)
	}
	_, data := r.onlyBounce(t, id)
	if !strings.Contains(string(data), "Status: 4.4.7") {
		t.Errorf("bounce:\n%s", data)
	}
}

// TestAttackUnreadableHeldInMailLog: the mail log, which has the
// operator's own "placed on hold", says when the relay holds a message
// itself, and why.
func TestAttackUnreadableHeldInMailLog(t *testing.T) {
	dir := t.TempDir()
	r := newTestRelay(t, dir, newFake())
	id := r.add(t, "a@x.test", "b@y.test")
	breakData(t, dir, id)
	next := r.process(context.Background(), id)
	for i := 0; i < 200 && !next.IsZero(); i++ {
		r.now = next
		next = r.process(context.Background(), id)
	}
	if m, _ := r.q.q.Get(id); !m.Held {
		t.Fatal("not held")
	}
	var line string
	for l := range strings.SplitSeq(r.log.String(), "\n") {
		if strings.Contains(l, id+": ") && strings.Contains(l, "hold") {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, "data") {
		t.Errorf("mail log has no line saying %s was held and why:\n%s", id, r.log.String())
	}
}
