package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/maildir"
	"github.com/smtpkit/smtp/examples/mailsink/internal/mailstore"
	"github.com/smtpkit/smtp/examples/mailsink/internal/webui"
	"github.com/smtpkit/smtp/server"
)

// Defaults of the flags.
const (
	DefaultListen  = "127.0.0.1:2525"
	DefaultMaildir = "maildir"
	// DefaultHTTP is the web UI's address, Mailpit's and MailHog's port.
	DefaultHTTP = "127.0.0.1:8025"
	// ShutdownGrace is how long a graceful shutdown waits for sessions in
	// progress before closing them.
	ShutdownGrace = 30 * time.Second
	// ExitFlushTimeout bounds the wait for stdout to take the last lines
	// at exit: a pipe nobody reads must not keep mailsink from stopping.
	ExitFlushTimeout = 5 * time.Second
)

// config is the parsed command line.
type config struct {
	listen        string
	maildir       string
	discard       bool
	hostname      string
	tlsCert       string
	tlsKey        string
	implicitTLS   bool
	auth          cli.Strings
	authFile      string
	maxSize       int64
	maxRcpts      int
	lmtp          bool
	proxyProtocol bool
	reject        cli.Strings
	quiet         bool
	verbose       bool
	http          string // web UI and API address; "" for none
	acceptAnyAuth bool
	maxMessages   int
	// Limits and timeouts of the server; zero means the server's default.
	maxConns       int
	maxConnsPerIP  int
	commandTimeout time.Duration
	dataTimeout    time.Duration
}

// parseFlags parses args (without the program name).
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("mailsink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", DefaultListen, "`address` to listen on")
	fs.StringVar(&c.maildir, "maildir", DefaultMaildir, "Maildir `directory` to store messages in")
	fs.BoolVar(&c.discard, "discard", false, "accept messages and throw them away")
	fs.StringVar(&c.hostname, "hostname", "", "`name` in the greeting and EHLO reply (default: the host name)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "certificate `file` (PEM) for STARTTLS")
	fs.StringVar(&c.tlsKey, "tls-key", "", "private key `file` (PEM) for STARTTLS")
	fs.BoolVar(&c.implicitTLS, "implicit-tls", false, "TLS from the first byte (RFC 8314) instead of STARTTLS")
	fs.Var(&c.auth, "auth", cli.AuthHelp+"; logins require AUTH before MAIL")
	fs.StringVar(&c.authFile, "auth-file", "", cli.AuthFileHelp+"; logins require AUTH before MAIL")
	fs.Int64Var(&c.maxSize, "max-size", 0, "largest message in `bytes` (default 32 MiB)")
	fs.IntVar(&c.maxRcpts, "max-rcpts", 0, "recipients per transaction (default 100)")
	fs.BoolVar(&c.lmtp, "lmtp", false, "speak LMTP (RFC 2033)")
	fs.BoolVar(&c.proxyProtocol, "proxy-protocol", false, "expect a PROXY protocol header on every connection")
	fs.Var(&c.reject, "reject", "refuse this recipient `address` with 550 (repeatable)")
	fs.BoolVar(&c.quiet, "quiet", false, "do not print a line per message")
	fs.BoolVar(&c.verbose, "v", false, "log connections and trace the protocol on stderr")
	fs.StringVar(&c.http, "http", DefaultHTTP, "`address` of the web UI and JSON API (\"\" for none)")
	fs.BoolVar(&c.acceptAnyAuth, "auth-accept-any", false, "offer AUTH PLAIN and LOGIN and accept any credentials")
	fs.IntVar(&c.maxMessages, "max-messages", 0, "keep at most `N` messages, deleting the oldest (default: no limit)")
	fs.IntVar(&c.maxConns, "max-conns", 0, "connections served at once (default 10000; -1: no limit)")
	fs.IntVar(&c.maxConnsPerIP, "max-conns-per-ip", 0, "connections served at once per client IP (default: no limit)")
	fs.DurationVar(&c.commandTimeout, "command-timeout", 0, "how long to wait for a command (default 5m, RFC 5321 4.5.3.2.7)")
	fs.DurationVar(&c.dataTimeout, "data-timeout", 0, "how long to wait for each block of message data (default 3m, RFC 5321 4.5.3.2.5)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.implicitTLS && c.tlsCert == "" {
		return nil, errors.New("-implicit-tls needs -tls-cert and -tls-key")
	}
	if c.maxSize < 0 || c.maxRcpts < 0 {
		return nil, errors.New("-max-size and -max-rcpts must not be negative")
	}
	if c.acceptAnyAuth && (len(c.auth) > 0 || c.authFile != "") {
		return nil, errors.New("-auth-accept-any excludes -auth and -auth-file")
	}
	if c.maxMessages < 0 {
		return nil, errors.New("-max-messages must not be negative")
	}
	if c.maxConnsPerIP < 0 || c.commandTimeout < 0 || c.dataTimeout < 0 {
		return nil, errors.New("-max-conns-per-ip, -command-timeout and -data-timeout must not be negative")
	}
	return c, nil
}

func main() {
	// A stdout whose reader went away (mailsink | head) fails the
	// printer's writes, whose lines are then dropped and counted, instead
	// of killing the catcher in the middle of its sessions.
	signal.Ignore(syscall.SIGPIPE)
	cfg := cli.ParseOrExit("mailsink", parseFlags)
	cli.RunOrExit("mailsink", func(ctx context.Context) error {
		return run(ctx, cfg, os.Stdout, os.Stderr)
	})
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	srv, sink, err := newServer(cfg, stdout, stderr)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	where := "discarding messages"
	if sink.dir != nil {
		where = fmt.Sprintf("storing into %s (%d messages)", sink.dir.Path(), sink.store.Len())
	}
	fmt.Fprintf(stderr, "mailsink: listening on %s, %s\n", l.Addr(), where)
	if cfg.acceptAnyAuth && !loopback(l.Addr()) {
		fmt.Fprintf(stderr, "mailsink: warning: -auth-accept-any on %s, which is not a loopback address: anyone who reaches it can authenticate\n", l.Addr())
	}
	if (len(cfg.auth) > 0 || cfg.authFile != "") && cfg.tlsCert == "" && !loopback(l.Addr()) {
		// RFC 4954 4: without TLS, PLAIN and LOGIN carry the password in clear.
		fmt.Fprintf(stderr, "mailsink: warning: -auth without -tls-cert on %s, which is not a loopback address: passwords cross the network in clear\n", l.Addr())
	}
	webDone := startWeb(ctx, cfg, sink, stderr)

	errc := make(chan error, 1)
	go func() {
		if cfg.implicitTLS {
			errc <- srv.ServeTLS(l)
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		flushOutput(sink)
		return err
	case <-ctx.Done():
	}
	defer func() { <-webDone }()
	fmt.Fprintln(stderr, "mailsink: shutting down")
	// A second signal (the first one's context is done, so listen again)
	// or the grace period ends the sessions still running.
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	go func() {
		select {
		case <-again:
			cancel()
		case <-sctx.Done():
		}
	}()
	err = srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	<-errc
	flushOutput(sink)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// flushOutput writes out the lines still buffered, for ExitFlushTimeout
// at most.
func flushOutput(s *sink) {
	ctx, cancel := context.WithTimeout(context.Background(), ExitFlushTimeout)
	defer cancel()
	s.out.FlushContext(ctx)
}

// startWeb serves the web UI and API until ctx ends, unless -http is ""
// or -discard is given (nothing is stored, so nothing to show). When its
// address is taken it says so and SMTP goes on: several sinks can run side
// by side. The channel is closed when the web server is down.
func startWeb(ctx context.Context, cfg *config, s *sink, stderr io.Writer) <-chan struct{} {
	done := make(chan struct{})
	if cfg.http == "" || s.store == nil {
		close(done)
		return done
	}
	l, err := net.Listen("tcp", cfg.http)
	if err != nil {
		fmt.Fprintf(stderr, "mailsink: web UI not started: %v (SMTP goes on)\n", err)
		close(done)
		return done
	}
	fmt.Fprintf(stderr, "mailsink: web UI and API on http://%s\n", l.Addr())
	if !loopback(l.Addr()) {
		fmt.Fprintf(stderr, "mailsink: warning: the web UI on %s is not on a loopback address: anyone who reaches it reads, deletes and releases the mail\n", l.Addr())
	}
	h := webui.New(webui.Options{Store: s.store, Addr: l.Addr().String(), LocalName: cfg.hostname, Logger: s.log})
	go func() {
		defer close(done)
		if err := webui.Serve(ctx, l, h); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "mailsink: web UI: %v\n", err)
		}
	}()
	return done
}

// loopback reports whether a listener's address is a loopback address.
func loopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// newServer builds the server and its backend from the configuration.
func newServer(cfg *config, stdout, stderr io.Writer) (*server.Server, *sink, error) {
	users, err := cli.LoadUsers(cfg.auth, cfg.authFile)
	if err != nil {
		return nil, nil, err
	}
	tlsConfig, err := cli.LoadKeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return nil, nil, err
	}
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var dir *maildir.Dir
	var store *mailstore.Store
	if !cfg.discard {
		if dir, err = maildir.Open(cfg.maildir); err != nil {
			return nil, nil, err
		}
		store, err = mailstore.Open(dir.Path(), mailstore.Options{MaxMessages: cfg.maxMessages, Logger: log})
		if err != nil {
			return nil, nil, err
		}
	}
	s := newSink(dir)
	s.store, s.log = store, log
	s.users, s.out, s.quiet = users, cli.NewPrinter(stdout, log), cfg.quiet
	s.acceptAny, s.lmtp, s.hostname = cfg.acceptAnyAuth, cfg.lmtp, cfg.hostname
	if s.hostname == "" {
		// The server's own default (server.Server.Hostname).
		if s.hostname, err = os.Hostname(); err != nil || s.hostname == "" {
			s.hostname = "localhost"
		}
	}
	for _, r := range cfg.reject {
		s.reject[strings.ToLower(r)] = true
	}
	// AUTH in clear text: with -auth when there is no certificate (a local
	// developer tool); with -auth-accept-any also on a loopback address
	// whatever the certificate, as catchers do. Elsewhere with a
	// certificate, only after STARTTLS (RFC 4954 4), so the application's
	// real credentials do not cross the network in clear.
	insecureAuth := tlsConfig == nil || (cfg.acceptAnyAuth && webui.IsLoopback(cfg.listen))
	srv := &server.Server{
		Addr:                cfg.listen,
		Hostname:            cfg.hostname,
		TLSConfig:           tlsConfig,
		Backend:             s,
		Logger:              s.log,
		LMTP:                cfg.lmtp,
		ProxyProtocol:       cfg.proxyProtocol,
		AuthRequired:        len(users) > 0,
		AllowInsecureAuth:   insecureAuth,
		Events:              s, // the server logs every event to Logger itself
		EnableSMTPUTF8:      true,
		EnableChunking:      true,
		EnableDSN:           true,
		MaxMessageBytes:     cfg.maxSize,
		MaxRecipients:       cfg.maxRcpts,
		MaxConnections:      cfg.maxConns,
		MaxConnectionsPerIP: cfg.maxConnsPerIP,
		CommandTimeout:      cfg.commandTimeout,
		DataBlockTimeout:    cfg.dataTimeout,
	}
	if cfg.verbose {
		srv.Trace = stderr
	}
	return srv, s, nil
}
