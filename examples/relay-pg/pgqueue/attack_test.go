package pgqueue

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// TestAttackSelfReclaimAfterOutage: a worker of a relay delivers a
// message while PostgreSQL is down for longer than the lease, so that the
// lease cannot be renewed and expires. When the database is back, the
// relay's other workers, woken by the reconnection, claimed that very
// message again (its lease had expired, as if its relay had died) and
// delivered it a second time while the first worker still held its
// outcome; the new claim's token replaced the first worker's, whose
// Finish then ended the second worker's claim under it. A relay must not
// claim a message it holds itself: its own lease, renewed at the next
// tick, is still good. The expiry is made by SQL here (the outage's
// effect), deterministically.
func TestAttackSelfReclaimAfterOutage(t *testing.T) {
	url := testDB(t)
	q := open(t, url, "relay1", 0, time.Minute, nil)
	m := submit(t, q, []byte("Subject: x\r\n\r\nx\r\n"), "b@y.test")
	w := claimOf(t, q)
	first, _ := q.token(m.ID)
	conn, err := pgx.Connect(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctxT(t))
	if _, err := conn.Exec(ctxT(t), "UPDATE smtpkit_relay_queue SET lease_until = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	noClaim(t, q) // another worker of the same relay
	if tok, _ := q.token(m.ID); tok != first {
		t.Errorf("the first worker's claim token changed from %d to %d", first, tok)
	}
	// The first worker records its outcome, as its claim's holder.
	w.Msg.Recipients[0].State = queue.Delivered
	if err := q.Finish(ctxT(t), w.Msg); err != nil {
		t.Errorf("Finish of the first worker: %v", err)
	}
	// Another relay may take an expired lease (its holder may be dead).
	q.Close()
	m2 := submit(t, open(t, url, "relay1", 0, time.Minute, nil), []byte("x\r\n"), "c@y.test")
	if _, err := conn.Exec(ctxT(t), "UPDATE smtpkit_relay_queue SET claim = 1, claimed_by = 'relay9', lease_until = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	other := open(t, url, "relay2", 0, time.Minute, nil)
	if w := claimOf(t, other); w.Msg.ID != m2.ID || w.Interrupted == "" {
		t.Errorf("claimed %s (interrupted %q), want %s taken from its dead relay", w.Msg.ID, w.Interrupted, m2.ID)
	}
}

// TestAttackNegativeSizeRow: a row whose state says a negative size (a
// damaged or hand-edited row) made Data panic in bytes.Buffer.Grow, in a
// delivery worker: the relay died, and at its restart claimed the same
// message and died again. Data must report the damage as an error.
func TestAttackNegativeSizeRow(t *testing.T) {
	url := testDB(t)
	q := open(t, url, "relay1", 0, time.Minute, nil)
	m := submit(t, q, []byte("Subject: x\r\n\r\nx\r\n"), "b@y.test")
	conn, err := pgx.Connect(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctxT(t))
	if _, err := conn.Exec(ctxT(t), `UPDATE smtpkit_relay_queue SET state = jsonb_set(state, '{size}', '-1'), size = -1`); err != nil {
		t.Fatal(err)
	}
	w := claimOf(t, q)
	if w.Msg.ID != m.ID {
		t.Fatalf("claimed %s, want %s", w.Msg.ID, m.ID)
	}
	d, err := q.Data(ctxT(t), m.ID)
	if err == nil {
		d.Close()
		t.Fatalf("Data of a row with size -1: no error, want one")
	}
	if errors.Is(err, mta.ErrNotFound) {
		t.Errorf("Data: %v, want a damage error, not ErrNotFound (its bytes are there)", err)
	}
}
