package pgqueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/examples/relay-pg/internal/pgtest"
)

// server is one PostgreSQL server for the tests of this package, each on
// its own database; nil when none can run (the tests skip, or fail under
// CI=true).
var server *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	if pgtest.Missing() == "" {
		server, err = pgtest.New()
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if server != nil {
		server.Close()
	}
	os.Exit(code)
}

// testDB returns a fresh database's URL.
func testDB(t *testing.T) string {
	t.Helper()
	pgtest.Need(t)
	return server.NewDatabase(t)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// open opens a queue as a relay named owner would; workers 0 means no
// lease renewal and no notifications (a relay that "dies" when the test
// stops using it).
func open(t *testing.T, url, owner string, workers int, lease time.Duration, mlog *mta.MailLog) *Queue {
	t.Helper()
	q, err := Open(ctxT(t), url, mta.Options{Owner: owner, Workers: workers, Lease: lease, MailLog: mlog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func submit(t *testing.T, q *Queue, body []byte, rcpts ...string) *queue.Message {
	t.Helper()
	s, err := q.Create(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFrom(bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	m := &queue.Message{From: "a@x.test"}
	for _, r := range rcpts {
		m.Recipients = append(m.Recipients, queue.Recipient{Addr: r, State: queue.Pending})
	}
	if err := s.Commit(ctxT(t), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// claimOf claims one message of q, failing after a while.
func claimOf(t *testing.T, q *Queue) *mta.Work {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := q.Claim(ctx)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return w
}

// noClaim checks that nothing is claimable for a moment.
func noClaim(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if w, err := q.Claim(ctx); err == nil {
		t.Fatalf("claimed %s, want nothing claimable", w.Msg.ID)
	}
}

// TestMigrateConcurrently: relays starting at the same moment on an empty
// database create the schema once (the advisory lock), and all open.
func TestMigrateConcurrently(t *testing.T) {
	url := testDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			q, err := Open(ctxT(t), url, mta.Options{})
			if err == nil {
				q.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Open: %v", err)
		}
	}
	conn, err := pgx.Connect(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, version int
	if err := conn.QueryRow(ctxT(t), "SELECT count(*), max(version) FROM smtpkit_relay_schema").Scan(&rows, &version); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || version != SchemaVersion {
		t.Errorf("schema table: %d rows, version %d; want 1 row, %d", rows, version, SchemaVersion)
	}
	// A database of a newer relay is refused, not downgraded.
	if _, err := conn.Exec(ctxT(t), "UPDATE smtpkit_relay_schema SET version = version + 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctxT(t), url, mta.Options{}); err == nil || !strings.Contains(err.Error(), "newer than this relay") {
		t.Errorf("Open of a newer schema: %v", err)
	}
}

// TestMigrateFromVersion1: the queue of a relay of schema version 1, with
// a message in it, is migrated on Open (version 2 marks that the state may
// require TLS, so that an older relay refuses the queue); the message
// stays, and the fields version 2 added (REQUIRETLS, the DKIM-Signature
// prefix) go through the queue with a new message.
func TestMigrateFromVersion1(t *testing.T) {
	url := testDB(t)
	conn, err := pgx.Connect(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, stmt := range []string{
		"CREATE TABLE smtpkit_relay_schema (version integer NOT NULL)",
		migrations[0],
		"INSERT INTO smtpkit_relay_schema (version) VALUES (1)",
		`INSERT INTO smtpkit_relay_queue (id, state, size, created, next_attempt) VALUES ('old.1',
			'{"id":"old.1","from":"a@x.test","recipients":[{"addr":"b@y.test","state":"pending"}],"size":3,
			"created":"2026-01-01T00:00:00Z","attempts":0,"next_attempt":"2026-01-01T00:00:00Z"}', 3, now(), now())`,
		`INSERT INTO smtpkit_relay_data (id, seq, chunk) VALUES ('old.1', 0, '\x780d0a'::bytea)`,
	} {
		if _, err := conn.Exec(ctxT(t), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	q := open(t, url, "r1", 1, time.Minute, nil)
	var version int
	if err := conn.QueryRow(ctxT(t), "SELECT version FROM smtpkit_relay_schema").Scan(&version); err != nil || version != SchemaVersion || version < 2 {
		t.Errorf("version %d (%v), want %d", version, err, SchemaVersion)
	}
	msgs, err := q.List(ctxT(t))
	if err != nil || len(msgs) != 1 || msgs[0].ID != "old.1" || msgs[0].RequireTLS || msgs[0].Prefix != "" {
		t.Fatalf("after the migration: %+v, %v", msgs, err)
	}

	sp, err := q.Create(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	sp.Write([]byte("Subject: s\r\n\r\nbody\r\n"))
	prefix := "DKIM-Signature: v=1; a=ed25519-sha256; d=x.test; s=s;\r\n\tb=AAAA\r\n"
	m := &queue.Message{From: "a@x.test", RequireTLS: true, Prefix: prefix,
		Recipients: []queue.Recipient{{Addr: "c@z.test", State: queue.Pending}}}
	if err := sp.Commit(ctxT(t), m); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		w := claimOf(t, q)
		if w.Msg.ID == m.ID && (!w.Msg.RequireTLS || w.Msg.Prefix != prefix) {
			t.Errorf("claimed %+v, want REQUIRETLS and the prefix", w.Msg)
		}
	}
}

// TestRoundTrip: a message larger than the spool's memory and the data's
// memory limit comes back byte for byte, with its envelope; a finished
// message leaves no row behind.
func TestRoundTrip(t *testing.T) {
	q := open(t, testDB(t), "r1", 1, time.Minute, nil)
	body := bytes.Repeat([]byte("0123456789abcdef\r\n"), (DataMemory+ChunkSize)/18+7)
	m := submit(t, q, body, "b@y.test", "c@z.test")
	if m.Size != int64(len(body)) || !queue.ValidID(m.ID) {
		t.Fatalf("committed %+v", m)
	}
	w := claimOf(t, q)
	if w.Msg.ID != m.ID || len(w.Msg.Recipients) != 2 || w.Interrupted != "" {
		t.Fatalf("claimed %+v", w)
	}
	d, err := q.Data(ctxT(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(io.NewSectionReader(d, 0, d.Size()))
	d.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("data differs: %d bytes back, %d stored", len(got), len(body))
	}
	small := submit(t, q, []byte("x\r\n"), "d@y.test")
	w2 := claimOf(t, q)
	if d, err := q.Data(ctxT(t), small.ID); err != nil || d.Size() != 3 || w2.Msg.ID != small.ID {
		t.Errorf("small message: %v, %v", d, err)
	}
	for _, r := range []*queue.Message{w.Msg, w2.Msg} {
		for i := range r.Recipients {
			r.Recipients[i].State = queue.Delivered
		}
		if err := q.Finish(ctxT(t), r); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := q.List(ctxT(t))
	if err != nil || len(msgs) != 0 {
		t.Errorf("List after finishing: %d, %v", len(msgs), err)
	}
	var chunks int
	q.pool.QueryRow(ctxT(t), "SELECT count(*) FROM smtpkit_relay_data").Scan(&chunks)
	if chunks != 0 {
		t.Errorf("%d chunks left", chunks)
	}
}

// TestClaimsExclusive: two relays with four workers each claim 60
// messages at once; each is claimed exactly once.
func TestClaimsExclusive(t *testing.T) {
	url := testDB(t)
	q1 := open(t, url, "r1", 4, time.Minute, nil)
	q2 := open(t, url, "r2", 4, time.Minute, nil)
	const n = 60
	for i := range n {
		submit(t, []*Queue{q1, q2}[i%2], []byte("x\r\n"), "b@y.test")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []*Queue{q1, q2} {
		for range 4 {
			wg.Go(func() {
				for {
					mu.Lock()
					done := len(seen) == n
					mu.Unlock()
					if done {
						return
					}
					cctx, c := context.WithTimeout(ctx, 500*time.Millisecond)
					w, err := q.Claim(cctx)
					c()
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						continue
					}
					mu.Lock()
					seen[w.Msg.ID]++
					mu.Unlock()
					w.Msg.Recipients[0].State = queue.Delivered
					if err := q.Finish(ctx, w.Msg); err != nil {
						t.Errorf("Finish: %v", err)
					}
				}
			})
		}
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d messages claimed, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s claimed %d times", id, c)
		}
	}
}

// TestLeaseExpiry: a relay that stops renewing (it died) loses its claim
// when the lease expires; the next claim says that an attempt was
// interrupted; the dead relay's late Finish is refused (ErrLost), while a
// live relay's renewed claim outlasts its lease.
func TestLeaseExpiry(t *testing.T) {
	url := testDB(t)
	dead := open(t, url, "dead[1]", 0, time.Second, nil)
	live := open(t, url, "live[2]", 1, time.Second, nil)
	m := submit(t, dead, []byte("x\r\n"), "b@y.test")
	if w := claimOf(t, dead); w.Msg.ID != m.ID {
		t.Fatal("wrong message")
	}
	noClaim(t, live)
	w := claimOf(t, live) // after the lease: the dead relay's claim expired
	if w.Msg.ID != m.ID || !strings.Contains(w.Interrupted, "dead[1]") {
		t.Fatalf("claim after expiry: %s, interrupted %q", w.Msg.ID, w.Interrupted)
	}
	m.Recipients[0].State = queue.Delivered
	if err := dead.Finish(ctxT(t), m); !errors.Is(err, mta.ErrLost) {
		t.Errorf("Finish by the relay whose lease expired: %v, want ErrLost", err)
	}
	// The live relay holds its claim past the lease: it renews it.
	time.Sleep(2500 * time.Millisecond)
	noClaim(t, dead)
	w.Msg.Recipients[0].State = queue.Delivered
	if err := live.Finish(ctxT(t), w.Msg); err != nil {
		t.Errorf("Finish of a renewed claim: %v", err)
	}
}

// TestControl: the operator's commands on messages at rest and on a
// claimed one (applied when the claim ends).
func TestControl(t *testing.T) {
	url := testDB(t)
	var log e2e.Buffer
	q := open(t, url, "r1", 1, time.Minute, mta.NewMailLog(&log, "relay"))
	admin := open(t, url, "admin", 0, time.Minute, mta.NewMailLog(&log, "relay"))
	ctx := ctxT(t)
	a := submit(t, q, []byte("a\r\n"), "a@y.test")
	b := submit(t, q, []byte("b\r\n"), "b@y.test")

	if n, err := admin.Control(ctx, mta.OpHold, mta.All); err != nil || n != 2 {
		t.Fatalf("hold ALL: %d, %v", n, err)
	}
	if n, err := admin.Control(ctx, mta.OpHold, a.ID); err != nil || n != 0 {
		t.Errorf("hold of a held message: %d, %v", n, err)
	}
	noClaim(t, q)
	if _, err := admin.Control(ctx, mta.OpRelease, "nosuch"); !errors.Is(err, mta.ErrNotFound) {
		t.Errorf("release of an unknown ID: %v", err)
	}
	if n, err := admin.Control(ctx, mta.OpRelease, b.ID); err != nil || n != 1 {
		t.Fatalf("release: %d, %v", n, err)
	}
	w := claimOf(t, q)
	if w.Msg.ID != b.ID {
		t.Fatalf("claimed %s, want the released %s", w.Msg.ID, b.ID)
	}
	// Commands during the claim: hold wins over the relay's deferral,
	// then requeue (releases, resets the attempts, due now).
	if n, err := admin.Control(ctx, mta.OpHold, b.ID); err != nil || n != 1 {
		t.Fatalf("hold of a claimed message: %d, %v", n, err)
	}
	w.Msg.Attempts = 3
	w.Msg.NextAttempt = time.Now().Add(time.Hour)
	if err := q.Finish(ctx, w.Msg); err != nil {
		t.Fatal(err)
	}
	msgs, _ := admin.List(ctx)
	if len(msgs) != 2 || !msgs[1].Held || msgs[1].Attempts != 3 {
		t.Fatalf("after hold during the claim: %+v", msgs[1])
	}
	if n, err := admin.Control(ctx, mta.OpRequeue, b.ID); err != nil || n != 1 {
		t.Fatalf("requeue: %d, %v", n, err)
	}
	w = claimOf(t, q)
	if w.Msg.ID != b.ID || w.Msg.Attempts != 0 {
		t.Fatalf("after requeue: %s attempts %d", w.Msg.ID, w.Msg.Attempts)
	}
	w.Msg.Attempts = 1
	w.Msg.NextAttempt = time.Now().Add(time.Hour)
	if n, err := admin.Control(ctx, mta.OpFlush, ""); err != nil || n != 1 {
		t.Fatalf("flush during the claim: %d, %v", n, err)
	}
	if err := q.Finish(ctx, w.Msg); err != nil {
		t.Fatal(err)
	}
	w = claimOf(t, q) // flushed: due at once despite the deferral
	if w.Msg.ID != b.ID {
		t.Fatalf("claimed %s after flush", w.Msg.ID)
	}
	if n, err := admin.Control(ctx, mta.OpDelete, b.ID); err != nil || n != 1 {
		t.Fatalf("delete of a claimed message: %d, %v", n, err)
	}
	if err := q.Finish(ctx, w.Msg); !errors.Is(err, mta.ErrLost) {
		t.Errorf("Finish of a deleted message: %v", err)
	}
	if n, err := admin.Control(ctx, mta.OpDelete, mta.All); err != nil || n != 1 {
		t.Errorf("delete ALL: %d, %v", n, err)
	}
	if msgs, _ := admin.List(ctx); len(msgs) != 0 {
		t.Errorf("%d messages left", len(msgs))
	}
	for _, want := range []string{a.ID + ": placed on hold", b.ID + ": released from hold", b.ID + ": requeued", b.ID + ": removed by the operator"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestRefusesNonDurableServer: a server with fsync off would make the 250
// a promise a crash breaks; the queue does not open on it.
func TestRefusesNonDurableServer(t *testing.T) {
	url := testDB(t)
	conn, err := pgx.Connect(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	db := url[strings.LastIndexByte(url, '/')+1 : strings.IndexByte(url, '?')]
	if _, err := conn.Exec(ctxT(t), "ALTER DATABASE "+db+" SET synchronous_commit = off"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctxT(t), url, mta.Options{}); err == nil || !strings.Contains(err.Error(), "synchronous_commit=off") {
		t.Errorf("Open with synchronous_commit off: %v", err)
	}
}
