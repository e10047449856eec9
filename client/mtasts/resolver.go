package mtasts

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultRefreshAfter is the age after which a cached policy is fetched
// again even though the TXT id did not change (or earlier, at half its
// max_age). RFC 8461 3.3 and 10.2 let senders refresh whenever they like;
// refreshing before expiry keeps a policy in force while its TXT record is
// blocked, and picks up a new max_age.
const DefaultRefreshAfter = 24 * time.Hour

// TXTResolver looks up TXT records. *net.Resolver and *dane.Resolver
// implement it; a "not found" answer must be a *net.DNSError with
// IsNotFound.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Entry is a cached policy.
type Entry struct {
	Domain string
	// ID is the TXT record's id the policy was fetched under.
	ID      string
	Policy  *Policy
	Fetched time.Time
}

// Expires returns when the entry stops being usable (Fetched + max_age).
func (e *Entry) Expires() time.Time { return e.Fetched.Add(e.Policy.MaxAge) }

// Store keeps policies across restarts, so that an attacker who blocks
// the TXT lookup or the fetch at startup cannot remove a policy (RFC 8461
// 10.2). Methods may be called concurrently.
type Store interface {
	// Load returns domain's entry, or nil and no error when there is none.
	Load(ctx context.Context, domain string) (*Entry, error)
	// Save records e, replacing domain's previous entry.
	Save(ctx context.Context, e *Entry) error
}

// LookupError is a failed TXT lookup (not a missing record). Its result
// type is sts-policy-fetch-error (RFC 8460 4.3).
type LookupError struct {
	Domain string
	Err    error
}

func (e *LookupError) Error() string {
	return "mtasts: TXT lookup for _mta-sts." + e.Domain + " failed: " + e.Err.Error()
}

func (e *LookupError) Unwrap() error { return e.Err }

// ResultType returns the RFC 8460 4.3 result type.
func (e *LookupError) ResultType() string { return ResultFetchError }

// Result is the policy in force for a domain.
type Result struct {
	Domain string
	// Policy is nil when the domain has no policy in force. A policy of
	// mode None is returned as such (and asks for nothing).
	Policy *Policy
	// ID is the policy's id (RFC 8461 3.1), for reports.
	ID string
	// Cached reports a policy taken from the cache without a fetch.
	Cached bool
	// Err is a failure met on the way, to report (RFC 8460) even when a
	// cached policy was used: a *LookupError, *RecordError, *FetchError or
	// *PolicyError.
	Err error
}

// Enforce reports whether the policy requires matching MX hosts and
// verified TLS (mode enforce).
func (r *Result) Enforce() bool { return r.Policy != nil && r.Policy.Mode == Enforce }

// Testing reports a policy in mode testing: deliver as usual, report
// failures.
func (r *Result) Testing() bool { return r.Policy != nil && r.Policy.Mode == Testing }

// Resolver finds the MTA-STS policy of recipient domains and caches it.
// The zero value works: TXT lookups through net.DefaultResolver, policies
// fetched with the system's roots, a memory cache. Safe for concurrent
// use; fields must not change after the first Lookup.
type Resolver struct {
	// TXT looks up the _mta-sts records; nil means net.DefaultResolver.
	TXT TXTResolver
	// HTTPClient fetches policies; nil means a client with the system's
	// roots. Its CheckRedirect is replaced: redirects are refused.
	HTTPClient *http.Client
	// Store persists policies; nil keeps them in memory only.
	Store Store
	// MaxPolicySize bounds a policy body; zero means DefaultMaxPolicySize.
	MaxPolicySize int64
	// FetchTimeout bounds a fetch; zero means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// RefreshAfter: see DefaultRefreshAfter; zero means it.
	RefreshAfter time.Duration
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// Logger receives store failures; nil means none.
	Logger *slog.Logger

	mu    sync.Mutex
	cache map[string]*Entry
	locks map[string]*domainLock
}

// domainLock serialises the lookups of one domain, so that concurrent
// deliveries fetch a policy once. It is a channel, so that a caller whose
// context ends stops waiting, and it leaves Resolver.locks with its last
// user (refs counts those holding it or waiting for it), so that the map
// holds only the domains being looked up.
type domainLock struct {
	held chan struct{} // holds a token while the lock is taken
	refs int
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// lock takes domain's lock and returns its unlock, or ctx's error when
// ctx ends first.
func (r *Resolver) lock(ctx context.Context, domain string) (unlock func(), err error) {
	r.mu.Lock()
	if r.locks == nil {
		r.locks = map[string]*domainLock{}
	}
	l := r.locks[domain]
	if l == nil {
		l = &domainLock{held: make(chan struct{}, 1)}
		r.locks[domain] = l
	}
	l.refs++
	r.mu.Unlock()
	release := func() {
		r.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(r.locks, domain)
		}
		r.mu.Unlock()
	}
	select {
	case l.held <- struct{}{}:
		return func() { <-l.held; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// cached returns domain's unexpired entry from memory or the Store.
func (r *Resolver) cached(ctx context.Context, domain string, now time.Time) *Entry {
	r.mu.Lock()
	e := r.cache[domain]
	r.mu.Unlock()
	if e == nil && r.Store != nil {
		var err error
		e, err = r.Store.Load(ctx, domain)
		if err != nil {
			r.log("loading cached MTA-STS policy", domain, err)
			e = nil
		}
		if e != nil {
			r.remember(e)
		}
	}
	if e == nil || e.Policy == nil || !now.Before(e.Expires()) {
		return nil // RFC 8461 5.1: an expired policy is not used
	}
	return e
}

func (r *Resolver) remember(e *Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cache == nil {
		r.cache = map[string]*Entry{}
	}
	r.cache[e.Domain] = e
}

func (r *Resolver) log(msg, domain string, err error) {
	if r.Logger != nil {
		r.Logger.Warn(msg, slog.String("domain", domain), slog.Any("err", err))
	}
}

// dueForRefresh: the entry is older than RefreshAfter or half its max_age.
func (r *Resolver) dueForRefresh(e *Entry, now time.Time) bool {
	after := r.RefreshAfter
	if after <= 0 {
		after = DefaultRefreshAfter
	}
	return !now.Before(e.Fetched.Add(min(after, e.Policy.MaxAge/2)))
}

// Lookup returns the policy in force for domain (RFC 8461 3.3, 5.1):
//
//   - the TXT record is looked up; a failed lookup, or no valid record,
//     leaves the cached policy in force until it expires, and no policy
//     when none is cached;
//   - a cached policy with the record's id is used as it is, unless it is
//     due for refresh;
//   - otherwise the policy is fetched; a failed fetch or an invalid policy
//     leaves the cached policy in force, and no policy when none is
//     cached; a good one replaces the cache.
//
// Result.Err tells the failures met, for reports. A Lookup that waits for
// another one of the same domain gives up when ctx ends (a *LookupError),
// with the cached policy in force.
func (r *Resolver) Lookup(ctx context.Context, domain string) *Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	res := &Result{Domain: domain}
	var e *Entry
	useCache := func() *Result {
		if e != nil {
			res.Policy, res.ID, res.Cached = e.Policy, e.ID, true
		}
		return res
	}
	unlock, err := r.lock(ctx, domain)
	if err != nil {
		res.Err = &LookupError{Domain: domain, Err: err}
		e = r.cached(ctx, domain, r.now())
		return useCache()
	}
	defer unlock()

	now := r.now()
	e = r.cached(ctx, domain, now)
	var txt TXTResolver = net.DefaultResolver
	if r.TXT != nil {
		txt = r.TXT
	}
	txts, err := txt.LookupTXT(ctx, "_mta-sts."+domain)
	var dnsErr *net.DNSError
	if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
		res.Err = &LookupError{Domain: domain, Err: err}
		return useCache()
	}
	rec, err := SelectRecord(txts)
	if err != nil {
		if !errors.Is(err, errNoRecord) {
			res.Err = err
		}
		return useCache()
	}
	if e != nil && e.ID == rec.ID && !r.dueForRefresh(e, now) {
		return useCache()
	}
	maxSize := r.MaxPolicySize
	if maxSize <= 0 {
		maxSize = DefaultMaxPolicySize
	}
	timeout := r.FetchTimeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	p, err := fetch(ctx, r.HTTPClient, domain, maxSize, timeout)
	if err != nil {
		res.Err = err
		return useCache() // RFC 8461 5.1: keep using the cached policy
	}
	e = &Entry{Domain: domain, ID: rec.ID, Policy: p, Fetched: now}
	r.remember(e)
	if r.Store != nil {
		if err := r.Store.Save(ctx, e); err != nil {
			r.log("saving MTA-STS policy", domain, err)
		}
	}
	res.Policy, res.ID = p, rec.ID
	return res
}
