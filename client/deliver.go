package client

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/client/mtasts"
	"github.com/smtpkit/smtp/client/tlsrpt"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
)

// DefaultDeliveryPort is the SMTP relay port (RFC 5321 4.5.4: port 25).
const DefaultDeliveryPort = 25

// Resolver looks up what delivery needs in the DNS. *net.Resolver
// implements it; tests inject their own.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// TLSPolicy says how a Deliverer uses STARTTLS (RFC 3207) with exchangers
// that DANE and MTA-STS say nothing about. A message with REQUIRETLS
// (RFC 8689) overrides it (see Deliverer).
type TLSPolicy int

const (
	// TLSOpportunistic uses STARTTLS when the server offers it, without
	// verifying the certificate (RFC 7435 opportunistic security), and goes
	// on in clear when it is not offered or the handshake fails (then on a
	// new connection).
	TLSOpportunistic TLSPolicy = iota
	// TLSRequired requires STARTTLS and a certificate valid for the MX host
	// name (for a route, its host); without it nothing is sent and the
	// recipients fail with a transient error (the receiving side may be
	// fixed).
	TLSRequired
	// TLSDisabled never uses STARTTLS: an exchanger that DANE or an
	// MTA-STS policy in mode enforce requires TLS of is skipped, and a
	// REQUIRETLS message goes nowhere (5.7.30).
	TLSDisabled
)

// Defaults of the Deliverer fields of the same name.
const (
	// DefaultMaxConcurrency is how many recipient domains a Deliver call
	// delivers to at once, each over its own connection.
	DefaultMaxConcurrency = 4
	// DefaultMaxAttempts is how many exchanger addresses a Deliver call
	// tries for one domain and one transaction before it gives up (RFC
	// 5321 5.1 allows a configurable limit, and asks for at least two).
	DefaultMaxAttempts = 10
	// DefaultMaxRecipients is the most recipients sent in one transaction:
	// the 100 every server must accept (RFC 5321 4.5.3.1.8). A domain with
	// more recipients gets more transactions.
	DefaultMaxRecipients = 100
)

// Deliverer delivers messages to the recipients' mail exchangers (RFC 5321
// 5.1): it groups the recipients by domain, looks up each domain's MX
// records, and tries the exchangers in order of preference. The zero value
// works: DNS through net.DefaultResolver, port 25, opportunistic TLS.
//
// The next exchanger is tried when nothing was delivered and the failure
// is transient: the connection failed, or a 4xx reply refused the
// transaction (every recipient, MAIL, or the message). A 5xx reply to the
// transaction is final. An exchanger that refuses the session itself (any
// failure of the greeting or of EHLO, 5xx included) or that does not offer
// the STARTTLS that TLSPolicy requires is skipped as unusable; the outcome
// of the last one tried is reported. A 5xx greeting is reported as a
// transient Local *Error whose cause is the server's reply: it refuses the
// session, not the mail (RFC 5321 3.1), and Postfix defers it too
// (smtp_skip_5xx_greeting). A 5xx refusal of EHLO is transient where TLS
// is required: see below.
//
// # Transport security
//
// How each exchanger is reached is decided in this order, the first that
// applies winning (RFC 8461 2: DANE before MTA-STS):
//
//  1. DANE (RFC 7672), when DANE is set: an exchanger found by a
//     DNSSEC-signed MX lookup whose addresses and TLSA records are signed
//     too must offer STARTTLS and present a certificate that matches its
//     TLSA records (only unusable records: TLS without authentication).
//     Otherwise it is skipped; the mail is never sent in clear nor over
//     TLS that failed the match (RFC 7672 2.2). A TLSA lookup that fails
//     skips the exchanger too (RFC 7672 2.2.1).
//  2. MTA-STS (RFC 8461), when MTASTS is set and the domain has a policy:
//     in mode enforce, only exchangers that match the policy's mx patterns
//     are used, over STARTTLS with a certificate valid for the MX name
//     under the Web PKI (RFC 8461 4.2); the others are skipped. In mode
//     testing, that check is made and its failure reported, and the mail
//     goes as TLSPolicy says (RFC 8461 5).
//  3. TLSPolicy.
//
// When every exchanger was skipped the recipients get a transient Local
// *Error (4.7.10 for a missing STARTTLS, 4.7.5 for a certificate that
// failed or an exchanger the MTA-STS policy does not list, with a
// *TLSPolicyError cause; 4.4.3 for a failed TLSA lookup, with a
// *dane.LookupError cause): the receiving side may be fixed. Routes
// bypass DNS, DANE and MTA-STS.
//
// Where TLS is required (DANE, MTA-STS enforce, TLSRequired, a
// REQUIRETLS message), a 5xx greeting, EHLO or HELO reply is not final
// either: it came before TLS, in clear, where a network attacker may have
// written it (RFC 3207 4.2, 6). The exchanger is skipped as one that could
// not be reached securely, and the recipients get a transient Local *Error
// (451, the server's enhanced code with class 4) whose cause is the
// server's *Error.
//
// # REQUIRETLS
//
// A message with REQUIRETLS (env.Mail.RequireTLS) goes only where RFC
// 8689 4.2.1 allows, whatever TLSPolicy says: over TLS, to an exchanger
// that announces REQUIRETLS over that TLS, when
//
//   - DANE authenticated the exchanger (usable TLSA records matched: the
//     MX lookup and the certificate are both covered), or
//   - the domain's MTA-STS policy in mode enforce lists the exchanger and
//     its certificate is valid for the MX name under the Web PKI, or
//   - the certificate is valid for the MX name under the Web PKI and the
//     MX lookup was DNSSEC-signed (the AD bit, read through DANE).
//
// RFC 8689 4.2.1 asks that the MX lookup be protected by DNSSEC or
// MTA-STS. A Deliverer without DANE and MTASTS cannot tell, and accepts
// the third path without it (a certificate valid for the MX name the
// Resolver returned); with either set, an exchanger whose MX record
// neither protects is not used for a REQUIRETLS message. Never over
// opportunistic, unverified TLS, never in clear, never with TLSDisabled;
// DANE with only unusable TLSA records does not qualify. Exchangers that
// do not qualify are skipped; when every one was reached and none
// qualified, the recipients fail permanently (554 5.7.30), and when some
// could not be reached, transiently (451 4.7.30), since a path may exist.
// A route qualifies with a certificate valid for the route's host.
//
// # TLS reporting
//
// With TLSReport set, every session (connection with TLS attempted) is
// counted for TLS-RPT (RFC 8460): under the DANE policy of the exchanger's
// TLSA base domain, under the recipient domain's MTA-STS policy, or as
// no-policy-found, a success or a failure with its result type
// (tlsrpt.ResultType). So are the failures that stop a session before it
// starts: an MTA-STS policy that could not be fetched, an exchanger not in
// the policy, a failed TLSA lookup. An exchanger whose TLSA records are
// all unusable is reported as tlsa-invalid even when the mail went over
// its unauthenticated TLS. Sending the reports is the caller's job.
//
// An exchanger may limit the recipients of a transaction (452 4.5.3, RFC
// 5321 4.5.3.1.10): the rest are sent in further transactions on the same
// connection (see Client.Send).
//
// Deliver works on several domains at once (MaxConcurrency), so the
// Resolver, the Dialer of Options and Rand must be safe for concurrent use,
// as the defaults are (and dane.Resolver, mtasts.Resolver and
// tlsrpt.Collector are); lines written to Options.Trace by different
// connections are serialised, not told apart.
type Deliverer struct {
	// Resolver looks up MX and address records; nil means
	// net.DefaultResolver. Unused when DANE is set.
	Resolver Resolver
	// DANE, when set, enables DANE (RFC 7672) and makes every MX and
	// address lookup of delivery go through it, since DANE needs the AD
	// bit of those very answers (RFC 7672 2.2): Resolver is then not
	// used. Its Server must be a DNSSEC-validating resolver the host
	// trusts (on 127.0.0.1).
	DANE *dane.Resolver
	// MTASTS, when set, looks up each recipient domain's MTA-STS policy
	// (RFC 8461) and enforces it on exchangers DANE says nothing about.
	// Its TXT lookups may go through DANE (set MTASTS.TXT).
	MTASTS *mtasts.Resolver
	// TLSReport, when set, counts the sessions for TLS-RPT (RFC 8460).
	TLSReport *tlsrpt.Collector
	// Options configure each connection (LocalName, timeouts, reply
	// limits, Dialer, Logger, Trace). TLSConfig is the base of the TLS
	// configuration (RootCAs, MinVersion...); its ServerName is replaced
	// by each exchanger's host name, which is what the certificate must be
	// valid for. Nil Options means the defaults.
	Options *Options
	// Port is the port dialled on each exchanger (and whose TLSA records
	// are looked up); 0 means 25.
	Port int
	// TLSPolicy says how STARTTLS is used where neither DANE nor MTA-STS
	// decides.
	TLSPolicy TLSPolicy
	// Routes maps a recipient domain (lower case, A-labels) to a fixed
	// "host:port", bypassing the DNS, DANE and MTA-STS, for relays and
	// tests. A route uses STARTTLS when offered, without verifying the
	// certificate, except under TLSRequired and for a REQUIRETLS
	// message, for which STARTTLS is required and the certificate must be
	// valid for the route's host. (TLSDisabled does not apply to routes.)
	Routes map[string]string
	// Rand returns a random integer in [0, n), used to order exchangers of
	// equal preference (RFC 5321 5.1). Nil means math/rand/v2.
	Rand func(n int) int
	// MaxConcurrency bounds the domains delivered to at once; zero means
	// DefaultMaxConcurrency, 1 one domain after the other.
	MaxConcurrency int
	// MaxAttempts bounds the exchanger addresses tried for one transaction
	// (each address once, whatever the number of MX records a hostile DNS
	// returns), and the exchangers whose addresses are looked up for a
	// domain in one Deliver call; zero means DefaultMaxAttempts.
	MaxAttempts int
	// MaxRecipients bounds the recipients of one transaction; zero means
	// DefaultMaxRecipients.
	MaxRecipients int
	// Cache, when set, keeps connections open after a transaction for the
	// next message to the same exchanger; nil means one connection per
	// transaction, closed with QUIT.
	Cache *ConnCache
}

// RecipientOutcome is the result of delivery for one recipient.
type RecipientOutcome struct {
	// Recipient is the recipient, as in the envelope.
	Recipient envelope.Recipient
	// Host is the exchanger that gave the outcome: the one that
	// answered, or the last one tried when none could be reached or
	// used ("" when no exchanger was tried, as after a DNS failure).
	Host string
	// Code and Enhanced are the server's reply for the recipient (RCPT, or
	// the end of the message), zero when there is none.
	Code     reply.Code
	Enhanced reply.EnhancedCode
	// Err is nil when the message was delivered. Otherwise an *Error (the
	// server's reply, or a Local one: DNS failure, null MX, TLS required
	// by TLSPolicy, DANE or MTA-STS with a *TLSPolicyError cause,
	// REQUIRETLS), an *OutcomeUnknownError, or a *NetError.
	Err error
	// Addr is the address of the connection the outcome came from
	// ("192.0.2.1:25"), "" when none was made.
	Addr string
	// TLS describes that connection's TLS (the zero value: in clear).
	TLS TLSInfo
	// Reply is the server's reply to the end of the message, which often
	// names its queue ID ("250 2.0.0 Ok: queued as 4Xyz"); nil when the
	// message was not sent.
	Reply *reply.Reply
}

// Status tells what became of the message for the recipient, classified
// as Send's RecipientResult.Status does.
func (o *RecipientOutcome) Status() RecipientStatus { return statusOf(o.Err) }

// Delivered reports that the exchanger took the message for the recipient
// (StatusAccepted).
func (o *RecipientOutcome) Delivered() bool { return o.Err == nil }

// OutcomeUnknown reports that the connection broke after the end of the
// message: the message may have been delivered; retrying may duplicate it
// (StatusUnknown).
func (o *RecipientOutcome) OutcomeUnknown() bool { return o.Status() == StatusUnknown }

// Permanent reports a permanent failure: bounce, do not retry
// (StatusRefused).
func (o *RecipientOutcome) Permanent() bool { return o.Status() == StatusRefused }

// Temporary reports a transient failure: retry later (StatusDeferred).
func (o *RecipientOutcome) Temporary() bool { return o.Status() == StatusDeferred }

// Deliver sends the message to every recipient of env, one transaction per
// recipient domain (more for a domain with over MaxRecipients recipients),
// and returns one outcome per recipient in envelope order. msg is read from
// offset 0 to size for every attempt, by several goroutines at once (as
// io.ReaderAt allows). Deliver does not retry later: it reports, and the
// caller's queue decides.
func (d *Deliverer) Deliver(ctx context.Context, env envelope.Envelope, msg io.ReaderAt, size int64) []RecipientOutcome {
	out := make([]RecipientOutcome, len(env.To))
	groups := groupByDomain(env.To)
	opts := d.opts()
	n := d.MaxConcurrency
	if n <= 0 {
		n = DefaultMaxConcurrency
	}
	n = min(n, len(groups))
	if n > 1 && opts.Trace != nil {
		opts.Trace = &lockedWriter{w: opts.Trace}
	}
	run := func(g *domainGroup) {
		to := make([]envelope.Recipient, len(g.idx))
		for k, i := range g.idx {
			to[k] = env.To[i]
		}
		sub := envelope.Envelope{From: env.From, Mail: env.Mail, To: to}
		res := d.deliverDomain(ctx, &opts, g.domain, sub, msg, size)
		for k, i := range g.idx {
			out[i] = res[k]
			out[i].Recipient = env.To[i]
		}
	}
	if n <= 1 {
		for i := range groups {
			run(&groups[i])
		}
		return out
	}
	// At most n goroutines: the loop waits for a free slot before it
	// starts the next domain. Each writes its own entries of out.
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range groups {
		sem <- struct{}{}
		wg.Add(1)
		go func(g *domainGroup) {
			defer func() { <-sem; wg.Done() }()
			run(g)
		}(&groups[i])
	}
	wg.Wait()
	return out
}

// domainGroup is the recipients of one domain: their indexes in the
// envelope, in envelope order.
type domainGroup struct {
	domain string
	idx    []int
}

// groupByDomain groups recipients by domain, as Envelope.Domains does, in
// linear time.
func groupByDomain(to []envelope.Recipient) []domainGroup {
	var groups []domainGroup
	pos := make(map[string]int)
	for i, r := range to {
		key := domainOf(r)
		k, ok := pos[key]
		if !ok {
			k = len(groups)
			pos[key] = k
			groups = append(groups, domainGroup{domain: key})
		}
		groups[k].idx = append(groups[k].idx, i)
	}
	return groups
}

func domainOf(r envelope.Recipient) string {
	e := envelope.Envelope{To: []envelope.Recipient{r}}
	return e.Domains()[0].Domain
}

// lockedWriter serialises the writes of concurrent connections to one
// Trace writer; each write is one whole line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// hostAddr is one exchanger: its name (for TLS and reports) and the
// addresses to dial, looked up when the exchanger is reached (resolved),
// with DANE's verdict when the Deliverer uses DANE.
type hostAddr struct {
	name     string
	addrs    []string // "ip:port" or "host:port"
	resolved bool
	err      error // the address (or TLSA) lookup failed
	route    bool
	dane     *dane.HostPolicy // nil without DANE
}

func (d *Deliverer) opts() Options {
	if d.Options != nil {
		return *d.Options
	}
	return Options{}
}

func (d *Deliverer) portNumber() int {
	if d.Port > 0 {
		return d.Port
	}
	return DefaultDeliveryPort
}

func (d *Deliverer) port() string { return strconv.Itoa(d.portNumber()) }

func (d *Deliverer) resolver() Resolver {
	if d.Resolver != nil {
		return d.Resolver
	}
	return net.DefaultResolver
}

func (d *Deliverer) intn(n int) int {
	if d.Rand != nil {
		return d.Rand(n)
	}
	return rand.IntN(n)
}

func (d *Deliverer) log(msg string, attrs ...slog.Attr) {
	if o := d.Options; o != nil && o.Logger != nil {
		o.Logger.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
	}
}

// failAll gives every recipient of the group the same error.
func failAll(to []envelope.Recipient, host string, err error) []RecipientOutcome {
	out := make([]RecipientOutcome, len(to))
	for i, r := range to {
		out[i] = RecipientOutcome{Recipient: r, Host: host, Err: err}
		var e *Error
		if errors.As(err, &e) && !e.Local {
			out[i].Code, out[i].Enhanced = e.Code, e.Enhanced
		}
	}
	return out
}

// Errors of the DNS stage, as Local *Errors carrying the reply a bounce
// would show.

func errNullMX(domain string) error {
	// RFC 7505 3.2: 556 5.1.10 for a domain that accepts no mail.
	return localError("MX", reply.New(reply.CodeDomainNoMail, reply.EnhNullMX(),
		"domain "+domain+" does not accept mail (null MX)"), errors.New("null MX"))
}

func errNoDomain(domain string, err error) error {
	// RFC 3463 5.1.2: bad destination system address.
	return localError("MX", reply.New(reply.CodeMailboxUnavailable, reply.EnhBadDestSystem(),
		"domain "+domain+" not found"), err)
}

func errDNSTemp(domain string, err error) error {
	// RFC 3463 4.4.3: directory server failure, transient.
	return localError("MX", reply.New(reply.CodeLocalError, reply.Enh(4, 4, 3),
		"DNS lookup for "+domain+" failed, will retry"), err)
}

// exchangers returns the hosts to try for sec's domain, in order, or the
// error for every recipient. implicit reports that the domain has no MX
// record and is its own exchanger. It records in sec how the list was
// found (a route, an address literal, a DNSSEC-signed answer). Addresses
// are looked up later, by resolve, for the exchangers actually tried.
func (d *Deliverer) exchangers(ctx context.Context, sec *domainSecurity) (hosts []hostAddr, implicit bool, err error) {
	domain := sec.domain
	if r, ok := d.Routes[domain]; ok {
		sec.fixed = true
		return []hostAddr{{name: hostOnly(r), addrs: []string{r}, resolved: true, route: true}}, false, nil
	}
	if domain == "" {
		return nil, false, errNoDomain("(none)", errors.New("recipient without a domain"))
	}
	if strings.HasPrefix(domain, "[") {
		// RFC 5321 5.1: an address literal is the address to deliver to.
		sec.fixed = true
		lit := strings.TrimSuffix(strings.TrimPrefix(domain, "["), "]")
		if len(lit) > 5 && strings.EqualFold(lit[:5], "IPv6:") {
			lit = lit[5:]
		}
		ip, err := netip.ParseAddr(lit)
		if err != nil {
			return nil, false, errNoDomain(domain, err)
		}
		return []hostAddr{{name: ip.String(), addrs: []string{net.JoinHostPort(ip.String(), d.port())}, resolved: true}}, false, nil
	}
	var mxs []*net.MX
	if d.DANE != nil {
		// RFC 7672 2.2.1: the MX answer and its AD bit, from one response.
		mxs, sec.mxSecure, err = d.DANE.LookupMXSecure(ctx, domain)
	} else {
		mxs, err = d.resolver().LookupMX(ctx, domain)
	}
	var dnsErr *net.DNSError
	if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
		return nil, false, errDNSTemp(domain, err)
	}
	names := mxOrder(mxs, d.intn)
	if len(mxs) > 0 && len(names) == 0 {
		// RFC 7505 3: a single MX with the root as exchanger.
		return nil, false, errNullMX(domain)
	}
	if len(names) == 0 {
		// RFC 5321 5.1: no MX, the domain itself is the implicit MX,
		// when it has an address (RFC 7672 2.2.1: with DANE, the
		// secure denial of MX records stands for a secure MX answer).
		names, implicit = []string{domain}, true
	}
	hosts = make([]hostAddr, len(names))
	for i, n := range names {
		hosts[i].name = n
	}
	return hosts, implicit, nil
}

// resolve looks up h's addresses once, and with DANE its TLSA records
// (dane.Resolver.Host: RFC 7672 2.2).
func (d *Deliverer) resolve(ctx context.Context, sec *domainSecurity, h *hostAddr) {
	if h.resolved {
		return
	}
	h.resolved = true
	var ips []net.IPAddr
	var err error
	if d.DANE != nil {
		h.dane, err = d.DANE.Host(ctx, h.name, d.portNumber(), sec.mxSecure)
		var le *dane.LookupError
		if errors.As(err, &le) {
			// RFC 7672 2.2.1: the records may exist and be hidden by an
			// attacker: the exchanger waits.
			d.reportFailure(tlsaPolicy(h.name, nil), h, "", nil, le)
		}
		if h.dane != nil {
			ips = h.dane.Addrs
		}
	} else {
		ips, err = d.resolver().LookupIPAddr(ctx, h.name)
	}
	if err != nil {
		h.err = err
		return
	}
	for _, ip := range ips {
		h.addrs = append(h.addrs, net.JoinHostPort(ip.IP.String(), d.port()))
	}
	if len(h.addrs) == 0 {
		h.err = errors.New("no address for " + h.name)
	}
}

// mxOrder sorts MX records by preference, equal preferences in random
// order (RFC 5321 5.1), and drops the null MX "." (RFC 7505 3: it is
// meaningful only alone).
func mxOrder(mxs []*net.MX, intn func(int) int) []string {
	recs := make([]*net.MX, 0, len(mxs))
	for _, mx := range mxs {
		if h := strings.TrimSuffix(mx.Host, "."); h != "" {
			recs = append(recs, mx)
		}
	}
	// Shuffle first, then a stable sort keeps the shuffled order within
	// each preference.
	for i := len(recs) - 1; i > 0; i-- {
		j := intn(i + 1)
		recs[i], recs[j] = recs[j], recs[i]
	}
	slices.SortStableFunc(recs, func(a, b *net.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	names := make([]string, len(recs))
	for i, mx := range recs {
		names[i] = strings.ToLower(strings.TrimSuffix(mx.Host, "."))
	}
	return names
}

func hostOnly(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

// deliverDomain delivers to one domain's recipients, in transactions of
// at most MaxRecipients.
func (d *Deliverer) deliverDomain(ctx context.Context, opts *Options, domain string, env envelope.Envelope, msg io.ReaderAt, size int64) []RecipientOutcome {
	sec := &domainSecurity{domain: domain}
	hosts, implicit, err := d.exchangers(ctx, sec)
	if err != nil {
		return failAll(env.To, "", err)
	}
	maxRcpt := d.MaxRecipients
	if maxRcpt <= 0 {
		maxRcpt = DefaultMaxRecipients
	}
	if len(env.To) <= maxRcpt {
		return d.transaction(ctx, opts, sec, hosts, implicit, env, msg, size)
	}
	out := make([]RecipientOutcome, 0, len(env.To))
	all := env.To
	for len(all) > 0 {
		env.To = all[:min(maxRcpt, len(all))]
		all = all[len(env.To):]
		out = append(out, d.transaction(ctx, opts, sec, hosts, implicit, env, msg, size)...)
	}
	return out
}

// transaction delivers one transaction: the exchangers in order, moving to
// the next one when nothing was delivered and the failure is transient
// (RFC 5321 5.1: connection failure or 4xx; a 5xx to the transaction is
// final), or when the exchanger's security policy rules it out. At most
// MaxAttempts addresses are tried.
func (d *Deliverer) transaction(ctx context.Context, opts *Options, sec *domainSecurity, hosts []hostAddr, implicit bool, env envelope.Envelope, msg io.ReaderAt, size int64) []RecipientOutcome {
	maxAttempts := d.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	attempts := 0
	var last []RecipientOutcome
	var dnsErr error
	// untried is why an exchanger could not be tested for REQUIRETLS
	// (unreachable, a transient failure, the attempts ran out): then a
	// path for the message may exist.
	var untried error
	for i := range hosts {
		h := &hosts[i]
		if !h.resolved {
			// The lookups are bounded too: a hostile DNS's thousands
			// of names without addresses (or whose lookups hang) cost
			// at most MaxAttempts lookups for the domain.
			if sec.lookups == maxAttempts {
				untried = errors.New("lookup limit reached")
				break
			}
			sec.lookups++
		}
		d.resolve(ctx, sec, h)
		if h.err != nil {
			dnsErr = h.err
			untried = h.err
			continue
		}
		plan, err := d.plan(ctx, opts, sec, h, env.Mail.RequireTLS)
		if err != nil {
			// The exchanger is ruled out before any connection.
			last = failAll(env.To, h.name, err)
			if !isRequireTLSRefusal(err) {
				untried = err
			}
			continue
		}
		for _, addr := range h.addrs {
			if attempts == maxAttempts {
				return requireTLSOutcome(last, errors.New("attempt limit reached"))
			}
			if ctx.Err() != nil {
				return failAll(env.To, h.name, ctxDone(ctx, "connect"))
			}
			attempts++
			out, retry := d.attempt(ctx, opts, h, plan, addr, env, msg, size)
			if !retry {
				return out
			}
			if len(out) > 0 && !isRequireTLSRefusal(out[0].Err) {
				untried = out[0].Err
			}
			last = out
		}
	}
	if last != nil {
		return requireTLSOutcome(last, untried)
	}
	// No exchanger had an address.
	var nf *net.DNSError
	if implicit && errors.As(dnsErr, &nf) && nf.IsNotFound {
		return failAll(env.To, "", errNoDomain(sec.domain, dnsErr))
	}
	return failAll(env.To, "", errDNSTemp(sec.domain, dnsErr))
}

// requireTLSOutcome turns the last outcome of a transaction, when it is a
// REQUIRETLS refusal, into a transient one if some exchanger could not be
// tested (untried): the permanent 5.7.30 (RFC 8689 4.2.1, 5) is for when no path
// exists.
func requireTLSOutcome(last []RecipientOutcome, untried error) []RecipientOutcome {
	if untried == nil || len(last) == 0 || !isRequireTLSRefusal(last[0].Err) {
		return last
	}
	var e *Error
	errors.As(last[0].Err, &e)
	err := localError("MAIL", reply.New(reply.CodeLocalError, reply.Enh(4, 7, 30),
		e.Text+"; another exchanger could not be tried ("+untried.Error()+")"), e.Err)
	for i := range last {
		last[i].Err = err
	}
	return last
}

// errRequireTLS refuses a REQUIRETLS message to an exchanger that offers
// no TLS with a verified certificate (RFC 8689 4.2.1, 5: 5.7.30).
func errRequireTLS(host, why string) error {
	return localError("MAIL", reply.New(reply.CodeTransactionFailed, reply.EnhRequireTLS(),
		"REQUIRETLS needed, and "+host+" "+why), ErrNoVerifiedTLS)
}

// isRequireTLSRefusal reports a client's refusal of a REQUIRETLS message
// for want of a verified TLS path (X.7.30).
func isRequireTLSRefusal(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Local && e.Enhanced.Subject == 7 && e.Enhanced.Detail == 30
}

// attempt makes one delivery over one connection, secured as plan says: a
// cached one when Cache holds one for the exchanger and the plan, else a
// new one. retry says that nothing was delivered and the next exchanger
// may be tried.
func (d *Deliverer) attempt(ctx context.Context, opts *Options, h *hostAddr, plan tlsPlan, addr string, env envelope.Envelope, msg io.ReaderAt, size int64) ([]RecipientOutcome, bool) {
	// A cached connection serves a transaction whose plan is the one it
	// was opened under: same exchanger, same TLS demands.
	key := addr + "\x00" + h.name + "\x00" + plan.key()
	if d.Cache != nil {
		if l := d.Cache.take(ctx, key); l != nil {
			return d.send(ctx, l, h, env, msg, size)
		}
	}
	c, err := d.connect(ctx, opts, h, addr, plan)
	if err != nil {
		out := failAll(env.To, h.name, err)
		if c != nil {
			// The connection that failed the plan: its address and TLS.
			out = (&liveConn{c: c}).stamp(out)
		}
		return out, true
	}
	l := &liveConn{c: c, key: key, opened: time.Now(), verified: c.tlsVerified()}
	if cs, ok := c.TLSConnectionState(); ok && !l.verified {
		// Reported even where the plan did not require it (RFC 7435).
		var roots *x509.CertPool
		if opts.TLSConfig != nil {
			roots = opts.TLSConfig.RootCAs
		}
		l.verified = verifiedFor(cs, h.name, roots)
	}
	return d.send(ctx, l, h, env, msg, size)
}

// send makes the transaction on l, then keeps l in the Cache or closes it.
func (d *Deliverer) send(ctx context.Context, l *liveConn, h *hostAddr, env envelope.Envelope, msg io.ReaderAt, size int64) ([]RecipientOutcome, bool) {
	c := l.c
	res, err := c.Send(ctx, env, io.NewSectionReader(msg, 0, size))
	end := res.Reply()
	defer func() {
		switch {
		case c.usable() != nil:
			c.Close()
		case d.Cache != nil:
			d.Cache.put(l)
		default:
			c.Quit(ctx)
		}
	}()
	if isRequireTLSRefusal(err) {
		// The exchanger does not announce REQUIRETLS over TLS: nothing
		// was sent; another may qualify.
		return l.stamp(failAll(env.To, h.name, err)), true
	}
	out := make([]RecipientOutcome, len(env.To))
	retry := true
	for i, r := range res.Recipients {
		out[i] = RecipientOutcome{Recipient: env.To[i], Host: h.name, Code: r.Code, Enhanced: r.Enhanced, Err: r.Err, Reply: end}
		if r.Status() != StatusDeferred {
			retry = false
		}
	}
	return l.stamp(out), retry
}

// stamp records the connection's address and TLS in outs.
func (l *liveConn) stamp(outs []RecipientOutcome) []RecipientOutcome {
	addr := ""
	if ra := l.c.conn.RemoteAddr(); ra != nil {
		addr = ra.String()
	}
	info := l.tlsInfo()
	for i := range outs {
		outs[i].Addr, outs[i].TLS = addr, info
	}
	return outs
}
