package mtasts_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/mtasts"
	"github.com/smtpkit/smtp/internal/smtptest"
)

const policyText = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmx: *.mx.example.net\r\nmax_age: 86400\r\n"

// fakeTXT is an injectable TXT lookup.
type fakeTXT struct {
	mu      sync.Mutex
	records map[string][]string
	fail    bool
}

func (f *fakeTXT) set(name string, txt ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.records == nil {
		f.records = map[string][]string{}
	}
	f.records[name] = txt
	if txt == nil {
		delete(f.records, name)
	}
}

func (f *fakeTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	if r, ok := f.records[name]; ok {
		return r, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// policyServer is the HTTPS server of every mta-sts.<domain> host, with a
// certificate from a test CA; handlers are set per host.
type policyServer struct {
	srv  *httptest.Server
	ca   *smtptest.CA
	mu   sync.Mutex
	h    map[string]http.HandlerFunc
	hits map[string]int
}

func newPolicyServer(t *testing.T, cert func(ca *smtptest.CA) tls.Certificate) *policyServer {
	ps := &policyServer{ca: smtptest.NewCA(t, "Test Root"), h: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	ps.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		if host == "" {
			host = r.Host
		}
		ps.mu.Lock()
		ps.hits[host]++
		h := ps.h[host]
		ps.mu.Unlock()
		if h == nil || r.URL.Path != mtasts.WellKnownPath {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	c := cert(ps.ca)
	ps.srv.TLS = &tls.Config{Certificates: []tls.Certificate{c}}
	ps.srv.StartTLS()
	t.Cleanup(ps.srv.Close)
	return ps
}

// wildcardCert is a certificate for every mta-sts host of the tests.
func wildcardCert(t *testing.T) func(*smtptest.CA) tls.Certificate {
	return func(ca *smtptest.CA) tls.Certificate {
		return ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"mta-sts.example.com", "mta-sts.example.net", "mta-sts.example.org"}}).TLS
	}
}

func (ps *policyServer) serve(host string, h http.HandlerFunc) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.h[host] = h
}

func (ps *policyServer) count(host string) int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.hits[host]
}

func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, body)
	}
}

// client reaches the policy server whatever host it asks for, and trusts
// the test CA only.
func (ps *policyServer) client() *http.Client {
	addr := ps.srv.Listener.Addr().String()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: ps.ca.Pool},
	}}
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func resultType(err error) string {
	var rt interface{ ResultType() string }
	if errors.As(err, &rt) {
		return rt.ResultType()
	}
	return ""
}

// TestFetchRFC8461 is the fetch of RFC 8461 3.3 as a table: what makes a
// policy available and what makes it "no policy", with the RFC 8460
// result type of each failure.
func TestFetchRFC8461(t *testing.T) {
	ps := newPolicyServer(t, wildcardCert(t))
	cases := []struct {
		name    string
		handler http.HandlerFunc
		mode    mtasts.Mode // "" for no policy
		result  string
	}{
		{"Enforce", text(policyText), mtasts.Enforce, ""},
		{"Testing", text(strings.Replace(policyText, "enforce", "testing", 1)), mtasts.Testing, ""},
		{"None", text("version: STSv1\nmode: none\nmax_age: 86400\n"), mtasts.None, ""},
		{"NotFound", http.NotFound, "", mtasts.ResultFetchError},
		{"ServerError", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }, "", mtasts.ResultFetchError},
		{"Redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://mta-sts.example.org"+mtasts.WellKnownPath, http.StatusMovedPermanently)
		}, "", mtasts.ResultFetchError},
		{"HTMLMediaType", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, policyText)
		}, "", mtasts.ResultFetchError},
		{"TooLarge", text(policyText + strings.Repeat("x-pad: "+strings.Repeat("a", 1000)+"\n", 70)), "", mtasts.ResultFetchError},
		{"JustUnderTheLimit", text(policyText + strings.Repeat("x-pad: "+strings.Repeat("a", 1000)+"\n", 60)), mtasts.Enforce, ""},
		{"InvalidPolicy", text("version: STSv1\nmode: enforce\nmax_age: 86400\n"), "", mtasts.ResultPolicyInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps.serve("mta-sts.example.com", tc.handler)
			ps.serve("mta-sts.example.org", text(policyText)) // the redirect target
			txt := &fakeTXT{}
			txt.set("_mta-sts.example.com", "v=STSv1; id=1")
			r := &mtasts.Resolver{TXT: txt, HTTPClient: ps.client()}
			res := r.Lookup(context.Background(), "example.com")
			got := mtasts.Mode("")
			if res.Policy != nil {
				got = res.Policy.Mode
			}
			if got != tc.mode || resultType(res.Err) != tc.result {
				t.Fatalf("mode %q err %v (%s), want %q %s", got, res.Err, resultType(res.Err), tc.mode, tc.result)
			}
			if tc.name == "Redirect" && ps.count("mta-sts.example.org") != 0 {
				t.Error("the redirect was followed")
			}
		})
	}
}

// TestFetchCertificates: the policy host's certificate must verify under
// the Web PKI (RFC 8461 3.3); otherwise sts-webpki-invalid.
func TestFetchCertificates(t *testing.T) {
	cases := []struct {
		name string
		cert func(t *testing.T) func(*smtptest.CA) tls.Certificate
		ok   bool
	}{
		{"Valid", wildcardCert, true},
		{"WrongName", func(t *testing.T) func(*smtptest.CA) tls.Certificate {
			return func(ca *smtptest.CA) tls.Certificate {
				return ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"www.example.com"}}).TLS
			}
		}, false},
		{"Expired", func(t *testing.T) func(*smtptest.CA) tls.Certificate {
			return func(ca *smtptest.CA) tls.Certificate {
				return ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"mta-sts.example.com"},
					NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}).TLS
			}
		}, false},
		{"SelfSigned", func(t *testing.T) func(*smtptest.CA) tls.Certificate {
			return func(*smtptest.CA) tls.Certificate {
				return smtptest.SelfSigned(t, smtptest.CertOptions{DNSNames: []string{"mta-sts.example.com"}}).TLS
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := newPolicyServer(t, tc.cert(t))
			ps.serve("mta-sts.example.com", text(policyText))
			txt := &fakeTXT{}
			txt.set("_mta-sts.example.com", "v=STSv1; id=1")
			r := &mtasts.Resolver{TXT: txt, HTTPClient: ps.client()}
			res := r.Lookup(context.Background(), "example.com")
			if tc.ok {
				if res.Policy == nil || res.Err != nil {
					t.Fatalf("no policy: %v", res.Err)
				}
				return
			}
			if res.Policy != nil || resultType(res.Err) != mtasts.ResultWebPKIInvalid {
				t.Fatalf("policy %v err %v, want none and %s", res.Policy, res.Err, mtasts.ResultWebPKIInvalid)
			}
		})
	}
}

// TestCacheRFC8461 walks a domain through the cache cases of RFC 8461 3.3
// and 5.1, one step after the other: which policy is in force, and
// whether it was fetched.
func TestCacheRFC8461(t *testing.T) {
	ps := newPolicyServer(t, wildcardCert(t))
	host := "mta-sts.example.com"
	policy := policyText
	ps.serve(host, func(w http.ResponseWriter, r *http.Request) { text(policy)(w, r) })
	txt := &fakeTXT{}
	clk := &clock{t: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	r := &mtasts.Resolver{TXT: txt, HTTPClient: ps.client(), Now: clk.Now, RefreshAfter: 12 * time.Hour}

	steps := []struct {
		name    string
		setup   func()
		mode    mtasts.Mode // "" for no policy
		fetched bool
		cached  bool
		result  string
	}{
		{"NoRecordNoPolicy", func() {}, "", false, false, ""},
		{"FirstFetch", func() { txt.set("_mta-sts.example.com", "v=spf1 -all", "v=STSv1; id=1") }, mtasts.Enforce, true, false, ""},
		{"SameIDFromCache", func() { clk.add(time.Hour) }, mtasts.Enforce, false, true, ""},
		{"TXTLookupFailsCacheUsed", func() { txt.fail = true }, mtasts.Enforce, false, true, mtasts.ResultFetchError},
		{"TXTRecordGoneCacheUsed", func() { txt.fail = false; txt.set("_mta-sts.example.com") }, mtasts.Enforce, false, true, ""},
		{"TwoRecordsCacheUsed", func() { txt.set("_mta-sts.example.com", "v=STSv1; id=1", "v=STSv1; id=2") }, mtasts.Enforce, false, true, ""},
		{"IDChangedRefetch", func() {
			txt.set("_mta-sts.example.com", "v=STSv1; id=2")
			policy = strings.Replace(policyText, "enforce", "testing", 1)
		}, mtasts.Testing, true, false, ""},
		{"IDChangedFetchFailsCacheUsed", func() {
			txt.set("_mta-sts.example.com", "v=STSv1; id=3")
			ps.serve(host, http.NotFound)
		}, mtasts.Testing, true, true, mtasts.ResultFetchError},
		{"IDChangedInvalidPolicyCacheUsed", func() {
			ps.serve(host, text("version: STSv1\nmode: bogus\n"))
		}, mtasts.Testing, true, true, mtasts.ResultPolicyInvalid},
		{"RefreshBeforeExpirySameID", func() {
			ps.serve(host, func(w http.ResponseWriter, r *http.Request) { text(policy)(w, r) })
			txt.set("_mta-sts.example.com", "v=STSv1; id=2")
			clk.add(12 * time.Hour) // due for refresh, not expired (max_age 1 day)
		}, mtasts.Testing, true, false, ""},
		{"FreshAgainFromCache", func() { clk.add(time.Hour) }, mtasts.Testing, false, true, ""},
		{"ExpiredAndRecordGoneNoPolicy", func() {
			txt.set("_mta-sts.example.com")
			clk.add(25 * time.Hour)
		}, "", false, false, ""},
		{"ModeNoneWithdraws", func() {
			txt.set("_mta-sts.example.com", "v=STSv1; id=4")
			policy = "version: STSv1\nmode: none\nmax_age: 86400\n"
		}, mtasts.None, true, false, ""},
	}
	for _, st := range steps {
		before := ps.count(host)
		st.setup()
		res := r.Lookup(context.Background(), "Example.COM.")
		got := mtasts.Mode("")
		if res.Policy != nil {
			got = res.Policy.Mode
		}
		fetched := ps.count(host) > before
		if got != st.mode || fetched != st.fetched || res.Cached != st.cached || resultType(res.Err) != st.result {
			t.Fatalf("%s: mode %q fetched %v cached %v err %v; want %q %v %v %s",
				st.name, got, fetched, res.Cached, res.Err, st.mode, st.fetched, st.cached, st.result)
		}
	}
}

// TestFileStore: a policy fetched by one Resolver is in force for a new
// one on the same store (a restarted relay) while its TXT lookup fails,
// and stops being at its expiry.
func TestFileStore(t *testing.T) {
	ps := newPolicyServer(t, wildcardCert(t))
	ps.serve("mta-sts.example.net", text(policyText))
	dir := t.TempDir()
	txt := &fakeTXT{}
	txt.set("_mta-sts.example.net", "v=STSv1; id=7")
	clk := &clock{t: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	first := &mtasts.Resolver{TXT: txt, HTTPClient: ps.client(), Store: &mtasts.FileStore{Dir: dir}, Now: clk.Now}
	if res := first.Lookup(context.Background(), "example.net"); !res.Enforce() {
		t.Fatalf("first lookup: %+v", res)
	}
	txt.fail = true
	clk.add(time.Hour)
	second := &mtasts.Resolver{TXT: txt, HTTPClient: ps.client(), Store: &mtasts.FileStore{Dir: dir}, Now: clk.Now}
	res := second.Lookup(context.Background(), "example.net")
	if !res.Enforce() || !res.Cached || res.ID != "7" || !res.Policy.Match("a.mx.example.net") {
		t.Fatalf("after restart: %+v", res)
	}
	clk.add(24 * time.Hour)
	third := &mtasts.Resolver{TXT: txt, HTTPClient: ps.client(), Store: &mtasts.FileStore{Dir: dir}, Now: clk.Now}
	if res := third.Lookup(context.Background(), "example.net"); res.Policy != nil {
		t.Fatalf("expired policy still in force: %+v", res)
	}
	// A name that is not a domain never becomes a path.
	s := &mtasts.FileStore{Dir: dir}
	for _, bad := range []string{"../x", "a/b", "", ".hidden", "*.example"} {
		if _, err := s.Load(context.Background(), bad); err == nil {
			t.Errorf("Load(%q) accepted", bad)
		}
	}
}

// TestFetchTimeout: a policy server that never answers is a fetch error
// after FetchTimeout, not a hang.
func TestFetchTimeout(t *testing.T) {
	block := make(chan struct{})
	ps := newPolicyServer(t, wildcardCert(t))
	defer close(block)
	ps.serve("mta-sts.example.com", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	txt := &fakeTXT{}
	txt.set("_mta-sts.example.com", "v=STSv1; id=1")
	r := &mtasts.Resolver{TXT: txt, HTTPClient: ps.client(), FetchTimeout: 100 * time.Millisecond}
	res := r.Lookup(context.Background(), "example.com")
	if res.Policy != nil || !errors.Is(res.Err, context.DeadlineExceeded) || resultType(res.Err) != mtasts.ResultFetchError {
		t.Fatalf("%+v", res)
	}
}

// TestConcurrentLookupsFetchOnce: deliveries to one domain at once share
// a single fetch.
func TestConcurrentLookupsFetchOnce(t *testing.T) {
	ps := newPolicyServer(t, wildcardCert(t))
	ps.serve("mta-sts.example.com", text(policyText))
	txt := &fakeTXT{}
	txt.set("_mta-sts.example.com", "v=STSv1; id=1")
	r := &mtasts.Resolver{TXT: txt, HTTPClient: ps.client()}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := r.Lookup(context.Background(), "example.com"); !res.Enforce() {
				t.Errorf("%+v", res)
			}
		}()
	}
	wg.Wait()
	if n := ps.count("mta-sts.example.com"); n != 1 {
		t.Errorf("%d fetches", n)
	}
}

// TestLookupWaitHonoursContext: a Lookup waiting for another one's fetch
// of the same domain gives up when its context is done, instead of
// waiting for that fetch (up to FetchTimeout) whatever its caller asked.
func TestLookupWaitHonoursContext(t *testing.T) {
	started, block := make(chan struct{}), make(chan struct{})
	ps := newPolicyServer(t, wildcardCert(t))
	ps.serve("mta-sts.example.com", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	txt := &fakeTXT{}
	txt.set("_mta-sts.example.com", "v=STSv1; id=1")
	r := &mtasts.Resolver{TXT: txt, HTTPClient: ps.client()}
	first := make(chan *mtasts.Result, 1)
	go func() { first <- r.Lookup(context.Background(), "example.com") }()
	<-started // the first Lookup holds the domain and waits for the server

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	second := make(chan *mtasts.Result, 1)
	go func() { second <- r.Lookup(ctx, "example.com") }()
	defer func() { close(block); <-first }()
	select {
	case res := <-second:
		if res.Policy != nil || !errors.Is(res.Err, context.Canceled) || resultType(res.Err) != mtasts.ResultFetchError {
			t.Errorf("%+v", res)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a timing
		t.Error("Lookup waited for the other fetch although its context was done")
	}
}
