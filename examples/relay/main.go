package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/server"
)

// Defaults of the flags.
const (
	DefaultListen  = "127.0.0.1:2587"
	DefaultQueue   = "queue"
	DefaultWorkers = 4
	// ShutdownGrace is how long a graceful shutdown lets submissions and
	// deliveries in progress finish.
	ShutdownGrace = 10 * time.Second
)

// config is the parsed command line.
type config struct {
	listen   string
	tlsCert  string
	tlsKey   string
	auth     cli.Strings
	authFile string
	senders  string
	queueDir string
	routes   map[string]string
	schedule queue.Schedule
	hostname string
	workers  int
	list     bool
	verbose  bool
}

// parseFlags parses args (without the program name).
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{routes: map[string]string{}}
	var routes cli.Strings
	var retry string
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", DefaultListen, "submission `address` to listen on")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "certificate `file` (PEM) for STARTTLS")
	fs.StringVar(&c.tlsKey, "tls-key", "", "private key `file` (PEM) for STARTTLS")
	fs.Var(&c.auth, "auth", cli.AuthHelp+", allowed to relay")
	fs.StringVar(&c.authFile, "auth-file", "", cli.AuthFileHelp+", allowed to relay; re-read on SIGHUP")
	fs.StringVar(&c.senders, "senders", "", "`file` binding senders to logins, \"user: addr@x @domain <> ...\" a line; any other sender gets 553 5.7.1 (default: any login may use any sender); re-read on SIGHUP")
	fs.StringVar(&c.queueDir, "queue", DefaultQueue, "queue `directory`")
	fs.Var(&routes, "route", "`DOMAIN=HOST:PORT`: deliver DOMAIN there instead of its MX (repeatable)")
	fs.StringVar(&retry, "retry", "", "retry `delays`, e.g. 1s,2s,4s (the last repeats; default 30m,1h,2h,4h)")
	fs.DurationVar(&c.schedule.MaxAge, "max-age", queue.DefaultMaxAge, "give up and bounce after this `duration`")
	fs.StringVar(&c.hostname, "hostname", "", "`name` in the greeting, Received fields and bounces (default: the host name)")
	fs.IntVar(&c.workers, "workers", DefaultWorkers, "deliveries in parallel")
	fs.BoolVar(&c.list, "list", false, "print the queue and exit")
	fs.BoolVar(&c.verbose, "v", false, "log connections and trace the protocol on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.list {
		return c, nil
	}
	for _, r := range routes {
		dom, addr, err := cli.ParseRoute(r)
		if err != nil {
			return nil, err
		}
		c.routes[dom] = addr
	}
	if retry != "" {
		ds, err := queue.ParseDelays(retry)
		if err != nil {
			return nil, fmt.Errorf("-retry: %v", err)
		}
		c.schedule.Delays = ds
	}
	if c.schedule.MaxAge <= 0 {
		return nil, errors.New("-max-age must be positive")
	}
	if len(c.auth) == 0 && c.authFile == "" {
		return nil, errors.New("give -auth-file FILE (or -auth user:pass): the relay relays only for authenticated clients")
	}
	if _, err := cli.ParseUsers(c.auth); err != nil {
		return nil, err
	}
	if c.workers < 1 {
		return nil, errors.New("-workers must be at least 1")
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

func main() {
	cfg := cli.ParseOrExit("relay", parseFlags)
	if cfg.list {
		cli.ExitOnError("relay", list(os.Stdout, cfg.queueDir, time.Now()))
		return
	}
	cli.RunOrExit("relay", func(ctx context.Context) error {
		return run(ctx, cfg, os.Stderr)
	})
}

// allowInsecureAuth applies the relay's AUTH policy: with a certificate,
// AUTH only over TLS (RFC 4954 4); without one, only on a loopback
// listener, where the password does not cross a network.
func allowInsecureAuth(listen string, haveTLS bool) (bool, error) {
	if haveTLS {
		return false, nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false, err
	}
	if host == "localhost" {
		return true, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true, nil
	}
	return false, fmt.Errorf("-listen %s is not a loopback address: give -tls-cert and -tls-key, so that passwords are not sent in clear", listen)
}

// loadPolicy reads who may log in (-auth, -auth-file) and which senders
// each login may use (-senders).
func loadPolicy(cfg *config) (*policy, error) {
	users, err := cli.LoadUsers(cfg.auth, cfg.authFile)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, cli.ErrNoUsers
	}
	p := &policy{users: users}
	if cfg.senders != "" {
		if p.senders, err = readSenders(cfg.senders); err != nil {
			return nil, fmt.Errorf("-senders: %w", err)
		}
	}
	return p, nil
}

// reloadOnHangup re-reads the -auth-file and -senders files at each
// SIGHUP until ctx ends, as Postfix's "postfix reload" does. A file that
// cannot be read leaves the previous logins and senders in force.
func reloadOnHangup(ctx context.Context, cfg *config, b *submission, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			p, err := loadPolicy(cfg)
			if err != nil {
				log.Error("reload failed; the previous logins and senders stay in force", "err", err)
				continue
			}
			b.policy.Store(p)
			log.Info("reloaded", "users", len(p.users), "senders", cfg.senders != "")
		}
	}
}

// run serves submissions and delivers the queue until ctx ends.
func run(ctx context.Context, cfg *config, stderr io.Writer) error {
	pol, err := loadPolicy(cfg)
	if err != nil {
		return err
	}
	tlsConfig, err := cli.LoadKeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return err
	}
	insecureAuth, err := allowInsecureAuth(cfg.listen, tlsConfig != nil)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	q, err := queue.Open(cfg.queueDir)
	if err != nil {
		return err
	}
	defer q.Close()

	sched := newScheduler()
	n := loadQueue(q, sched, log)
	srvLevel := slog.LevelWarn
	if cfg.verbose {
		srvLevel = slog.LevelDebug
	}
	sub := &submission{q: q, sched: sched, hostname: cfg.hostname, log: log}
	sub.policy.Store(pol)
	srv := &server.Server{
		Hostname:          cfg.hostname,
		TLSConfig:         tlsConfig,
		Backend:           sub,
		Logger:            slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: srvLevel})),
		AuthRequired:      true,
		AllowInsecureAuth: insecureAuth,
		EnableSMTPUTF8:    true,
		EnableDSN:         true,
	}
	if cfg.verbose {
		srv.Trace = stderr
	}
	l, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	log.Info("relay started", "listen", l.Addr().String(), "queue", cfg.queueDir, "queued", n,
		"routes", len(cfg.routes), "max_age", cfg.schedule.MaxAge.String())
	if cfg.senders == "" {
		log.Warn("no -senders file: any authenticated user may use any sender address")
	}
	hupCtx, stopHup := context.WithCancel(ctx)
	defer stopHup()
	go reloadOnHangup(hupCtx, cfg, sub, log)

	d := &deliverer{
		q:        q,
		sched:    sched,
		tr:       newSMTPTransport(cfg.hostname, cfg.routes),
		schedule: cfg.schedule,
		hostname: cfg.hostname,
		log:      log,
		now:      time.Now,
	}
	// take ends when the workers must stop taking messages, attempt when
	// the attempts in progress must stop.
	take, stopTaking := context.WithCancel(context.Background())
	defer stopTaking()
	attempt, stopAttempts := context.WithCancel(context.Background())
	defer stopAttempts()
	var wg sync.WaitGroup
	wg.Go(func() { sched.run(take) })
	wg.Go(func() { d.run(take, attempt, cfg.workers) })

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		if serr := srv.Shutdown(sctx); serr != nil {
			srv.Close()
		}
		cancel()
		<-errc
		err = nil
	}
	// Let the attempts in progress finish for a while, so that a reply
	// the remote server is about to give is recorded; then cut them short.
	// An interrupted attempt leaves its recipients pending: the queue
	// resumes them at the next start.
	stopTaking()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(ShutdownGrace):
		log.Warn("interrupting deliveries in progress")
		stopAttempts()
		<-done
	}
	if errors.Is(err, server.ErrServerClosed) {
		err = nil
	}
	return err
}
