package reliability

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad holds many sessions at once, each sending several distinct
// messages through mailsink into a Maildir, and checks afterwards that
// every message that got 250 is there exactly once, byte-exact (with the
// contract's Return-Path and X-Envelope-To lines), and nothing else is.
//
//	short: 200 sessions x 3 messages; long: 2,000 sessions x 5 messages
func TestLoad(t *testing.T) {
	sessions := pick(200, 2000)
	perSession := pick(3, 5)
	s := startSink(t, "-quiet")

	type result struct {
		acked   map[string][]byte
		unacked map[string][]byte
		err     error
	}
	results := make([]result, sessions)
	var connected, failed atomic.Int32
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			r := &results[i]
			r.acked, r.unacked = map[string][]byte{}, map[string][]byte{}
			c, err := dial(s.Addr, "")
			if err == nil {
				defer c.Close()
				err = c.ehlo("load" + itoa(i) + ".test")
			}
			if err != nil {
				r.err = err
				failed.Add(1)
				return
			}
			connected.Add(1)
			<-begin
			from := "s" + itoa(i) + "@load.test"
			for j := range perSession {
				id := "load." + itoa(i) + "." + itoa(j) + "@rel.test"
				to := []string{"r" + itoa(i) + "." + itoa(j) + "@load.test", "all@load.test"}
				size := 300 + (i*7919+j*104729)%6000
				if (i+j)%97 == 0 {
					size = 64 << 10 // now and then a larger one
				}
				body := message(id, uint64(i)<<8|uint64(j), size, j%2 == 1)
				mail := "<" + from + ">"
				if j%2 == 1 {
					mail += " BODY=8BITMIME"
				}
				code, err := c.send(mail, to, body)
				if err == nil && code == 250 {
					r.acked[id] = stored(from, to, body)
					continue
				}
				// Not acknowledged: it may or may not be stored.
				r.unacked[id] = stored(from, to, body)
				if err == nil {
					err = &replyError{"end of data", code, ""}
				}
				r.err = err
				return
			}
			r.err = c.expect("QUIT", 221)
		})
	}
	// All sessions are open and greeted before any sends: they are held
	// at once.
	if !waitFor(60*time.Second, func() bool { return int(connected.Load()+failed.Load()) == sessions }) {
		t.Errorf("only %d of %d sessions opened in 60 s", connected.Load(), sessions)
	}
	held := int(connected.Load())
	fds := openFDs(t, s.pid())
	rssHeld := rssKiB(t, s.pid())
	start := time.Now()
	close(begin)
	wg.Wait()
	elapsed := time.Since(start)
	s.alive(t)

	acked, unacked := map[string][]byte{}, map[string][]byte{}
	var errs []error
	for _, r := range results {
		for id, b := range r.acked {
			acked[id] = b
		}
		for id, b := range r.unacked {
			unacked[id] = b
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	if len(errs) > 0 {
		t.Errorf("%d of %d sessions failed, first: %v", len(errs), sessions, errors.Join(errs[:min(len(errs), 3)]...))
	}
	if want := sessions * perSession; len(acked) != want {
		t.Errorf("%d messages acknowledged, want %d", len(acked), want)
	}
	// mailsink syncs before it answers: what got 250 is in new/ already.
	lost, dup, wrong := checkStored(t, s.Maildir, acked, unacked)
	rate := float64(len(acked)) / elapsed.Seconds()
	t.Logf("load: %d sessions held at once (mailsink had %d open descriptors, VmRSS %d KiB); "+
		"%d messages acknowledged in %v (%.0f msgs/s); lost %d, stored twice %d, corrupted %d",
		held, fds, rssHeld, len(acked), elapsed.Round(time.Millisecond), rate, lost, dup, wrong)
	if held != sessions {
		t.Errorf("%d sessions held at once, want %d", held, sessions)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("mailsink exit after SIGTERM: %v", err)
	}
}
