package mta

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// scheduler hands queued messages to the delivery workers when their next
// attempt is due. Each message is with at most one worker at a time: it is
// in waiting, or being worked on, never both. The waiting messages are a
// heap ordered by due time (then ID), so that handing one out costs
// O(log n) however many are queued: a flush or a restart makes every
// message due at once.
type scheduler struct {
	mu      sync.Mutex
	waiting dueHeap
	index   map[string]*dueItem // waiting messages by ID
	running map[string]bool
	wake    chan struct{} // poked when waiting changes
	work    chan string   // due IDs for the workers
}

// dueItem is a waiting message: its ID, due time and place in the heap.
type dueItem struct {
	id  string
	at  time.Time
	pos int
}

// dueHeap is a min-heap of waiting messages (container/heap).
type dueHeap []*dueItem

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].id < h[j].id
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *dueHeap) Push(x any) {
	it := x.(*dueItem)
	it.pos = len(*h)
	*h = append(*h, it)
}
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}

func newScheduler() *scheduler {
	return &scheduler{
		index:   map[string]*dueItem{},
		running: map[string]bool{},
		wake:    make(chan struct{}, 1),
		work:    make(chan string),
	}
}

// add schedules id at the time at (now or in the past: at once). A
// message being worked on is left to its worker, which reschedules it.
func (s *scheduler) add(id string, at time.Time) {
	s.mu.Lock()
	if !s.running[id] {
		if it, ok := s.index[id]; !ok {
			it = &dueItem{id: id, at: at}
			s.index[id] = it
			heap.Push(&s.waiting, it)
		} else if at.Before(it.at) {
			it.at = at
			heap.Fix(&s.waiting, it.pos)
		}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// done is called by a worker when it has finished with id; next is the
// time of the next attempt, zero when the message left the queue.
func (s *scheduler) done(id string, next time.Time) {
	s.mu.Lock()
	delete(s.running, id)
	s.mu.Unlock()
	if !next.IsZero() {
		s.add(id, next)
	}
}

// remove unschedules id if it is waiting (a message being worked on is
// left to its worker).
func (s *scheduler) remove(id string) {
	s.mu.Lock()
	if it, ok := s.index[id]; ok {
		heap.Remove(&s.waiting, it.pos)
		delete(s.index, id)
	}
	s.mu.Unlock()
}

// size returns the number of messages waiting or being worked on.
func (s *scheduler) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting) + len(s.running)
}

// run dispatches due messages, earliest first, until ctx ends.
func (s *scheduler) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		wait := time.Hour
		if len(s.waiting) > 0 {
			first := s.waiting[0]
			now := time.Now()
			if !first.at.After(now) {
				heap.Pop(&s.waiting)
				delete(s.index, first.id)
				s.running[first.id] = true
				s.mu.Unlock()
				select {
				case s.work <- first.id:
					continue
				case <-ctx.Done():
					return
				}
			}
			wait = first.at.Sub(now)
		}
		s.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-ctx.Done():
			return
		}
	}
}
