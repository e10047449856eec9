package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/relay-pg/internal/pgtest"
	"github.com/smtpkit/smtp/server"
)

// The binaries built by TestMain: this module's relay (with PostgreSQL)
// and the root module's sendmail.
var relayBin, sendmailBin string

// shared is a PostgreSQL server for the tests that do not stop it; nil
// when none can run here.
var shared *pgtest.Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relay-pg-test")
	if err != nil {
		panic(err)
	}
	bins, err := e2e.BuildIn(dir, "relay-pg", "sendmail")
	if err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	relayBin, sendmailBin = bins["relay-pg"], bins["sendmail"]
	if pgtest.Missing() == "" {
		if shared, err = pgtest.New(); err != nil {
			os.RemoveAll(dir)
			panic(err)
		}
	}
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func sharedDB(t *testing.T) string {
	t.Helper()
	pgtest.Need(t)
	return shared.NewDatabase(t)
}

// sink is the destination of the relays' mail: an in-process SMTP server
// that counts deliveries by the relay's queue ID (from the relay's
// Received field) and can hold every message at a gate after its data was
// read and before it is accepted, as a slow server does. A message that
// passed the gate counts as delivered even if the relay has gone by then:
// it was, as far as the destination knows.
type sink struct {
	addr string
	mu   sync.Mutex
	got  map[string]int // queue ID -> deliveries
	// waiting counts the messages held at the gate by the EHLO name of
	// the relay that sent them.
	waiting map[string]int
	gate    chan struct{} // closed: open
}

func startSink(t testing.TB, open bool) *sink {
	t.Helper()
	s := &sink{got: map[string]int{}, waiting: map[string]int{}, gate: make(chan struct{})}
	if open {
		close(s.gate)
	}
	s.addr = e2e.ServeSMTP(t, "127.0.0.1:0", s)
	t.Cleanup(s.openGate) // before the server's Close (cleanups run last first)
	return s
}

func (s *sink) openGate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.gate:
	default:
		close(s.gate)
	}
}

func (s *sink) NewSession(_ context.Context, c *server.Conn) (server.Session, error) {
	return &sinkSession{s: s, c: c}, nil
}

type sinkSession struct {
	s *sink
	c *server.Conn
}

func (ss *sinkSession) Mail(context.Context, envelope.Path, envelope.MailParams) error { return nil }
func (ss *sinkSession) Rcpt(context.Context, envelope.Path, envelope.RcptParams) error { return nil }
func (ss *sinkSession) Reset(context.Context)                                          {}
func (ss *sinkSession) Logout(context.Context) error                                   { return nil }

var receivedID = regexp.MustCompile(`with ESMTPS?A id ([^;\s]+);`)

func (ss *sinkSession) Data(_ context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := receivedID.FindSubmatch(b)
	if m == nil {
		return fmt.Errorf("no relay queue ID in %q", b[:min(len(b), 200)])
	}
	s := ss.s
	s.mu.Lock()
	s.waiting[ss.c.Hello()]++
	gate := s.gate
	s.mu.Unlock()
	<-gate
	s.mu.Lock()
	s.waiting[ss.c.Hello()]--
	s.got[string(m[1])]++
	s.mu.Unlock()
	return nil
}

func (s *sink) counts() (got map[string]int, waiting map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	got, waiting = map[string]int{}, map[string]int{}
	for k, v := range s.got {
		got[k] = v
	}
	for k, v := range s.waiting {
		waiting[k] = v
	}
	return got, waiting
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startRelay starts a relay on the queue url delivering y.test to the
// sink, named name (its EHLO and Received name).
func startRelay(t *testing.T, url, name, sinkAddr string, extra ...string) (*e2e.Proc, string) {
	t.Helper()
	addr := e2e.FreeAddr(t)
	args := append([]string{"-listen", addr, "-auth", "alice:alice-pw", "-queue", url, "-route", "y.test=" + sinkAddr,
		"-retry", "200ms", "-hostname", name}, extra...)
	p := e2e.Start(t, "", relayBin, args...)
	p.WaitListen(addr, 30*time.Second)
	return p, addr
}

// submit sends one message through the relay at addr; it returns
// sendmail's exit status and stderr.
func submit(t *testing.T, addr string, i int) (int, string) {
	t.Helper()
	msg := fmt.Appendf(nil, "Subject: message %d\r\n\r\nbody %d\r\n", i, i)
	code, _, stderr := e2e.Run(t, 30*time.Second, msg, sendmailBin, "-server", addr, "-auth", "alice:alice-pw",
		"-from", "a@x.test", "-to", "b@y.test")
	return code, stderr
}

// list runs relay -list on the queue.
func list(t *testing.T, url string, extra ...string) string {
	t.Helper()
	code, out, stderr := e2e.Run(t, 30*time.Second, nil, relayBin, append([]string{"-queue", url, "-list"}, extra...)...)
	if code != 0 {
		t.Fatalf("relay -list: exit %d: %s", code, stderr)
	}
	return out
}

// unknownLogged returns the queue IDs whose interrupted attempt a relay
// logged as of unknown outcome.
func unknownLogged(procs ...*e2e.Proc) map[string]bool {
	re := regexp.MustCompile(`(?m)relay\[\d+\]: (\S+): outcome unknown: `)
	ids := map[string]bool{}
	for _, p := range procs {
		for _, m := range re.FindAllStringSubmatch(p.Stderr.String(), -1) {
			ids[m[1]] = true
		}
	}
	return ids
}

// deliveredOnce waits until the sink has n distinct messages and the
// queue is empty, then checks that a message delivered more than once is
// one whose interrupted attempt one of procs logged as of unknown outcome.
// It returns those logged, and the number of messages delivered twice.
func deliveredOnce(t *testing.T, sk *sink, url string, n int, procs ...*e2e.Proc) (unknown map[string]bool, twice int) {
	t.Helper()
	waitFor(t, "every acknowledged message delivered", 60*time.Second, func() bool {
		got, _ := sk.counts()
		return len(got) == n
	})
	waitFor(t, "an empty queue", 60*time.Second, func() bool {
		return list(t, url) == ""
	})
	got, _ := sk.counts()
	unknown = unknownLogged(procs...)
	for id, c := range got {
		if c > 1 {
			twice++
			if !unknown[id] {
				t.Errorf("%s delivered %d times, and no relay logged an unknown outcome for it", id, c)
			}
		}
	}
	return unknown, twice
}

// TestThreeRelaysOneKilled: three relays start at once on one queue (and
// race to create its schema); one of them is killed with SIGKILL while
// its deliveries wait for the destination's reply. Every message is then
// delivered; a message delivered twice is one whose interrupted attempt a
// surviving relay logged as of unknown outcome, and no other.
func TestThreeRelaysOneKilled(t *testing.T) {
	url := sharedDB(t)
	sk := startSink(t, false)
	var procs [3]*e2e.Proc
	var addrs [3]string
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			procs[i], addrs[i] = startRelay(t, url, fmt.Sprintf("relay%d.test", i+1), sk.addr, "-lease", "2s")
		})
	}
	wg.Wait()
	const n = 30
	for i := range n {
		if code, stderr := submit(t, addrs[i%3], i); code != 0 {
			t.Fatalf("message %d: exit %d: %s", i, code, stderr)
		}
	}
	waitFor(t, "relay1's deliveries at the gate", 30*time.Second, func() bool {
		_, w := sk.counts()
		return w["relay1.test"] > 0
	})
	_, waiting := sk.counts()
	procs[0].Kill()
	sk.openGate()

	unknown, twice := deliveredOnce(t, sk, url, n, procs[1], procs[2])
	if len(unknown) == 0 {
		t.Errorf("relay1 was killed with %d deliveries in progress, and no surviving relay logged an interrupted attempt", waiting["relay1.test"])
	}
	t.Logf("%d messages, %d held at the gate by relay1 when it was killed, %d delivered twice (all logged as of unknown outcome), %d unknown outcomes logged",
		n, waiting["relay1.test"], twice, len(unknown))
	for _, p := range procs[1:] {
		if l := regexp.MustCompile(`(?m)^.*: outcome unknown: .*$`).FindString(p.Stderr.String()); l != "" {
			t.Logf("for example: %s", l)
			break
		}
	}
	for _, p := range procs[1:] {
		if err := p.Stop(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
}

// TestPostgresRestart: PostgreSQL stops (as in a crash) while messages
// are being delivered: the relay answers 451 4.3.0 to submissions, keeps
// the outcomes it could not record, and once the database is back records
// them, accepts mail again and delivers everything it acknowledged once.
func TestPostgresRestart(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	sk := startSink(t, false)
	relay, addr := startRelay(t, url, "relay1.test", sk.addr, "-lease", "30s")
	accepted := 0
	for i := range 5 {
		if code, stderr := submit(t, addr, i); code != 0 {
			t.Fatalf("message %d: exit %d: %s", i, code, stderr)
		}
		accepted++
	}
	waitFor(t, "deliveries at the gate", 30*time.Second, func() bool {
		_, w := sk.counts()
		return w["relay1.test"] > 0
	})
	if err := pg.Stop("immediate"); err != nil {
		t.Fatal(err)
	}
	sk.openGate() // deliveries end while their outcome cannot be recorded
	code, stderr := submit(t, addr, 100)
	if code != 75 || !strings.Contains(stderr, "451 4.3.0") {
		t.Errorf("submission while PostgreSQL is down: exit %d, %s; want 75 and 451 4.3.0", code, stderr)
	}
	if relay.Exited() {
		t.Fatalf("the relay exited while PostgreSQL was down:\n%s", relay.Stderr.String())
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 10; i++ {
		code, stderr := submit(t, addr, i)
		for try := 0; code != 0 && try < 20; try++ {
			// The relay's connections reconnect on their next use.
			time.Sleep(250 * time.Millisecond)
			code, stderr = submit(t, addr, i)
		}
		if code != 0 {
			t.Fatalf("message %d after the restart: exit %d: %s", i, code, stderr)
		}
		accepted++
	}
	deliveredOnce(t, sk, url, accepted, relay)
	logs := relay.Stderr.String()
	for _, want := range []string{"queue database failing", "queue database reachable again", "status=sent", "cannot record the delivery state; retrying", "delivery state recorded"} {
		if !strings.Contains(logs, want) {
			t.Errorf("relay log lacks %q", want)
		}
	}
	if err := relay.Stop(); err != nil {
		t.Errorf("relay: %v", err)
	}
}

// TestOperatorCommands: -list (text and JSON), -hold, -release,
// -requeue, -flush and -delete on a PostgreSQL queue while a relay
// serves it, as an operator would use them.
func TestOperatorCommands(t *testing.T) {
	url := sharedDB(t)
	down := e2e.FreeAddr(t) // nothing listens: deliveries are deferred
	relay, addr := startRelay(t, url, "relay1.test", down, "-retry", "1h")
	for i := range 2 {
		if code, stderr := submit(t, addr, i); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	var ids []string
	waitFor(t, "two deferred messages", 30*time.Second, func() bool {
		out := list(t, url)
		ids = ids[:0]
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.Contains(l, "attempts=1 ") {
				ids = append(ids, strings.Fields(l)[0])
			}
		}
		return len(ids) == 2
	})
	out := list(t, url, "-totals")
	if !strings.Contains(out, "-- 2 messages, 0 held, ") || !strings.Contains(out, "b@y.test(pending)") || !strings.Contains(out, `error="`) {
		t.Errorf("listing:\n%s", out)
	}
	run := func(args ...string) string {
		t.Helper()
		code, out, stderr := e2e.Run(t, 30*time.Second, nil, relayBin, append([]string{"-queue", url}, args...)...)
		if code != 0 {
			t.Fatalf("relay %v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	if got := run("-hold", ids[0]); got != "Placed on hold: 1 message\n" {
		t.Errorf("-hold: %q", got)
	}
	if out := list(t, url, "-totals"); !regexp.MustCompile(`(?m) held( reason\(.*)?$`).MatchString(out) || !strings.Contains(out, ", 1 held, ") {
		t.Errorf("listing after -hold:\n%s", out)
	}
	if got := run("-release", ids[0]); got != "Released from hold: 1 message\n" {
		t.Errorf("-release: %q", got)
	}
	if got := run("-requeue", ids[1]); got != "Requeued: 1 message\n" {
		t.Errorf("-requeue: %q", got)
	}
	if got := run("-flush"); !strings.HasPrefix(got, "Flushed (due now): ") {
		t.Errorf("-flush: %q", got)
	}
	js := list(t, url, "-json")
	if n := strings.Count(js, `"queue_id":`); n != 2 || !strings.Contains(js, `"state":"pending"`) {
		t.Errorf("-list -json:\n%s", js)
	}
	if got := run("-delete", ids[0]); got != "Deleted: 1 message\n" {
		t.Errorf("-delete: %q", got)
	}
	if got := run("-delete", "ALL"); got != "Deleted: 1 message\n" {
		t.Errorf("-delete ALL: %q", got)
	}
	if got := list(t, url, "-totals"); got != mta.EmptyQueue+"\n" {
		t.Errorf("empty queue listed with -totals as %q", got)
	}
	if got := list(t, url); got != "" {
		t.Errorf("empty queue listed into a pipe as %q, want nothing", got)
	}
	if code, _, stderr := e2e.Run(t, 30*time.Second, nil, relayBin, "-queue", url, "-hold", "nosuch"); code == 0 || !strings.Contains(stderr, "no such message") {
		t.Errorf("-hold of an unknown ID: exit %d, %s", code, stderr)
	}
	if err := relay.Stop(); err != nil {
		t.Errorf("relay: %v", err)
	}
}

// TestFlushRetriesDeadDestination: -flush reaches every relay on the
// queue (a notification) and makes them try destinations in their
// dead-destination backoff again at once.
func TestFlushRetriesDeadDestination(t *testing.T) {
	url := sharedDB(t)
	sinkAddr := e2e.FreeAddr(t) // down for now
	relay, addr := startRelay(t, url, "relay1.test", sinkAddr, "-retry", "1h")
	for i := range 2 {
		if code, stderr := submit(t, addr, i); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	waitFor(t, "two deferred messages", 30*time.Second, func() bool {
		return strings.Count(list(t, url), "attempts=1 ") == 2
	})
	sk := &sink{addr: sinkAddr, got: map[string]int{}, waiting: map[string]int{}, gate: make(chan struct{})}
	close(sk.gate)
	e2e.ServeSMTP(t, sinkAddr, sk)
	code, out, stderr := e2e.Run(t, 30*time.Second, nil, relayBin, "-queue", url, "-flush")
	if code != 0 || out != "Flushed (due now): 2 messages\n" {
		t.Errorf("-flush: exit %d, %q %s", code, out, stderr)
	}
	waitFor(t, "both delivered after -flush", 10*time.Second, func() bool {
		got, _ := sk.counts()
		return len(got) == 2
	})
	relay.Stop()
}

// TestContractRelayOnPostgres: the relay of the contract (examples/relay,
// built from the root module as the harnesses build it, alone in its
// directory) given -queue postgres://... hands over to this module's relay
// in its own process (the PID that listens is the one started): the
// message is queued in PostgreSQL, delivered, and the queue is listed
// empty through the same command.
func TestContractRelayOnPostgres(t *testing.T) {
	url := sharedDB(t)
	sk := startSink(t, true)
	contract := e2e.Build(t, "relay")
	addr := e2e.FreeAddr(t)
	p := e2e.Start(t, "", contract, "-listen", addr, "-auth", "alice:alice-pw", "-queue", url,
		"-route", "y.test="+sk.addr, "-retry", "200ms", "-hostname", "contract.test")
	p.WaitListen(addr, 2*time.Minute) // a first go build of this module may compile the driver
	if code, stderr := submit(t, addr, 1); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	waitFor(t, "the message delivered", 30*time.Second, func() bool {
		got, _ := sk.counts()
		return len(got) == 1
	})
	waitFor(t, "an empty queue", 30*time.Second, func() bool {
		code, out, _ := e2e.Run(t, 2*time.Minute, nil, contract, "-queue", url, "-list")
		return code == 0 && out == ""
	})
	if err := p.Stop(); err != nil {
		t.Error(err)
	}
	if s := p.Stderr.String(); !strings.Contains(s, "running ") || !strings.Contains(s, "the relay with both queues") ||
		!strings.Contains(s, "status=sent") {
		t.Errorf("stderr:\n%s", s)
	}
}
