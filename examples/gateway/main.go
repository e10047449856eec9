package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtp/examples/gateway/internal/api"
	"github.com/smtpkit/smtp/examples/gateway/internal/compose"
	"github.com/smtpkit/smtp/examples/gateway/internal/records"
	"github.com/smtpkit/smtp/examples/gateway/internal/webhook"
	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/server"
)

// Defaults of the flags.
const (
	DefaultListen  = "127.0.0.1:2526"
	DefaultQueue   = "queue"
	DefaultWorkers = 4
	// DefaultRetry is the webhook retry schedule: the first retry within
	// a minute (a receiver that restarts is back soon), then backing off
	// to every four hours until -max-age.
	DefaultRetry = "30s,1m,5m,15m,1h,2h,4h"
	// DefaultKeep is how long the API keeps the final state of a message
	// that left the queue, for GET /v1/messages/{id}.
	DefaultKeep = 7 * 24 * time.Hour
	// DefaultMaxSize bounds a message, both ways (SMTP SIZE, RFC 1870).
	DefaultMaxSize = api.DefaultMaxMessageBytes
	// ShutdownGrace is how long a graceful shutdown lets sessions,
	// requests and deliveries in progress finish.
	ShutdownGrace = 10 * time.Second
	// pruneInterval is how often expired idempotency keys and final
	// states are removed.
	pruneInterval = time.Hour
)

// Limits of the API's HTTP server (-http).
const (
	// APIHeaderTimeout bounds the reading of a request's header, so that
	// a client that trickles it (slowloris) does not hold a connection.
	APIHeaderTimeout = 10 * time.Second
	// APIRequestTimeout bounds the reading of a whole request, and the
	// writing of its answer: time for a message of -max-size over a slow
	// link.
	APIRequestTimeout = 5 * time.Minute
	// APIIdleTimeout is how long a kept-alive connection may wait for its
	// next request.
	APIIdleTimeout = 2 * time.Minute
	// APIMaxHeaderBytes bounds a request's header section (the bearer
	// token and Idempotency-Key are the largest fields it needs).
	APIMaxHeaderBytes = 64 << 10
)

// Subdirectories of the -queue directory.
const (
	inboundDir     = "inbound"     // the queue of mail for the webhooks
	outboundDir    = "outbound"    // the queue of mail for SMTP (the API's, and bounces)
	idempotencyDir = "idempotency" // the API's Idempotency-Key records
	sentDir        = "sent"        // final states of outbound messages, for the API
)

// config is the parsed command line.
type config struct {
	listen     string
	routes     routes
	postmaster string // -postmaster: the domain of <Postmaster>
	secretFile string
	queueDir   string
	retry      queue.Schedule
	outRetry   queue.Schedule
	httpAddr   string
	tokenFile  string
	smartHost  string
	// tls is the security of outbound MX deliveries (-dns-resolver,
	// -mta-sts, -tlsrpt, -mx-port), its files under -queue.
	tls            mta.TLSFlags
	sync           bool
	webhookTimeout time.Duration
	maxSize        int64
	maxAttachment  int
	workers        int
	hostname       string
	tlsCert        string
	tlsKey         string
	keep           time.Duration
	verbose        bool
}

// parseFlags parses args (without the program name).
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{routes: routes{}}
	var rs cli.Strings
	var retry, outRetry string
	var maxAge time.Duration
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", DefaultListen, "SMTP `address` for inbound mail (\"\" for none)")
	fs.Var(&rs, "route", "`DOMAIN=URL`: POST mail for DOMAIN to this webhook (repeatable)")
	fs.StringVar(&c.postmaster, "postmaster", "", "routed `DOMAIN` whose postmaster gets mail for a bare <Postmaster> (RFC 5321 4.1.1.3; default: the first -route)")
	fs.StringVar(&c.secretFile, "secret-file", "", "`file` of the HMAC-SHA256 webhook secret(s), one a line, the first signing (only its owner may read it)")
	fs.StringVar(&c.queueDir, "queue", DefaultQueue, "queue `directory` (created if missing)")
	fs.StringVar(&retry, "retry", DefaultRetry, "delays between webhook attempts (the last repeats)")
	fs.DurationVar(&maxAge, "max-age", queue.DefaultMaxAge, "give up and bounce after this `duration`")
	fs.StringVar(&c.httpAddr, "http", "", "`address` of the outbound HTTP API (\"\" for none)")
	fs.StringVar(&c.tokenFile, "token-file", "", "`file` of the API's bearer token(s), one a line (only its owner may read it)")
	fs.StringVar(&c.smartHost, "smarthost", "", "deliver outbound mail to `HOST:PORT` instead of the recipients' MX")
	c.tls.Register(fs)
	fs.BoolVar(&c.sync, "sync", false, "the webhook's answer is the SMTP reply (2xx 250, 4xx 550, else 451); nothing is queued")
	fs.DurationVar(&c.webhookTimeout, "webhook-timeout", webhook.DefaultTimeout, "bound on one webhook attempt")
	fs.Int64Var(&c.maxSize, "max-size", DefaultMaxSize, "largest message in `bytes`, both ways")
	fs.IntVar(&c.maxAttachment, "max-attachment", webhook.DefaultMaxAttachment, "largest attachment put in a webhook payload, in `bytes` (0: none); larger ones are referenced in the raw message")
	fs.StringVar(&outRetry, "outbound-retry", "", "delays between outbound SMTP attempts (default 30m,1h,2h,4h: RFC 5321 4.5.4.1)")
	fs.IntVar(&c.workers, "workers", DefaultWorkers, "deliveries in parallel, each way")
	fs.StringVar(&c.hostname, "hostname", "", "`name` in the greeting, Received fields, Message-IDs and bounces (default: the host name)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "certificate `file` (PEM): STARTTLS on -listen, HTTPS on -http")
	fs.StringVar(&c.tlsKey, "tls-key", "", "private key `file` (PEM)")
	fs.DurationVar(&c.keep, "keep", DefaultKeep, "how long the API keeps the final state of a sent message")
	fs.BoolVar(&c.verbose, "v", false, "log the SMTP connections and trace the protocol on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, r := range rs {
		dom, u, err := parseRoute(r)
		if err != nil {
			return nil, err
		}
		if _, dup := c.routes[dom]; dup {
			return nil, fmt.Errorf("-route: %s given twice", dom)
		}
		c.routes[dom] = u
		if c.postmaster == "" && len(c.routes) == 1 && !postmasterGiven(fs) {
			c.postmaster = dom
		}
	}
	if postmasterGiven(fs) {
		dom, _, err := parseRoute(c.postmaster + "=http://x/")
		if err != nil {
			return nil, fmt.Errorf("-postmaster: %v", err)
		}
		if _, ok := c.routes[dom]; !ok {
			return nil, fmt.Errorf("-postmaster: %s has no -route", c.postmaster)
		}
		c.postmaster = dom
	}
	var err error
	if c.retry.Delays, err = queue.ParseDelays(retry); err != nil {
		return nil, fmt.Errorf("-retry: %v", err)
	}
	if outRetry != "" {
		if c.outRetry.Delays, err = queue.ParseDelays(outRetry); err != nil {
			return nil, fmt.Errorf("-outbound-retry: %v", err)
		}
	}
	if maxAge <= 0 || c.webhookTimeout <= 0 || c.keep <= 0 {
		return nil, errors.New("-max-age, -webhook-timeout and -keep must be positive")
	}
	c.retry.MaxAge, c.outRetry.MaxAge = maxAge, maxAge
	switch {
	case c.listen == "" && c.httpAddr == "":
		return nil, errors.New("nothing to do: give -listen (inbound) or -http (outbound), or both")
	case c.listen != "" && len(c.routes) == 0:
		return nil, errors.New("give -route DOMAIN=URL for the mail -listen accepts (or -listen \"\" for the API only)")
	case c.listen != "" && c.secretFile == "":
		return nil, errors.New("give -secret-file FILE: the webhook requests are signed")
	case c.httpAddr != "" && c.tokenFile == "":
		return nil, errors.New("give -token-file FILE: the API takes only authenticated requests")
	case c.sync && c.listen == "":
		return nil, errors.New("-sync is for the SMTP listener; give -listen")
	case c.workers < 1:
		return nil, errors.New("-workers must be at least 1")
	case c.maxSize <= 0:
		return nil, errors.New("-max-size must be positive")
	case c.maxAttachment < 0:
		return nil, errors.New("-max-attachment must not be negative")
	}
	if c.maxAttachment == 0 {
		c.maxAttachment = -1 // webhook.NewPayload: inline none
	}
	if c.smartHost != "" {
		if _, _, err := net.SplitHostPort(c.smartHost); err != nil {
			return nil, fmt.Errorf("-smarthost %q: want HOST:PORT", c.smartHost)
		}
		if c.tls.DNSResolver != "" || c.tls.MTASTS || c.tls.TLSRPT {
			return nil, errors.New("-dns-resolver, -mta-sts and -tlsrpt apply to deliveries to MX hosts, and -smarthost takes them all")
		}
	}
	if err := c.tls.Check(); err != nil {
		return nil, err
	}
	if c.hostname == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			c.hostname = h
		} else {
			c.hostname = "localhost"
		}
	}
	return c, nil
}

// parseRoute parses a -route value, DOMAIN=URL: the domain as the
// recipients' are looked up (lower case, A-labels, RFC 5890), the URL
// http or https with a host.
func parseRoute(s string) (string, string, error) {
	dom, raw, ok := strings.Cut(s, "=")
	if !ok || dom == "" {
		return "", "", fmt.Errorf("-route %q: want DOMAIN=URL", s)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("-route %s: want an http:// or https:// URL after the '='", dom)
	}
	key, err := cli.DomainKey(dom)
	if err != nil || strings.HasPrefix(key, "[") {
		return "", "", fmt.Errorf("-route %q: invalid domain", dom)
	}
	return key, raw, nil
}

func main() {
	cfg := cli.ParseOrExit("gateway", parseFlags)
	cli.RunOrExit("gateway", func(ctx context.Context) error {
		return run(ctx, cfg, os.Stderr)
	})
}

// readSecretLines reads a file of secrets (webhook keys, API tokens):
// refused unless only its owner may read it, one secret a line.
func readSecretLines(flagName, path string) ([][]byte, error) {
	data, err := cli.ReadSecretFile(path)
	if err == nil {
		var s [][]byte
		if s, err = webhook.ParseSecrets(data); err == nil {
			return s, nil
		}
		err = fmt.Errorf("%s: %w", path, err)
	}
	return nil, fmt.Errorf("%s: %w", flagName, err)
}

// isLoopback reports whether a listening address stays on this host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && mta.IsLoopbackHost(host)
}

// gateway is a running gateway: its queues and what serves them.
type gateway struct {
	cfg  *config
	log  *slog.Logger
	mlog *mta.MailLog
	// inQ holds the mail for the webhooks, outQ the mail for SMTP (the
	// API's, and bounces): two queues of the relay's kind.
	inQ, outQ mta.Queue
	out       *outbound
	// hook posts inbound mail to the webhooks (nil without -listen).
	hook       *hookTransport
	sec        *mta.Security
	api        *api.Handler
	deliveries []*mta.Delivery
	servers    []func(context.Context) error // shutdowns
	serveErr   chan error
}

// run serves inbound and outbound mail until ctx ends.
func run(ctx context.Context, cfg *config, stderr io.Writer) error {
	tlsConfig, err := cli.LoadKeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return err
	}
	if cfg.httpAddr != "" && tlsConfig == nil && !isLoopback(cfg.httpAddr) {
		return fmt.Errorf("-http %s is not a loopback address: give -tls-cert and -tls-key (HTTPS), so that the bearer token is not sent in clear", cfg.httpAddr)
	}
	g := &gateway{cfg: cfg, log: slog.New(slog.NewTextHandler(stderr, nil)), mlog: mta.NewMailLog(stderr, "gateway"),
		serveErr: make(chan error, 2)}
	if err := g.open(ctx); err != nil {
		return err
	}
	defer g.close()

	runs := []func(take, attempt context.Context){func(take, _ context.Context) { g.prune(take) },
		func(take, _ context.Context) { g.sec.RunReports(take, g.outQ) }}
	for _, d := range g.deliveries {
		runs = append(runs, func(take, attempt context.Context) { d.Run(take, attempt, cfg.workers) })
	}
	workers := mta.StartWorkers(runs...)
	if err := g.serve(tlsConfig, stderr); err != nil {
		workers.Stop(ShutdownGrace, g.log)
		return err
	}
	select {
	case err = <-g.serveErr:
	case <-ctx.Done():
		g.log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	for _, shutdown := range g.servers {
		shutdown(sctx)
	}
	cancel()
	// The attempts in progress get a while to finish, so that an answer
	// about to come is recorded; then they are cut short, and what they
	// had not delivered is due again at the next start.
	workers.Stop(ShutdownGrace, g.log)
	// The TLS-RPT counts of the day so far, for the next start.
	if serr := g.sec.Close(); serr != nil {
		g.log.Error("TLS-RPT: cannot save the counts; the day's report will lack them", "err", serr)
	}
	if errors.Is(err, server.ErrServerClosed) || errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// open opens the queues and the records, and sets up the deliveries.
func (g *gateway) open(ctx context.Context) error {
	cfg := g.cfg
	// Outbound mail goes by SMTP as the relay sends it: MX hosts, or the
	// smart host as the "*" route. An operator's flush of its queue
	// (relay -queue DIR/outbound -flush) clears the dead-destination
	// backoff too.
	var err error
	// DANE, MTA-STS and TLS-RPT for the MX deliveries; their files under
	// -queue.
	if g.sec, err = mta.OpenSecurity(cfg.tls, cfg.queueDir, cfg.hostname, g.log, g.mlog); err != nil {
		return err
	}
	out := &mta.Delivery{Schedule: cfg.outRetry, Hostname: cfg.hostname, Log: g.log, MailLog: g.mlog, Security: g.sec}
	if cfg.smartHost != "" {
		out.Routes = map[string]string{"*": cfg.smartHost}
	}
	// The queues, the idempotency keys and the final states are under
	// one directory: it must be this user's alone.
	if err := os.MkdirAll(cfg.queueDir, 0o700); err != nil {
		return err
	}
	if err := queue.CheckPrivateDir(cfg.queueDir); err != nil {
		return err
	}
	opts := mta.Options{Log: g.log, MailLog: g.mlog, Owner: cfg.hostname + "[" + strconv.Itoa(os.Getpid()) + "]", Workers: cfg.workers}
	disk := mta.DiskBackend()
	if g.inQ, err = disk.Open(ctx, filepath.Join(cfg.queueDir, inboundDir), opts); err != nil {
		return err
	}
	opts.OnFlush = out.Flushed
	if g.outQ, err = disk.Open(ctx, filepath.Join(cfg.queueDir, outboundDir), opts); err != nil {
		g.close()
		return err
	}
	sent, err := records.Open(filepath.Join(cfg.queueDir, sentDir))
	if err != nil {
		g.close()
		return err
	}
	// A final state is for the API's status only: written without fsync
	// (it survives a crash of the process, not a power cut), it costs
	// deliveries little.
	sent.NoSync = true
	idem, err := records.Open(filepath.Join(cfg.queueDir, idempotencyDir))
	if err != nil {
		g.close()
		return err
	}
	g.out = &outbound{q: g.outQ, dir: filepath.Join(cfg.queueDir, outboundDir), history: sent, hostname: cfg.hostname,
		log: g.log, mlog: g.mlog, now: time.Now}
	out.Queue, out.Finished = g.outQ, g.out.finished
	g.deliveries = append(g.deliveries, out)
	if cfg.listen != "" {
		if g.hook, err = g.hookTransport(); err != nil {
			g.close()
			return err
		}
		// Inbound mail goes to the webhooks; its bounces by SMTP. With
		// -sync nothing new is queued, but what a run without it queued
		// (and acknowledged) is still delivered.
		g.deliveries = append(g.deliveries, &mta.Delivery{Queue: g.inQ, Transport: g.hook, Bounces: g.outQ,
			Schedule: cfg.retry, Hostname: cfg.hostname, Log: g.log, MailLog: g.mlog})
	}
	if cfg.httpAddr != "" {
		tokens, err := readSecretLines("-token-file", cfg.tokenFile)
		if err != nil {
			g.close()
			return err
		}
		ac := api.Config{Queue: g.out, Idempotency: idem, Builder: &compose.Builder{Hostname: cfg.hostname},
			MaxMessageBytes: cfg.maxSize, Log: g.log}
		for _, t := range tokens {
			ac.Tokens = append(ac.Tokens, string(t))
		}
		if g.api, err = api.New(ac); err != nil {
			g.close()
			return err
		}
		// A crash may have left keys pending: settle them by what the
		// queue holds before a request can ask.
		if n, err := g.api.Recover(ctx); err != nil {
			g.log.Error("cannot settle the idempotency keys left pending", "err", err)
		} else if n > 0 {
			g.log.Info("idempotency keys left pending settled", "keys", n)
		}
	}
	return nil
}

// hookTransport builds the webhook client from the secrets.
func (g *gateway) hookTransport() (*hookTransport, error) {
	secrets, err := readSecretLines("-secret-file", g.cfg.secretFile)
	if err != nil {
		return nil, err
	}
	return &hookTransport{
		routes: g.cfg.routes,
		client: &webhook.Client{
			HTTP:      webhook.NewHTTPClient(g.cfg.webhookTimeout, g.cfg.workers),
			Secrets:   secrets,
			UserAgent: "smtpkit-gateway",
		},
		maxAttachment: g.cfg.maxAttachment,
	}, nil
}

func (g *gateway) close() {
	if g.inQ != nil {
		g.inQ.Close()
	}
	if g.outQ != nil {
		g.outQ.Close()
	}
}

// queued returns the number of messages in q, for the start line.
func queued(q mta.Queue) any {
	if qn, ok := q.(interface{ Queued() int }); ok {
		return qn.Queued()
	}
	return "?"
}

// serve starts the SMTP and HTTP listeners.
func (g *gateway) serve(tlsConfig *tls.Config, stderr io.Writer) error {
	cfg := g.cfg
	var started []any
	if cfg.listen != "" {
		b := &inbound{routes: cfg.routes, postmaster: cfg.postmaster, q: g.inQ, hostname: cfg.hostname, log: g.log, mlog: g.mlog, now: time.Now}
		if cfg.sync {
			b.sync = g.hook
			b.slots = make(chan struct{}, cfg.workers)
			b.spoolDir = filepath.Join(cfg.queueDir, inboundDir, "tmp") // emptied when the queue opens
		}
		level := slog.LevelWarn
		if cfg.verbose {
			level = slog.LevelDebug
		}
		srv := &server.Server{
			Hostname:        cfg.hostname,
			TLSConfig:       tlsConfig,
			Backend:         b,
			Logger:          slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
			EnableSMTPUTF8:  true,
			EnableDSN:       true,
			EnableChunking:  true,
			MaxMessageBytes: cfg.maxSize,
		}
		if cfg.verbose {
			srv.Trace = stderr
		}
		l, err := net.Listen("tcp", cfg.listen)
		if err != nil {
			return err
		}
		go func() { g.serveErr <- srv.Serve(l) }()
		g.servers = append(g.servers, func(ctx context.Context) error {
			if err := srv.Shutdown(ctx); err != nil {
				return srv.Close()
			}
			return nil
		})
		started = append(started, "smtp", l.Addr().String(), "routes", len(cfg.routes), "sync", cfg.sync)
	}
	if cfg.httpAddr != "" {
		hs := &http.Server{
			Handler:           g.api,
			TLSConfig:         tlsConfig,
			ReadHeaderTimeout: APIHeaderTimeout,
			ReadTimeout:       APIRequestTimeout,
			WriteTimeout:      APIRequestTimeout,
			IdleTimeout:       APIIdleTimeout,
			MaxHeaderBytes:    APIMaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		}
		l, err := net.Listen("tcp", cfg.httpAddr)
		if err != nil {
			return err
		}
		if tlsConfig != nil {
			go func() { g.serveErr <- hs.ServeTLS(l, "", "") }()
		} else {
			go func() { g.serveErr <- hs.Serve(l) }()
		}
		g.servers = append(g.servers, hs.Shutdown)
		started = append(started, "http", l.Addr().String(), "tls", tlsConfig != nil)
	}
	started = append(started, "queue", cfg.queueDir, "inbound_queued", queued(g.inQ), "outbound_queued", queued(g.outQ),
		"smarthost", cfg.smartHost, "pid", os.Getpid())
	started = append(started, g.sec.LogAttrs()...)
	g.log.Info("gateway started", started...)
	if qn, ok := g.inQ.(interface{ Queued() int }); ok && cfg.listen == "" && qn.Queued() > 0 {
		g.log.Warn("the inbound queue holds mail, which goes to the webhooks only when the gateway runs with -listen",
			"inbound_queued", qn.Queued())
	}
	return nil
}

// prune removes expired idempotency keys and final states, now and every
// pruneInterval, until ctx ends.
func (g *gateway) prune(ctx context.Context) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		if g.api != nil {
			if _, err := g.api.Prune(); err != nil {
				g.log.Error("cannot prune the idempotency keys", "err", err)
			}
		}
		if _, err := g.out.history.Prune(time.Now().Add(-g.cfg.keep)); err != nil {
			g.log.Error("cannot prune the final states", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// postmasterGiven tells whether -postmaster is on the command line.
func postmasterGiven(fs *flag.FlagSet) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "postmaster" })
	return given
}
