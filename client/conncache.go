package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"sync"
	"time"
)

// Defaults of a ConnCache, those of Postfix's SMTP client connection cache.
const (
	// DefaultCacheIdleTimeout is how long a connection waits unused in
	// the cache before it is closed with QUIT (Postfix's
	// smtp_connection_cache_time_limit).
	DefaultCacheIdleTimeout = 2 * time.Second
	// DefaultCacheMaxLifetime is how long after it was opened a
	// connection may still start a transaction (Postfix's
	// smtp_connection_reuse_time_limit).
	DefaultCacheMaxLifetime = 300 * time.Second
	// DefaultCacheMaxIdle bounds the connections the cache holds at once.
	DefaultCacheMaxIdle = 100
	// DefaultCacheProbeTimeout bounds the RSET that checks a cached
	// connection before it is used again (Postfix's smtp_rset_timeout).
	DefaultCacheProbeTimeout = 20 * time.Second
)

// ConnCache keeps the connections of a Deliverer open after a transaction,
// so that the next message to the same exchanger reuses the session
// instead of connecting, greeting and negotiating TLS again (as Postfix's
// scache(8) does). A cached connection is checked with RSET (RFC 5321
// 4.1.1.5) before it is used; one that fails the check is closed and a new
// one is opened, so a cache never turns a deliverable message into a
// failure.
//
// A ConnCache is safe for concurrent use; a connection is used by one
// transaction at a time. It serves one Deliverer configuration: the key of
// a connection is the address, the exchanger's name and the TLS policy,
// not the Options. Close it to QUIT what it holds.
type ConnCache struct {
	// IdleTimeout is how long an unused connection is kept; zero means
	// DefaultCacheIdleTimeout.
	IdleTimeout time.Duration
	// MaxLifetime is how long after it was opened a connection is
	// reused; zero means DefaultCacheMaxLifetime.
	MaxLifetime time.Duration
	// MaxIdle bounds the idle connections held; zero means
	// DefaultCacheMaxIdle. A connection that does not fit is closed.
	MaxIdle int
	// ProbeTimeout bounds the RSET that checks a cached connection
	// before it is used again; a connection that fails it is closed and
	// a new one opened. Zero means DefaultCacheProbeTimeout.
	ProbeTimeout time.Duration

	mu     sync.Mutex
	idle   map[string][]*liveConn
	n      int
	closed bool
	// reused counts the transactions made on a cached connection, for
	// tests and statistics.
	reused int
}

// liveConn is an open, greeted connection and what delivery reports of it.
type liveConn struct {
	c        *Client
	key      string
	opened   time.Time
	verified bool        // the TLS certificate was verified for the exchanger
	timer    *time.Timer // closes the connection when it stays idle
}

// tlsInfo describes the connection's TLS for an outcome.
func (l *liveConn) tlsInfo() TLSInfo {
	cs, ok := l.c.TLSConnectionState()
	if !ok {
		return TLSInfo{}
	}
	return TLSInfo{Version: cs.Version, CipherSuite: cs.CipherSuite, Verified: l.verified, Policy: l.c.tlsPolicy}
}

// TLSInfo describes the TLS of the connection a delivery outcome came
// from.
type TLSInfo struct {
	// Version is tls.VersionTLS12 and so on; 0 when the connection was in
	// clear.
	Version uint16
	// CipherSuite is the negotiated cipher suite.
	CipherSuite uint16
	// Verified reports that the server's certificate chains to a trusted
	// root (Options.TLSConfig.RootCAs, or the system's) and is valid for
	// the exchanger's name. It is checked and reported even where the
	// TLS policy does not require it (RFC 7435 opportunistic TLS).
	Verified bool
	// Policy is the security policy whose check the connection passed:
	// PolicyDANE (the certificate matched usable TLSA records) or
	// PolicyMTASTS (an exchanger the domain's MTA-STS policy lists, with
	// a certificate valid for its name under the Web PKI); "" when no
	// policy checked it (opportunistic TLS, TLSRequired, DANE with only
	// unusable records, an MTA-STS check in mode testing that failed).
	Policy string
}

// String returns "TLSv1.3/dane", "TLSv1.3/mta-sts" (Policy),
// "TLSv1.3/verified", "TLSv1.2/unverified", or "none".
func (t TLSInfo) String() string {
	if t.Version == 0 {
		return "none"
	}
	v := tls.VersionName(t.Version)
	if len(v) > 4 && v[:4] == "TLS " {
		v = "TLSv" + v[4:]
	}
	if t.Policy != "" {
		return v + "/" + t.Policy
	}
	if t.Verified {
		return v + "/verified"
	}
	return v + "/unverified"
}

// Reused returns the number of transactions made on a cached connection
// so far.
func (cc *ConnCache) Reused() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.reused
}

// Close closes every idle connection with QUIT; connections in use are
// closed when their transaction ends. The cache keeps nothing afterwards.
func (cc *ConnCache) Close() error {
	cc.mu.Lock()
	cc.closed = true
	var all []*liveConn
	for _, ls := range cc.idle {
		all = append(all, ls...)
	}
	cc.idle = nil
	cc.n = 0
	cc.mu.Unlock()
	for _, l := range all {
		l.timer.Stop()
		l.quit()
	}
	return nil
}

// quitTimeout bounds the QUIT of a connection leaving the cache.
const quitTimeout = 5 * time.Second

func (l *liveConn) quit() {
	ctx, cancel := context.WithTimeout(context.Background(), quitTimeout)
	defer cancel()
	l.c.Quit(ctx)
}

// take returns an idle connection for key that passes the RSET check, or
// nil.
func (cc *ConnCache) take(ctx context.Context, key string) *liveConn {
	maxLife := cc.MaxLifetime
	if maxLife <= 0 {
		maxLife = DefaultCacheMaxLifetime
	}
	probe := cc.ProbeTimeout
	if probe <= 0 {
		probe = DefaultCacheProbeTimeout
	}
	for {
		cc.mu.Lock()
		ls := cc.idle[key]
		if len(ls) == 0 {
			cc.mu.Unlock()
			return nil
		}
		l := ls[len(ls)-1]
		cc.idle[key] = ls[:len(ls)-1]
		cc.n--
		cc.mu.Unlock()
		if !l.timer.Stop() || time.Since(l.opened) > maxLife {
			// Idle too long (its timer fired, and expire will not find
			// it), or too old: ours to close.
			l.quit()
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, probe)
		err := l.c.Reset(pctx)
		cancel()
		if err != nil {
			l.c.Close()
			continue
		}
		cc.mu.Lock()
		cc.reused++
		cc.mu.Unlock()
		return l
	}
}

// put keeps l for the next transaction to its key, or closes it when the
// cache is full, closed, or l too old.
func (cc *ConnCache) put(l *liveConn) {
	idleFor := cc.IdleTimeout
	if idleFor <= 0 {
		idleFor = DefaultCacheIdleTimeout
	}
	maxIdle := cc.MaxIdle
	if maxIdle <= 0 {
		maxIdle = DefaultCacheMaxIdle
	}
	maxLife := cc.MaxLifetime
	if maxLife <= 0 {
		maxLife = DefaultCacheMaxLifetime
	}
	cc.mu.Lock()
	if cc.closed || cc.n >= maxIdle || time.Since(l.opened) > maxLife {
		cc.mu.Unlock()
		l.quit()
		return
	}
	if cc.idle == nil {
		cc.idle = map[string][]*liveConn{}
	}
	cc.idle[l.key] = append(cc.idle[l.key], l)
	cc.n++
	l.timer = time.AfterFunc(idleFor, func() { cc.expire(l) })
	cc.mu.Unlock()
}

// expire closes l if it is still idle.
func (cc *ConnCache) expire(l *liveConn) {
	cc.mu.Lock()
	ls := cc.idle[l.key]
	found := false
	for i, x := range ls {
		if x == l {
			cc.idle[l.key] = append(ls[:i:i], ls[i+1:]...)
			cc.n--
			found = true
			break
		}
	}
	if len(cc.idle[l.key]) == 0 {
		delete(cc.idle, l.key)
	}
	cc.mu.Unlock()
	if found {
		l.quit()
	}
}

// verifiedFor reports whether the peer's certificate of cs chains to roots
// (nil: the system's) and is valid for name, whether or not the handshake
// verified it.
func verifiedFor(cs tls.ConnectionState, name string, roots *x509.CertPool) bool {
	if len(cs.VerifiedChains) > 0 {
		return true
	}
	if len(cs.PeerCertificates) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter})
	return err == nil
}
