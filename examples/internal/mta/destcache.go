package mta

import (
	"context"
	"net"
	"sync"
	"time"
)

// MaxDestBackoff bounds how long a destination that refused connections is
// left alone (the -retry delays beyond it do not lengthen it).
const MaxDestBackoff = 5 * time.Minute

// MaxDeadDests bounds the destinations the dead-destination memory keeps:
// a login may name ever new destinations (address literals, domains of its
// own). When it is full, the destinations whose backoff has passed are
// forgotten; if none has, a new failure is not remembered (the next
// message dials that destination again: the memory saves connection
// attempts, it decides nothing).
const MaxDeadDests = 10000

// DefaultDialTimeout bounds a connection attempt to a destination.
const DefaultDialTimeout = 30 * time.Second

// destCache remembers destinations ("ip:port") that refused a connection
// or did not answer, so that the messages queued for them are deferred at
// once instead of each one waiting for its own failed connection, as
// Postfix's dead-host cache does. A destination is left alone for the
// backoff of its count of consecutive failures; the first connection that
// succeeds clears it. It is a client.ContextDialer, safe for concurrent use.
type destCache struct {
	// dial connects; a test seam.
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	backoff func(failures int) time.Duration
	now     func() time.Time

	mu   sync.Mutex
	dead map[string]*deadDest
}

type deadDest struct {
	failures int
	until    time.Time
	err      error
	// probing is set while one connection tries the destination after
	// its backoff: the others wait for its result, not dial too.
	probing bool
}

func newDestCache(backoff func(int) time.Duration) *destCache {
	nd := &net.Dialer{Timeout: DefaultDialTimeout}
	return &destCache{dial: nd.DialContext, backoff: backoff, now: time.Now, dead: map[string]*deadDest{}}
}

// reset forgets every destination's failures (an operator's flush).
func (c *destCache) reset() {
	c.mu.Lock()
	c.dead = map[string]*deadDest{}
	c.mu.Unlock()
}

// DestUnreachableError is returned instead of dialling a destination that
// is in its backoff.
type DestUnreachableError struct {
	Addr  string
	Until time.Time
	// Err is the failure that marked the destination.
	Err error
}

func (e *DestUnreachableError) Error() string {
	return "destination " + e.Addr + " not tried until " + e.Until.UTC().Format(time.RFC3339) +
		" (dead-destination backoff) after: " + e.Err.Error()
}

// Unwrap returns the failure that marked the destination.
func (e *DestUnreachableError) Unwrap() error { return e.Err }

// DialContext implements client.ContextDialer.
func (c *destCache) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	now := c.now()
	c.mu.Lock()
	if d, ok := c.dead[addr]; ok {
		if now.Before(d.until) || d.probing {
			err := &DestUnreachableError{Addr: addr, Until: d.until, Err: d.err}
			c.mu.Unlock()
			return nil, err
		}
		d.probing = true
	}
	c.mu.Unlock()
	conn, err := c.dial(ctx, network, addr)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.dead[addr]; ok {
		d.probing = false
	}
	if err != nil && ctx.Err() != nil {
		// Our own cancellation says nothing about the destination.
		return conn, err
	}
	if err == nil {
		delete(c.dead, addr)
		return conn, nil
	}
	d := c.dead[addr]
	if d == nil {
		if len(c.dead) >= MaxDeadDests {
			c.forgetPassed(now)
			if len(c.dead) >= MaxDeadDests {
				return nil, err
			}
		}
		d = &deadDest{}
		c.dead[addr] = d
	}
	d.failures++
	d.until = c.now().Add(c.backoff(d.failures))
	d.err = err
	return nil, err
}

// forgetPassed forgets the destinations whose backoff has passed and that
// no connection is probing; c.mu is held.
func (c *destCache) forgetPassed(now time.Time) {
	for addr, d := range c.dead {
		if !d.probing && !now.Before(d.until) {
			delete(c.dead, addr)
		}
	}
}
