package mta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtp/examples/internal/queue"
)

// DiskBackend is the embedded default: the on-disk queue of package queue
// in the directory given to -queue, owned by one relay at a time (its PID
// in DIR/lock). The operator's commands reach a running relay through
// request files in DIR/control (see diskAdmin), and work on the files
// directly when no relay runs.
func DiskBackend() Backend {
	return Backend{
		Name:  "disk",
		Match: func(spec string) bool { return !IsPostgresURL(spec) },
		Open: func(_ context.Context, dir string, o Options) (Queue, error) {
			return openDiskQueue(dir, o)
		},
		Admin: func(_ context.Context, dir string, o Options) (Admin, error) {
			return &diskAdmin{dir: dir, log: o.MailLog}, nil
		},
	}
}

// diskQueue is a queue directory served by this relay: an in-memory
// scheduler hands due messages to the workers (a claim lasts as long as
// the process), and the operator's requests are polled from DIR/control.
type diskQueue struct {
	q     *queue.Queue
	sched *scheduler // nil when the queue is opened only to apply a command
	log   *slog.Logger
	mlog  *MailLog
	now   func() time.Time
	// onFlush is Options.OnFlush (nil when the queue is opened only to
	// apply a command).
	onFlush func()

	mu sync.Mutex
	// claims holds the claimed messages, with the operator's command that
	// came meanwhile (applied by Finish).
	claims map[string]Op
	// interrupted holds the attempts a previous owner left unfinished, by
	// message, with when they began.
	interrupted map[string]time.Time

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// ControlPollInterval is how often a relay on a disk queue looks for the
// operator's requests in DIR/control.
const ControlPollInterval = 200 * time.Millisecond

func openDiskQueue(dir string, o Options) (*diskQueue, error) {
	q, err := queue.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, controlDir), 0o700); err != nil {
		q.Close()
		return nil, err
	}
	d := newDiskQueue(q, o)
	d.start()
	return d, nil
}

// newDiskQueue schedules the messages of q; start runs the scheduler and
// the control requests.
func newDiskQueue(q *queue.Queue, o Options) *diskQueue {
	d := &diskQueue{q: q, sched: newScheduler(), log: o.Log, mlog: o.MailLog, now: time.Now, onFlush: o.OnFlush,
		claims: map[string]Op{}, interrupted: q.Interrupted(), stop: func() {}}
	if d.log == nil {
		d.log = discardLog()
	}
	msgs, errs := q.Load()
	for _, err := range errs {
		d.log.Error("damaged queue file left in place", "err", err)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].NextAttempt.Before(msgs[j].NextAttempt) })
	for _, m := range msgs {
		switch {
		case m.Done():
			// Finished but not removed (a crash after the last save):
			// a worker removes it.
			d.sched.add(m.ID, time.Time{})
		case !m.Held:
			d.sched.add(m.ID, m.NextAttempt)
		}
	}
	return d
}

func (d *diskQueue) start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
	d.wg.Go(func() { d.sched.run(ctx) })
	d.wg.Go(func() { d.serveControl(ctx) })
}

// Queued returns the number of messages scheduled or being delivered.
func (d *diskQueue) Queued() int { return d.sched.size() }

func (d *diskQueue) Create(context.Context) (Spool, error) {
	w, err := d.q.Create()
	if err != nil {
		return nil, err
	}
	return &diskSpool{Writer: w, d: d}, nil
}

// diskSpool schedules the message it commits.
type diskSpool struct {
	*queue.Writer
	d *diskQueue
}

func (s *diskSpool) Commit(_ context.Context, m *queue.Message) error {
	if err := s.Writer.Commit(m); err != nil {
		return err
	}
	s.d.sched.add(m.ID, m.NextAttempt)
	return nil
}

func (d *diskQueue) Add(_ context.Context, m *queue.Message, data []byte) error {
	if err := d.q.Add(m, data); err != nil {
		return err
	}
	d.sched.add(m.ID, m.NextAttempt)
	return nil
}

func (d *diskQueue) Claim(ctx context.Context) (*Work, error) {
	for {
		var id string
		select {
		case id = <-d.sched.work:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if w := d.claim(id); w != nil {
			return w, nil
		}
		d.sched.done(id, time.Time{})
	}
}

// claim claims message id, which the scheduler handed out; nil when it is
// gone, unreadable or on hold.
func (d *diskQueue) claim(id string) *Work {
	// The claim is registered before the state is read, so that an
	// operator's command either finds it claimed or is in the state read
	// here (see controlOne).
	d.mu.Lock()
	d.claims[id] = ""
	started, interrupted := d.interrupted[id]
	delete(d.interrupted, id)
	d.mu.Unlock()
	m, err := d.q.Get(id)
	if err == nil && !m.Held {
		if err := d.q.MarkActive(id); err != nil {
			d.log.Warn("cannot mark the attempt", "id", id, "err", err)
		}
		w := &Work{Msg: m}
		if interrupted {
			w.Interrupted = "an attempt begun at " + started.UTC().Format(time.RFC3339) + " by a relay that stopped before recording it"
		}
		return w
	}
	if err != nil && !errors.Is(err, queue.ErrNotFound) {
		d.log.Error("cannot read queued message; left in place, not retried", "id", id, "err", err)
	}
	d.mu.Lock()
	delete(d.claims, id)
	d.mu.Unlock()
	return nil
}

func (d *diskQueue) Data(_ context.Context, id string) (Data, error) {
	f, err := d.q.OpenData(id)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return fileData{File: f, size: fi.Size()}, nil
}

type fileData struct {
	*os.File
	size int64
}

func (f fileData) Size() int64 { return f.size }

func (d *diskQueue) Save(_ context.Context, m *queue.Message) error {
	d.mu.Lock()
	op := d.claims[m.ID]
	d.mu.Unlock()
	if op == OpDelete {
		return nil // Finish removes it
	}
	return d.q.Save(m)
}

func (d *diskQueue) Finish(_ context.Context, m *queue.Message) error {
	d.mu.Lock()
	op, ok := d.claims[m.ID]
	d.mu.Unlock()
	if !ok {
		return ErrLost
	}
	// The claim ends only once the state is recorded: on an error the
	// caller tries again, and the message is not handed out meanwhile.
	var err error
	switch {
	case op == OpDelete || m.Done():
		err = d.q.Remove(m.ID)
	default:
		applyOp(m, op, d.now())
		if err = d.q.Save(m); err == nil {
			d.q.ClearActive(m.ID)
		}
	}
	if err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.claims, m.ID)
	d.mu.Unlock()
	next := m.NextAttempt
	switch {
	case op == OpDelete || m.Done() || m.Held:
		next = time.Time{}
	case next.IsZero():
		next = d.now()
	}
	d.sched.done(m.ID, next)
	if op == OpDelete {
		return ErrLost
	}
	return nil
}

// applyOp changes m as the operator's command op asks; it reports whether
// anything changed.
func applyOp(m *queue.Message, op Op, now time.Time) bool {
	switch op {
	case OpHold:
		if m.Held {
			return false
		}
		m.Held = true
	case OpRelease:
		if !m.Held {
			return false
		}
		m.Held = false
	case OpRequeue:
		m.Held = false
		m.Attempts = 0
		m.NextAttempt = now
	case OpFlush:
		if m.Held || !m.NextAttempt.After(now) {
			return false
		}
		m.NextAttempt = now
	default:
		return false
	}
	return true
}

func (d *diskQueue) List(context.Context) ([]*queue.Message, error) {
	msgs, errs := d.q.Load()
	return msgs, errors.Join(errs...)
}

func (d *diskQueue) Control(_ context.Context, op Op, id string) (int, error) {
	return d.control(op, id)
}

// control applies op to message id (or every one) as the queue's owner.
func (d *diskQueue) control(op Op, id string) (int, error) {
	if !ValidOp(op) {
		return 0, fmt.Errorf("unknown command %q", op)
	}
	var ids []string
	if id == All || op == OpFlush {
		msgs, errs := d.q.Load()
		for _, err := range errs {
			d.log.Error("damaged queue file left in place", "err", err)
		}
		for _, m := range msgs {
			ids = append(ids, m.ID)
		}
	} else {
		if !queue.ValidID(id) {
			return 0, fmt.Errorf("%s: %w", id, ErrNotFound)
		}
		ids = []string{id}
	}
	if op == OpFlush && d.onFlush != nil {
		d.onFlush()
	}
	n := 0
	now := d.now()
	for _, mid := range ids {
		changed, err := d.controlOne(op, mid, now)
		if err != nil {
			if errors.Is(err, queue.ErrNotFound) && len(ids) > 1 {
				continue // delivered meanwhile
			}
			return n, fmt.Errorf("%s: %w", mid, err)
		}
		if changed {
			n++
			LogOp(d.mlog, mid, op)
		}
	}
	return n, nil
}

func (d *diskQueue) controlOne(op Op, id string, now time.Time) (bool, error) {
	// d.mu is held throughout, so that Claim either registers its claim
	// before (the command waits for Finish) or reads the state saved here.
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, claimed := d.claims[id]; claimed {
		if prev != OpDelete {
			d.claims[id] = op
		}
		return true, nil
	}
	m, err := d.q.Get(id)
	if err != nil {
		return false, err
	}
	if op == OpDelete {
		if d.sched != nil {
			d.sched.remove(id)
		}
		return true, d.q.Remove(id)
	}
	if !applyOp(m, op, now) {
		return false, nil
	}
	if err := d.q.Save(m); err != nil {
		return false, err
	}
	if d.sched != nil {
		if m.Held {
			d.sched.remove(id)
		} else {
			d.sched.add(id, m.NextAttempt)
		}
	}
	return true, nil
}

// ValidOp reports whether op is one of the operators' commands.
func ValidOp(op Op) bool {
	switch op {
	case OpHold, OpRelease, OpDelete, OpRequeue, OpFlush:
		return true
	}
	return false
}

// LogOp writes the mail log line of an operator's command, in Postfix's
// words where it has them.
func LogOp(l *MailLog, id string, op Op) {
	switch op {
	case OpHold:
		l.Printf(id, "placed on hold")
	case OpRelease:
		l.Printf(id, "released from hold")
	case OpDelete:
		l.Printf(id, "removed by the operator")
	case OpRequeue:
		l.Printf(id, "requeued")
	case OpFlush:
		l.Printf(id, "flushed: due now")
	}
}

func (d *diskQueue) Close() error {
	d.stop()
	d.wg.Wait()
	return d.q.Close()
}

// String names the queue for logs.
func (d *diskQueue) String() string { return d.q.Dir() }

// controlDir holds the operator's requests to the relay owning a disk
// queue: NAME.req (written by relay -hold..., renamed into place), renamed
// NAME.taken by the relay before it acts on it, and the relay's answer
// NAME.res.
const controlDir = "control"

// takenExt marks a request the relay has taken (see answerRequests).
const takenExt = ".taken"

// serveControl applies the requests in DIR/control until ctx ends.
func (d *diskQueue) serveControl(ctx context.Context) {
	t := time.NewTicker(ControlPollInterval)
	defer t.Stop()
	for {
		d.answerRequests()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (d *diskQueue) answerRequests() {
	dir := filepath.Join(d.q.Dir(), controlDir)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".req")
		if !ok {
			continue
		}
		// The request is taken before it is acted on: a command that
		// gave up waiting can take back only a request not yet taken,
		// so that its "nothing was done" is true (see diskAdmin.ask).
		taken := filepath.Join(dir, name+takenExt)
		if err := os.Rename(filepath.Join(dir, e.Name()), taken); err != nil {
			continue // taken back meanwhile
		}
		req, err := readRequest(taken)
		var res controlResult
		if err == nil {
			res.N, err = d.control(req.Op, req.ID)
		}
		if err != nil {
			res.Err = err.Error()
			res.NotFound = errors.Is(err, ErrNotFound)
		}
		if err := writeJSONFile(dir, name+".res", res); err != nil {
			d.log.Error("cannot answer an operator's request", "file", e.Name(), "err", err)
		}
		os.Remove(taken)
	}
}
