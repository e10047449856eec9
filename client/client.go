package client

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/textproto"
)

// Client is one SMTP or LMTP connection. Its methods must not be called
// concurrently. After a network or protocol failure (a *NetError, an
// *OutcomeUnknownError, a malformed reply) the Client is unusable and every
// later call returns the same failure; Close it.
type Client struct {
	conn net.Conn
	opts Options
	host string // the server's host name, for TLS verification
	port int    // the port dialled, 0 for NewClient
	// loopback reports that Dial (without a custom Dialer) was given a
	// loopback host and reached a loopback address: a password may go in
	// clear there (see clearTextOK).
	loopback bool

	r   *replyReader
	w   *textproto.Writer
	out outWriter // what w writes to: the connection
	pc  pacedConn // the connection as r and out use it (deadlines paced)
	m   session.Machine

	greeting  *reply.Reply
	ext       Extensions
	hello     bool // EHLO, HELO or LHLO succeeded
	helloName string
	isTLS     bool
	// authenticated: the Deliverer checked the server's certificate
	// itself (DANE's VerifyConnection), so that it counts as verified
	// although crypto/tls built no chain (see tlsVerified).
	authenticated bool
	authed        bool
	err           error // sticky failure: the connection is unusable
	closed        bool

	// tlsPolicy is the policy whose check the TLS passed (PolicyDANE,
	// PolicyMTASTS; "" for none), for TLSInfo.
	tlsPolicy string

	// needReset is set when a failed Send may have left a transaction
	// open on the server; the next Send starts with RSET (pipelined when
	// possible).
	needReset bool
	// rcpts holds the recipients Rcpt accepted, for LMTP results.
	rcpts []envelope.Path
	// smtputf8 and binary describe the transaction opened by Mail.
	smtputf8, binary bool

	cmd      []byte // command line scratch
	body     []byte // message read-ahead and chunk buffer
	res      Result
	onCancel func()
	// cancelMu guards conn against the cancellation callback, and
	// watching, the context of the call in progress (see watch).
	cancelMu sync.Mutex
	watching context.Context
	dw       DataWriter
	sts      [2]sendState // a transaction, and the previous one in SendBatch
	cur      *sendState   // the transaction being sent
	pendRead int          // replies of pend already read
	deferEnd bool         // SendBatch: leave the reply to the dot for later
	batch    []BatchResult
	pend     []pending
	pendBuf  [8]pending // pend's first array: no growth for a usual Send
	filter   textproto.BDATFilter
	env      envelope.Envelope // SendMail's reused envelope
}

// DefaultDialTimeout bounds the TCP connection set-up in Dial, DialTLS and
// DialStartTLS when Options.Dialer is nil and the context has no earlier
// deadline.
const DefaultDialTimeout = 30 * time.Second

// Dial connects to addr ("host:port") and reads the server's greeting.
// The connection is made with opts.Dialer when set. It does not say EHLO:
// call Hello, or let the first command do it.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	conn, err := dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	return newClient(ctx, conn, dialled(addr, opts, conn), opts)
}

// DialTLS connects to addr with implicit TLS (RFC 8314 3: "submissions",
// usually port 465) and reads the greeting over TLS.
func DialTLS(ctx context.Context, addr string, opts *Options) (*Client, error) {
	conn, err := dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	peer := dialled(addr, opts, conn)
	cfg := tlsConfig(opts, peer.host)
	tc := tls.Client(conn, cfg)
	if err := handshake(ctx, tc, opts); err != nil {
		conn.Close()
		return nil, &NetError{Command: "TLS", Err: err}
	}
	return newClient(ctx, tc, peer, opts)
}

// DialStartTLS connects to addr, reads the greeting, says EHLO and upgrades
// the connection with STARTTLS (RFC 3207). A server that does not offer
// STARTTLS, or a failed handshake, is an error: the connection is closed
// and nothing else is sent.
func DialStartTLS(ctx context.Context, addr string, opts *Options) (*Client, error) {
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Hello(ctx, ""); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.StartTLS(ctx, nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// NewClient reads the greeting on an open connection and returns a Client
// for it. host is the server's name for TLS verification in StartTLS; it
// may be empty when opts.TLSConfig sets ServerName or TLS is not used. A
// *tls.Conn counts as TLS already (implicit TLS).
//
// The client cannot know where conn leads (it may go through a proxy or a
// tunnel), so PLAIN and LOGIN are refused on it without TLS even when its
// peer address is a loopback one; set Options.InsecureAuth to vouch that
// conn is private (a Unix socket, a local pipe).
func NewClient(ctx context.Context, conn net.Conn, host string, opts *Options) (*Client, error) {
	return newClient(ctx, conn, peer{host: host}, opts)
}

// peer is what the client knows of the server it dialled.
type peer struct {
	host string // the host name or address, for TLS and OAUTHBEARER
	port int    // the port dialled, 0 when unknown
	// loopback reports a direct connection to a loopback host.
	loopback bool
}

// dialled describes the server of addr, reached over conn. The
// exemption of loopback servers from "no password in clear" is decided
// from the host asked for (a literal loopback address or "localhost"),
// and only when the client made the TCP connection itself and it reached a
// loopback address: through a custom Dialer (a SOCKS5 proxy on 127.0.0.1)
// the peer address is the proxy's, and the password would travel on.
func dialled(addr string, opts *Options, conn net.Conn) peer {
	host, portStr, _ := net.SplitHostPort(addr)
	p := peer{host: host}
	p.port, _ = strconv.Atoi(portStr)
	if opts != nil && opts.Dialer != nil {
		return p
	}
	ta, ok := conn.RemoteAddr().(*net.TCPAddr)
	p.loopback = ok && ta.IP.IsLoopback() && isLoopbackHost(host)
	return p
}

// isLoopbackHost reports a host that names this machine: a loopback
// address literal, or "localhost" (RFC 6761 6.3).
func isLoopbackHost(host string) bool {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback()
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

func dial(ctx context.Context, addr string, opts *Options) (net.Conn, error) {
	if err := ctxDone(ctx, "connect"); err != nil {
		return nil, err
	}
	var d ContextDialer
	if opts != nil && opts.Dialer != nil {
		d = opts.Dialer
	} else {
		d = &net.Dialer{Timeout: DefaultDialTimeout}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &NetError{Command: "connect", Err: err}
	}
	return conn, nil
}

func tlsConfig(opts *Options, host string) *tls.Config {
	var cfg *tls.Config
	if opts != nil && opts.TLSConfig != nil {
		cfg = opts.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

func handshake(ctx context.Context, tc *tls.Conn, opts *Options) error {
	var o Options
	if opts != nil {
		o = *opts
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout(o.CommandTimeout, DefaultCommandTimeout))
	defer cancel()
	return tc.HandshakeContext(ctx)
}

func newClient(ctx context.Context, conn net.Conn, p peer, opts *Options) (*Client, error) {
	c := &Client{conn: conn, host: p.host, port: p.port, loopback: p.loopback}
	c.pend = c.pendBuf[:0]
	if opts != nil {
		c.opts = *opts
	}
	_, isTLS := conn.(*tls.Conn)
	c.isTLS = isTLS
	c.m = session.NewMachine(session.Options{LMTP: c.opts.LMTP, TLS: isTLS})
	c.onCancel = c.cancelled
	c.pc.reset(conn)
	c.r = newReplyReader(&c.pc, c.opts.MaxReplyLineLength, c.opts.MaxReplyLines)
	c.out.conn = &c.pc
	c.w = textproto.NewWriter(&c.out)
	w := c.watch(ctx)
	c.setDeadline(ctx, c.opts.timeout(c.opts.GreetingTimeout, DefaultGreetingTimeout))
	r, err := c.readReply(ctx, "greeting")
	c.unwatch(w)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.greeting = r
	// RFC 5321 3.1: 220 is the greeting; 554 means "no SMTP service here",
	// and the client should send QUIT (4.3.2, and 3.1 for 554).
	if r.Code != reply.CodeReady {
		e := newReplyError("greeting", c.greeting)
		c.quietQuit()
		conn.Close()
		return nil, e
	}
	c.logDebug("connected", slog.String("server", conn.RemoteAddr().String()))
	return c, nil
}

// aLongTimeAgo is a deadline in the past, set to abort blocked I/O when the
// context is cancelled.
var aLongTimeAgo = time.Unix(1, 0)

// Greeting returns the server's 220 greeting.
func (c *Client) Greeting() *reply.Reply { return c.greeting }

// Extensions returns the extensions the server announced in its last EHLO
// or LHLO reply (after StartTLS, the ones announced over TLS). It is the zero
// value before Hello, and after a HELO fallback.
func (c *Client) Extensions() Extensions { return c.ext }

// TLSConnectionState returns the TLS state of the connection and whether
// TLS is in use.
func (c *Client) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := c.conn.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Conn returns the underlying connection (a *tls.Conn after StartTLS).
func (c *Client) Conn() net.Conn { return c.conn }

// watching is a context watch started by watch, ended by unwatch.
type watching struct {
	stop func() bool
	prev context.Context
}

// watch arranges for ctx's cancellation to abort blocked I/O until
// unwatch. It costs nothing for a context that cannot be cancelled.
//
// The callback of context.AfterFunc may still run after stop returned
// (stop does not wait for it), so it acts only while the context being
// watched is a cancelled one: a late callback of an earlier call cannot
// abort the next call, made with another context.
func (c *Client) watch(ctx context.Context) watching {
	if ctx.Done() == nil {
		return watching{}
	}
	c.cancelMu.Lock()
	w := watching{prev: c.watching}
	c.watching = ctx
	c.cancelMu.Unlock()
	w.stop = context.AfterFunc(ctx, c.onCancel)
	return w
}

// unwatch ends a watch started by watch.
func (c *Client) unwatch(w watching) {
	if w.stop == nil {
		return
	}
	w.stop()
	c.cancelMu.Lock()
	c.watching = w.prev
	c.cancelMu.Unlock()
}

// cancelled is the context.AfterFunc callback: it aborts blocked I/O by
// setting a deadline in the past.
func (c *Client) cancelled() {
	c.cancelMu.Lock()
	defer c.cancelMu.Unlock()
	if ctx := c.watching; ctx != nil && ctx.Err() != nil {
		c.pc.abort()
	}
}

// setConn replaces the connection (after the STARTTLS handshake).
func (c *Client) setConn(conn net.Conn) {
	c.cancelMu.Lock()
	c.conn = conn
	c.pc.reset(conn)
	c.cancelMu.Unlock()
	c.w.Reset(&c.out)
}

// setDeadline sets the connection deadline to d from now, or to ctx's
// deadline when that is earlier (see setReadDeadline).
func (c *Client) setDeadline(ctx context.Context, d time.Duration) {
	c.pc.live()
	t := deadline(ctx, d)
	c.pc.setRead(t)
	c.pc.setWrite(t)
	if ctx.Done() != nil && ctx.Err() != nil {
		c.pc.abort()
	}
}

// ready checks, before a call writes anything, that the client is usable
// and ctx is not done (a *ContextError that leaves the client usable).
func (c *Client) ready(ctx context.Context, cmd string) error {
	if err := c.usable(); err != nil {
		return err
	}
	return ctxDone(ctx, cmd)
}

// usable returns the sticky failure, or an error for a closed client.
// The sticky failure is what later calls should get: a *NetError, or the
// 421 reply, never the first failure's own shape (say an
// *OutcomeUnknownError, which would tell a later message that it might
// have been delivered).
func (c *Client) usable() error {
	if c.err != nil {
		return c.err
	}
	if c.closed {
		return net.ErrClosed
	}
	return nil
}

// broken records a network or protocol failure during cmd and returns it as
// the sticky error. A cancelled context is reported as such.
func (c *Client) broken(ctx context.Context, cmd string, err error) error {
	err = ctxCause(ctx, err)
	var ne *NetError
	if !errors.As(err, &ne) {
		err = &NetError{Command: cmd, Err: err, interrupted: isContextErr(err)}
	}
	c.err = err
	c.logWarn("connection failed", slog.String("command", cmd), slog.Any("err", err))
	c.conn.Close()
	return err
}

// unknownOutcome records a failure after the end of the message. Later
// calls get a *NetError: their messages were not sent.
func (c *Client) unknownOutcome(ctx context.Context, cmd string, err error) error {
	err = ctxCause(ctx, err)
	e := &OutcomeUnknownError{Command: cmd, Err: err}
	c.err = &NetError{Command: cmd, Err: err, interrupted: isContextErr(err)}
	c.logWarn("connection lost after the end of the message", slog.String("command", cmd), slog.Any("err", err))
	c.conn.Close()
	return e
}

// ctxCause reports a timeout caused by the context as the context's
// error: the connection deadline was the context's deadline, or was set in
// the past on cancellation.
func ctxCause(ctx context.Context, err error) error {
	if ctx.Done() == nil || !isTimeout(err) {
		return err
	}
	if e := ctx.Err(); e != nil {
		return e
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// check asks the state machine whether cmd may be sent now (RFC 5321
// 4.1.4) and turns a refusal into a Local *Error.
func (c *Client) check(cmd session.Command, name string) error {
	if r := c.m.Check(cmd); r != nil {
		return localError(name, r, ErrBadSequence)
	}
	return nil
}

// ensureHello checks that the client is ready for cmd (see ready) and
// says EHLO (or LHLO) with the configured name if Hello was not called
// yet.
func (c *Client) ensureHello(ctx context.Context, cmd string) error {
	if err := c.ready(ctx, cmd); err != nil {
		return err
	}
	if c.hello {
		return nil
	}
	return c.Hello(ctx, "")
}

// localName returns the name to give in EHLO.
func (c *Client) localName(name string) string {
	if name != "" {
		return name
	}
	if c.opts.LocalName != "" {
		return c.opts.LocalName
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return DefaultLocalName
}

// writeLine queues one command line (without CRLF) and traces it.
func (c *Client) writeLine(line []byte) error {
	c.trace('C', line)
	// The CRLF is written apart: appending it to line would reallocate
	// whenever line fills its buffer, once per message.
	if _, err := c.w.Write(line); err != nil {
		return err
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

// writeString queues a fixed command line (without CRLF) and traces it.
func (c *Client) writeString(line string) error {
	if c.opts.Trace != nil {
		c.trace('C', []byte(line))
	}
	if _, err := c.w.WriteString(line); err != nil {
		return err
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

// exchange sends one command and reads its reply under timeout, as a view
// valid until the next read.
func (c *Client) exchange(ctx context.Context, name string, line []byte, timeout time.Duration) (reply.RawReply, error) {
	defer c.unwatch(c.watch(ctx))
	c.setDeadline(ctx, timeout)
	if err := c.writeLine(line); err != nil {
		return reply.RawReply{}, c.broken(ctx, name, err)
	}
	if err := c.flush(); err != nil {
		return reply.RawReply{}, c.broken(ctx, name, err)
	}
	return c.readRaw(ctx, name)
}

// command sends one command; a reply whose code is not want is an *Error,
// except that any 2yz does for want 250 (RFC 5321 4.2.1: the first digit
// says the command succeeded). A positive reply costs no allocation.
func (c *Client) command(ctx context.Context, name string, line []byte, timeout time.Duration, want reply.Code) error {
	r, err := c.exchange(ctx, name, line, timeout)
	if err != nil {
		return err
	}
	if r.Code != want && !(want == reply.CodeOK && r.Code.IsPositive()) {
		return newReplyError(name, r.Reply())
	}
	return nil
}

// simple is command for a caller that needs the reply itself.
func (c *Client) simple(ctx context.Context, name string, line []byte, timeout time.Duration, want reply.Code) (*reply.Reply, error) {
	raw, err := c.exchange(ctx, name, line, timeout)
	if err != nil {
		return nil, err
	}
	r := raw.Reply()
	if r.Code != want {
		return r, newReplyError(name, r)
	}
	return r, nil
}

func (c *Client) cmdTimeout() time.Duration {
	return c.opts.timeout(c.opts.CommandTimeout, DefaultCommandTimeout)
}

// Hello introduces the client with EHLO (LHLO for LMTP), falling back to
// HELO when the server does not know EHLO (RFC 5321 3.2: 500 or 502, and
// also 504 and 550 which some old servers send). name is the client's
// domain; empty means Options.LocalName. A second Hello is allowed and
// resets any transaction (RFC 5321 4.1.4).
func (c *Client) Hello(ctx context.Context, name string) error {
	verb := "EHLO"
	if c.opts.LMTP {
		verb = "LHLO"
	}
	if err := c.ready(ctx, verb); err != nil {
		return err
	}
	name = c.localName(name)
	if !validHelloName(name) {
		// A local misconfiguration, not the recipient's fault: transient
		// (RFC 3463 4.3.5 "system incorrectly configured"), so that a queue
		// does not bounce mail over it.
		why := "EHLO name " + strconv.Quote(name) + " is empty or has a space or control character"
		return localError("EHLO", reply.New(reply.CodeLocalError, reply.Enh(4, 3, 5), why), errors.New(why))
	}
	c.helloName = name
	cmd := session.EHLO
	if c.opts.LMTP {
		cmd = session.LHLO
	}
	if err := c.check(cmd, verb); err != nil {
		return err
	}
	c.cmd = append(append(append(c.cmd[:0], verb...), ' '), name...)
	r, err := c.simple(ctx, verb, c.cmd, c.cmdTimeout(), reply.CodeOK)
	if err == nil {
		c.ext = parseExtensions(r.Lines)
		c.helloDone(cmd)
		return nil
	}
	var re *Error
	if !errors.As(err, &re) {
		return err
	}
	c.m.Fail(cmd)
	if c.opts.LMTP {
		return err
	}
	switch re.Code {
	case reply.CodeSyntaxError, reply.CodeNotImplemented, reply.CodeParamNotImplemented, reply.CodeMailboxUnavailable:
	default:
		return err
	}
	// RFC 5321 3.2: an old server; HELO, and no extensions.
	c.cmd = append(append(c.cmd[:0], "HELO "...), name...)
	if err := c.command(ctx, "HELO", c.cmd, c.cmdTimeout(), reply.CodeOK); err != nil {
		return err
	}
	c.ext = Extensions{}
	c.helloDone(session.HELO)
	return nil
}

// validHelloName checks the argument of EHLO, HELO or LHLO: a domain or an
// address literal (RFC 5321 4.1.1.1), so one non-empty word without
// spaces or control characters, never a line break that would inject a
// command. Anything else is left to the server to judge.
func validHelloName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if b := name[i]; b <= ' ' || b == 0x7f {
			return false
		}
	}
	return true
}

func (c *Client) helloDone(cmd session.Command) {
	c.m.Apply(cmd)
	c.hello = true
	c.needReset = false
	c.rcpts = c.rcpts[:0]
}

// Noop sends NOOP (RFC 5321 4.1.1.9), to keep the connection alive or
// check it.
func (c *Client) Noop(ctx context.Context) error {
	if err := c.ready(ctx, "NOOP"); err != nil {
		return err
	}
	err := c.command(ctx, "NOOP", append(c.cmd[:0], "NOOP"...), c.cmdTimeout(), reply.CodeOK)
	return err
}

// Reset sends RSET (RFC 5321 4.1.1.5), aborting the current transaction.
func (c *Client) Reset(ctx context.Context) error {
	if err := c.ensureHello(ctx, "RSET"); err != nil {
		return err
	}
	if err := c.check(session.RSET, "RSET"); err != nil {
		return err
	}
	if err := c.command(ctx, "RSET", append(c.cmd[:0], "RSET"...), c.cmdTimeout(), reply.CodeOK); err != nil {
		return err
	}
	c.m.Apply(session.RSET)
	c.needReset = false
	c.rcpts = c.rcpts[:0]
	return nil
}

// Verify sends VRFY (RFC 5321 4.1.1.6, 3.5.1) and returns the reply: 250
// or 251 with the mailbox, 252 when the server will not say. Any other code
// is an *Error.
func (c *Client) Verify(ctx context.Context, addr string) (*reply.Reply, error) {
	if err := c.ensureHello(ctx, "VRFY"); err != nil {
		return nil, err
	}
	if err := c.check(session.VRFY, "VRFY"); err != nil {
		return nil, err
	}
	for i := 0; i < len(addr); i++ {
		if addr[i] == '\r' || addr[i] == '\n' {
			return nil, localError("VRFY", reply.New(reply.CodeParamSyntax, reply.EnhSyntaxError(), "line break in argument"), errors.New("line break in VRFY argument"))
		}
	}
	c.cmd = append(append(c.cmd[:0], "VRFY "...), addr...)
	r, err := c.simple(ctx, "VRFY", c.cmd, c.cmdTimeout(), reply.CodeOK)
	if err != nil {
		var re *Error
		if errors.As(err, &re) && (re.Code == reply.CodeWillForward || re.Code == reply.CodeCannotVerify) {
			return re.Reply, nil
		}
		return nil, err
	}
	return r, nil
}

// Quit sends QUIT (RFC 5321 4.1.1.10), waits for the reply and closes the
// connection. The connection is closed even when QUIT fails, and when ctx
// is done before QUIT is sent (then QUIT is not sent, and the error is a
// *ContextError).
func (c *Client) Quit(ctx context.Context) error {
	if err := c.usable(); err != nil {
		c.Close()
		if c.closed && c.err == nil {
			return nil
		}
		return err
	}
	if err := ctxDone(ctx, "QUIT"); err != nil {
		c.Close()
		return err
	}
	err := c.command(ctx, "QUIT", append(c.cmd[:0], "QUIT"...), c.cmdTimeout(), reply.CodeClosing)
	c.Close()
	return err
}

// quietQuitTimeout bounds the QUIT written after a refused greeting: a
// courtesy (RFC 5321 3.1), not worth waiting for.
const quietQuitTimeout = time.Second

// quietQuit sends QUIT without waiting, for a failed greeting.
func (c *Client) quietQuit() {
	c.pc.setWrite(time.Now().Add(quietQuitTimeout))
	c.writeLine(append(c.cmd[:0], "QUIT"...))
	c.flush()
}

// Close closes the connection without QUIT.
func (c *Client) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.conn.Close()
	if c.err != nil {
		return nil // already closed by the failure
	}
	return err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (c *Client) logDebug(msg string, attrs ...slog.Attr) {
	if c.opts.Logger != nil {
		c.opts.Logger.LogAttrs(context.Background(), slog.LevelDebug, msg, attrs...)
	}
}

func (c *Client) logWarn(msg string, attrs ...slog.Attr) {
	if c.opts.Logger != nil {
		c.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
	}
}
