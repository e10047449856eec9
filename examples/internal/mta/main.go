package mta

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
	"strings"
	"syscall"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/server"
)

// Defaults of the flags.
const (
	DefaultListen  = "127.0.0.1:2587"
	DefaultQueue   = "queue"
	DefaultWorkers = 4
	// DefaultLease is how long a claim on a shared queue lasts unless the
	// relay holding it renews it (it does, every third of it): a relay
	// that dies leaves its messages to the others after at most this.
	DefaultLease = time.Minute
	// MinLease is the shortest -lease taken: a shorter claim expires at
	// any pause of the network or the database, and another relay
	// delivers the message again.
	MinLease = time.Second
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
	// dkim are the signing keys (-dkim), dkimDNS the keys whose DNS
	// records to print (-dkim-dns, a command).
	dkim     []dkimSpec
	dkimDNS  []dkimSpec
	queueDir string // the -queue value: a directory or a postgres:// URL
	// tls is delivery security (-dns-resolver, -mta-sts, -tlsrpt,
	// -mx-port); stateDir keeps its files (default: the queue directory).
	tls      TLSFlags
	stateDir string
	routes   map[string]string
	schedule queue.Schedule
	hostname string
	workers  int
	list     bool
	verbose  bool
	logFile  string
	lease    time.Duration
	// The operator's commands: -list (with -json), or op on opID.
	json bool
	// totals: -list ends with a total line, or says the queue is empty,
	// even when stdout is not a terminal.
	totals bool
	op     Op
	opID   string
}

// admin reports whether the command line is an operator's command rather
// than a relay to run.
func (c *config) admin() bool { return c.list || c.op != "" }

// usageHeader is the start of -h: how the relay works for an operator.
const usageHeader = `Usage: %[1]s [flags]            run the relay
       %[1]s -queue Q -list [-json]   print the queue (like mailq)
       %[1]s -queue Q -flush          retry every message now (postqueue -f)
       %[1]s -queue Q -hold ID|ALL    -release ID|ALL  -delete ID|ALL  -requeue ID|ALL
       %[1]s -dkim-dns DOMAIN:SELECTOR:KEYFILE   print the DNS record of a DKIM key

The queue (-queue) is a directory (the default) or a postgres:// URL shared
by several relays. A directory is owned by one relay at a time: it holds an
flock on DIR/lock, which contains the owner's PID; a second relay on it
exits. The operator's commands work whether a relay runs or not.

Delivery security: -dns-resolver (DANE, RFC 7672), -mta-sts (RFC 8461)
and -tlsrpt (RFC 8460) apply to MX deliveries, not to -route. Their files
are in -state-dir (default: the queue directory; give one with a
PostgreSQL queue, its own to each relay). A message with the header field
"TLS-Required: No" (RFC 8689 5) goes without DANE and MTA-STS, as the TLS
reports themselves do.

DKIM (-dkim, repeatable): a message submitted with a From address of
DOMAIN, or of a subdomain of it, is signed with every key of DOMAIN (two
selectors while a key is rolled over), before the 250; so are the bounces
the relay writes, for the domain of -hostname. Publish each key's record
(-dkim-dns prints it) before signing with it.

Signals: SIGINT/SIGTERM shut down gracefully (deliveries in progress get
10s); SIGHUP reopens the -log file (after logrotate) and re-reads
-auth-file, -senders and the -dkim keys, and does not stop the relay;
SIGKILL loses nothing that got its 250.

Flags:
`

// opFlag is a flag that names a command and its message: -hold ID.
type opFlag struct {
	c  *config
	op Op
}

func (f opFlag) String() string { return "" }

func (f opFlag) Set(v string) error {
	if f.c.op != "" {
		return fmt.Errorf("give one command at a time (-%s and -%s)", f.c.op, f.op)
	}
	if v == "" {
		return errors.New("want a queue ID, or ALL")
	}
	f.c.op, f.c.opID = f.op, v
	return nil
}

// dkimFlag is a repeatable DOMAIN:SELECTOR:KEYFILE flag (-dkim, -dkim-dns).
type dkimFlag struct{ specs *[]dkimSpec }

func (f dkimFlag) String() string { return "" }

func (f dkimFlag) Set(v string) error {
	s, err := parseDKIMSpec(v)
	if err != nil {
		return err
	}
	*f.specs = append(*f.specs, s)
	return nil
}

// flushFlag is -flush, a command without argument.
type flushFlag struct{ c *config }

func (f flushFlag) String() string   { return "" }
func (f flushFlag) IsBoolFlag() bool { return true }

func (f flushFlag) Set(v string) error {
	if v != "true" {
		return nil
	}
	return opFlag{c: f.c, op: OpFlush}.Set(All)
}

// parseFlags parses args (without the program name).
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{routes: map[string]string{}}
	var routes cli.Strings
	var retry string
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), usageHeader, fs.Name())
		fs.PrintDefaults()
	}
	fs.StringVar(&c.listen, "listen", DefaultListen, "submission `address` to listen on")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "certificate `file` (PEM) for STARTTLS")
	fs.StringVar(&c.tlsKey, "tls-key", "", "private key `file` (PEM) for STARTTLS")
	fs.Var(&c.auth, "auth", cli.AuthHelp+", allowed to relay")
	fs.StringVar(&c.authFile, "auth-file", "", cli.AuthFileHelp+", allowed to relay; re-read on SIGHUP")
	fs.StringVar(&c.senders, "senders", "", "`file` binding senders to logins, \"user: addr@x @domain <> ...\" a line; any other sender gets 553 5.7.1 (default: any login may use any sender); re-read on SIGHUP")
	fs.Var(dkimFlag{&c.dkim}, "dkim", "`DOMAIN:SELECTOR:KEYFILE`: sign mail from DOMAIN and its subdomains with this key (repeatable; PEM, PKCS#8 RSA or Ed25519, or PKCS#1 RSA; only its owner may read it: chmod 600); re-read on SIGHUP")
	fs.Var(dkimFlag{&c.dkimDNS}, "dkim-dns", "`DOMAIN:SELECTOR:KEYFILE`: print the DNS TXT record that publishes this key, and exit (repeatable)")
	fs.StringVar(&c.queueDir, "queue", DefaultQueue, "the queue: a `directory` (its lock file holds the owner's PID), or postgres://... shared by several relays")
	fs.Var(&routes, "route", "`DOMAIN=HOST:PORT`: deliver DOMAIN there instead of its MX (repeatable)")
	fs.StringVar(&retry, "retry", "", "retry `delays`, e.g. 1s,2s,4s (the last repeats; default 30m,1h,2h,4h)")
	fs.DurationVar(&c.schedule.MaxAge, "max-age", queue.DefaultMaxAge, "give up and bounce after this `duration`")
	fs.StringVar(&c.hostname, "hostname", "", "`name` in the greeting, Received fields and bounces (default: the host name)")
	fs.IntVar(&c.workers, "workers", DefaultWorkers, "deliveries in parallel")
	fs.BoolVar(&c.list, "list", false, "print the queue and exit (works while relays run)")
	fs.BoolVar(&c.json, "json", false, "with -list: one JSON object a message (as postqueue -j)")
	fs.BoolVar(&c.totals, "totals", false, "with -list: end with a total line (\""+EmptyQueue+"\" for none) even when the output is not a terminal")
	fs.Var(flushFlag{c}, "flush", "make every message not on hold due now, and exit")
	fs.Var(opFlag{c, OpHold}, "hold", "put message `ID` (or ALL) on hold, and exit")
	fs.Var(opFlag{c, OpRelease}, "release", "release message `ID` (or ALL) from hold, and exit")
	fs.Var(opFlag{c, OpDelete}, "delete", "delete message `ID` (or ALL) without a bounce, and exit")
	fs.Var(opFlag{c, OpRequeue}, "requeue", "release message `ID` (or ALL), restart its retry schedule, due now; and exit")
	c.tls.Register(fs)
	fs.StringVar(&c.stateDir, "state-dir", "", "`directory` of the MTA-STS policies (-mta-sts) and TLS-RPT counts and reports (-tlsrpt) (default: the -queue directory; required with a PostgreSQL queue)")
	fs.StringVar(&c.logFile, "log", "", "write the logs to this `file` (reopened on SIGHUP) instead of stderr")
	fs.DurationVar(&c.lease, "lease", DefaultLease, "shared queue: how long a claim lasts unless renewed (at least 1s)")
	fs.BoolVar(&c.verbose, "v", false, "log connections and trace the protocol on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.list && c.op != "" {
		return nil, fmt.Errorf("give one command at a time (-list and -%s)", c.op)
	}
	if len(c.dkimDNS) > 0 {
		if c.admin() {
			return nil, errors.New("give one command at a time (-dkim-dns and a queue command)")
		}
		return c, nil
	}
	if c.admin() {
		return c, nil
	}
	if c.lease < MinLease {
		return nil, fmt.Errorf("-lease %v: at least %v (a claim shorter than that expires at any pause, and another relay delivers the message again)", c.lease, MinLease)
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
	if err := c.tls.Check(); err != nil {
		return nil, err
	}
	if c.stateDir == "" && !IsPostgresURL(c.queueDir) {
		c.stateDir = c.queueDir
	}
	if c.stateDir == "" && c.tls.needsState() {
		return nil, errors.New("-mta-sts and -tlsrpt keep files, and a PostgreSQL queue has no directory: give -state-dir DIR (one for each relay)")
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

// QueueArg returns the -queue value of the relay's command line args
// (DefaultQueue when none is given), and false when args do not parse
// (Main then says why) or their command uses no queue (-dkim-dns).
func QueueArg(args []string) (string, bool) {
	c, err := parseFlags(args, io.Discard)
	if err != nil || len(c.dkimDNS) > 0 {
		return "", false
	}
	return c.queueDir, true
}

// Main is the relay program: it parses the command line, then runs the
// relay until SIGINT or SIGTERM, or runs an operator's command. backends
// are the kinds of queue this binary supports (DiskBackend, and
// PostgreSQL in the nested module examples/relay-pg).
func Main(backends ...Backend) {
	cfg := cli.ParseOrExit("relay", parseFlags)
	if len(cfg.dkimDNS) > 0 {
		cli.ExitOnError("relay", printDKIMRecords(os.Stdout, os.Stderr, cfg.dkimDNS))
		return
	}
	if cfg.admin() {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := admin(ctx, cfg, os.Stdout, os.Stderr, backends)
		stop()
		cli.ExitOnError("relay", err)
		return
	}
	cli.RunOrExit("relay", func(ctx context.Context) error {
		return run(ctx, cfg, os.Stderr, backends)
	})
}

// admin runs an operator's command (-list, -flush, -hold...) on the queue,
// whether relays run on it or not.
func admin(ctx context.Context, cfg *config, stdout, stderr io.Writer, backends []Backend) error {
	b, err := backendFor(cfg.queueDir, backends)
	if err != nil {
		return err
	}
	mlog := NewMailLog(stderr, "relay")
	a, err := b.Admin(ctx, cfg.queueDir, Options{MailLog: mlog, Log: discardLog()})
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.list {
		msgs, err := a.List(ctx)
		totals := cfg.totals || isTerminal(stdout)
		if werr := writeList(stdout, msgs, time.Now(), cfg.json, totals); err == nil {
			err = werr
		}
		return err
	}
	n, err := a.Control(ctx, cfg.op, cfg.opID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d message%s\n", opDone[cfg.op], n, plural(n))
	return nil
}

// opDone says what a command did, for its summary line (postsuper's
// words where it has them).
var opDone = map[Op]string{
	OpHold:    "Placed on hold",
	OpRelease: "Released from hold",
	OpDelete:  "Deleted",
	OpRequeue: "Requeued",
	OpFlush:   "Flushed (due now)",
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

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
	if IsLoopbackHost(host) {
		return true, nil
	}
	return false, fmt.Errorf("-listen %s is not a loopback address: give -tls-cert and -tls-key, so that passwords are not sent in clear", listen)
}

// printDKIMRecords prints the DNS record of each key of specs, one a line,
// and a warning on stderr for a weak key.
func printDKIMRecords(stdout, stderr io.Writer, specs []dkimSpec) error {
	for _, s := range specs {
		key, err := loadDKIMKey(s)
		if err != nil {
			return err
		}
		signer, err := dkim.NewSigner(s.domain, s.selector, key)
		if err != nil {
			return fmt.Errorf("-dkim-dns %s: %w", s, err)
		}
		if note := weakKeyNote(signer); note != "" {
			fmt.Fprintf(stderr, "relay: warning: RSA key under %d bits, %s: RFC 8301 3.2 asks for more, and some receivers ignore shorter keys\n",
				dkim.RecommendedRSABits, note)
		}
		line, err := dnsRecordLine(s, key)
		if err != nil {
			return fmt.Errorf("-dkim-dns %s: %w", s, err)
		}
		fmt.Fprintln(stdout, line)
	}
	return nil
}

// loadPolicy reads who may log in (-auth, -auth-file), which senders each
// login may use (-senders), and the keys to sign with (-dkim).
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
	if p.dkim, err = loadDKIMKeys(cfg.dkim); err != nil {
		return nil, err
	}
	return p, nil
}

// warnWeakKeys logs the RSA keys shorter than RFC 8301 3.2 recommends.
func warnWeakKeys(log *slog.Logger, p *policy) {
	if weak := p.dkim.weak(); len(weak) > 0 {
		log.Warn("DKIM: RSA key under 2048 bits (RFC 8301 3.2: signers SHOULD use 2048 or more; some receivers ignore shorter keys)",
			"keys", strings.Join(weak, ", "))
	}
}

// onHangup handles SIGHUP until ctx ends, as Postfix's "postfix reload"
// does: it reopens the -log file (after logrotate moved it) and re-reads
// -auth-file, -senders and the -dkim keys. A file that cannot be read
// leaves the previous logins, senders and keys in force, all of them; the
// signal never ends the process.
func onHangup(ctx context.Context, cfg *config, b *submission, logOut *LogOutput, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := logOut.Reopen(); err != nil {
				log.Error("SIGHUP: cannot reopen the log file; still writing to the old one", "file", cfg.logFile, "err", err)
			} else {
				log.Info("SIGHUP: log reopened")
			}
			p, err := loadPolicy(cfg)
			if err != nil {
				log.Error("reload failed; the previous logins, senders and DKIM keys stay in force", "err", err)
				continue
			}
			b.policy.Store(p)
			log.Info("reloaded", "users", len(p.users), "senders", cfg.senders != "", "dkim_keys", p.dkim.count())
			warnWeakKeys(log, p)
		}
	}
}

// run serves submissions and delivers the queue until ctx ends.
func run(ctx context.Context, cfg *config, stderr io.Writer, backends []Backend) error {
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
	backend, err := backendFor(cfg.queueDir, backends)
	if err != nil {
		return err
	}
	logOut, err := OpenLog(cfg.logFile, stderr)
	if err != nil {
		return err
	}
	defer logOut.Close()
	log := slog.New(slog.NewTextHandler(logOut, nil))
	mlog := NewMailLog(logOut, "relay")
	sec, err := OpenSecurity(cfg.tls, cfg.stateDir, cfg.hostname, log, mlog)
	if err != nil {
		return err
	}
	if _, smart := cfg.routes["*"]; smart && (cfg.tls.DNSResolver != "" || cfg.tls.MTASTS) {
		log.Warn("-route * sends every domain to a smart host: DANE and MTA-STS apply only to MX deliveries")
	}
	tr := newSMTPTransport(cfg.hostname, cfg.routes, cfg.schedule, sec)
	defer tr.close()
	q, err := backend.Open(ctx, cfg.queueDir, Options{Log: log, MailLog: mlog, Owner: ownerName(cfg.hostname),
		Lease: cfg.lease, Workers: cfg.workers, OnFlush: tr.dests.reset})
	if err != nil {
		return err
	}
	defer q.Close()

	srvLevel := slog.LevelWarn
	if cfg.verbose {
		srvLevel = slog.LevelDebug
	}
	sub := &submission{q: q, mlog: mlog, hostname: cfg.hostname, log: log}
	sub.policy.Store(pol)
	srv := &server.Server{
		Hostname:          cfg.hostname,
		TLSConfig:         tlsConfig,
		Backend:           sub,
		Logger:            slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: srvLevel})),
		AuthRequired:      true,
		AllowInsecureAuth: insecureAuth,
		EnableSMTPUTF8:    true,
		EnableDSN:         true,
		// RFC 8689 4: offered under TLS only; the relay keeps the
		// requirement with the message (queue.Message.RequireTLS).
		EnableRequireTLS: true,
	}
	if cfg.verbose {
		srv.Trace = logOut
	}
	l, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	started := []any{"listen", l.Addr().String(), "queue", redactURL(cfg.queueDir), "queue_kind", backend.Name,
		"routes", len(cfg.routes), "max_age", cfg.schedule.MaxAge.String(), "dkim_keys", pol.dkim.count(), "pid", os.Getpid()}
	started = append(started, sec.LogAttrs()...)
	if qn, ok := q.(interface{ Queued() int }); ok {
		started = append(started, "queued", qn.Queued())
	}
	log.Info("relay started", started...)
	if cfg.senders == "" {
		log.Warn("no -senders file: any authenticated user may use any sender address")
	}
	warnWeakKeys(log, pol)
	if urlHasPassword(cfg.queueDir) {
		log.Warn("the -queue URL holds a password, which every local user sees in ps; " +
			"put it in PGPASSFILE (default ~/.pgpass, mode 600) or PGPASSWORD instead")
	}

	d := &deliverer{
		q:        q,
		tr:       tr,
		schedule: cfg.schedule,
		hostname: cfg.hostname,
		log:      log,
		mlog:     mlog,
		now:      time.Now,
		dkim:     func() *dkimKeys { return sub.policy.Load().dkim },
	}
	if sec.report != nil {
		// The reports sent by mail are signed as the bounces are.
		sec.report.dkim = d.dkim
		if signers, _ := pol.dkim.choose([]byte("From: <postmaster@"+cfg.hostname+">\r\n\r\n"), true, "", nil); len(signers) == 0 {
			log.Warn("-tlsrpt: no -dkim key for the domain of -hostname: TLS reports sent by mail are unsigned, and receivers ignore those (RFC 8460 5.3)",
				"hostname", cfg.hostname)
		}
	}
	workers := StartWorkers(func(take, attempt context.Context) { d.run(take, attempt, cfg.workers) },
		func(take, _ context.Context) { sec.RunReports(take, q) })

	hupCtx, stopHup := context.WithCancel(ctx)
	defer stopHup()
	go onHangup(hupCtx, cfg, sub, logOut, log)

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
	workers.Stop(ShutdownGrace, log)
	// The counts of the day so far, for the next start (after the last
	// deliveries counted theirs).
	if serr := sec.Close(); serr != nil {
		log.Error("TLS-RPT: cannot save the counts; the day's report will lack them", "err", serr)
	}
	if errors.Is(err, server.ErrServerClosed) {
		err = nil
	}
	return err
}

// ownerName names this relay in a shared queue's claims: host and PID,
// as "relay.example[4242]".
func ownerName(hostname string) string {
	return strings.ReplaceAll(hostname, " ", "") + "[" + fmt.Sprint(os.Getpid()) + "]"
}
