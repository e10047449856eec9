package client

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

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

// TLSPolicy says how a Deliverer uses STARTTLS (RFC 3207).
type TLSPolicy int

const (
	// TLSOpportunistic uses STARTTLS when the server offers it, without
	// verifying the certificate (RFC 7435 opportunistic security), and goes
	// on in clear when it is not offered or the handshake fails (then on a
	// new connection).
	TLSOpportunistic TLSPolicy = iota
	// TLSRequired requires STARTTLS and a certificate valid for the MX host
	// name; without it nothing is sent and the recipients fail with a
	// transient error (the receiving side may be fixed).
	TLSRequired
	// TLSDisabled never uses STARTTLS.
	TLSDisabled
)

// Deliverer delivers messages to the recipients' mail exchangers (RFC 5321
// 5.1): it groups the recipients by domain, looks up each domain's MX
// records, and tries the exchangers in order of preference. The zero value
// works: DNS through net.DefaultResolver, port 25, opportunistic TLS.
type Deliverer struct {
	// Resolver looks up MX and address records; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// Options configure each connection (LocalName, timeouts, reply
	// limits, Dialer, Logger, Trace). TLSConfig is the base of the TLS
	// configuration; nil Options means the defaults.
	Options *Options
	// Port is the port dialled on each exchanger; 0 means 25.
	Port int
	// TLSPolicy says how STARTTLS is used.
	TLSPolicy TLSPolicy
	// Routes maps a recipient domain (lower case, A-labels) to a fixed
	// "host:port", bypassing the DNS, for relays and tests. A route uses
	// STARTTLS when offered, without verifying the certificate.
	Routes map[string]string
	// Rand returns a random integer in [0, n), used to order exchangers of
	// equal preference (RFC 5321 5.1). Nil means math/rand/v2.
	Rand func(n int) int
}

// RecipientOutcome is the result of delivery for one recipient.
type RecipientOutcome struct {
	// Recipient is the recipient, as in the envelope.
	Recipient envelope.Recipient
	// Host is the exchanger that gave the outcome ("" when none was
	// reached).
	Host string
	// Code and Enhanced are the server's reply for the recipient (RCPT, or
	// the end of the message), zero when there is none.
	Code     reply.Code
	Enhanced reply.EnhancedCode
	// Err is nil when the message was delivered. Otherwise an *Error (the
	// server's reply, or a Local one: DNS failure, null MX, TLS required),
	// an *OutcomeUnknownError, or a *NetError.
	Err error
}

// Delivered reports that the exchanger took the message for the recipient.
func (o *RecipientOutcome) Delivered() bool { return o.Err == nil }

// OutcomeUnknown reports that the connection broke after the end of the
// message: the message may have been delivered; retrying may duplicate it.
func (o *RecipientOutcome) OutcomeUnknown() bool { return errors.Is(o.Err, ErrOutcomeUnknown) }

// Permanent reports a permanent failure: bounce, do not retry.
func (o *RecipientOutcome) Permanent() bool {
	if o.Err == nil || o.OutcomeUnknown() {
		return false
	}
	var e *Error
	return errors.As(o.Err, &e) && e.Permanent()
}

// Temporary reports a transient failure: retry later.
func (o *RecipientOutcome) Temporary() bool {
	return o.Err != nil && !o.OutcomeUnknown() && !o.Permanent()
}

// Deliver sends the message to every recipient of env, one transaction per
// recipient domain, and returns one outcome per recipient in envelope
// order. msg is read from offset 0 to size for every attempt. Deliver does
// not retry later: it reports, and the caller's queue decides.
func (d *Deliverer) Deliver(ctx context.Context, env envelope.Envelope, msg io.ReaderAt, size int64) []RecipientOutcome {
	out := make([]RecipientOutcome, len(env.To))
	for i, r := range env.To {
		out[i].Recipient = r
	}
	keys := make([]string, len(env.To))
	for i, r := range env.To {
		keys[i] = domainOf(r)
	}
	for _, g := range env.Domains() {
		res := d.deliverDomain(ctx, env, g, msg, size)
		// The group's recipients are in envelope order.
		k := 0
		for i := range out {
			if keys[i] == g.Domain && k < len(res) {
				res[k].Recipient = env.To[i]
				out[i] = res[k]
				k++
			}
		}
	}
	return out
}

func domainOf(r envelope.Recipient) string {
	e := envelope.Envelope{To: []envelope.Recipient{r}}
	return e.Domains()[0].Domain
}

// hostAddr is one exchanger: its name (for TLS and reports) and the
// addresses to dial.
type hostAddr struct {
	name  string
	addrs []string // "ip:port" or "host:port"
	route bool
}

func (d *Deliverer) opts() Options {
	if d.Options != nil {
		return *d.Options
	}
	return Options{}
}

func (d *Deliverer) port() string {
	if d.Port > 0 {
		return strconv.Itoa(d.Port)
	}
	return strconv.Itoa(DefaultDeliveryPort)
}

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

func errTLSRequired(host string, err error) error {
	// RFC 5248 X.7.10 "encryption needed"; transient, the peer may be fixed.
	text := "TLS required, and " + host + " does not offer STARTTLS"
	if err != nil {
		text = "TLS required, and STARTTLS with " + host + " failed: " + err.Error()
	}
	return localError("STARTTLS", reply.New(reply.CodeLocalError, reply.Enh(4, 7, 10), text), err)
}

// exchangers returns the hosts to try for a domain, in order, or the error
// for every recipient.
func (d *Deliverer) exchangers(ctx context.Context, domain string) ([]hostAddr, error) {
	if r, ok := d.Routes[domain]; ok {
		return []hostAddr{{name: hostOnly(r), addrs: []string{r}, route: true}}, nil
	}
	if domain == "" {
		return nil, errNoDomain("(none)", errors.New("recipient without a domain"))
	}
	if strings.HasPrefix(domain, "[") {
		// RFC 5321 5.1: an address literal is the address to deliver to.
		lit := strings.TrimSuffix(strings.TrimPrefix(domain, "["), "]")
		if len(lit) > 5 && strings.EqualFold(lit[:5], "IPv6:") {
			lit = lit[5:]
		}
		ip, err := netip.ParseAddr(lit)
		if err != nil {
			return nil, errNoDomain(domain, err)
		}
		return []hostAddr{{name: ip.String(), addrs: []string{net.JoinHostPort(ip.String(), d.port())}}}, nil
	}
	res := d.resolver()
	mxs, err := res.LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
		return nil, errDNSTemp(domain, err)
	}
	names := mxOrder(mxs, d.intn)
	if len(mxs) > 0 && len(names) == 0 {
		// RFC 7505 3: a single MX with the root as exchanger.
		return nil, errNullMX(domain)
	}
	if len(names) == 0 {
		// RFC 5321 5.1: no MX, the domain itself is the implicit MX,
		// when it has an address.
		names = []string{domain}
	}
	var hosts []hostAddr
	var lastErr error
	for _, n := range names {
		ips, err := res.LookupIPAddr(ctx, n)
		if err != nil {
			lastErr = err
			continue
		}
		h := hostAddr{name: n}
		for _, ip := range ips {
			h.addrs = append(h.addrs, net.JoinHostPort(ip.IP.String(), d.port()))
		}
		if len(h.addrs) > 0 {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		if errors.As(lastErr, &dnsErr) && dnsErr.IsNotFound && len(mxs) == 0 {
			return nil, errNoDomain(domain, lastErr)
		}
		if lastErr == nil {
			lastErr = errors.New("no address")
		}
		return nil, errDNSTemp(domain, lastErr)
	}
	return hosts, nil
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
		names[i] = strings.TrimSuffix(mx.Host, ".")
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

// deliverDomain delivers to one domain's recipients: the exchangers in
// order, moving to the next one when nothing was delivered and the failure
// is transient (RFC 5321 5.1: connection failure or 4xx).
func (d *Deliverer) deliverDomain(ctx context.Context, env envelope.Envelope, g envelope.DomainRecipients, msg io.ReaderAt, size int64) []RecipientOutcome {
	hosts, err := d.exchangers(ctx, g.Domain)
	if err != nil {
		return failAll(g.To, "", err)
	}
	sub := envelope.Envelope{From: env.From, Mail: env.Mail, To: g.To}
	var last []RecipientOutcome
	for _, h := range hosts {
		for _, addr := range h.addrs {
			if ctx.Err() != nil {
				return failAll(g.To, h.name, &NetError{Command: "connect", Err: ctx.Err()})
			}
			out, retry := d.attempt(ctx, h, addr, sub, msg, size)
			if !retry {
				return out
			}
			last = out
		}
	}
	return last
}

// attempt makes one delivery over one connection. retry says that nothing
// was delivered and the next exchanger may be tried.
func (d *Deliverer) attempt(ctx context.Context, h hostAddr, addr string, env envelope.Envelope, msg io.ReaderAt, size int64) ([]RecipientOutcome, bool) {
	opts := d.opts()
	policy := d.TLSPolicy
	if h.route {
		policy = TLSOpportunistic
	}
	useTLS := policy != TLSDisabled
	for try := 0; try < 2; try++ {
		c, err := Dial(ctx, addr, &opts)
		if err != nil {
			return failAll(env.To, h.name, err), true
		}
		c.host = h.name
		if err := c.Hello(ctx, ""); err != nil {
			c.Close()
			return failAll(env.To, h.name, err), true
		}
		if useTLS && c.ext.StartTLS {
			cfg := tlsConfig(&opts, h.name)
			if policy == TLSOpportunistic {
				cfg.InsecureSkipVerify = true // RFC 7435: encrypt, do not authenticate
			}
			if err := c.StartTLS(ctx, cfg); err != nil {
				c.Close()
				if policy == TLSRequired {
					return failAll(env.To, h.name, errTLSRequired(h.name, err)), true
				}
				// Opportunistic: the handshake failed, try once more in clear.
				d.log("STARTTLS failed, retrying without TLS", slog.String("host", h.name), slog.Any("err", err))
				useTLS = false
				continue
			}
		} else if policy == TLSRequired {
			c.Quit(ctx)
			return failAll(env.To, h.name, errTLSRequired(h.name, nil)), true
		}
		res, err := c.Send(ctx, env, io.NewSectionReader(msg, 0, size))
		if err == nil || c.usable() == nil {
			c.Quit(ctx)
		} else {
			c.Close()
		}
		if res == nil {
			return failAll(env.To, h.name, err), isTemporary(err)
		}
		out := make([]RecipientOutcome, len(env.To))
		retry := true
		for i, r := range res.Recipients {
			out[i] = RecipientOutcome{Recipient: env.To[i], Host: h.name, Code: r.Code, Enhanced: r.Enhanced, Err: r.Err}
			if r.Err == nil || errors.Is(r.Err, ErrOutcomeUnknown) || !isTemporary(r.Err) {
				retry = false
			}
		}
		return out, retry
	}
	return failAll(env.To, h.name, errTLSRequired(h.name, errors.New("no usable connection"))), true
}
