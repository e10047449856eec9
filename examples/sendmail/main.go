package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/cli"
)

// Exit statuses of sysexits.h.
const (
	exitOK          = 0
	exitUsage       = 64 // EX_USAGE
	exitUnavailable = 69 // EX_UNAVAILABLE: permanent failure
	exitIOErr       = 74 // EX_IOERR
	exitTempFail    = 75 // EX_TEMPFAIL: try again later
	exitConfig      = 78 // EX_CONFIG: an unusable -auth-file
)

// DefaultTimeout bounds the whole exchange, so that a silent server never
// hangs a script (swaks uses 30 seconds too).
const DefaultTimeout = 30 * time.Second

// MaxMessageSize bounds what is read from standard input: the message is
// held in memory, to learn its size and 8-bit content before MAIL and to
// send it to several MX hosts.
const MaxMessageSize = 1 << 30

// config is the parsed command line.
type config struct {
	server   string
	from     envelope.Path
	to       []envelope.Recipient
	helo     string
	starttls bool
	implicit bool
	insecure bool
	user     string
	pass     string
	lmtp     bool
	timeout  time.Duration
	verbose  bool
	routes   map[string]string
}

// usageError is a command line error: exit status 64.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// configError is an unusable -auth-file: exit status 78.
type configError struct{ err error }

func (e *configError) Error() string { return "-auth-file: " + e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// addrOptions accepts UTF-8 addresses; the client declares SMTPUTF8 for
// them (RFC 6531).
var addrOptions = envelope.ParseOptions{SMTPUTF8: true}

func parsePath(s string) (envelope.Path, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "<>" {
		return envelope.Path{Null: true}, nil
	}
	if !strings.HasPrefix(s, "<") {
		s = "<" + s + ">"
	}
	return envelope.ParsePath(s, addrOptions)
}

// parseFlags parses args (without the program name).
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	var from, auth, authFile string
	var to, routes cli.Strings
	fs := flag.NewFlagSet("sendmail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.server, "server", "", "`host:port` to send to (default: each recipient's MX)")
	fs.StringVar(&from, "from", defaultFrom(), "envelope sender `address` (\"<>\" for none)")
	fs.Var(&to, "to", "recipient `address` (repeatable)")
	fs.StringVar(&c.helo, "helo", "", "`name` to give in EHLO (default: the host name)")
	fs.BoolVar(&c.starttls, "starttls", false, "require STARTTLS")
	fs.BoolVar(&c.implicit, "tls", false, "implicit TLS (RFC 8314)")
	fs.BoolVar(&c.insecure, "insecure", false, "do not verify the server's certificate")
	fs.StringVar(&auth, "auth", "", "`user:pass` to log in with the strongest mechanism the server offers ("+cli.VisibleInPS+")")
	fs.StringVar(&authFile, "auth-file", "", "`file` holding the user:password to log in with (refused unless only its owner may access it: chmod 600)")
	fs.BoolVar(&c.lmtp, "lmtp", false, "speak LMTP (RFC 2033)")
	fs.Var(&routes, "route", "`DOMAIN=HOST:PORT`: without -server, deliver DOMAIN there (repeatable)")
	fs.DurationVar(&c.timeout, "timeout", DefaultTimeout, "limit for the whole exchange")
	fs.BoolVar(&c.verbose, "v", false, "print the SMTP dialogue on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err.Error()}
	}
	to = append(to, fs.Args()...)
	if len(to) == 0 {
		return nil, usagef("no recipient: give -to ADDR")
	}
	var err error
	if c.from, err = parsePath(from); err != nil {
		return nil, usagef("-from %q: %v", from, err)
	}
	for _, t := range to {
		p, err := parsePath(t)
		if err != nil || p.Null {
			return nil, usagef("-to %q: not an address", t)
		}
		c.to = append(c.to, envelope.Recipient{Path: p})
	}
	if auth != "" && authFile != "" {
		return nil, usagef("-auth and -auth-file exclude each other")
	}
	if auth != "" {
		var ok bool
		if c.user, c.pass, ok = strings.Cut(auth, ":"); !ok || c.user == "" {
			return nil, usagef("-auth: want user:pass")
		}
	}
	if authFile != "" {
		if c.user, c.pass, err = cli.ReadCredential(authFile); err != nil {
			return nil, &configError{err}
		}
	}
	if c.starttls && c.implicit {
		return nil, usagef("-starttls and -tls exclude each other")
	}
	if c.server == "" && (c.lmtp || c.user != "" || c.implicit) {
		return nil, usagef("-lmtp, -auth, -auth-file and -tls need -server")
	}
	if c.server != "" {
		if _, _, err := net.SplitHostPort(c.server); err != nil {
			return nil, usagef("-server %q: want host:port", c.server)
		}
	}
	for _, r := range routes {
		dom, addr, err := cli.ParseRoute(r)
		if err != nil {
			return nil, usagef("%v", err)
		}
		if c.routes == nil {
			c.routes = map[string]string{}
		}
		c.routes[dom] = addr
	}
	if c.server != "" && len(c.routes) > 0 {
		return nil, usagef("-route and -server exclude each other")
	}
	if c.timeout <= 0 {
		return nil, usagef("-timeout must be positive")
	}
	return c, nil
}

// defaultFrom is $USER@hostname, as sendmail(8) would use.
func defaultFrom() string {
	user := os.Getenv("USER")
	if user == "" {
		user = "nobody"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return user + "@" + host
}

func main() {
	os.Exit(sendmail(os.Args[1:], os.Stdin, os.Stderr))
}

// sendmail runs the program and returns its exit status.
func sendmail(args []string, stdin io.Reader, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "sendmail:", err)
		var cfe *configError
		if errors.As(err, &cfe) {
			return exitConfig
		}
		return exitUsage
	}
	msg, err := io.ReadAll(io.LimitReader(stdin, MaxMessageSize+1))
	if err != nil {
		fmt.Fprintln(stderr, "sendmail: reading standard input:", err)
		return exitIOErr
	}
	if len(msg) > MaxMessageSize {
		fmt.Fprintf(stderr, "sendmail: message larger than %d bytes\n", MaxMessageSize)
		return exitUnavailable
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	if cfg.server != "" {
		err = sendTo(ctx, cfg, msg, stderr)
	} else {
		err = deliverMX(ctx, cfg, msg, stderr)
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (timeout %v)", err, cfg.timeout)
		}
		fmt.Fprintln(stderr, "sendmail:", oneLine(err))
		return exitCode(err)
	}
	return exitOK
}

// options returns the client options of cfg.
func options(cfg *config, stderr io.Writer) *client.Options {
	opts := &client.Options{
		LocalName: cfg.helo,
		LMTP:      cfg.lmtp,
	}
	if cfg.insecure {
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if cfg.verbose {
		opts.Trace = stderr
	}
	return opts
}

// sendTo hands the message to cfg.server.
func sendTo(ctx context.Context, cfg *config, msg []byte, stderr io.Writer) error {
	opts := options(cfg, stderr)
	var c *client.Client
	var err error
	switch {
	case cfg.implicit:
		c, err = client.DialTLS(ctx, cfg.server, opts)
	case cfg.starttls:
		// EHLO, STARTTLS (required: no STARTTLS is an error and nothing
		// is sent in clear), EHLO again over TLS.
		c, err = client.DialStartTLS(ctx, cfg.server, opts)
	default:
		c, err = client.Dial(ctx, cfg.server, opts)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if !cfg.starttls { // DialStartTLS has said EHLO over TLS already
		if err := c.Hello(ctx, cfg.helo); err != nil {
			return err
		}
	}
	if cfg.user != "" {
		// The strongest mechanism both sides know (SCRAM-SHA-256,
		// CRAM-MD5, PLAIN, LOGIN); never one the server did not offer,
		// and PLAIN or LOGIN only over TLS or to a loopback address.
		if err := c.AuthAuto(ctx, client.Credentials{Username: cfg.user, Password: cfg.pass}); err != nil {
			return err
		}
	}
	// Send sends recipients a server puts off for its limit of recipients
	// per transaction (452 4.5.3, RFC 5321 4.5.3.1.10) in further
	// transactions itself, and gives every recipient an outcome whatever
	// failed: its error says nothing the outcomes do not (with -v, the
	// trace shows the replies).
	env := envelope.Envelope{From: cfg.from, To: cfg.to}
	res, _ := c.Send(ctx, env, bytesReader(msg))
	outs := make([]rcptOutcome, len(res.Recipients))
	for i := range res.Recipients {
		r := &res.Recipients[i]
		outs[i] = newOutcome(r.Path, cfg.server, r.Err, r.Status())
	}
	// Whatever the outcome, the transaction is over: a failing QUIT
	// changes nothing.
	c.Quit(ctx)
	return report(outs, cfg.verbose, stderr)
}

// badCertificate reports a certificate that does not verify: it will not
// verify on retry either.
func badCertificate(err error) bool {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	return errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie)
}

// exitCode maps an error to a sysexits status: a *deliveryError says it
// from the recipients' outcomes; for a failure before the message (the
// connection, TLS, EHLO, AUTH), transient ones (4xx, network, timeout)
// are 75 so that a caller retries, permanent ones 69.
func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	if badCertificate(err) {
		return exitUnavailable
	}
	var de *deliveryError
	if errors.As(err, &de) {
		return de.status()
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		if ce.Temporary() && !ce.Local {
			return exitTempFail
		}
		return exitUnavailable
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && !t.Temporary() {
		return exitUnavailable
	}
	// Network errors, timeouts, an outcome unknown after the end of data:
	// the message may be sent again later.
	return exitTempFail
}
