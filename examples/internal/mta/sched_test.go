package mta

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestSchedulerOrder: due messages go out earliest first (ties by ID),
// a later add of an earlier time moves a message up, a removed message
// never goes out, and one not yet due waits.
func TestSchedulerOrder(t *testing.T) {
	s := newScheduler()
	base := time.Now().Add(-time.Hour)
	s.add("c", base.Add(3*time.Second))
	s.add("a", base.Add(2*time.Second))
	s.add("b", base.Add(2*time.Second))
	s.add("d", base.Add(5*time.Second))
	s.add("d", base.Add(time.Second))   // earlier: moves up
	s.add("a", base.Add(9*time.Second)) // later: ignored
	s.add("gone", base)
	s.remove("gone")
	s.add("later", time.Now().Add(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	var got []string
	for range 4 {
		select {
		case id := <-s.work:
			got = append(got, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("dispatched %v, then nothing", got)
		}
	}
	if want := "d a b c"; joinIDs(got) != want {
		t.Errorf("order %q, want %q", joinIDs(got), want)
	}
	if n := s.size(); n != 5 { // 4 running, "later" waiting
		t.Errorf("size %d, want 5", n)
	}
	s.done("a", time.Time{})
	if n := s.size(); n != 4 {
		t.Errorf("size after done %d, want 4", n)
	}
}

func joinIDs(ids []string) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += " "
		}
		s += id
	}
	return s
}

// BenchmarkSchedulerDispatch: the cost of handing out one message when n
// are due at once (a flush, a restart after an outage), per message. It
// grew with n while every dispatch scanned every waiting message under
// the lock that submissions take too (10.8, 120 and 512 µs a message for
// 1,000, 10,000 and 40,000 due: 20 s to hand out 40,000); with the heap,
// 1.2 to 1.5 µs whatever n.
func BenchmarkSchedulerDispatch(b *testing.B) {
	for _, n := range []int{1000, 10000, 40000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			due := time.Now().Add(-time.Second)
			for range b.N {
				b.StopTimer()
				s := newScheduler()
				for i := range n {
					s.add("id"+strconv.Itoa(i), due)
				}
				ctx, cancel := context.WithCancel(context.Background())
				go s.run(ctx)
				b.StartTimer()
				for range n {
					<-s.work
				}
				b.StopTimer()
				cancel()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/message")
		})
	}
}
