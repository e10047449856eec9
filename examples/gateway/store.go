package main

import (
	"container/heap"
	"context"
	"io"
	"os"
	"sync"
	"time"

	"github.com/smtpkit/smtp/examples/internal/queue"
)

// store is a durable queue of the gateway: the inbound queue (mail for the
// webhooks) and the outbound queue (mail for SMTP) are one each. Its
// methods are those of the relay's queue interface (a message is claimed
// by one worker at a time, from Claim to Finish), plus Get for the API's
// status.
type store interface {
	// Create starts a message; Commit on the spool makes it durable and
	// due.
	Create(ctx context.Context) (spool, error)
	// Add queues a complete message (a bounce) the same way.
	Add(ctx context.Context, m *queue.Message, data []byte) error
	// Claim waits until a message is due and hands it out.
	Claim(ctx context.Context) (*queue.Message, error)
	// Data opens the bytes of a message.
	Data(ctx context.Context, id string) (messageData, error)
	// Save records the state of a claimed message, keeping the claim.
	Save(ctx context.Context, m *queue.Message) error
	// Finish records the state of a claimed message and ends the claim:
	// a settled message (every recipient final, every failure reported)
	// is removed, another is due again at m.NextAttempt (never when
	// zero).
	Finish(ctx context.Context, m *queue.Message) error
	// Get reads the state of a message; queue.ErrNotFound when it is not
	// (or no longer) queued.
	Get(ctx context.Context, id string) (*queue.Message, error)
	// Len returns the number of messages queued.
	Len() int
	Close() error
}

// spool receives the bytes of a new message.
type spool interface {
	ID() string
	io.Writer
	io.ReaderFrom
	Commit(ctx context.Context, m *queue.Message) error
	Abort()
}

// messageData is the bytes of a queued message.
type messageData interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// diskStore is a store on the relay's on-disk queue (package queue), with
// a scheduler in memory that hands due messages out.
type diskStore struct {
	q     *queue.Queue
	sched *scheduler
}

// openDiskStore opens the queue in dir and schedules what it holds.
func openDiskStore(dir string) (*diskStore, []error, error) {
	q, err := queue.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	s := &diskStore{q: q, sched: newScheduler()}
	msgs, errs := q.Load()
	for _, m := range msgs {
		// A message whose recipients are all final (a crash between the
		// last save and the removal) is due at once, to be removed.
		s.sched.add(m.ID, m.NextAttempt)
	}
	return s, errs, nil
}

func (s *diskStore) Create(context.Context) (spool, error) {
	w, err := s.q.Create()
	if err != nil {
		return nil, err
	}
	return &diskSpool{Writer: w, s: s}, nil
}

type diskSpool struct {
	*queue.Writer
	s *diskStore
}

func (sp *diskSpool) Commit(_ context.Context, m *queue.Message) error {
	if err := sp.Writer.Commit(m); err != nil {
		return err
	}
	sp.s.sched.add(m.ID, m.NextAttempt)
	return nil
}

func (s *diskStore) Add(_ context.Context, m *queue.Message, data []byte) error {
	if err := s.q.Add(m, data); err != nil {
		return err
	}
	s.sched.add(m.ID, m.NextAttempt)
	return nil
}

func (s *diskStore) Claim(ctx context.Context) (*queue.Message, error) {
	for {
		id, err := s.sched.claim(ctx)
		if err != nil {
			return nil, err
		}
		m, err := s.q.Get(id)
		if err == nil {
			return m, nil
		}
		// Gone, or unreadable (left in place for the operator, who
		// sees it in the listing): not scheduled again.
		s.sched.release(id, time.Time{})
	}
}

// fileData is a queued message's file.
type fileData struct {
	*os.File
	size int64
}

func (f *fileData) Size() int64 { return f.size }

func (s *diskStore) Data(_ context.Context, id string) (messageData, error) {
	f, err := s.q.OpenData(id)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileData{File: f, size: fi.Size()}, nil
}

func (s *diskStore) Save(_ context.Context, m *queue.Message) error { return s.q.Save(m) }

func (s *diskStore) Finish(_ context.Context, m *queue.Message) error {
	if settled(m) {
		err := s.q.Remove(m.ID)
		s.sched.release(m.ID, time.Time{})
		return err
	}
	err := s.q.Save(m)
	// Due again even when the save failed: the attempt is made again
	// from the state on disk.
	s.sched.release(m.ID, m.NextAttempt)
	return err
}

func (s *diskStore) Get(_ context.Context, id string) (*queue.Message, error) { return s.q.Get(id) }

func (s *diskStore) Len() int { return s.sched.len() }

func (s *diskStore) Close() error { return s.q.Close() }

// scheduler hands out the IDs of due messages, earliest first, each to one
// worker at a time: an ID is waiting (with its due time) or claimed, never
// both.
type scheduler struct {
	mu      sync.Mutex
	due     map[string]time.Time
	claimed map[string]bool
	h       dueHeap
	// changed is closed (and replaced) when a message becomes waiting,
	// to wake every worker waiting in claim.
	changed chan struct{}
}

func newScheduler() *scheduler {
	return &scheduler{due: map[string]time.Time{}, claimed: map[string]bool{}, changed: make(chan struct{})}
}

// dueHeap orders entries by due time. An entry whose time is no longer
// the ID's (rescheduled, or claimed) is stale and skipped when popped.
type dueHeap []dueEntry

type dueEntry struct {
	at time.Time
	id string
}

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// add makes id due at at; a claimed ID is left to its worker, which
// releases it.
func (s *scheduler) add(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed[id] {
		return
	}
	if old, ok := s.due[id]; ok && !at.Before(old) {
		return
	}
	s.due[id] = at
	heap.Push(&s.h, dueEntry{at, id})
	close(s.changed)
	s.changed = make(chan struct{})
}

// release ends the claim of id; a non-zero next makes it due again then.
func (s *scheduler) release(id string, next time.Time) {
	s.mu.Lock()
	delete(s.claimed, id)
	s.mu.Unlock()
	if !next.IsZero() {
		s.add(id, next)
	}
}

// claim waits for the earliest due ID and claims it.
func (s *scheduler) claim(ctx context.Context) (string, error) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		for len(s.h) > 0 {
			top := s.h[0]
			if at, ok := s.due[top.id]; !ok || !at.Equal(top.at) {
				heap.Pop(&s.h)
				continue
			}
			break
		}
		wait := time.Hour
		if len(s.h) > 0 {
			top := s.h[0]
			if wait = time.Until(top.at); wait <= 0 {
				heap.Pop(&s.h)
				delete(s.due, top.id)
				s.claimed[top.id] = true
				s.mu.Unlock()
				return top.id, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-changed:
		case <-timer.C:
		}
	}
}

// len returns the number of IDs waiting or claimed.
func (s *scheduler) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.due) + len(s.claimed)
}
