// Package pgqueue is the relay's queue on PostgreSQL, shared by several
// relays (mta.Queue). A message is a row (envelope and per-recipient state
// as JSON) and its bytes in chunks, written in one transaction: the 250
// follows the COMMIT. Relays claim due messages with FOR UPDATE SKIP
// LOCKED, each claim a lease that the holder renews; a relay that dies
// loses its claims when their leases expire, and the relay that claims
// such a message next logs the interrupted attempt, whose outcome is
// unknown. The first relay to start creates or migrates the schema under
// an advisory lock.
package pgqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// Limits and timings of the queue.
const (
	// ChunkSize is the size of the pieces a message's bytes are stored
	// in (rows of smtpkit_relay_data), so that no row or query is large.
	ChunkSize = 256 << 10
	// SpoolMemory is how much of a message being received is held in
	// memory before it goes to a temporary file until the COMMIT.
	SpoolMemory = 1 << 20
	// DataMemory is the largest message read back into memory for
	// delivery; a larger one goes to a temporary file.
	DataMemory = 4 << 20
	// PollInterval is how often an idle worker looks for due messages
	// when no notification came (another relay's deferral becoming due,
	// a lease expiring).
	PollInterval = time.Second
	// RetryDelay is the wait before a worker tries the database again
	// after a failure.
	RetryDelay = time.Second
	// notifyChannel is the LISTEN/NOTIFY channel that says "a message is
	// due now" (a new message, a flush, a release).
	notifyChannel = "smtpkit_relay_queue"
	// flushPayload is the notification of an operator's flush: every
	// relay also forgets its dead destinations.
	flushPayload = "flush"
)

// Backend returns the mta.Backend for -queue postgres://... URLs.
func Backend() mta.Backend {
	return mta.Backend{
		Name:  "PostgreSQL",
		Match: mta.IsPostgresURL,
		Open: func(ctx context.Context, url string, o mta.Options) (mta.Queue, error) {
			return Open(ctx, url, o)
		},
		Admin: func(ctx context.Context, url string, o mta.Options) (mta.Admin, error) {
			o.Workers = 0
			return Open(ctx, url, o)
		},
	}
}

// Queue is a queue in a PostgreSQL database, shared by every relay that
// opens it.
type Queue struct {
	pool  *pgxpool.Pool
	url   string
	owner string
	lease time.Duration
	log   *slog.Logger
	mlog  *mta.MailLog
	seq   atomic.Uint64
	// onFlush is mta.Options.OnFlush, called at a flush notification.
	onFlush func()

	mu     sync.Mutex
	claims map[string]claim // the claims held, by message ID
	wake   chan struct{}    // closed (and replaced) when a notification comes

	failing atomic.Bool // the last database operation failed (logged once)
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// Open connects to the database at url, creates or migrates the schema
// (under an advisory lock, safe when several relays start at once), and,
// when o.Workers > 0, starts listening for notifications and renewing the
// leases of the claims it will hold.
func Open(ctx context.Context, url string, o mta.Options) (*Queue, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("-queue: %v", err)
	}
	if o.Workers > 0 && cfg.MaxConns < int32(2*o.Workers+4) {
		// Workers, submissions and the lease renewal at once.
		cfg.MaxConns = int32(2*o.Workers + 4)
	}
	if o.Lease <= 0 {
		o.Lease = mta.DefaultLease
	}
	q := &Queue{url: url, owner: o.Owner, lease: o.Lease, log: o.Log, mlog: o.MailLog, onFlush: o.OnFlush,
		claims: map[string]claim{}, wake: make(chan struct{}), stop: func() {}}
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	if q.owner == "" {
		h, _ := os.Hostname()
		q.owner = h + "[" + strconv.Itoa(os.Getpid()) + "]"
	}
	q.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := q.checkDurability(ctx); err != nil {
		q.pool.Close()
		return nil, err
	}
	from, err := migrate(ctx, q.pool)
	if err != nil {
		q.pool.Close()
		return nil, fmt.Errorf("queue schema: %w", err)
	}
	if from < SchemaVersion {
		q.log.Info("queue schema created or migrated", "from", from, "to", SchemaVersion)
	}
	if o.Workers > 0 {
		bg, cancel := context.WithCancel(context.Background())
		q.stop = cancel
		q.wg.Go(func() { q.listen(bg, cfg.ConnConfig) })
		q.wg.Go(func() { q.renew(bg) })
	}
	return q, nil
}

// checkDurability refuses a server that acknowledges commits before they
// are on disk: the 250 would then promise what a crash can take back.
func (q *Queue) checkDurability(ctx context.Context) error {
	var fsync, sc string
	if err := q.pool.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &sc); err != nil {
		return err
	}
	if fsync != "on" || sc == "off" {
		return fmt.Errorf("the PostgreSQL server has fsync=%s, synchronous_commit=%s: a COMMIT is not durable, and the relay replies 250 after it; set both on", fsync, sc)
	}
	return nil
}

// Close stops the background work and closes the connections. Claims
// still held expire with their leases.
func (q *Queue) Close() error {
	q.stop()
	q.wg.Wait()
	q.pool.Close()
	return nil
}

// String names the queue for logs, without a password.
func (q *Queue) String() string { return q.pool.Config().ConnConfig.Host }

// dbError logs the first of a run of database failures (and the
// recovery), so that an outage does not flood the log.
func (q *Queue) dbError(err error) {
	if err == nil {
		if q.failing.Swap(false) {
			q.log.Info("queue database reachable again")
		}
		return
	}
	if !q.failing.Swap(true) {
		q.log.Error("queue database failing; retrying", "err", err)
	}
}

// Create implements mta.Queue: the bytes are spooled (in memory, then a
// temporary file), and Commit writes them with the envelope in one
// transaction.
func (q *Queue) Create(context.Context) (mta.Spool, error) {
	return &spool{q: q, id: queue.FormatID(time.Now(), q.seq.Add(1))}, nil
}

// spool holds a message being received until its COMMIT.
type spool struct {
	q    *Queue
	id   string
	mem  bytes.Buffer
	file *os.File
	size int64
	err  error
}

func (s *spool) ID() string { return s.id }

func (s *spool) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.file == nil && s.mem.Len()+len(p) > SpoolMemory {
		f, err := os.CreateTemp("", "relay-spool-")
		if err != nil {
			s.err = &queue.Error{Op: "create", Path: os.TempDir(), Err: err}
			return 0, s.err
		}
		// Unlinked at once: the bytes go with the descriptor, so that a
		// relay killed meanwhile leaves no mail behind in TMPDIR.
		os.Remove(f.Name())
		s.file = f
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			s.err = &queue.Error{Op: "write", Path: f.Name(), Err: err}
			return 0, s.err
		}
		s.mem = bytes.Buffer{}
	}
	var n int
	var err error
	if s.file != nil {
		n, err = s.file.Write(p)
		if err != nil {
			s.err = &queue.Error{Op: "write", Path: s.file.Name(), Err: err}
			err = s.err
		}
	} else {
		n, _ = s.mem.Write(p)
	}
	s.size += int64(n)
	return n, err
}

func (s *spool) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := s.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			s.err = rerr
			return total, rerr
		}
	}
}

func (s *spool) Abort() {
	if s.file != nil {
		s.file.Close() // unlinked when made
		s.file = nil
	}
	s.mem = bytes.Buffer{}
	if s.err == nil {
		s.err = errors.New("queue: message aborted")
	}
}

// Commit implements mta.Spool: the message row, its chunks and the
// notification in one transaction; nil only after the COMMIT succeeded.
func (s *spool) Commit(ctx context.Context, m *queue.Message) error {
	defer s.Abort()
	if s.err != nil {
		return s.err
	}
	m.ID, m.Size = s.id, s.size
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	if m.NextAttempt.IsZero() {
		m.NextAttempt = m.Created
	}
	var data io.Reader = &s.mem
	if s.file != nil {
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return &queue.Error{Op: "read", Path: s.file.Name(), Err: err}
		}
		data = s.file
	}
	return s.q.insert(ctx, m, data)
}

// Add implements mta.Queue.
func (q *Queue) Add(ctx context.Context, m *queue.Message, data []byte) error {
	m.ID, m.Size = queue.FormatID(time.Now(), q.seq.Add(1)), int64(len(data))
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	return q.insert(ctx, m, bytes.NewReader(data))
}

func (q *Queue) insert(ctx context.Context, m *queue.Message, data io.Reader) error {
	state, err := json.Marshal(m)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO smtpkit_relay_queue (id, state, size, created, next_attempt, held)
			VALUES ($1, $2, $3, $4, $5, $6)`, m.ID, state, m.Size, m.Created, m.NextAttempt, m.Held)
		buf := make([]byte, ChunkSize)
		for seq := 0; ; seq++ {
			n, rerr := io.ReadFull(data, buf)
			if n > 0 || seq == 0 {
				b.Queue("INSERT INTO smtpkit_relay_data (id, seq, chunk) VALUES ($1, $2, $3)", m.ID, seq, append([]byte(nil), buf[:n]...))
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				return &queue.Error{Op: "read", Path: "spool", Err: rerr}
			}
		}
		b.Queue("SELECT pg_notify($1, $2)", notifyChannel, m.ID)
		return tx.SendBatch(ctx, b).Close()
	})
	q.dbError(err)
	return err
}

// Claim implements mta.Queue: it claims the due message waiting longest,
// skipping those other relays are claiming at the same moment (FOR UPDATE
// SKIP LOCKED), or waits for one.
func (q *Queue) Claim(ctx context.Context) (*mta.Work, error) {
	for {
		wake := q.wakeChan()
		w, wait, err := q.claimOne(ctx)
		q.dbError(err)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			wait = RetryDelay
		} else if w != nil {
			return w, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-wake:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

// claimQuery claims one message: due, not held, and not claimed or with
// an expired lease (its relay died), the one due longest first. It returns
// the previous claim's holder and lease, set when that claim expired. $3
// are the messages this relay holds: a lease of its own that expired (the
// database was out longer than the lease) is not a dead relay's, and the
// worker holding it still has its outcome; the renewal takes it up again.
const claimQuery = `
WITH c AS (
	SELECT id, claimed_by, lease_until FROM smtpkit_relay_queue
	WHERE NOT held AND next_attempt <= now() AND (claim IS NULL OR lease_until < now())
		AND NOT (id = ANY($3::text[]))
	ORDER BY next_attempt
	LIMIT 1
	FOR UPDATE SKIP LOCKED
)
UPDATE smtpkit_relay_queue q
SET claim = nextval('smtpkit_relay_claim'), claimed_by = $1, lease_until = now() + $2::interval,
	state = CASE WHEN q.op = 'requeue' THEN jsonb_set(q.state, '{attempts}', '0') ELSE q.state END,
	op = ''
FROM c WHERE q.id = c.id
RETURNING q.id, q.state, q.claim, q.next_attempt, c.claimed_by, c.lease_until`

// nextDueQuery says how long until the next claim may succeed (a message
// due, or a lease expiring), in seconds.
const nextDueQuery = `
SELECT EXTRACT(EPOCH FROM min(CASE WHEN claim IS NULL THEN next_attempt ELSE lease_until END) - now())
FROM smtpkit_relay_queue WHERE NOT held`

func (q *Queue) claimOne(ctx context.Context) (*mta.Work, time.Duration, error) {
	var (
		id, prevOwner string
		state         []byte
		token         int64
		next          time.Time
		prevOwnerN    *string
		prevLease     *time.Time
	)
	q.mu.Lock()
	held := make([]string, 0, len(q.claims))
	for id := range q.claims {
		held = append(held, id)
	}
	q.mu.Unlock()
	err := q.pool.QueryRow(ctx, claimQuery, q.owner, q.lease.String(), held).Scan(&id, &state, &token, &next, &prevOwnerN, &prevLease)
	if errors.Is(err, pgx.ErrNoRows) {
		var secs *float64
		if err := q.pool.QueryRow(ctx, nextDueQuery).Scan(&secs); err != nil {
			return nil, 0, err
		}
		wait := PollInterval
		if secs != nil {
			wait = min(wait, max(time.Duration(*secs*float64(time.Second)), time.Millisecond))
		}
		return nil, wait, nil
	}
	if err != nil {
		return nil, 0, err
	}
	m := new(queue.Message)
	if err := json.Unmarshal(state, m); err != nil {
		// A damaged row: hold it for the operator rather than retry it.
		q.pool.Exec(ctx, "UPDATE smtpkit_relay_queue SET held = true, claim = NULL, claimed_by = NULL, lease_until = NULL WHERE id = $1", id)
		q.log.Error("damaged queue row; placed on hold", "id", id, "err", err)
		return nil, 0, nil
	}
	m.ID, m.NextAttempt, m.Held = id, next, false
	q.mu.Lock()
	q.claims[id] = claim{token: token, size: m.Size}
	q.mu.Unlock()
	w := &mta.Work{Msg: m}
	if prevOwnerN != nil {
		prevOwner = *prevOwnerN
		w.Interrupted = "an attempt by " + prevOwner + " whose claim expired"
		if prevLease != nil {
			w.Interrupted += " at " + prevLease.UTC().Format(time.RFC3339)
		}
	}
	return w, 0, nil
}

// claim is a claim this relay holds: its token, and the message's size.
type claim struct {
	token int64
	size  int64
}

// token returns the claim token of a message this relay claimed.
func (q *Queue) token(id string) (int64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c, ok := q.claims[id]
	return c.token, ok
}

// Data implements mta.Queue.
func (q *Queue) Data(ctx context.Context, id string) (mta.Data, error) {
	q.mu.Lock()
	c, claimed := q.claims[id]
	q.mu.Unlock()
	size := c.size
	if !claimed {
		if err := q.pool.QueryRow(ctx, "SELECT size FROM smtpkit_relay_queue WHERE id = $1", id).Scan(&size); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, mta.ErrNotFound
			}
			return nil, err
		}
	}
	if size < 0 {
		// A damaged row: no retry can read it (and Grow would panic).
		return nil, fmt.Errorf("message %s: damaged row, size %d", id, size)
	}
	rows, err := q.pool.Query(ctx, "SELECT chunk FROM smtpkit_relay_data WHERE id = $1 ORDER BY seq", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var w io.Writer
	var mem bytes.Buffer
	var file *os.File
	if size > DataMemory {
		file, err = os.CreateTemp("", "relay-data-")
		if err != nil {
			return nil, err
		}
		os.Remove(file.Name()) // gone with the last descriptor
		w = file
	} else {
		mem.Grow(int(size))
		w = &mem
	}
	var n int64
	chunks := 0
	for rows.Next() {
		var chunk []byte
		if err := rows.Scan(&chunk); err != nil {
			closeFile(file)
			return nil, err
		}
		if _, err := w.Write(chunk); err != nil {
			closeFile(file)
			return nil, err
		}
		n += int64(len(chunk))
		chunks++
	}
	if err := rows.Err(); err != nil {
		closeFile(file)
		return nil, err
	}
	if chunks == 0 || n != size {
		closeFile(file)
		if chunks == 0 {
			return nil, mta.ErrNotFound
		}
		return nil, fmt.Errorf("message %s: %d bytes stored, %d expected", id, n, size)
	}
	if file != nil {
		return fileData{File: file, size: size}, nil
	}
	return memData{Reader: bytes.NewReader(mem.Bytes())}, nil
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}

type memData struct{ *bytes.Reader }

func (memData) Close() error { return nil }

type fileData struct {
	*os.File
	size int64
}

func (f fileData) Size() int64 { return f.size }

// Save implements mta.Queue.
func (q *Queue) Save(ctx context.Context, m *queue.Message) error {
	token, ok := q.token(m.ID)
	if !ok {
		return mta.ErrLost
	}
	state, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tag, err := q.pool.Exec(ctx, "UPDATE smtpkit_relay_queue SET state = $3 WHERE id = $1 AND claim = $2", m.ID, token, state)
	q.dbError(err)
	if err == nil && tag.RowsAffected() == 0 {
		return mta.ErrLost
	}
	return err
}

// finishQuery records the state and ends the claim, applying an
// operator's command that came meanwhile (the held column is the
// operator's; m.Held adds to it).
const finishQuery = `
UPDATE smtpkit_relay_queue
SET state = CASE WHEN op = 'requeue' THEN jsonb_set($3::jsonb, '{attempts}', '0') ELSE $3::jsonb END,
	next_attempt = CASE WHEN op IN ('flush', 'requeue') THEN now() ELSE $4 END,
	held = CASE WHEN op = 'requeue' THEN false ELSE held OR $5 END,
	claim = NULL, claimed_by = NULL, lease_until = NULL, op = ''
WHERE id = $1 AND claim = $2`

// Finish implements mta.Queue.
func (q *Queue) Finish(ctx context.Context, m *queue.Message) error {
	token, ok := q.token(m.ID)
	if !ok {
		return mta.ErrLost
	}
	var tag pgconn.CommandTag
	var err error
	if m.Done() {
		tag, err = q.pool.Exec(ctx, "DELETE FROM smtpkit_relay_queue WHERE id = $1 AND claim = $2", m.ID, token)
	} else {
		var state []byte
		if state, err = json.Marshal(m); err != nil {
			return err
		}
		tag, err = q.pool.Exec(ctx, finishQuery, m.ID, token, state, m.NextAttempt, m.Held)
	}
	q.dbError(err)
	if err != nil {
		return err // the claim is kept: the caller tries again
	}
	q.mu.Lock()
	delete(q.claims, m.ID)
	q.mu.Unlock()
	if tag.RowsAffected() == 0 {
		return mta.ErrLost
	}
	return nil
}

// renew extends the leases of the claims held, every third of a lease.
func (q *Queue) renew(ctx context.Context) {
	t := time.NewTicker(q.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		q.mu.Lock()
		tokens := make([]int64, 0, len(q.claims))
		for _, c := range q.claims {
			tokens = append(tokens, c.token)
		}
		q.mu.Unlock()
		if len(tokens) == 0 {
			continue
		}
		_, err := q.pool.Exec(ctx, "UPDATE smtpkit_relay_queue SET lease_until = now() + $2::interval WHERE claim = ANY($1)",
			tokens, q.lease.String())
		if ctx.Err() == nil {
			q.dbError(err)
		}
	}
}

// wakeChan returns the channel closed at the next notification.
func (q *Queue) wakeChan() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wake
}

func (q *Queue) notify() {
	q.mu.Lock()
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
}

// listen keeps a connection that LISTENs for "a message is due now",
// reconnecting after a failure, and wakes the waiting workers.
func (q *Queue) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+notifyChannel)
			// Messages may have become due while not listening.
			q.notify()
			for err == nil {
				var n *pgconn.Notification
				n, err = conn.WaitForNotification(ctx)
				if err == nil {
					if n.Payload == flushPayload && q.onFlush != nil {
						q.onFlush()
					}
					q.notify()
				}
			}
			conn.Close(context.Background())
		}
		if ctx.Err() != nil {
			return
		}
		mta.SleepCtx(ctx, RetryDelay)
	}
}

// List implements mta.Admin.
func (q *Queue) List(ctx context.Context) ([]*queue.Message, error) {
	rows, err := q.pool.Query(ctx, "SELECT id, state, next_attempt, held FROM smtpkit_relay_queue ORDER BY created, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []*queue.Message
	var errs []error
	for rows.Next() {
		var id string
		var state []byte
		var next time.Time
		var held bool
		if err := rows.Scan(&id, &state, &next, &held); err != nil {
			return msgs, err
		}
		m := new(queue.Message)
		if err := json.Unmarshal(state, m); err != nil {
			errs = append(errs, fmt.Errorf("message %s: %v", id, err))
			continue
		}
		m.ID, m.NextAttempt, m.Held = id, next, held
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		errs = append(errs, err)
	}
	return msgs, errors.Join(errs...)
}

// controlQueries are the operators' commands: $1 is the message ID, $2
// true for every message. A command on a claimed message changes the
// columns the claim's end keeps (held) or leaves it in op for then.
var controlQueries = map[mta.Op]string{
	mta.OpHold:    "UPDATE smtpkit_relay_queue SET held = true WHERE (id = $1 OR $2) AND NOT held RETURNING id",
	mta.OpRelease: "UPDATE smtpkit_relay_queue SET held = false WHERE (id = $1 OR $2) AND held RETURNING id",
	mta.OpDelete:  "DELETE FROM smtpkit_relay_queue WHERE id = $1 OR $2 RETURNING id",
	mta.OpRequeue: `UPDATE smtpkit_relay_queue SET held = false, next_attempt = now(),
		state = jsonb_set(state, '{attempts}', '0'), op = CASE WHEN claim IS NULL THEN '' ELSE 'requeue' END
		WHERE id = $1 OR $2 RETURNING id`,
	mta.OpFlush: `UPDATE smtpkit_relay_queue SET next_attempt = least(next_attempt, now()),
		op = CASE WHEN claim IS NULL OR op <> '' THEN op ELSE 'flush' END
		WHERE ($2 OR id = $1) AND NOT held AND (next_attempt > now() OR claim IS NOT NULL) RETURNING id`,
}

// Control implements mta.Admin.
func (q *Queue) Control(ctx context.Context, op mta.Op, id string) (int, error) {
	query, ok := controlQueries[op]
	if !ok {
		return 0, fmt.Errorf("unknown command %q", op)
	}
	all := id == mta.All || op == mta.OpFlush
	var ids []string
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, id, all)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		switch {
		case op == mta.OpFlush:
			_, err = tx.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, flushPayload)
		case op != mta.OpHold && op != mta.OpDelete && len(ids) > 0:
			_, err = tx.Exec(ctx, "SELECT pg_notify($1, '')", notifyChannel)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 && !all {
		var exists bool
		if err := q.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM smtpkit_relay_queue WHERE id = $1)", id).Scan(&exists); err != nil {
			return 0, err
		}
		if !exists {
			return 0, fmt.Errorf("%s: %w", id, mta.ErrNotFound)
		}
	}
	for _, mid := range ids {
		mta.LogOp(q.mlog, mid, op)
	}
	return len(ids), nil
}
