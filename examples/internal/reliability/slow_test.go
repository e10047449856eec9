package reliability

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// held is a connection the test holds open, and what the server said
// last on it.
type held struct {
	c      *smtpConn
	code   int           // of the last reply read (421 when closed by the server)
	closed time.Duration // since the start of the test when the server closed it
	done   chan struct{} // closed when the server closed it
}

// openMany opens n connections with a pool of workers; each runs setup
// (after the greeting was read) and is kept.
func openMany(t *testing.T, addr, local string, n int, setup func(*smtpConn) error) []*held {
	t.Helper()
	hs := make([]*held, n)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				// A 421 at the greeting is tried again for a while: the
				// slot of a connection the test just closed may still be
				// held until the server has seen the close. A limit that
				// is really too low still fails, after the deadline.
				c, err := dial(addr, local)
				for deadline := time.Now().Add(5 * time.Second); err != nil && isGreeting421(err) && time.Now().Before(deadline); {
					time.Sleep(20 * time.Millisecond)
					c, err = dial(addr, local)
				}
				if err == nil && setup != nil {
					if err = setup(c); err != nil {
						c.Close()
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				hs[i] = &held{c: c, done: make(chan struct{})}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d connections failed to open, first: %v", f, n, firstErr.Load())
	}
	return hs
}

// isGreeting421 tells whether err is dial's report of a 421 greeting.
func isGreeting421(err error) bool {
	var re *replyError
	return errors.As(err, &re) && re.Cmd == "greeting" && re.Code == 421
}

// watch waits, in a goroutine per connection, for the server to close
// it, and records the last reply and when.
func watch(hs []*held, start time.Time) {
	for _, h := range hs {
		go func() {
			defer close(h.done)
			h.c.timeout = 10 * time.Minute
			for {
				code, _, err := h.c.readReply()
				if err != nil {
					if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
						h.closed = time.Since(start)
					}
					return
				}
				h.code = code
			}
		}()
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout()
}

// closeAll closes the test's side of the connections.
func closeAll(hs []*held) {
	for _, h := range hs {
		if h != nil {
			h.c.Close()
		}
	}
}

// stableFDs returns the number of open descriptors of pid once it has not
// changed for 100 ms (the server closes a connection a moment after QUIT).
func stableFDs(t testing.TB, pid int) int {
	t.Helper()
	n := openFDs(t, pid)
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		m := openFDs(t, pid)
		if m == n {
			break
		}
		n = m
	}
	return n
}

// TestSlowClients holds connections that go silent after EHLO, that never
// say anything, and that send a byte a second (slowloris), measures the
// memory mailsink spends on them, checks that a normal client is served
// meanwhile, and that the command timeout closes every one of them with
// 421.
//
//	short: 150 + 50 + 100 connections, -command-timeout 4s
//	long: 2,500 + 500 + 2,000 connections, -command-timeout 25s
func TestSlowClients(t *testing.T) {
	nIdle, nSilent, nLoris := pick(150, 2500), pick(50, 500), pick(100, 2000)
	timeout := pick(4*time.Second, 25*time.Second)
	s := startSink(t, "-quiet", "-command-timeout", timeout.String())

	// Warm up the runtime and the server's pools, so that the figures are
	// the cost of the connections.
	for range 3 {
		transaction(t, s.Addr, 5*time.Second, message("warm@rel.test", 1, 500, false))
	}
	fd0, rss0 := stableFDs(t, s.pid()), rssKiB(t, s.pid())

	start := time.Now()
	idle := openMany(t, s.Addr, "", nIdle, func(c *smtpConn) error { return c.ehlo("idle.test") })
	rss1 := rssKiB(t, s.pid())
	silent := openMany(t, s.Addr, "", nSilent, nil)
	loris := openMany(t, s.Addr, "", nLoris, nil)
	defer closeAll(idle)
	defer closeAll(silent)
	defer closeAll(loris)
	opened := time.Since(start)
	all := append(append(append([]*held(nil), idle...), silent...), loris...)
	watch(all, start)

	// Slowloris: a command line that never ends, a byte a second.
	stopLoris := make(chan struct{})
	var lorisDone sync.WaitGroup
	lorisDone.Go(func() {
		const line = "EHLO slow-loris-sends-one-byte-each-second.test.example.test.example.test"
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			for _, h := range loris {
				select {
				case <-h.done:
					continue
				default:
				}
				h.c.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				h.c.nc.Write([]byte{line[i%len(line)]})
			}
			select {
			case <-stopLoris:
				return
			case <-tick.C:
			}
		}
	})
	defer func() { close(stopLoris); lorisDone.Wait() }()

	time.Sleep(1500 * time.Millisecond) // every slowloris has sent a byte or two
	heldFDs, rss2 := openFDs(t, s.pid()), rssKiB(t, s.pid())
	n := len(all)
	t.Logf("slow clients: %d connections held (%d idle after EHLO, %d silent, %d slowloris; mailsink had %d more open descriptors)",
		n, nIdle, nSilent, nLoris, heldFDs-fd0)
	t.Logf("memory: VmRSS %d KiB before, %d KiB with the idle ones (%.1f KiB per idle connection after EHLO), %d KiB with all (%.1f KiB per held connection)",
		rss0, rss1, float64(rss1-rss0)/float64(nIdle), rss2, float64(rss2-rss0)/float64(n))
	if heldFDs-fd0 < n {
		t.Errorf("mailsink holds %d connections, want %d", heldFDs-fd0, n)
	}
	// A gross bound: a buffer of a few KiB per idle connection would break
	// it. (The target, 8 KiB, is checked by the long form, where
	// the noise of the runtime is small against the figure.)
	perIdle := float64(rss1-rss0) / float64(nIdle)
	if limit := pick(64.0, 8.0); perIdle > limit {
		t.Errorf("%.1f KiB per idle connection after EHLO, want at most %.0f KiB", perIdle, limit)
	}

	// Real clients are served while they are held.
	for range 3 {
		d := transaction(t, s.Addr, 3*time.Second, message("served@rel.test", 2, 2000, false))
		t.Logf("a normal transaction while they are held: %v", d.Round(time.Millisecond))
	}

	// The command timeout closes them all, with 421 first (RFC 5321
	// 4.5.3.2.7, 3.8), the slowloris too: a command that takes longer
	// than the timeout to arrive is as late as no command.
	slack := pick(4*time.Second, 15*time.Second)
	deadline := start.Add(opened + timeout + slack)
	var late, no421 int
	for _, group := range []struct {
		name string
		hs   []*held
	}{{"idle", idle}, {"silent", silent}, {"slowloris", loris}} {
		late, no421 = 0, 0
		var last time.Duration
		for _, h := range group.hs {
			if wait := time.Until(deadline); wait > 0 {
				select {
				case <-h.done:
				case <-time.After(wait):
				}
			}
			select {
			case <-h.done:
				last = max(last, h.closed)
				if h.closed == 0 {
					late++ // our read failed otherwise
				}
				if h.code != 421 {
					no421++
				}
			default:
				late++
			}
		}
		t.Logf("%s: %d of %d closed by the server (last after %v), %d without 421",
			group.name, len(group.hs)-late, len(group.hs), last.Round(time.Millisecond), no421)
		if late > 0 {
			t.Errorf("%s: %d of %d connections still open %v after the command timeout of %v", group.name, late, len(group.hs), slack, timeout)
		}
		if no421 > 0 {
			t.Errorf("%s: %d of %d connections closed without 421", group.name, no421, len(group.hs))
		}
	}
	if !waitFor(5*time.Second, func() bool { return openFDs(t, s.pid()) <= fd0 }) {
		t.Errorf("mailsink has %d open descriptors after the timeouts, %d before", openFDs(t, s.pid()), fd0)
	}
	t.Logf("memory after they were closed: VmRSS %d KiB", rssKiB(t, s.pid()))
	s.alive(t)
	transaction(t, s.Addr, 3*time.Second, message("after@rel.test", 3, 2000, false))
}

// TestConnectionLimits fills the per-IP and the total connection limits
// from other loopback addresses (127.0.0.2...) and checks that the next
// connection gets 421 and is closed, and that a freed slot is reused.
func TestConnectionLimits(t *testing.T) {
	const total, perIP = 30, 10
	s := startSink(t, "-quiet", "-max-conns", itoa(total), "-max-conns-per-ip", itoa(perIP))
	// The probe uses an address of its own: its slot may still be held
	// for a moment after it is closed.
	if c, err := dial(s.Addr, "127.0.0.9"); err != nil {
		t.Skipf("cannot use 127.0.0.x as a source address: %v", err)
	} else {
		c.Close()
	}
	var hs []*held
	defer func() { closeAll(hs) }()
	greeted := func() error { return nil }
	hs = append(hs, openMany(t, s.Addr, "127.0.0.2", perIP, func(*smtpConn) error { return greeted() })...)

	// The per-IP limit: the next one from 127.0.0.2 is refused...
	refused := func(local, why string) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
		nc, err := d.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c := newConn(nc)
		c.timeout = 5 * time.Second
		code, text, err := c.readReply()
		if err != nil || code != 421 {
			t.Fatalf("%s: greeting %d %q, %v; want 421", why, code, text, err)
		}
		if _, _, err := c.readReply(); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Errorf("%s: not closed after 421: %v", why, err)
		}
	}
	refused("127.0.0.2", "over the per-IP limit")
	// ... while another address is served.
	transaction(t, s.Addr, 3*time.Second, message("perip@rel.test", 4, 500, false))

	// The total limit.
	hs = append(hs, openMany(t, s.Addr, "127.0.0.3", perIP, nil)...)
	hs = append(hs, openMany(t, s.Addr, "127.0.0.4", perIP, nil)...)
	refused("127.0.0.5", "over the total limit")
	refused("127.0.0.1", "over the total limit")

	// A freed slot is given to the next client.
	hs[0].c.expect("QUIT", 221)
	hs[0].c.Close()
	hs = hs[1:]
	var err error
	if !waitFor(3*time.Second, func() bool {
		var c *smtpConn
		if c, err = dial(s.Addr, "127.0.0.5"); err == nil {
			c.Close()
			return true
		}
		return false
	}) {
		t.Errorf("a freed slot was not reused: %v", err)
	}
	s.alive(t)
}
