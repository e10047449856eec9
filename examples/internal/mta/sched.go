package mta

import (
	"context"
	"sync"
	"time"
)

// scheduler hands queued messages to the delivery workers when their next
// attempt is due. Each message is with at most one worker at a time: it is
// in waiting, or being worked on, never both.
type scheduler struct {
	mu      sync.Mutex
	waiting map[string]time.Time // id -> due time
	running map[string]bool
	wake    chan struct{} // poked when waiting changes
	work    chan string   // due IDs for the workers
}

func newScheduler() *scheduler {
	return &scheduler{
		waiting: map[string]time.Time{},
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
		if old, ok := s.waiting[id]; !ok || at.Before(old) {
			s.waiting[id] = at
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
	delete(s.waiting, id)
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
		var id string
		var at time.Time
		for k, t := range s.waiting {
			if id == "" || t.Before(at) || (t.Equal(at) && k < id) {
				id, at = k, t
			}
		}
		now := time.Now()
		if id != "" && !at.After(now) {
			delete(s.waiting, id)
			s.running[id] = true
			s.mu.Unlock()
			select {
			case s.work <- id:
				continue
			case <-ctx.Done():
				return
			}
		}
		s.mu.Unlock()
		wait := time.Hour
		if id != "" {
			wait = at.Sub(now)
		}
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
