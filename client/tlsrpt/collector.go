package tlsrpt

import (
	"cmp"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Policy identifies the policy a session was made under.
type Policy struct {
	// Type is PolicySTS, PolicyTLSA or PolicyNoFound.
	Type string
	// Domain is the policy domain (RFC 8460 3): the recipient domain for
	// MTA-STS and no-policy-found, the TLSA base domain of the MX host
	// for DANE.
	Domain string
	// String is the policy text, one line or record per element.
	String []string
	// MXHost are the MX patterns of an MTA-STS policy.
	MXHost []string
}

func (p Policy) key() string {
	return p.Type + "\x00" + strings.ToLower(p.Domain) + "\x00" + strings.Join(p.String, "\n") + "\x00" + strings.Join(p.MXHost, "\n")
}

// Failure describes one failed session (RFC 8460 4.3 failure details;
// FailedSessionCount is counted by the Collector).
type Failure = FailureDetail

// ResultType returns the RFC 8460 result type an error carries: the
// errors of packages mtasts and dane (and others) have a ResultType
// method; a failed Web PKI check of a TLS handshake (crypto/x509's errors,
// wrapped by crypto/tls) is certificate-host-mismatch, certificate-expired
// or certificate-not-trusted (RFC 8460 4.3.1); any other error is
// validation-failure.
func ResultType(err error) string {
	var rt interface{ ResultType() string }
	if errors.As(err, &rt) {
		return rt.ResultType()
	}
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &host):
		return ResultHostMismatch
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return ResultExpired
	case errors.As(err, &unknown):
		return ResultNotTrusted
	}
	return ResultValidationFailure
}

// Collector counts sessions per UTC day, policy domain and policy. Safe
// for concurrent use; the zero value is ready.
type Collector struct {
	// Now returns the time of a session; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	days map[string]map[string]*entry // day (2006-01-02) -> policy key -> counts
}

type entry struct {
	policy   Policy
	success  int64
	failures map[FailureDetail]int64 // FailedSessionCount zero in the key
}

func (c *Collector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Collector) entry(p Policy) *entry {
	return c.entryOn(c.now().UTC().Format(time.DateOnly), p)
}

// entryOn returns p's counts on day (2006-01-02), made when missing.
func (c *Collector) entryOn(day string, p Policy) *entry {
	if c.days == nil {
		c.days = map[string]map[string]*entry{}
	}
	d := c.days[day]
	if d == nil {
		d = map[string]*entry{}
		c.days[day] = d
	}
	k := p.key()
	e := d[k]
	if e == nil {
		p.Domain = strings.ToLower(p.Domain)
		e = &entry{policy: p, failures: map[FailureDetail]int64{}}
		d[k] = e
	}
	return e
}

// Success counts a session that met the policy.
func (c *Collector) Success(p Policy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entry(p).success++
}

// Failure counts a session (or a policy lookup) that failed, with its
// details; f.FailedSessionCount is ignored.
func (c *Collector) Failure(p Policy, f FailureDetail) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.FailedSessionCount = 0
	c.entry(p).failures[f]++
}

// Add adds the counts of a report (one that Report made, read back from
// its JSON) to the day its date range starts in, so that counts saved
// when a program stops survive its restart. A nil or empty report adds
// nothing.
func (c *Collector) Add(r *Report) {
	if r == nil || len(r.Policies) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	day := r.DateRange.Start.UTC().Format(time.DateOnly)
	for _, pr := range r.Policies {
		d := pr.Policy
		e := c.entryOn(day, Policy{Type: d.Type, Domain: d.Domain, String: d.String, MXHost: d.MXHost})
		e.success += max(pr.Summary.Successful, 0)
		for _, f := range pr.FailureDetails {
			n := f.FailedSessionCount
			f.FailedSessionCount = 0
			if n > 0 {
				e.failures[f] += n
			}
		}
	}
}

// Days returns the UTC days with counts (their midnight), oldest first.
func (c *Collector) Days() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Time
	for d := range c.days {
		if t, err := time.Parse(time.DateOnly, d); err == nil {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// Domains returns the policy domains with counts on day (UTC), sorted.
func (c *Collector) Domains(day time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, e := range c.days[day.UTC().Format(time.DateOnly)] {
		if !seen[e.policy.Domain] {
			seen[e.policy.Domain] = true
			out = append(out, e.policy.Domain)
		}
	}
	slices.Sort(out)
	return out
}

// Organization says who sends the reports.
type Organization struct {
	Name        string // organization-name
	ContactInfo string // contact-info, e.g. "mailto:tlsrpt@example.org"
	// ReportID makes the report-id; nil means "<day>_<domain>@<Name>".
	ReportID func(day time.Time, domain string) string
}

// Report returns the report for one policy domain and the UTC day that
// contains day, or nil when nothing was counted. Policies are sorted by
// type and policy text, failure details by their fields.
func (c *Collector) Report(day time.Time, domain string, org Organization) *Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Date(day.UTC().Year(), day.UTC().Month(), day.UTC().Day(), 0, 0, 0, 0, time.UTC)
	domain = strings.ToLower(domain)
	var pols []PolicyResults
	for _, e := range c.days[start.Format(time.DateOnly)] {
		if e.policy.Domain != domain {
			continue
		}
		pr := PolicyResults{
			Policy: PolicyDesc{Type: e.policy.Type, String: e.policy.String, Domain: e.policy.Domain, MXHost: e.policy.MXHost},
		}
		pr.Summary.Successful = e.success
		for f, n := range e.failures {
			f.FailedSessionCount = n
			pr.Summary.Failed += n
			pr.FailureDetails = append(pr.FailureDetails, f)
		}
		slices.SortFunc(pr.FailureDetails, compareFailures)
		pols = append(pols, pr)
	}
	if len(pols) == 0 {
		return nil
	}
	slices.SortFunc(pols, func(a, b PolicyResults) int {
		return cmp.Or(
			cmp.Compare(a.Policy.Type, b.Policy.Type),
			slices.Compare(a.Policy.String, b.Policy.String),
			slices.Compare(a.Policy.MXHost, b.Policy.MXHost))
	})
	id := start.Format(time.DateOnly) + "_" + domain + "@" + org.Name
	if org.ReportID != nil {
		id = org.ReportID(start, domain)
	}
	return &Report{
		OrganizationName: org.Name,
		// RFC 8460 4.4's example: a day from 00:00:00Z to 23:59:59Z.
		DateRange:   DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
		ContactInfo: org.ContactInfo,
		ReportID:    id,
		Policies:    pols,
	}
}

func compareFailures(a, b FailureDetail) int {
	return cmp.Or(
		cmp.Compare(a.ResultType, b.ResultType),
		cmp.Compare(a.ReceivingMXHostname, b.ReceivingMXHostname),
		cmp.Compare(a.ReceivingIP, b.ReceivingIP),
		cmp.Compare(a.SendingMTAIP, b.SendingMTAIP),
		cmp.Compare(a.ReceivingMXHelo, b.ReceivingMXHelo),
		cmp.Compare(a.FailureReasonCode, b.FailureReasonCode),
		cmp.Compare(a.AdditionalInformation, b.AdditionalInformation))
}

// Forget drops the counts of the UTC day that contains day, once its
// reports are sent.
func (c *Collector) Forget(day time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.days, day.UTC().Format(time.DateOnly))
}
