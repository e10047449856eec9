package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/durable/durabletest"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

func addMsg(t *testing.T, q Queue, next time.Time, rcpts ...string) *queue.Message {
	t.Helper()
	m := &queue.Message{From: "a@x.test", Created: time.Now(), NextAttempt: next}
	for _, r := range rcpts {
		m.Recipients = append(m.Recipients, queue.Recipient{Addr: r, State: queue.Pending})
	}
	if err := q.Add(context.Background(), m, []byte("x\r\n")); err != nil {
		t.Fatal(err)
	}
	return m
}

func claimWithin(t *testing.T, q Queue, d time.Duration) *Work {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	w, err := q.Claim(ctx)
	if err != nil {
		return nil
	}
	return w
}

// TestDiskControlWhileOwned: the operator's commands reach the relay
// owning the queue through DIR/control; one on a claimed message is
// applied when the claim ends; with no relay, the command changes the
// files itself.
func TestDiskControlWhileOwned(t *testing.T) {
	dir := t.TempDir()
	var log e2e.Buffer
	mlog := NewMailLog(&log, "relay")
	q, err := openDiskQueue(dir, Options{MailLog: mlog})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { q.Close() }()
	admin := &diskAdmin{dir: dir, log: NewMailLog(&log, "relay")}
	ctx := context.Background()
	later := time.Now().Add(time.Hour)
	a := addMsg(t, q, later, "a@y.test")
	b := addMsg(t, q, later, "b@y.test")

	if n, err := admin.Control(ctx, OpHold, a.ID); err != nil || n != 1 {
		t.Fatalf("hold: %d %v", n, err)
	}
	if m, _ := q.q.Get(a.ID); !m.Held {
		t.Error("held message's state not saved")
	}
	if _, err := admin.Control(ctx, OpHold, "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("hold of an unknown ID: %v", err)
	}
	// Flush makes b due (a is held): the relay's scheduler hands it out.
	if n, err := admin.Control(ctx, OpFlush, All); err != nil || n != 1 {
		t.Fatalf("flush: %d %v", n, err)
	}
	w := claimWithin(t, q, 5*time.Second)
	if w == nil || w.Msg.ID != b.ID {
		t.Fatalf("claimed %v after flush, want %s", w, b.ID)
	}
	// Held during the claim: the worker's deferral does not undo it.
	if n, err := admin.Control(ctx, OpHold, b.ID); err != nil || n != 1 {
		t.Fatalf("hold during the claim: %d %v", n, err)
	}
	w.Msg.NextAttempt = time.Now()
	if err := q.Finish(ctx, w.Msg); err != nil {
		t.Fatal(err)
	}
	if m, _ := q.q.Get(b.ID); !m.Held {
		t.Error("hold during the claim was lost")
	}
	if w := claimWithin(t, q, 300*time.Millisecond); w != nil {
		t.Errorf("held message %s claimed", w.Msg.ID)
	}
	// Requeue: released, attempts from zero, due now.
	if n, err := admin.Control(ctx, OpRequeue, b.ID); err != nil || n != 1 {
		t.Fatalf("requeue: %d %v", n, err)
	}
	if w := claimWithin(t, q, 5*time.Second); w == nil || w.Msg.ID != b.ID || w.Msg.Attempts != 0 {
		t.Fatalf("after requeue: %+v", w)
	} else if n, err := admin.Control(ctx, OpDelete, b.ID); err != nil || n != 1 {
		t.Fatalf("delete during the claim: %d %v", n, err)
	} else if err := q.Finish(ctx, w.Msg); !errors.Is(err, ErrLost) {
		t.Errorf("Finish of a deleted message: %v", err)
	}
	if _, err := q.q.Get(b.ID); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("deleted message still there: %v", err)
	}

	// No relay: the command takes the lock and changes the files.
	q.Close()
	if n, err := admin.Control(ctx, OpRelease, a.ID); err != nil || n != 1 {
		t.Fatalf("release without a relay: %d %v", n, err)
	}
	msgs, err := admin.List(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Held {
		t.Fatalf("after release: %v %v", msgs, err)
	}
	if n, err := admin.Control(ctx, OpDelete, All); err != nil || n != 1 {
		t.Errorf("delete ALL without a relay: %d %v", n, err)
	}
	q, err = openDiskQueue(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{a.ID + ": placed on hold", b.ID + ": flushed", b.ID + ": requeued", b.ID + ": removed by the operator", a.ID + ": released from hold"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestDiskControlNoAnswer: a relay that holds the lock but does not
// answer (hung) makes the command fail after its timeout, and the
// request is taken back.
func TestDiskControlNoAnswer(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(dir) // owned, but nobody reads DIR/control
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	_, err = (&diskAdmin{dir: dir, timeout: time.Second}).Control(context.Background(), OpFlush, All)
	if err == nil || !strings.Contains(err.Error(), "did not answer") || !strings.Contains(err.Error(), "nothing was done") {
		t.Errorf("Control against a hung owner: %v", err)
	}
}

// TestInterruptedAttemptReported: an attempt whose marker a dead relay
// left is reported by the next claim of the message.
func TestInterruptedAttemptReported(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &queue.Message{From: "a@x.test", Recipients: []queue.Recipient{{Addr: "b@y.test", State: queue.Pending}}}
	if err := q.Add(m, []byte("x")); err != nil {
		t.Fatal(err)
	}
	q.MarkActive(m.ID)
	q.Close() // the process "died" during the attempt

	d, err := openDiskQueue(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w := claimWithin(t, d, 5*time.Second)
	if w == nil || !strings.Contains(w.Interrupted, "stopped before recording it") {
		t.Fatalf("claim after the crash: %+v", w)
	}
	w.Msg.Recipients[0].State = queue.Delivered
	if err := d.Finish(context.Background(), w.Msg); err != nil {
		t.Fatal(err)
	}
	if got := d.q.Interrupted(); len(got) != 0 {
		t.Errorf("markers left: %v", got)
	}
}

// TestDiskControlRequestTakenBeforeApplied: the command takes its request
// back when the relay does not answer in time, and then says "nothing was
// done" if it could. The relay removed the request only after it had
// applied it and answered: a command that timed out while the relay
// worked on it took the request back and said "nothing was done" of a
// command that was done. The relay must take the request (so that it can
// no longer be taken back) before it acts on it.
func TestDiskControlRequestTakenBeforeApplied(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	cdir := filepath.Join(dir, controlDir)
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		t.Fatal(err)
	}
	req := filepath.Join(cdir, "r1.req")
	if err := writeJSONFile(cdir, "r1.req", controlRequest{Op: OpFlush, ID: All}); err != nil {
		t.Fatal(err)
	}
	// The command's timeout strikes while the relay applies the flush:
	// it tries to take the request back, as ask does.
	withdrawn := errors.New("flush not applied")
	d := newDiskQueue(q, Options{OnFlush: func() { withdrawn = os.Remove(req) }})
	d.answerRequests()
	if withdrawn == nil {
		t.Fatal("the request was taken back while the relay applied it: the command says nothing was done of a done command")
	}
	if !errors.Is(withdrawn, os.ErrNotExist) {
		t.Fatalf("flush not applied, or taking the request back: %v", withdrawn)
	}
	if names := durabletest.Names(t, cdir); len(names) != 1 || names[0] != "r1.res" {
		t.Errorf("control directory holds %v, want the answer r1.res only", names)
	}
}
