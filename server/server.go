package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smtpkit/smtp/internal/proxyproto"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/textproto"
)

// Limits and timeouts. Each is the default of the Server field of the same
// name when that field is zero.
const (
	// DefaultMaxLineLength is the longest command line accepted, in octets
	// including CRLF (RFC 5321 4.5.3.1.4). MAIL and RCPT get
	// ParamLineAllowance more, for their extension parameters.
	DefaultMaxLineLength = 512

	// ParamLineAllowance is what MAIL and RCPT lines may have beyond
	// MaxLineLength: RFC 5321 4.5.3.1.4 lets service extensions raise the
	// limit, and SIZE (RFC 1870), AUTH= (RFC 4954 5: 500 octets), ENVID,
	// RET, ORCPT and NOTIFY (RFC 3461 4: ORCPT alone up to 500) do.
	ParamLineAllowance = 1024

	// DefaultMaxTextLineLength is the longest line of message text
	// accepted: 0, no limit. RFC 5321 4.5.3.1.6 sets 1000 octets, but real
	// mail carries longer lines (HTML from mailing tools, unwrapped base64)
	// and refusing them loses mail that every large provider accepts; the
	// data is streamed, so a long line costs no memory.
	DefaultMaxTextLineLength = 0

	// DefaultMaxMessageBytes is the largest message accepted, advertised
	// with SIZE (RFC 1870). RFC 5321 4.5.3.1.7 asks for at least 64 KiB;
	// 32 MiB takes the attachments large providers accept.
	DefaultMaxMessageBytes = 32 << 20

	// DefaultMaxRecipients is the number of recipients per transaction:
	// the minimum RFC 5321 4.5.3.1.8 requires a server to accept. Past it
	// RCPT gets 452 4.5.3 (RFC 5321 4.5.3.1.10).
	DefaultMaxRecipients = 100

	// DefaultMaxErrors is the number of errors a connection may make
	// without delivering a message before it gets 421 4.7.0 and is closed
	// (RFC 5321 4.2.2 allows 421 in reply to any command): Postfix's
	// smtpd_hard_error_limit. Errors are unknown, malformed or over-long
	// commands, commands out of sequence, MAIL, RCPT and VRFY the backend
	// refused, messages refused for every recipient (by a limit, the
	// line-ending policy or the backend; a backend failure, 451 4.3.0, is
	// not the client's fault and does not count), AUTH exchanges that
	// failed without a credential being refused (cancelled or broken by
	// the client, or failed by the backend: 454; a refused credential
	// counts towards MaxAuthFailures instead), junk commands
	// past MaxJunkCommands and
	// recipients past MaxRecipients + MaxRecipientOvershoot. A message
	// accepted for delivery starts the count again, as in Postfix, so a
	// long-lived connection of a real sender is not cut for its
	// occasional refused recipient.
	DefaultMaxErrors = 20

	// DefaultSoftErrorLimit is the number of errors after which the
	// server sends the replies to each further error only after
	// ErrorDelay, so that a client looping on errors (an AUTH loop,
	// address harvesting) pays for each round trip: Postfix's
	// smtpd_soft_error_limit. A pipelined batch of errors waits once: it
	// makes no round trip, and MaxErrors ends it (the start of a command
	// sent with the batch is no pipelined command: it cannot be answered
	// before the rest comes, so the client waits). A client that has closed
	// its side is not waited for: no delay can slow it down any more.
	DefaultSoftErrorLimit = 10

	// DefaultErrorDelay is that pause: Postfix's smtpd_error_sleep_time.
	DefaultErrorDelay = time.Second

	// DefaultMaxJunkCommands is the number of commands that move no mail
	// (NOOP, RSET, VRFY, EXPN, HELP, a HELO, EHLO or LHLO after the
	// first of the session, an empty BDAT chunk that is not the last) a
	// connection may send before each further one counts as an error:
	// Postfix's smtpd_junk_command_limit. Like the errors, the count
	// starts again after a message was accepted.
	DefaultMaxJunkCommands = 100

	// DefaultMaxRecipientOvershoot is the number of recipients past
	// MaxRecipients that a transaction may send, each answered 452 4.5.3
	// (RFC 5321 4.5.3.1.10), before each further one also counts as an
	// error: Postfix's smtpd_recipient_overshoot_limit.
	DefaultMaxRecipientOvershoot = 1000

	// DefaultMaxAuthFailures is the number of failed AUTH attempts (the
	// backend refused the credentials: 535 5.7.8, RFC 4954 6) a
	// connection may make before it gets 421 4.7.0 and is closed.
	DefaultMaxAuthFailures = 3

	// DefaultAuthFailureDelay is how long the server waits after a failed
	// AUTH before it answers, to slow down password and token guessing.
	DefaultAuthFailureDelay = time.Second

	// DefaultMaxConnections is the number of connections served at once;
	// more get 421 4.7.0 and are closed.
	DefaultMaxConnections = 10000

	// DefaultMaxConnectionsPerIP is the number of connections served at
	// once from one client IP address: 0, no limit (loopback tests, NAT and
	// load balancers without PROXY protocol make any default wrong).
	DefaultMaxConnectionsPerIP = 0

	// DefaultCommandTimeout is how long the server waits for a command
	// (RFC 5321 4.5.3.2.7, server timeout: 5 minutes). It is also the
	// deadline of the contexts of Mail and Rcpt (4.5.3.2.2, 4.5.3.2.3: the
	// client waits 5 minutes for their replies) and the write timeout.
	DefaultCommandTimeout = 5 * time.Minute

	// DefaultDataBlockTimeout is how long the server waits for each block
	// of message data (RFC 5321 4.5.3.2.5: 3 minutes). A block is at least
	// 1 KiB: the time spent waiting for less adds up.
	DefaultDataBlockTimeout = 3 * time.Minute

	// DefaultDataTimeout is how long the client waits for the reply to
	// the end of the message (RFC 5321 4.5.3.2.6, DATA termination: 10
	// minutes): the deadline of the context given to Data.
	DefaultDataTimeout = 10 * time.Minute

	// DefaultGreetingTimeout is how long the client waits for the 220
	// greeting (RFC 5321 4.5.3.2.1: 5 minutes): the deadline of the
	// context given to Backend.NewSession, and of the TLS handshake of an
	// implicit-TLS connection.
	DefaultGreetingTimeout = 5 * time.Minute

	// DefaultProxyHeaderTimeout is how long a connection to a
	// ProxyProtocol server may take to send its PROXY header. The PROXY
	// protocol specification (section 2) asks for at least 3 seconds, to
	// cover a TCP retransmission; 10 seconds covers a few.
	DefaultProxyHeaderTimeout = 10 * time.Second
)

// ipv6PrefixLength is how much of an IPv6 client address identifies the
// client for MaxConnectionsPerIP: a host, or a site, gets a whole /64 (RFC
// 4291 2.5.4, RFC 6177) and can pick any address in it, so counting single
// addresses would limit nothing.
const ipv6PrefixLength = 64

// refuseWriteTimeout bounds the write of the 421 that refuses a connection
// over a limit: the refusal must not cost more than a moment.
const refuseWriteTimeout = time.Second

// Backoff of the accept loop after a temporary error (out of file
// descriptors and the like): from acceptRetryMin, doubling up to
// acceptRetryMax.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// ErrServerClosed is returned by Serve, ListenAndServe and
// ListenAndServeTLS after Shutdown or Close.
var ErrServerClosed = errors.New("smtp server: closed")

// Server is an SMTP (or LMTP) server. The zero value is not usable: set
// Backend at least. Every other field has a useful zero value, the RFC
// default named by the matching Default constant; a negative number
// removes a limit. Fields must not be changed once serving has started.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on; "" means ":25"
	// (":465" for ListenAndServeTLS). LMTP has no standard TCP port (RFC
	// 2033 5): set Addr.
	Addr string

	// Hostname is the name the server gives in its greeting and EHLO
	// reply (RFC 5321 4.1.1.1, 4.3.1). "" means os.Hostname, or
	// "localhost" when that fails.
	Hostname string

	// TLSConfig enables STARTTLS (RFC 3207) and is used by
	// ListenAndServeTLS. Nil means no TLS: STARTTLS is not offered.
	TLSConfig *tls.Config

	// Backend makes a Session for each connection. Required.
	Backend Backend

	// Logger receives errors and the connections' events, as SlogEvents
	// logs them; every record carries the connection id (Conn.Logger
	// gives the backend the same). Nil means slog.Default(); a logger
	// whose handler discards everything silences the server.
	Logger *slog.Logger

	// Events, if not nil, receives the connections' events (connect,
	// TLS, EHLO, AUTH, commands with their replies and latency,
	// recipients, violations, disconnect) for metrics or auditing, in
	// addition to Logger, which logs them whatever Events is. A panic in
	// it is recovered and logged; the connection goes on.
	Events Events

	// Trace, if not nil, receives a protocol trace: every command and
	// reply line, prefixed with the connection id and "C: " or "S: ", with
	// AUTH payloads replaced by "[redacted]" and message data left out.
	// Lines appear in the order they crossed the wire: a command when it
	// is read, a reply when it is written, so the replies to a pipelined
	// batch (RFC 2920) follow the batch. A reply that was queued but
	// never written (the connection failed first) is traced as
	// "S: [not sent] ...". Writes from different connections are
	// serialised.
	Trace io.Writer

	// LMTP makes the server speak LMTP (RFC 2033): LHLO instead of
	// HELO/EHLO and one reply per recipient after the message.
	LMTP bool

	// ProxyProtocol expects a PROXY protocol (v1 or v2) header on every
	// accepted connection and takes the client address from it, for a
	// server behind HAProxy or a cloud load balancer. The header comes
	// before any TLS: for implicit TLS use ServeTLS or ListenAndServeTLS,
	// not Serve with a tls.NewListener. Connections waiting for their
	// header count against MaxConnections.
	ProxyProtocol bool

	// ProxyTrustedNetworks, with ProxyProtocol, lists the proxies allowed
	// to send a PROXY header; other peers are served as direct
	// connections (their address is the socket's). Empty means every
	// peer must send a header.
	ProxyTrustedNetworks []netip.Prefix

	// AllowInsecureAuth offers AUTH on connections without TLS. By
	// default AUTH is offered and accepted only under TLS (RFC 4954 4:
	// plain-text mechanisms need a protected channel).
	AllowInsecureAuth bool

	// AuthRequired refuses MAIL with 530 5.7.0 until the client has
	// authenticated (RFC 4954 6), for a submission server.
	AuthRequired bool

	// EnableSMTPUTF8 advertises SMTPUTF8 (RFC 6531): UTF-8 in addresses.
	EnableSMTPUTF8 bool
	// EnableDSN advertises DSN (RFC 3461); the parameters reach the
	// backend in MailParams and RcptParams.
	EnableDSN bool
	// EnableChunking advertises CHUNKING and BINARYMIME (RFC 3030): BDAT.
	EnableChunking bool
	// EnableRequireTLS advertises REQUIRETLS (RFC 8689) on TLS
	// connections; the flag reaches the backend in MailParams.
	EnableRequireTLS bool
	// DisableVRFY answers VRFY with 502 instead of asking the backend
	// or answering 252.
	DisableVRFY bool

	// Policy says what happens to bare LF, bare CR, NUL and 8-bit bytes in
	// commands and message data; the zero value is
	// textproto.DefaultIntakePolicy. CR LF . CR LF is always the only end
	// of DATA.
	Policy textproto.Policy

	// MaxLineLength bounds a command line (DefaultMaxLineLength); this
	// limit cannot be removed, a negative value means the default.
	MaxLineLength int
	// MaxTextLineLength bounds a line of message text, counted as the
	// backend receives it (RFC 5321 4.5.3.1.6: DATA's stuffed dot is
	// transparency, not text; a NUL the Policy drops is not received), so
	// DATA and BDAT give the same answer; 0 means no limit
	// (DefaultMaxTextLineLength explains why).
	MaxTextLineLength int
	// MaxMessageBytes bounds a message (DefaultMaxMessageBytes); negative
	// means no limit.
	MaxMessageBytes int64
	// MaxRecipients bounds the recipients of a transaction
	// (DefaultMaxRecipients); negative means no limit.
	MaxRecipients int
	// MaxErrors bounds the errors a connection may make without
	// delivering a message (DefaultMaxErrors, explained there with what
	// counts as an error); negative means no limit.
	MaxErrors int
	// SoftErrorLimit is the number of errors after which the replies to
	// each further one go out only after ErrorDelay
	// (DefaultSoftErrorLimit); negative means never.
	SoftErrorLimit int
	// ErrorDelay is the pause before answering an error past
	// SoftErrorLimit (DefaultErrorDelay); negative means none.
	ErrorDelay time.Duration
	// MaxJunkCommands is the number of commands that move no mail (NOOP,
	// RSET, VRFY, EXPN, HELP, a repeated greeting, an empty BDAT chunk
	// that is not the last) a connection may send
	// before each further one counts as an error
	// (DefaultMaxJunkCommands); negative means no limit.
	MaxJunkCommands int
	// MaxRecipientOvershoot is the number of recipients past
	// MaxRecipients a transaction may send (each gets 452 4.5.3) before
	// each further one also counts as an error
	// (DefaultMaxRecipientOvershoot); negative means no limit.
	MaxRecipientOvershoot int
	// MaxAuthFailures bounds the failed AUTH attempts of a connection
	// (DefaultMaxAuthFailures); negative means no limit. An attempt fails
	// when the backend refused the credentials, whatever the client sent
	// after that.
	MaxAuthFailures int
	// AuthFailureDelay is the pause after each failed AUTH
	// (DefaultAuthFailureDelay); negative means none.
	AuthFailureDelay time.Duration
	// MaxConnections bounds the connections served at once
	// (DefaultMaxConnections); negative means no limit.
	MaxConnections int
	// MaxConnectionsPerIP bounds the connections from one IP address
	// (DefaultMaxConnectionsPerIP: none). An IPv6 client is identified by
	// its /64 network, which it can pick addresses from at will.
	MaxConnectionsPerIP int

	// CommandTimeout (DefaultCommandTimeout) bounds the wait for each
	// whole command line, however slowly it trickles in; DataBlockTimeout
	// (DefaultDataBlockTimeout) the wait for each block of message data
	// (at least 1 KiB must come within each such period spent waiting,
	// the waits between the BDAT chunks of a message included, so that
	// message data cannot trickle in for ever); DataTimeout
	// (DefaultDataTimeout) and GreetingTimeout (DefaultGreetingTimeout)
	// are the deadlines given to the backend. These are the RFC 5321
	// 4.5.3.2 timeouts; negative means none.
	CommandTimeout   time.Duration
	DataBlockTimeout time.Duration
	DataTimeout      time.Duration
	GreetingTimeout  time.Duration

	// ProxyHeaderTimeout bounds the wait for the PROXY header of a
	// connection, with ProxyProtocol (DefaultProxyHeaderTimeout);
	// negative means none.
	ProxyHeaderTimeout time.Duration

	initOnce sync.Once
	cfg      config // resolved settings, set by init

	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	perIP      map[string]int
	nconns     int
	pending    int // connections waiting for their PROXY header
	shutdown   atomic.Bool
	closed     atomic.Bool   // Close: cut connections without a word
	connsDone  chan struct{} // closed when conns and pending drain during shutdown
	baseCtx    context.Context
	cancelBase context.CancelCauseFunc
	hdrCtx     context.Context // ends the PROXY header waits at Shutdown and Close
	cancelHdr  context.CancelFunc
	nextID     atomic.Uint64
	traceMu    sync.Mutex
	clockBase  time.Time     // set by init (see stageCtx.now)
	epoch      atomic.Uint32 // the sweeper's count of sweeps
	sweeping   atomic.Bool   // the sweeper runs
	handOffs   atomic.Uint64 // connections handed off (see idle.go), for tests
	kicks      atomic.Uint64 // waits the sweeper interrupted (see idle.go), for tests
	watchMu    sync.Mutex
	watcher    *watcher  // of the parked connections, made when needed
	watchGen   uint32    // the count of watchers made
	readers    sync.Pool // *textproto.Reader of idle connections
	busies     sync.Pool // *busy of idle connections
	slabs      sync.Pool // *[]byte of idleSlabSize
	outs       sync.Pool // *[]byte reply buffers
}

// config holds the settings with defaults applied.
type config struct {
	hostname         string
	idPrefix         string
	maxLine          int
	maxTextLine      int
	maxMessage       int64 // 0: none
	maxRcpts         int   // 0: none
	maxErrors        int   // 0: none
	softErrors       int   // 0: none
	errorDelay       time.Duration
	maxJunk          int // 0: none
	maxOvershoot     int // 0: none
	maxAuthFailures  int // 0: none
	authDelay        time.Duration
	maxConns         int // 0: none
	maxConnsPerIP    int // 0: none
	commandTimeout   time.Duration
	dataBlockTimeout time.Duration
	dataTimeout      time.Duration
	greetingTimeout  time.Duration
	logger           *slog.Logger
	log              slogEvents  // the server's own log of the events
	events           Events      // Server.Events; nil for none
	eventFilter      EventFilter // events' filter, if it has one
	canned           canned
	wire             [5]cannedWire // the wire form of the replies of every transaction
	keywords         [2]keywords   // EHLO keywords without TLS, with TLS
	scramMockKey     [32]byte      // SCRAM's mock credentials for unknown users, random per Server
}

// cannedWire is the wire form of a canned reply, without and with its
// enhanced code: a reply that every transaction sends is copied, not
// formatted.
type cannedWire struct {
	r        *reply.Reply
	plain    []byte
	enhanced []byte
}

// wireOf returns the wire form of r if it is one of the replies of
// c.wire (compared by pointer: the canned replies are never modified),
// else nil.
func (c *config) wireOf(r *reply.Reply, enhanced bool) []byte {
	for i := range c.wire {
		if w := &c.wire[i]; w.r == r {
			if enhanced {
				return w.enhanced
			}
			return w.plain
		}
	}
	return nil
}

// canned are the replies of the hot path, made once per Server and never
// modified, so that answering a command allocates nothing.
type canned struct {
	ok, senderOK, rcptOK, queued, startData, closing, greeting *reply.Reply
	helo, cannotVRFY                                           *reply.Reply
	localError, tooManyRcpts, lineTooLong, tooManyErrors       *reply.Reply
	shutdown, timeout, tooManyConns, authRequired              *reply.Reply
}

// orDefault resolves a limit field: zero means def, negative means none
// (0 in config).
func orDefault[T int | int64 | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		c := &s.cfg
		c.hostname = s.Hostname
		if c.hostname == "" {
			if h, err := os.Hostname(); err == nil && h != "" {
				c.hostname = h
			} else {
				c.hostname = "localhost"
			}
		}
		var rnd [5]byte
		rand.Read(rnd[:])
		c.idPrefix = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(rnd[:])
		rand.Read(c.scramMockKey[:]) // never fails (crypto/rand, Go 1.24+)
		c.maxLine = s.MaxLineLength
		if c.maxLine <= 0 {
			c.maxLine = DefaultMaxLineLength // a command line is always bounded
		}
		c.maxTextLine = max(s.MaxTextLineLength, 0)
		c.maxMessage = orDefault(s.MaxMessageBytes, DefaultMaxMessageBytes)
		c.maxRcpts = orDefault(s.MaxRecipients, DefaultMaxRecipients)
		c.maxErrors = orDefault(s.MaxErrors, DefaultMaxErrors)
		c.softErrors = orDefault(s.SoftErrorLimit, DefaultSoftErrorLimit)
		c.errorDelay = orDefault(s.ErrorDelay, DefaultErrorDelay)
		c.maxJunk = orDefault(s.MaxJunkCommands, DefaultMaxJunkCommands)
		c.maxOvershoot = orDefault(s.MaxRecipientOvershoot, DefaultMaxRecipientOvershoot)
		c.maxAuthFailures = orDefault(s.MaxAuthFailures, DefaultMaxAuthFailures)
		c.authDelay = orDefault(s.AuthFailureDelay, DefaultAuthFailureDelay)
		c.maxConns = orDefault(s.MaxConnections, DefaultMaxConnections)
		c.maxConnsPerIP = orDefault(s.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
		c.commandTimeout = orDefault(s.CommandTimeout, DefaultCommandTimeout)
		c.dataBlockTimeout = orDefault(s.DataBlockTimeout, DefaultDataBlockTimeout)
		c.dataTimeout = orDefault(s.DataTimeout, DefaultDataTimeout)
		c.greetingTimeout = orDefault(s.GreetingTimeout, DefaultGreetingTimeout)
		c.logger = s.Logger
		if c.logger == nil {
			c.logger = slog.Default()
		}
		c.log = slogEvents{c.logger}
		c.events = s.Events
		c.eventFilter, _ = s.Events.(EventFilter)
		c.canned = canned{
			ok:            reply.OK(),
			senderOK:      reply.SenderOK(),
			rcptOK:        reply.RecipientOK(),
			queued:        reply.Queued(""),
			startData:     reply.StartMailInput(),
			closing:       reply.Closing(c.hostname),
			localError:    reply.LocalError(),
			tooManyRcpts:  reply.TooManyRecipients(),
			lineTooLong:   reply.LineTooLong(),
			tooManyErrors: reply.TooManyErrors(c.hostname),
			shutdown:      reply.ServiceNotAvailable(c.hostname),
			timeout:       reply.Timeout(c.hostname),
			tooManyConns: reply.New(reply.CodeServiceNotAvailable, reply.EnhSecurityError().WithClass(4),
				c.hostname+" Too many connections, try again later"),
			authRequired: reply.AuthRequired(),
		}
		// RFC 5321 4.1.1.1: "250 domain" to HELO.
		c.canned.helo = reply.New(reply.CodeOK, reply.EnhancedCode{}, c.hostname)
		c.canned.cannotVRFY = reply.CannotVRFY()
		for i, r := range []*reply.Reply{c.canned.senderOK, c.canned.rcptOK, c.canned.startData, c.canned.queued, c.canned.ok} {
			c.wire[i] = cannedWire{r: r, plain: r.AppendWire(nil, false), enhanced: r.AppendWire(nil, true)}
		}
		c.keywords = [2]keywords{s.makeKeywords(false, c.maxMessage), s.makeKeywords(true, c.maxMessage)}
		if s.LMTP {
			c.canned.greeting = reply.Greeting(c.hostname, "LMTP ready")
		} else {
			c.canned.greeting = reply.Ready(c.hostname)
		}
		s.clockBase = time.Now()
		s.baseCtx, s.cancelBase = context.WithCancelCause(context.Background())
		s.hdrCtx, s.cancelHdr = context.WithCancel(context.Background())
		s.slabs.New = func() any {
			b := make([]byte, idleSlabSize)
			return &b
		}
		s.busies.New = func() any { return new(busy) }
		s.outs.New = func() any {
			b := make([]byte, 0, 512)
			return &b
		}
	})
}

// ListenAndServe listens on s.Addr (":25" if empty) and serves.
// It returns ErrServerClosed after Shutdown or Close.
func (s *Server) ListenAndServe() error {
	l, err := s.listen(":25")
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// ListenAndServeTLS listens on s.Addr (":465" if empty) and serves with
// TLS from the first byte (implicit TLS, RFC 8314 3.3) using s.TLSConfig.
func (s *Server) ListenAndServeTLS() error {
	if s.TLSConfig == nil && !s.shutdown.Load() {
		return errors.New("smtp server: ListenAndServeTLS needs TLSConfig")
	}
	l, err := s.listen(":465")
	if err != nil {
		return err
	}
	return s.ServeTLS(l)
}

// listen listens on s.Addr, or on defaultAddr when it is empty.
func (s *Server) listen(defaultAddr string) (net.Listener, error) {
	if s.shutdown.Load() {
		return nil, ErrServerClosed
	}
	addr := s.Addr
	if addr == "" {
		addr = defaultAddr
	}
	return net.Listen("tcp", addr)
}

// ServeTLS is Serve with implicit TLS (RFC 8314 3.3): every connection
// starts with a TLS handshake using s.TLSConfig, and STARTTLS is not
// offered.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.TLSConfig == nil {
		return errors.New("smtp server: ServeTLS needs TLSConfig")
	}
	return s.serve(l, true)
}

// Serve accepts connections on l and serves each in its own goroutine. A
// listener made by tls.NewListener is detected: its connections count as
// TLS from the start. Serve returns ErrServerClosed after Shutdown or
// Close, or the listener's error. It closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	return s.serve(l, false)
}

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	if s.Backend == nil {
		l.Close()
		return errors.New("smtp server: no Backend")
	}
	s.init()
	if s.ProxyProtocol {
		opts := proxyproto.Options{
			TrustedSources: s.ProxyTrustedNetworks,
			HeaderTimeout:  orDefault(s.ProxyHeaderTimeout, DefaultProxyHeaderTimeout),
		}
		if opts.HeaderTimeout == 0 {
			opts.HeaderTimeout = -1 // proxyproto: negative means none
		}
		if len(opts.TrustedSources) > 0 {
			opts.Untrusted = proxyproto.DirectUntrusted
		}
		l = proxyproto.NewListener(l, opts)
	}
	if !s.trackListener(&l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	defer l.Close()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait and retry
				// rather than spin.
				if backoff == 0 {
					backoff = acceptRetryMin
				} else if backoff *= 2; backoff > acceptRetryMax {
					backoff = acceptRetryMax
				}
				s.cfg.logger.Warn("smtp server: accept error, retrying", "err", err, "delay", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		go s.handle(nc, implicitTLS)
	}
}

// handle serves one accepted connection in its own goroutine: the PROXY
// header (if any) is read here, not in the accept loop, so a silent peer
// cannot stall other clients.
func (s *Server) handle(nc net.Conn, implicitTLS bool) {
	// Kept small: this frame stays on the stack of every idle connection.
	if c := s.accept(nc, implicitTLS); c != nil {
		c.serve()
	}
}

// accept reads the PROXY header (if any) and admits the connection; it
// returns nil when the connection was refused and closed.
func (s *Server) accept(nc net.Conn, implicitTLS bool) (c *conn) {
	defer func() {
		// A panic here (a log handler, on a header any peer can send)
		// ends this connection, never the process (see recoverPanic).
		if p := recover(); p != nil {
			nc.Close()
			c = nil
			func() {
				defer func() { recover() }()
				s.cfg.logger.Error("smtp: panic accepting a connection", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}()
		}
	}()
	if pc, ok := nc.(*proxyproto.Conn); ok {
		// The wait for the header counts against MaxConnections, so that
		// silent peers cannot pile up uncounted; the per-IP count needs
		// the address the header gives.
		if !s.reserve() {
			nc.Close()
			return nil
		}
		_, err := pc.HeaderContext(s.hdrCtx)
		s.unreserve()
		if err != nil {
			s.cfg.logger.Info("smtp: PROXY protocol header refused", "remote", pc.NetConn().RemoteAddr().String(), "err", err)
			nc.Close()
			return nil
		}
	}
	c = s.newConn(nc, implicitTLS)
	if r := s.admit(c); r != nil {
		c.refuse(r)
		return nil
	}
	return c
}

// isTemporary reports whether an Accept error is worth retrying.
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shutdown.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

// reserve counts a connection waiting for its PROXY header; it reports
// false when MaxConnections is reached or the server is shutting down.
func (s *Server) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() || s.cfg.maxConns > 0 && s.nconns+s.pending >= s.cfg.maxConns {
		return false
	}
	s.pending++
	return true
}

// unreserve ends what reserve counted.
func (s *Server) unreserve() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	s.checkDoneLocked()
}

// checkDoneLocked tells a waiting Shutdown when no connection is left.
func (s *Server) checkDoneLocked() {
	if s.nconns+s.pending == 0 && s.connsDone != nil {
		close(s.connsDone)
		s.connsDone = nil
	}
}

// admit registers c, or returns the 421 reply that refuses it when a
// connection limit is reached (RFC 5321 3.1: a server may refuse a
// connection with 421 in place of the greeting).
func (s *Server) admit(c *conn) *reply.Reply {
	var ip string
	if s.cfg.maxConnsPerIP > 0 {
		ip = clientKey(c.nc.RemoteAddr())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return s.cfg.canned.shutdown
	}
	if s.cfg.maxConns > 0 && s.nconns+s.pending >= s.cfg.maxConns {
		return s.cfg.canned.tooManyConns
	}
	if s.cfg.maxConnsPerIP > 0 {
		if s.perIP == nil {
			s.perIP = make(map[string]int)
		}
		if s.perIP[ip] >= s.cfg.maxConnsPerIP {
			return s.cfg.canned.tooManyConns
		}
		s.perIP[ip]++
		c.ipKey = ip
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.nconns++
	return nil
}

// release unregisters c.
func (s *Server) release(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	s.nconns--
	if c.ipKey != "" {
		if n := s.perIP[c.ipKey] - 1; n > 0 {
			s.perIP[c.ipKey] = n
		} else {
			delete(s.perIP, c.ipKey)
		}
	}
	s.checkDoneLocked()
}

// clientKey identifies the client at a for MaxConnectionsPerIP: its IPv4
// address, or its IPv6 /64 network (ipv6PrefixLength).
func clientKey(a net.Addr) string {
	if a == nil {
		return ""
	}
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	} else {
		return a.String()
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(ipv6PrefixLength)
		return p.String()
	}
	return ip.String()
}

// Shutdown stops the server gracefully: it closes the listeners, lets
// every mail transaction in progress finish (a message being received is
// received and answered), answers 421 4.3.2 to idle sessions and to the
// next command of the others, and returns when every connection is gone,
// or with ctx's error when ctx ends first (the remaining connections are
// then left to finish; call Close to cut them).
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.shutdown.Store(true)
	for l := range s.listeners {
		(*l).Close()
	}
	var done chan struct{}
	if s.nconns+s.pending > 0 {
		if s.connsDone == nil {
			s.connsDone = make(chan struct{})
		}
		done = s.connsDone
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancelHdr() // connections still without a PROXY header are dropped
	for _, c := range conns {
		c.interruptIdle()
	}
	// Every parked connection was woken; those that go idle from now on
	// wait in a goroutine, which sees the shutdown (see handOff).
	s.stopWatcher()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the server at once: it cancels the contexts given to the
// backend (context.Cause is ErrServerClosed), then closes the listeners
// and every connection, so that a backend whose read fails because of
// Close finds its context already done and can tell why. No client is
// answered a refusal or a 421 after Close (what a cancelled backend
// returns is not sent); an acceptance a backend returns in that moment
// still goes out if the connection is not yet cut.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.closed.Store(true) // before shutdown: no connection says 421 now
	s.shutdown.Store(true)
	for l := range s.listeners {
		(*l).Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// The contexts first: a backend whose read fails once its connection
	// is closed below sees why (a closed connection alone says nothing).
	s.cancelBase(ErrServerClosed)
	s.cancelHdr()
	for _, c := range conns {
		c.raw.Close()
		if c.parked.Load() {
			// No goroutine would see the close: start one.
			s.unwatchConn(c)
			c.unpark(net.ErrClosed)
		}
	}
	s.stopWatcher()
	return nil
}
