package mta

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDestCache: a destination that refused a connection is not dialled
// again until its backoff passes (the attempts meanwhile fail at once);
// after it, one connection probes it while the others still wait; a
// success clears it; the backoff grows with the failures.
func TestDestCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	dials := 0
	refuse := true
	release := make(chan struct{})
	block := false
	c := newDestCache(func(n int) time.Duration { return time.Duration(n) * time.Minute })
	c.now = func() time.Time { return now }
	c.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dials++
		r, b := refuse, block
		mu.Unlock()
		if b {
			<-release
		}
		if r {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}
		a, b2 := net.Pipe()
		b2.Close()
		return a, nil
	}
	ctx := context.Background()
	dial := func() error {
		conn, err := c.DialContext(ctx, "tcp", "192.0.2.1:25")
		if conn != nil {
			conn.Close()
		}
		return err
	}
	if err := dial(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("first dial: %v", err)
	}
	for range 5 {
		var de *DestUnreachableError
		if err := dial(); !errors.As(err, &de) || !errors.Is(err, syscall.ECONNREFUSED) || !de.Until.Equal(now.Add(time.Minute)) {
			t.Fatalf("dial within the backoff: %v", err)
		}
	}
	if dials != 1 {
		t.Errorf("%d dials within the backoff, want 1", dials)
	}
	// Another destination is not affected.
	if _, err := c.DialContext(ctx, "tcp", "192.0.2.2:25"); errors.As(err, new(*DestUnreachableError)) {
		t.Errorf("another destination refused: %v", err)
	}

	// Backoff passed: a second failure doubles it.
	now = now.Add(time.Minute)
	if err := dial(); !errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, new(*DestUnreachableError)) {
		t.Fatalf("dial after the backoff: %v", err)
	}
	var de *DestUnreachableError
	if err := dial(); !errors.As(err, &de) || !de.Until.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("second backoff: %v", err)
	}

	// After it, one probe at a time: the others fail at once meanwhile.
	now = now.Add(2 * time.Minute)
	mu.Lock()
	refuse, block = false, true
	mu.Unlock()
	probe := make(chan error)
	go func() { probe <- dial() }()
	for {
		mu.Lock()
		d := dials
		mu.Unlock()
		if d == 4 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := dial(); !errors.As(err, new(*DestUnreachableError)) {
		t.Errorf("dial while another probes: %v", err)
	}
	close(release)
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	mu.Lock()
	block = false
	mu.Unlock()
	if err := dial(); err != nil {
		t.Errorf("dial after a success: %v", err)
	}

	// A dial cut short by our own context says nothing of the destination.
	mu.Lock()
	refuse = true
	mu.Unlock()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	c.DialContext(cctx, "tcp", "192.0.2.3:25")
	if _, err := c.DialContext(ctx, "tcp", "192.0.2.3:25"); errors.As(err, new(*DestUnreachableError)) {
		t.Errorf("a cancelled dial marked the destination: %v", err)
	}
}

// TestAttackDeadDestinationsBounded: a login sends to address literals of
// ever new addresses (user@[127.0.x.y]: port 25 of a loopback address
// refuses at once), and each refused destination stayed in the
// dead-destination memory for good, so that a valid login could grow the
// relay's memory without end. The memory keeps at most MaxDeadDests
// destinations (forgetting one costs a connection attempt, nothing else).
// Real connection attempts, refused by the kernel.
func TestAttackDeadDestinationsBounded(t *testing.T) {
	c := newDestCache(func(int) time.Duration { return time.Minute })
	ctx := context.Background()
	for i := range MaxDeadDests + 100 {
		addr := net.JoinHostPort(net.IPv4(127, 1+byte(i>>16), byte(i>>8), byte(i)).String(), "1")
		if conn, err := c.DialContext(ctx, "tcp", addr); err == nil {
			conn.Close()
			t.Fatalf("%s took the connection", addr)
		}
	}
	c.mu.Lock()
	n := len(c.dead)
	c.mu.Unlock()
	if n > MaxDeadDests {
		t.Errorf("%d destinations remembered, want at most %d", n, MaxDeadDests)
	}
}
