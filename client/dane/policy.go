package dane

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"time"
)

// Mode is what DANE asks of the connection to one MX host.
type Mode int

const (
	// NotApplicable: no secure TLSA records (or insecure MX or address
	// records): DANE says nothing; MTA-STS or the default TLS policy
	// decide.
	NotApplicable Mode = iota
	// Encrypt: a secure TLSA RRset with no usable record. TLS is
	// required but cannot be authenticated by DANE (RFC 7672 2.2 and
	// 3.1.3; Postfix's "encrypt" level in that case).
	Encrypt
	// Authenticate: usable TLSA records. TLS is required and the server
	// must match them (RFC 7672 2.2); otherwise the mail waits.
	Authenticate
)

func (m Mode) String() string {
	switch m {
	case Encrypt:
		return "encrypt"
	case Authenticate:
		return "authenticate"
	}
	return "not-applicable"
}

// LookupError is a DNS failure that, by RFC 7672 2.2.1, stops delivery to
// the host for now: a failed TLSA lookup for a host whose addresses are
// secure (the records may exist; an attacker may be hiding them).
type LookupError struct {
	Host string
	Err  error
}

func (e *LookupError) Error() string {
	return "dane: TLSA lookup for " + e.Host + " failed: " + e.Err.Error()
}

func (e *LookupError) Unwrap() error { return e.Err }

// ResultType returns the RFC 8460 4.3 result type: dnssec-invalid.
func (e *LookupError) ResultType() string { return ResultDNSSECInvalid }

// HostPolicy is DANE's verdict for one MX host.
type HostPolicy struct {
	Mode Mode
	// Host is the MX host name, lower case, without the final dot.
	Host string
	// BaseDomain is the TLSA base domain (RFC 7672 2.2.2): the name
	// whose TLSA records apply, Host or the end of its CNAME chain. It
	// is also the name to send in SNI (RFC 7672 8.1).
	BaseDomain string
	// Records are the usable TLSA records (Mode Authenticate).
	Records []TLSA
	// TLSA is the lookup that decided, for reports.
	TLSA TLSAResult
	// Addrs are the host's addresses, looked up on the way.
	Addrs []net.IPAddr
	// Now gives the time for DANE-TA chain validation; nil means time.Now.
	Now func() time.Time
}

// RequireTLS reports whether the connection must use TLS: without it (no
// STARTTLS, or a failed handshake) the mail must wait (RFC 7672 2.2).
func (p *HostPolicy) RequireTLS() bool { return p.Mode != NotApplicable }

// Names returns the reference identifiers of RFC 7672 3.2.2: the TLSA base
// domain and the MX host name.
func (p *HostPolicy) Names() []string {
	if p.BaseDomain == "" || p.BaseDomain == p.Host {
		return []string{p.Host}
	}
	return []string{p.BaseDomain, p.Host}
}

// VerifyConnection checks a finished handshake against the records; it
// fits tls.Config.VerifyConnection.
func (p *HostPolicy) VerifyConnection(cs tls.ConnectionState) error {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return Verify(p.Records, cs.PeerCertificates, p.Names(), now())
}

// TLSConfig returns a copy of base (nil: a default configuration) for the
// connection to the host: SNI with the TLSA base domain, and for
// Authenticate the certificate checked against the TLSA records instead
// of the Web PKI (which DANE-EE and DANE-TA replace). For Encrypt the
// certificate is not checked; for NotApplicable it returns base's copy
// unchanged.
func (p *HostPolicy) TLSConfig(base *tls.Config) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	switch p.Mode {
	case Encrypt:
		cfg.ServerName = p.BaseDomain
		cfg.InsecureSkipVerify = true
	case Authenticate:
		cfg.ServerName = p.BaseDomain
		// The Web PKI check is replaced, not skipped: VerifyConnection
		// runs whatever InsecureSkipVerify says.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = p.VerifyConnection
	}
	return cfg
}

// Host decides DANE for one MX host reached on port (RFC 7672 2.2).
// mxSecure says whether the MX lookup that named the host was secure (for
// a domain without MX records, the secure denial that makes it its own
// host). The host's addresses are looked up, and its TLSA records only
// when those are secure (RFC 7672 2.2.2), first at the end of a CNAME
// chain, then at the host's own name.
//
// An error means the host cannot be used now: its addresses could not be
// found (a *net.DNSError), or its addresses are secure and the TLSA lookup
// failed (a *LookupError, RFC 7672 2.2.1).
func (r *Resolver) Host(ctx context.Context, host string, port int, mxSecure bool) (*HostPolicy, error) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	p := &HostPolicy{Host: host, BaseDomain: host}
	addrs, err := r.LookupIPSecure(ctx, host)
	if err != nil {
		return p, err
	}
	p.Addrs = addrs.Addrs
	if !mxSecure || !addrs.Secure {
		// RFC 7672 2.2: insecure MX or address records, no DANE.
		return p, nil
	}
	bases := []string{host}
	if addrs.Canonical != host {
		// RFC 7672 2.2.2: a secure CNAME chain; its end first.
		bases = []string{addrs.Canonical, host}
	}
	for _, base := range bases {
		res, err := r.LookupTLSA(ctx, base, port)
		if err != nil {
			return p, &LookupError{Host: host, Err: err}
		}
		if !res.Secure {
			p.TLSA = res
			return p, nil // RFC 7672 2.2: insecure TLSA, no DANE
		}
		if len(res.Records) == 0 && res.Malformed == 0 {
			p.TLSA = res
			continue // securely none here
		}
		p.TLSA, p.BaseDomain = res, base
		for _, t := range res.Records {
			if t.Usable() {
				p.Records = append(p.Records, t)
			}
		}
		p.Mode = Encrypt
		if len(p.Records) > 0 {
			p.Mode = Authenticate
		}
		return p, nil
	}
	return p, nil
}

// Err returns the error to report when a connection under this policy
// could not be made secure: STARTTLS not offered, or the handshake or
// verification failed (err). It is nil for NotApplicable.
func (p *HostPolicy) Err(err error) error {
	if p.Mode == NotApplicable {
		return nil
	}
	if err == nil {
		return &VerifyError{Result: ResultStartTLSMissing, Reason: p.Host + " does not offer STARTTLS, which its TLSA records require"}
	}
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve
	}
	return &VerifyError{Result: ResultValidationFailure, Reason: "TLS with " + p.Host + " failed", Err: err}
}
