package client

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/client/mtasts"
	"github.com/smtpkit/smtp/client/tlsrpt"
	"github.com/smtpkit/smtp/reply"
)

// The Deliverer's transport security: for each exchanger a tlsPlan, made
// from DANE, MTA-STS and TLSPolicy in that order (plan); a session opened
// and secured by it (connect); every session counted for TLS-RPT.

// Policies that may require TLS of an exchanger (TLSPolicyError.Policy).
const (
	PolicyDANE        = "dane"         // RFC 7672
	PolicyMTASTS      = "mta-sts"      // RFC 8461, mode enforce
	PolicyTLSRequired = "tls-required" // Deliverer.TLSPolicy TLSRequired
)

// TLSPolicyError is the cause of the Local *Error of an exchanger that a
// security policy ruled out: it did not offer STARTTLS, its certificate
// failed the policy's check, or (MTA-STS) the policy does not list it.
// Nothing was sent to it. The Error is transient (4.7.10 for a missing
// STARTTLS, 4.7.5 otherwise): the receiving side may be fixed, or another
// exchanger tried later.
type TLSPolicyError struct {
	// Host is the exchanger's MX host name.
	Host string
	// Policy is PolicyDANE, PolicyMTASTS or PolicyTLSRequired.
	Policy string
	// Result is the RFC 8460 4.3 result type, as reported to TLS-RPT
	// (tlsrpt.ResultStartTLSNotSupported, ...).
	Result string
	// Err is the failure: a *dane.VerifyError, the TLS handshake's error,
	// or nil when STARTTLS was not offered.
	Err error
}

// Error implements error.
func (e *TLSPolicyError) Error() string {
	s := e.Policy + ": " + e.Host + ": " + e.Result
	if e.Err != nil {
		s += ": " + clean(e.Err.Error())
	}
	return s
}

// Unwrap returns Err.
func (e *TLSPolicyError) Unwrap() error { return e.Err }

// ResultType returns the RFC 8460 result type (tlsrpt.ResultType reads it).
func (e *TLSPolicyError) ResultType() string { return e.Result }

// domainSecurity is what protects the delivery to one recipient domain,
// found once per Deliver call and shared by its transactions.
type domainSecurity struct {
	domain string
	// mxSecure: the MX answer (or its denial, for the implicit MX) had the
	// AD bit (only with Deliverer.DANE).
	mxSecure bool
	// fixed: a route or an address literal, no MX lookup to protect.
	fixed bool
	// sts is the MTA-STS policy lookup, made when first needed.
	sts       *mtasts.Result
	stsLooked bool
	// lookups counts the exchangers whose addresses were looked up
	// (bounded by MaxAttempts).
	lookups int
}

// stsPolicy returns the domain's MTA-STS result (nil without MTASTS, for a
// route or a literal), looked up once, its failure reported (RFC 8460:
// sts-policy-fetch-error, sts-policy-invalid, sts-webpki-invalid).
func (d *Deliverer) stsPolicy(ctx context.Context, sec *domainSecurity) *mtasts.Result {
	if d.MTASTS == nil || sec.fixed || sec.stsLooked {
		return sec.sts
	}
	sec.stsLooked = true
	sec.sts = d.MTASTS.Lookup(ctx, sec.domain)
	if sec.sts.Err != nil {
		pol := tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: sec.domain}
		if sec.sts.Policy != nil {
			pol = stsPolicy(sec.sts)
		}
		d.reportFailure(pol, nil, "", nil, sec.sts.Err)
		d.log("MTA-STS policy lookup failed", slog.String("domain", sec.domain), slog.Any("err", sec.sts.Err))
	}
	return sec.sts
}

// tlsPlan says how a connection to one exchanger uses TLS.
type tlsPlan struct {
	useTLS bool // try STARTTLS
	// require: without STARTTLS, or when it fails, the exchanger is
	// skipped: never clear text, never unchecked TLS.
	require bool
	cfg     *tls.Config
	// verified: cfg authenticates the server (by the Web PKI, or by
	// DANE's VerifyConnection), so a REQUIRETLS message may use it.
	verified bool
	// mxAuth: the exchanger's name is protected as RFC 8689 4.2.1 asks
	// (DNSSEC or MTA-STS), or could not be checked (see Deliverer).
	mxAuth bool
	policy string           // what requires TLS, for errors (require)
	dane   *dane.HostPolicy // DANE applies (Mode Encrypt or Authenticate)
	report *tlsrpt.Policy   // the policy the session is counted under
	// fallback is the plan to go on with when this one fails: MTA-STS
	// testing reports, and delivers as TLSPolicy says (RFC 8461 5).
	fallback *tlsPlan
	reqTLS   bool // the message has REQUIRETLS
}

// plan decides how to secure the connections to h (see Deliverer's
// "Transport security"), or returns the error that rules h out.
func (d *Deliverer) plan(ctx context.Context, opts *Options, sec *domainSecurity, h *hostAddr, reqTLS bool) (tlsPlan, error) {
	base := opts.TLSConfig
	var p tlsPlan
	switch {
	case h.route:
		// A route bypasses DANE and MTA-STS; TLSRequired still holds
		// (a certificate valid for the route's host), else STARTTLS
		// when offered, unverified (TLSDisabled too).
		pol := TLSOpportunistic
		if d.TLSPolicy == TLSRequired {
			pol = TLSRequired
		}
		p = d.defaultPlan(opts, sec, h, pol)
		p.report = nil
	case h.dane != nil && h.dane.Mode != dane.NotApplicable:
		// RFC 7672 2.2: TLS required, authenticated by the TLSA records
		// (Encrypt: only unusable records, TLS without authentication).
		// RFC 8461 2: MTA-STS is not consulted.
		pol := tlsaPolicy(h.dane.BaseDomain, h.dane)
		p = tlsPlan{useTLS: true, require: true, cfg: h.dane.TLSConfig(base), verified: h.dane.Mode == dane.Authenticate,
			mxAuth: true, policy: PolicyDANE, dane: h.dane, report: &pol}
	default:
		p = d.defaultPlan(opts, sec, h, d.TLSPolicy)
		sts := d.stsPolicy(ctx, sec)
		if sts == nil || (!sts.Enforce() && !sts.Testing()) {
			break
		}
		pol := stsPolicy(sts)
		if !sts.Policy.Match(h.name) {
			// RFC 8461 4.1: not an MX host of the policy.
			err := &TLSPolicyError{Host: h.name, Policy: PolicyMTASTS, Result: tlsrpt.ResultValidationFailure,
				Err: errors.New("not an MX host of the domain's MTA-STS policy (RFC 8461 4.1)")}
			d.reportFailure(pol, h, "", nil, err)
			if sts.Enforce() {
				return p, localError("STARTTLS", reply.New(reply.CodeLocalError, reply.Enh(4, 7, 5),
					"MTA-STS policy of "+sec.domain+" does not allow "+h.name), err)
			}
			// Testing: reported; delivered as TLSPolicy says.
			p.report = nil
			break
		}
		stsPlan := tlsPlan{useTLS: true, require: true, cfg: sts.Policy.TLSConfig(base, h.name), verified: true,
			mxAuth: sts.Enforce() || p.mxAuth, policy: PolicyMTASTS, report: &pol}
		if sts.Testing() {
			// RFC 8461 5: the check is made and its failure reported,
			// the mail is not held back.
			fallback := p
			fallback.report = nil
			stsPlan.require, stsPlan.fallback = false, &fallback
		}
		p = stsPlan
	}
	if d.TLSPolicy == TLSDisabled && !h.route {
		if p.require && !reqTLS {
			return p, localError("STARTTLS", reply.New(reply.CodeLocalError, reply.Enh(4, 7, 10),
				"TLS required by "+p.policy+" for "+h.name+", and TLS is disabled (TLSDisabled)"),
				&TLSPolicyError{Host: h.name, Policy: p.policy, Result: tlsrpt.ResultStartTLSNotSupported, Err: errors.New("TLS disabled")})
		}
		p = tlsPlan{mxAuth: p.mxAuth}
	}
	if reqTLS {
		// RFC 8689 4.2.1: the exchanger's name protected by DNSSEC or
		// MTA-STS, TLS with a certificate checked by DANE or valid for
		// that name (the REQUIRETLS extension itself is checked by Send).
		switch {
		case !p.useTLS:
			return p, errRequireTLS(h.name, "cannot be reached over TLS: TLS is disabled (TLSDisabled)")
		case !p.mxAuth:
			return p, errRequireTLS(h.name, "was found by an MX lookup that neither DNSSEC nor an MTA-STS policy in mode enforce protects (RFC 8689 4.2.1)")
		case p.dane != nil && !p.verified:
			return p, errRequireTLS(h.name, "has only unusable TLSA records: DANE cannot authenticate it")
		case !p.verified:
			p.cfg, p.verified = verifiedConfig(opts, h.name), true
		}
		p.require, p.fallback, p.reqTLS = true, nil, true
	}
	return p, nil
}

// defaultPlan is the plan of TLSPolicy, for an exchanger that neither DANE
// nor MTA-STS decides.
func (d *Deliverer) defaultPlan(opts *Options, sec *domainSecurity, h *hostAddr, policy TLSPolicy) tlsPlan {
	// RFC 8689 4.2.1 asks that the MX lookup be protected; a Deliverer
	// without DANE and MTASTS cannot tell, and takes the Resolver's word.
	p := tlsPlan{mxAuth: sec.fixed || sec.mxSecure || (d.DANE == nil && d.MTASTS == nil)}
	if policy == TLSDisabled {
		return p
	}
	pol := tlsrpt.Policy{Type: tlsrpt.PolicyNoFound, Domain: sec.domain}
	p.useTLS, p.report = true, &pol
	if policy == TLSRequired {
		p.require, p.policy = true, PolicyTLSRequired
		p.cfg, p.verified = verifiedConfig(opts, h.name), true
		return p
	}
	p.cfg = tlsConfig(opts, h.name)
	p.cfg.ServerName = h.name
	p.cfg.InsecureSkipVerify = true // RFC 7435 3: encrypt, even unauthenticated
	return p
}

// verifiedConfig is a TLS configuration that verifies the certificate
// against the exchanger's own name (RFC 8689 4.2.1, RFC 6125), never a
// ServerName configured for all of them.
func verifiedConfig(opts *Options, host string) *tls.Config {
	cfg := tlsConfig(opts, host)
	cfg.ServerName = host
	cfg.InsecureSkipVerify = false
	return cfg
}

// key says what p demands of a connection, for the connection cache: a
// connection serves only transactions planned as the one it was opened
// for.
func (p *tlsPlan) key() string {
	b := []byte("------")
	for i, set := range []bool{p.useTLS, p.require, p.verified, p.dane != nil, p.fallback != nil, p.reqTLS} {
		if set {
			b[i] = '+'
		}
	}
	return string(b) + p.policy
}

// connect opens a session with the exchanger at addr and secures it as p
// says: a Client ready for Send, or the error that rules the exchanger
// out, with the (closed) Client that failed when a connection was made,
// for the outcome to name. A handshake that fails loses the connection:
// when p allows going on (opportunistic TLS, MTA-STS testing), the next
// try is a new one.
func (d *Deliverer) connect(ctx context.Context, opts *Options, h *hostAddr, addr string, p tlsPlan) (*Client, error) {
	var c *Client
	refused := false // the server refused STARTTLS (454) on this connection
	for range 3 {
		if c == nil {
			var err error
			if c, err = Dial(ctx, addr, opts); err != nil {
				return nil, p.beforeTLS(h.name, deferGreeting(h.name, err))
			}
			c.host = h.name
			if err := c.Hello(ctx, ""); err != nil {
				c.Close()
				return c, p.beforeTLS(h.name, err)
			}
			refused = false
		}
		if !p.useTLS {
			return c, nil
		}
		var err error // nil: STARTTLS not offered
		if c.ext.StartTLS && !refused {
			if err = c.StartTLS(ctx, p.cfg); err == nil {
				// DANE's VerifyConnection passed: the certificate is
				// authenticated although crypto/tls built no chain.
				c.authenticated = p.dane != nil && p.verified
				if p.verified && (p.policy == PolicyDANE || p.policy == PolicyMTASTS) {
					c.tlsPolicy = p.policy
				}
				d.reportSession(&p, h, addr, c, nil)
				return c, nil
			}
		}
		d.reportSession(&p, h, addr, c, err)
		lost := c.usable() != nil
		var re *Error
		if err != nil && !lost && errors.As(err, &re) {
			refused = true // RFC 3207 4: 454, TLS not available now
		}
		switch {
		case p.fallback != nil:
			d.log("TLS check of the MTA-STS policy in mode testing failed; delivering without it",
				slog.String("host", h.name), slog.Any("err", err))
			p = *p.fallback
		case p.require:
			if lost {
				c.Close()
			} else {
				c.Quit(ctx)
			}
			return c, p.refusal(h.name, err)
		case !lost:
			// Opportunistic: no STARTTLS, or refused; go on in clear on
			// this connection.
			if err != nil {
				d.log("STARTTLS refused, going on without TLS", slog.String("host", h.name), slog.Any("err", err))
			}
			return c, nil
		default:
			// Opportunistic, and the handshake failed: the connection
			// is lost; once more in clear.
			d.log("STARTTLS failed, retrying without TLS", slog.String("host", h.name), slog.Any("err", err))
			p.useTLS = false
		}
		if lost {
			c.Close()
			c = nil
		}
	}
	if c != nil {
		c.Close()
	}
	return c, &NetError{Command: "STARTTLS", Err: errors.New("no usable connection")}
}

// refusal is the error of an exchanger that did not give the TLS p
// requires: STARTTLS missing (err nil) or failed.
func (p *tlsPlan) refusal(host string, err error) error {
	if p.reqTLS {
		if err == nil {
			return errRequireTLS(host, "does not offer STARTTLS")
		}
		return errRequireTLS(host, "STARTTLS failed: "+err.Error())
	}
	result, cause := p.failure(err)
	pe := &TLSPolicyError{Host: host, Policy: p.policy, Result: result, Err: cause}
	what := p.requiredBy()
	// RFC 5248 X.7.10 "encryption needed"; X.7.5 "cryptographic
	// failure", as Postfix says for a certificate that failed. Transient:
	// the peer may be fixed.
	if err == nil {
		return localError("STARTTLS", reply.New(reply.CodeLocalError, reply.Enh(4, 7, 10),
			"TLS required by "+what+", and "+host+" does not offer STARTTLS"), pe)
	}
	return localError("STARTTLS", reply.New(reply.CodeLocalError, reply.Enh(4, 7, 5),
		"TLS required by "+what+", and STARTTLS with "+host+" failed: "+err.Error()), pe)
}

// requiredBy names what requires TLS under p, for errors.
func (p *tlsPlan) requiredBy() string {
	switch {
	case p.policy == PolicyDANE:
		return "DANE (RFC 7672 2.2)"
	case p.policy == PolicyMTASTS:
		return "the MTA-STS policy (RFC 8461 4.2)"
	case p.reqTLS && p.policy != PolicyTLSRequired:
		return "REQUIRETLS (RFC 8689 4.2.1)"
	}
	return "the TLS policy (TLSRequired)"
}

// beforeTLS returns the error of a session that failed before TLS (the
// greeting, EHLO or HELO refused). Where p requires TLS, a permanent
// refusal is made transient: it came in clear, where a network attacker
// may have written it (RFC 3207 4.2, 6), and only what is said under the
// TLS the policy requires may decide the mail's fate; until then the
// exchanger is one that could not be reached securely, and the mail waits
// (RFC 7672 2.2, RFC 8461 4.2), as for a stripped STARTTLS. The enhanced
// code keeps the server's subject and detail (554 5.7.1 becomes 451
// 4.7.1), the server's reply is the cause.
func (p *tlsPlan) beforeTLS(host string, err error) error {
	var re *Error
	if !p.require || !errors.As(err, &re) || re.Local || re.Temporary() {
		return err
	}
	enh := reply.Enh(4, 7, 0)
	if e := re.Reply.WireEnhanced(); !e.IsZero() {
		enh = reply.Enh(4, e.Subject, e.Detail)
	}
	return localError(re.Command, reply.New(reply.CodeLocalError, enh,
		host+" refused the session before TLS ("+re.Reply.Error()+"); not trusted: "+p.requiredBy()+" requires TLS"), re)
}

// deferGreeting makes a 5xx greeting transient. RFC 5321 3.1: such a
// greeting says the host offers no SMTP service now; it refuses the
// session, not this mail or its recipients. Like Postfix
// (smtp_skip_5xx_greeting), the exchanger is skipped and, when it was the
// last one, the recipients wait for a later attempt: a receiver that is
// overloaded or misconfigured is fixed more often than not. The enhanced
// code keeps the server's subject and detail; the cause is its *Error.
func deferGreeting(host string, err error) error {
	var re *Error
	if !errors.As(err, &re) || re.Local || re.Command != "greeting" || !re.Permanent() {
		return err
	}
	enh := reply.Enh(4, 3, 0)
	if e := re.Reply.WireEnhanced(); !e.IsZero() {
		enh = reply.Enh(4, e.Subject, e.Detail)
	}
	return localError(re.Command, reply.New(reply.CodeLocalError, enh,
		host+" refused the session ("+re.Reply.Error()+"); will try again later"), re)
}

// failure returns the RFC 8460 result type of a failed session under p
// (err nil: STARTTLS not offered) and the error that says why.
func (p *tlsPlan) failure(err error) (string, error) {
	if p.dane != nil {
		cause := p.dane.Err(err)
		return tlsrpt.ResultType(cause), cause
	}
	var re *Error
	if err == nil || errors.As(err, &re) && re.Command == "STARTTLS" {
		// Not offered, or refused (RFC 3207 4: 454).
		return tlsrpt.ResultStartTLSNotSupported, err
	}
	return tlsrpt.ResultType(err), err
}

// reportSession counts one session under p's policy for TLS-RPT: a
// success, or the failure err (nil: STARTTLS not offered) when the
// session did not get the TLS p asked for.
func (d *Deliverer) reportSession(p *tlsPlan, h *hostAddr, addr string, c *Client, err error) {
	if d.TLSReport == nil || p.report == nil {
		return
	}
	tlsOK := err == nil && c.isTLS
	if tlsOK && p.dane != nil && p.dane.Mode == dane.Encrypt {
		// RFC 8460 4.3.2: TLSA records none of which is usable.
		d.reportFailure(*p.report, h, addr, c, &TLSPolicyError{Host: h.name, Policy: PolicyDANE,
			Result: tlsrpt.ResultTLSAInvalid, Err: errors.New("no usable TLSA record")})
		return
	}
	if tlsOK {
		d.TLSReport.Success(*p.report)
		return
	}
	result, cause := p.failure(err)
	d.reportFailure(*p.report, h, addr, c, &TLSPolicyError{Host: h.name, Policy: p.policy, Result: result, Err: cause})
}

// reportFailure counts a failure for TLS-RPT with the details RFC 8460
// 4.3 asks for that are known (h, addr and c may be absent).
func (d *Deliverer) reportFailure(pol tlsrpt.Policy, h *hostAddr, addr string, c *Client, err error) {
	if d.TLSReport == nil {
		return
	}
	f := tlsrpt.FailureDetail{ResultType: tlsrpt.ResultType(err), FailureReasonCode: err.Error()}
	if h != nil {
		f.ReceivingMXHostname = h.name
	}
	if addr != "" {
		f.ReceivingIP = hostOnly(addr)
	}
	if c != nil {
		if a, ok := c.conn.LocalAddr().(*net.TCPAddr); ok {
			f.SendingMTAIP = a.IP.String()
		}
	}
	d.TLSReport.Failure(pol, f)
}

// tlsaPolicy describes a DANE policy for TLS-RPT: its policy domain is the
// TLSA base domain (RFC 8460 3), its string the records (RFC 8460 4.4).
func tlsaPolicy(base string, p *dane.HostPolicy) tlsrpt.Policy {
	pol := tlsrpt.Policy{Type: tlsrpt.PolicyTLSA, Domain: base}
	if p != nil {
		for _, r := range p.TLSA.Records {
			pol.String = append(pol.String, r.String())
		}
	}
	return pol
}

// stsPolicy describes an MTA-STS policy for TLS-RPT (RFC 8460 4.4): its
// lines and mx patterns.
func stsPolicy(res *mtasts.Result) tlsrpt.Policy {
	pol := tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: res.Domain, MXHost: res.Policy.MX}
	for _, line := range strings.Split(res.Policy.Text, "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" {
			pol.String = append(pol.String, line)
		}
	}
	return pol
}
