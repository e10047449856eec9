package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// The binaries built by TestMain.
var relayBin, sendmailBin, mailsinkBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relay-test")
	if err != nil {
		panic(err)
	}
	bins, err := e2e.BuildIn(dir, "relay", "sendmail", "mailsink")
	if err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	relayBin = bins["relay"]
	sendmailBin = bins["sendmail"]
	mailsinkBin = bins["mailsink"]
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is a relay with two destination sinks: x.test (the senders'
// domain, for bounces) and y.test, each on its own port.
type world struct {
	t         *testing.T
	dir       string
	relayAddr string
	cert, key string
	xAddr     string
	yAddr     string
	xMaildir  string
	yMaildir  string
	queue     string
	relay     *e2e.Proc
}

func newWorld(t *testing.T) *world {
	dir := t.TempDir()
	w := &world{t: t, dir: dir, relayAddr: e2e.FreeAddr(t), xAddr: e2e.FreeAddr(t), yAddr: e2e.FreeAddr(t),
		xMaildir: filepath.Join(dir, "x"), yMaildir: filepath.Join(dir, "y"), queue: filepath.Join(dir, "queue")}
	w.cert, w.key = e2e.WriteCert(t, dir)
	return w
}

func (w *world) startRelay(extra ...string) {
	args := []string{"-listen", w.relayAddr, "-tls-cert", w.cert, "-tls-key", w.key, "-auth", "alice:alice-pw",
		"-queue", w.queue, "-route", "x.test=" + w.xAddr, "-route", "y.test=" + w.yAddr,
		"-retry", "200ms", "-hostname", "relay.test"}
	w.relay = e2e.Start(w.t, w.dir, relayBin, append(args, extra...)...)
	w.relay.WaitListen(w.relayAddr, 10*time.Second)
}

func (w *world) startSink(addr, md string, extra ...string) *e2e.Proc {
	p := e2e.Start(w.t, w.dir, mailsinkBin, append([]string{"-listen", addr, "-maildir", md, "-quiet", "-http", ""}, extra...)...)
	p.WaitListen(addr, 10*time.Second)
	return p
}

// submit sends msg through the relay with sendmail (STARTTLS + AUTH).
func (w *world) submit(msg []byte, from string, to ...string) {
	w.t.Helper()
	args := []string{"-server", w.relayAddr, "-starttls", "-insecure", "-auth", "alice:alice-pw", "-from", from}
	for _, r := range to {
		args = append(args, "-to", r)
	}
	if code, _, stderr := e2e.Run(w.t, 20*time.Second, msg, sendmailBin, args...); code != 0 {
		w.t.Fatalf("sendmail to the relay: exit %d: %s", code, stderr)
	}
}

// list runs relay -list.
func (w *world) list() []string {
	w.t.Helper()
	code, out, stderr := e2e.Run(w.t, 10*time.Second, nil, relayBin, "-list", "-queue", w.queue)
	if code != 0 {
		w.t.Fatalf("relay -list: exit %d: %s", code, stderr)
	}
	// Read from a pipe: exactly one line a message (the contract), no
	// total line, nothing for an empty queue.
	if out == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines {
		if l == "" || strings.HasPrefix(l, "-- ") || l == mta.EmptyQueue {
			w.t.Fatalf("relay -list into a pipe: a line that is no message:\n%s", out)
		}
	}
	// -totals adds the summary a terminal gets.
	_, tot, _ := e2e.Run(w.t, 10*time.Second, nil, relayBin, "-list", "-totals", "-queue", w.queue)
	if !strings.Contains(tot, "\n-- ") && tot != mta.EmptyQueue+"\n" {
		w.t.Fatalf("relay -list -totals: no total line:\n%s", tot)
	}
	return lines
}

// waitQueue waits until the queue listing satisfies ok.
func (w *world) waitQueue(what string, ok func(lines []string) bool) []string {
	w.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		lines := w.list()
		if ok(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("queue never %s:\n%s", what, strings.Join(lines, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func emptyQueue(lines []string) bool { return len(lines) == 0 }

// stripReceived checks and removes the relay's Received field (RFC 5321
// 4.4), which ends at the first line end not followed by folding space.
func stripReceived(t *testing.T, body []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(body, []byte("Received: from ")) {
		t.Fatalf("no Received field first: %q", body[:min(len(body), 80)])
	}
	end := e2e.FieldEnd(body)
	if end < 0 {
		t.Fatalf("Received field does not end: %q", body)
	}
	if rec := body[:end]; !bytes.Contains(rec, []byte("by relay.test with ESMTPSA id ")) {
		t.Errorf("Received field %q", rec)
	}
	return body[end:]
}

// TestRelayRetryThenDeliver: sendmail -> relay -> mailsink, the sink down
// at first: the relay retries and delivers once it is up, byte for byte.
func TestRelayRetryThenDeliver(t *testing.T) {
	w := newWorld(t)
	w.startRelay()
	msg := []byte("From: a@x.test\r\nTo: b@y.test\r\nSubject: retried\r\n\r\n.leading dot\r\n\xc3\xa9 8-bit\r\n")
	w.submit(msg, "a@x.test", "b@y.test", "c@y.test")

	// The queue shows the message deferred, with its last error. (The
	// state is saved after each domain and once more with the error: wait
	// for the last save.)
	lines := w.waitQueue("shows an attempt", func(l []string) bool {
		return len(l) == 1 && strings.Contains(l[0], "attempts=") && !strings.Contains(l[0], "attempts=0 ") &&
			strings.Contains(l[0], `error="`)
	})
	if !strings.Contains(lines[0], "<a@x.test> b@y.test(pending),c@y.test(pending)") || !strings.Contains(lines[0], `error="`) ||
		!strings.Contains(lines[0], "next=") {
		t.Errorf("listing %q", lines[0])
	}

	w.startSink(w.yAddr, w.yMaildir)
	files := e2e.Maildir(t, w.yMaildir, 1, 15*time.Second)
	if len(files) != 1 {
		t.Fatalf("%d messages delivered, want 1", len(files))
	}
	s := e2e.ReadStored(t, files[0])
	if s.From != "a@x.test" || strings.Join(s.To, ",") != "b@y.test,c@y.test" {
		t.Errorf("envelope from=%q to=%v", s.From, s.To)
	}
	if body := stripReceived(t, s.Body); !bytes.Equal(body, msg) {
		t.Errorf("relayed message %q, want %q", body, msg)
	}
	w.waitQueue("empties", emptyQueue)
	if err := w.relay.Stop(); err != nil {
		t.Errorf("relay exit after SIGTERM: %v", err)
	}
	logs := w.relay.Stderr.String()
	for _, want := range []string{"(queue active)", "status=deferred", "status=sent (250 ", ": removed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

// TestRelayBounce: a permanent 550 gives an RFC 3464 report in the
// sender's mailbox; the message with a null reverse-path that fails is not
// bounced.
func TestRelayBounce(t *testing.T) {
	w := newWorld(t)
	w.startSink(w.xAddr, w.xMaildir)
	w.startSink(w.yAddr, w.yMaildir, "-reject", "nobody@y.test")
	w.startRelay()
	msg := []byte("Subject: partly bounced\r\nMessage-ID: <orig@x.test>\r\n\r\nhello\r\n")
	w.submit(msg, "a@x.test", "b@y.test", "nobody@y.test")

	if files := e2e.Maildir(t, w.yMaildir, 1, 10*time.Second); len(files) != 1 {
		t.Fatalf("%d delivered to y.test", len(files))
	}
	files := e2e.Maildir(t, w.xMaildir, 1, 10*time.Second)
	if len(files) != 1 {
		t.Fatalf("%d bounces in the sender's mailbox, want 1", len(files))
	}
	s := e2e.ReadStored(t, files[0])
	if s.From != "" || strings.Join(s.To, ",") != "a@x.test" {
		t.Errorf("bounce envelope from=<%s> to=%v, want <> to a@x.test", s.From, s.To)
	}
	body := string(s.Body)
	for _, want := range []string{
		"Content-Type: multipart/report; report-type=delivery-status",
		"Content-Type: message/delivery-status",
		"Reporting-MTA: dns; relay.test",
		"Final-Recipient: rfc822; nobody@y.test",
		"Action: failed",
		"Status: 5.1.1",
		"Diagnostic-Code: smtp; 550 5.1.1",
		"Content-Type: message/rfc822",
		"Message-ID: <orig@x.test>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("bounce lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Final-Recipient: rfc822; b@y.test") {
		t.Error("the delivered recipient is in the bounce")
	}
	logs := w.relay.Stderr.String()
	for _, re := range []string{
		`: to=<nobody@y\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, delay=[0-9.]+, dsn=5\.1\.1, tls=none, attempt=1, status=bounced \(550 5\.1\.1 `,
		`: sender non-delivery notification: \S+`,
	} {
		if !regexp.MustCompile(re).MatchString(logs) {
			t.Errorf("log lacks %s:\n%s", re, logs)
		}
	}
	w.waitQueue("empties", emptyQueue)

	// A bounce that bounces: no report of the report.
	w.submit([]byte("Subject: a bounce\r\n\r\nx\r\n"), "<>", "nobody@y.test")
	w.waitQueue("empties", emptyQueue)
	time.Sleep(300 * time.Millisecond)
	if files := e2e.Maildir(t, w.xMaildir, 2, 0); len(files) != 1 {
		t.Errorf("%d files in the sender's mailbox, want still 1", len(files))
	}
	if !strings.Contains(w.relay.Stderr.String(), "not bouncing a bounce") {
		t.Error("no log line for the dropped bounce")
	}
}

// TestRelayExpiry: with -max-age, a recipient that stays unreachable is
// given up and reported (status 4.4.7).
func TestRelayExpiry(t *testing.T) {
	w := newWorld(t)
	w.startSink(w.xAddr, w.xMaildir)
	w.startRelay("-max-age", "1s")
	w.submit([]byte("Subject: expires\r\n\r\nx\r\n"), "a@x.test", "b@y.test") // y.test is down
	files := e2e.Maildir(t, w.xMaildir, 1, 10*time.Second)
	if len(files) != 1 {
		t.Fatalf("%d bounces, want 1", len(files))
	}
	body := string(e2e.ReadStored(t, files[0]).Body)
	if !strings.Contains(body, "Status: 4.4.7") || !strings.Contains(body, "Final-Recipient: rfc822; b@y.test") {
		t.Errorf("expiry report:\n%s", body)
	}
	// No host said anything: the connection failed (issue 14.16). No
	// Diagnostic-Code or Remote-MTA (RFC 3464 2.3.5, 2.3.6), and a text
	// that says what happened.
	unfolded := strings.ReplaceAll(body, "\r\n    ", " ")
	if strings.Contains(body, " said: ") || strings.Contains(body, "Diagnostic-Code:") || strings.Contains(body, "Remote-MTA:") ||
		!strings.Contains(unfolded, "<b@y.test>: delivery time expired; last attempt: connection to 127.0.0.1 failed: ") {
		t.Errorf("expiry report presents a connection failure as a reply:\n%s", body)
	}
	w.waitQueue("empties", emptyQueue)
	if !regexp.MustCompile(`: to=<b@y\.test>, relay=none, delay=[0-9.]+, dsn=4\.4\.7, tls=none, attempt=\d+, status=expired \(delivery time expired after \d+ attempts; last: `).MatchString(w.relay.Stderr.String()) {
		t.Errorf("no status=expired line in the log:\n%s", w.relay.Stderr.String())
	}
}

// TestRelayCrashRecovery: the relay is killed with SIGKILL while messages
// are queued (one of them already delivered to one of its recipients),
// restarted, and delivers each message exactly once to each recipient.
func TestRelayCrashRecovery(t *testing.T) {
	w := newWorld(t)
	w.startSink(w.xAddr, w.xMaildir) // x.test up, y.test down
	w.startRelay()
	const n = 5
	for i := range n {
		w.submit([]byte(fmt.Sprintf("Subject: crash %d\r\n\r\nbody %d\r\n", i, i)), "a@x.test", "b@y.test")
	}
	// A message for both domains: x.test gets it now, y.test later.
	w.submit([]byte("Subject: split\r\n\r\nsplit\r\n"), "a@x.test", "c@x.test", "d@y.test")
	w.waitQueue("shows the partial delivery", func(l []string) bool {
		return len(l) == n+1 && strings.Contains(strings.Join(l, "\n"), "c@x.test(delivered),d@y.test(pending)")
	})
	w.relay.Kill()

	w.startSink(w.yAddr, w.yMaildir)
	// -list works with no relay running.
	if lines := w.list(); len(lines) != n+1 {
		t.Errorf("listing after the crash: %q", lines)
	}
	w.startRelay()
	w.waitQueue("empties", emptyQueue)
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up

	count := map[string]int{}
	for _, f := range e2e.Maildir(t, w.yMaildir, n+1, 5*time.Second) {
		s := e2e.ReadStored(t, f)
		subj := string(s.Body[bytes.Index(s.Body, []byte("Subject: ")):])
		subj = subj[:strings.Index(subj, "\r\n")]
		count[subj+" to "+strings.Join(s.To, ",")]++
	}
	for i := range n {
		if k := fmt.Sprintf("Subject: crash %d to b@y.test", i); count[k] != 1 {
			t.Errorf("%q delivered %d times", k, count[k])
		}
	}
	if k := "Subject: split to d@y.test"; count[k] != 1 {
		t.Errorf("%q delivered %d times", k, count[k])
	}
	if files := e2e.Maildir(t, w.xMaildir, 2, 0); len(files) != 1 {
		t.Errorf("x.test got %d messages, want the split one once", len(files))
	}
}

// TestNoOpenRelay: without AUTH nothing is relayed; AUTH is not offered
// before TLS when a certificate is configured.
func TestNoOpenRelay(t *testing.T) {
	w := newWorld(t)
	w.startSink(w.yAddr, w.yMaildir)
	w.startRelay()
	// sendmail without -auth: MAIL gets 530, a permanent failure.
	code, _, stderr := e2e.Run(t, 20*time.Second, []byte("Subject: x\r\n\r\nx\r\n"), sendmailBin,
		"-server", w.relayAddr, "-starttls", "-insecure", "-from", "a@x.test", "-to", "b@y.test")
	if code != 69 || !strings.Contains(stderr, "530") {
		t.Errorf("unauthenticated: exit %d, %s", code, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, w.relayAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if ext := c.Extensions(); len(ext.Auth) != 0 {
		t.Errorf("AUTH %v offered before STARTTLS", ext.Auth)
	}
	err = c.Mail(ctx, envelope.Path{Address: envelope.Address{Local: "a", Domain: "x.test"}}, nil)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != 530 {
		t.Errorf("MAIL in clear without AUTH: %v, want 530", err)
	}
	time.Sleep(200 * time.Millisecond)
	if lines := w.list(); !emptyQueue(lines) {
		t.Errorf("queue %q", lines)
	}
	if files := e2e.Maildir(t, w.yMaildir, 1, 0); len(files) != 0 {
		t.Errorf("%d messages relayed without authentication", len(files))
	}
}

// TestRelayRefusesInsecureSetup: no -auth, or a public listener without a
// certificate, and the relay does not start.
func TestRelayRefusesInsecureSetup(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-queue", filepath.Join(dir, "q")},
		{"-queue", filepath.Join(dir, "q"), "-auth", "a:b", "-listen", "0.0.0.0:0"},
	} {
		code, _, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, args...)
		if code == 0 || !strings.Contains(stderr, "relay: ") {
			t.Errorf("relay %q: exit %d, %s", args, code, stderr)
		}
	}
}

// TestQueueLocked: a second relay on the same queue refuses to start.
func TestQueueLocked(t *testing.T) {
	w := newWorld(t)
	w.startRelay()
	code, _, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-listen", e2e.FreeAddr(t), "-auth", "a:b", "-queue", w.queue)
	if code == 0 || !strings.Contains(stderr, queue.ErrLocked.Error()) {
		t.Errorf("second relay: exit %d, %s", code, stderr)
	}
}

// TestRelayLoopbackWithoutTLS: on a loopback listener without a
// certificate, AUTH in clear is allowed (the password crosses no network).
func TestRelayLoopbackWithoutTLS(t *testing.T) {
	w := newWorld(t)
	w.startSink(w.yAddr, w.yMaildir)
	w.relay = e2e.Start(t, w.dir, relayBin, "-listen", w.relayAddr, "-auth", "alice:alice-pw", "-queue", w.queue,
		"-route", "y.test="+w.yAddr, "-hostname", "relay.test")
	w.relay.WaitListen(w.relayAddr, 10*time.Second)
	code, _, stderr := e2e.Run(t, 20*time.Second, []byte("Subject: x\r\n\r\nx\r\n"), sendmailBin,
		"-server", w.relayAddr, "-auth", "alice:alice-pw", "-from", "a@x.test", "-to", "b@y.test")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if files := e2e.Maildir(t, w.yMaildir, 1, 10*time.Second); len(files) != 1 {
		t.Errorf("%d delivered", len(files))
	}
	if err := w.relay.Stop(); err != nil {
		t.Errorf("relay exit: %v", err)
	}
}

// runRelay runs the relay binary for an operator's command on the
// world's queue and returns its standard output.
func (w *world) runRelay(args ...string) string {
	w.t.Helper()
	code, out, stderr := e2e.Run(w.t, 20*time.Second, nil, relayBin, append([]string{"-queue", w.queue}, args...)...)
	if code != 0 {
		w.t.Fatalf("relay %v: exit %d: %s", args, code, stderr)
	}
	return out
}

// TestOperatorCommands: the operator's commands on a disk queue, while
// the relay runs (through DIR/control) and while none does.
func TestOperatorCommands(t *testing.T) {
	w := newWorld(t)
	w.startRelay("-retry", "1h") // y.test is down: deferred
	w.submit([]byte("Subject: one\r\n\r\nx\r\n"), "a@x.test", "b@y.test")
	w.submit([]byte("Subject: two\r\n\r\nx\r\n"), "a@x.test", "c@y.test")
	lines := w.waitQueue("shows two deferred messages", func(l []string) bool {
		return len(l) == 2 && strings.Contains(l[0], "attempts=1 ") && strings.Contains(l[1], "attempts=1 ")
	})
	ids := []string{strings.Fields(lines[0])[0], strings.Fields(lines[1])[0]}
	if !strings.Contains(lines[0], "arrival=") || !strings.Contains(lines[0], " age=") || !strings.Contains(lines[0], `error="`) {
		t.Errorf("listing line %q", lines[0])
	}
	if got := w.runRelay("-hold", ids[0]); got != "Placed on hold: 1 message\n" {
		t.Errorf("-hold: %q", got)
	}
	if l := w.list(); !strings.Contains(l[0], " held") || strings.Contains(l[0], "next=") {
		t.Errorf("held message listed as %q", l[0])
	}
	if got := w.runRelay("-release", ids[0]); got != "Released from hold: 1 message\n" {
		t.Errorf("-release: %q", got)
	}
	if got := w.runRelay("-requeue", ids[1]); got != "Requeued: 1 message\n" {
		t.Errorf("-requeue: %q", got)
	}
	w.waitQueue("shows the requeued message tried again", func(l []string) bool {
		return len(l) == 2 && strings.Contains(l[1], "attempts=1 ")
	})
	if got := w.runRelay("-flush"); !strings.HasPrefix(got, "Flushed (due now): ") {
		t.Errorf("-flush: %q", got)
	}
	js := w.runRelay("-list", "-json")
	if strings.Count(js, `"queue_id":`) != 2 || !strings.Contains(js, `"address":"b@y.test"`) {
		t.Errorf("-list -json:\n%s", js)
	}
	if got := w.runRelay("-delete", ids[0]); got != "Deleted: 1 message\n" {
		t.Errorf("-delete: %q", got)
	}
	if err := w.relay.Stop(); err != nil {
		t.Errorf("relay: %v", err)
	}
	// No relay running: the command works on the files.
	if got := w.runRelay("-hold", "ALL"); got != "Placed on hold: 1 message\n" {
		t.Errorf("-hold ALL without a relay: %q", got)
	}
	if got := w.runRelay("-delete", "ALL"); got != "Deleted: 1 message\n" {
		t.Errorf("-delete ALL without a relay: %q", got)
	}
	if l := w.list(); !emptyQueue(l) {
		t.Errorf("listing %q", l)
	}
	logs := w.relay.Stderr.String()
	for _, want := range []string{ids[0] + ": placed on hold", ids[0] + ": released from hold", ids[1] + ": requeued", ids[0] + ": removed by the operator"} {
		if !strings.Contains(logs, want) {
			t.Errorf("relay log lacks %q", want)
		}
	}
}

// TestMailLogAndSIGHUP: the mail log has one Postfix-style line per
// recipient attempt (with the TLS of the connection and the reply to the
// message); SIGHUP reopens the -log file after it was moved away, and does
// not stop the relay.
func TestMailLogAndSIGHUP(t *testing.T) {
	w := newWorld(t)
	logFile := filepath.Join(w.dir, "relay.log")
	w.startSink(w.yAddr, w.yMaildir, "-tls-cert", w.cert, "-tls-key", w.key)
	w.startRelay("-log", logFile)
	w.submit([]byte("Subject: one\r\n\r\nx\r\n"), "a@x.test", "b@y.test")
	e2e.Maildir(t, w.yMaildir, 1, 10*time.Second)
	w.waitQueue("empties", emptyQueue)
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	if err := w.relay.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(logFile); strings.Contains(string(b), "SIGHUP: log reopened") {
			break
		}
		if time.Now().After(deadline) || w.relay.Exited() {
			t.Fatalf("no new log file after SIGHUP (relay exited: %v)", w.relay.Exited())
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.submit([]byte("Subject: two\r\n\r\nx\r\n"), "a@x.test", "c@y.test")
	e2e.Maildir(t, w.yMaildir, 2, 10*time.Second)
	w.waitQueue("empties", emptyQueue)
	if err := w.relay.Stop(); err != nil {
		t.Errorf("relay after SIGHUP: %v", err)
	}
	old, _ := os.ReadFile(logFile + ".1")
	cur, _ := os.ReadFile(logFile)
	line := regexp.MustCompile(`(?m)^\S+Z relay\[\d+\]: (\S+): to=<b@y\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, delay=[0-9.]+, dsn=2\.0\.0, tls=TLSv1\.3/unverified, attempt=1, status=sent \(250 2\.0\.0 .*\)$`)
	m := line.FindSubmatch(old)
	if m == nil {
		t.Fatalf("no delivery line in the first log:\n%s\nsecond:\n%s", old, cur)
	}
	for _, want := range []string{string(m[1]) + ": from=<a@x.test>, size=", "(queue active)", string(m[1]) + ": removed"} {
		if !strings.Contains(string(old), want) {
			t.Errorf("first log lacks %q", want)
		}
	}
	if !strings.Contains(string(cur), "to=<c@y.test>") || strings.Contains(string(cur), "to=<b@y.test>") {
		t.Errorf("second log:\n%s", cur)
	}
}

// TestHelp: -h says how the queue is owned (the PID in its lock file) and
// what the signals do.
func TestHelp(t *testing.T) {
	code, _, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-h")
	for _, want := range []string{"DIR/lock, which contains the owner's PID", "SIGHUP reopens the -log file", "-hold ID|ALL", "postgres://"} {
		if code != 0 || !strings.Contains(stderr, want) {
			t.Errorf("relay -h: exit %d, lacks %q:\n%s", code, want, stderr)
		}
	}
}

// TestPostgresHandOver: this module's relay has only the disk queue;
// given -queue postgres://... it builds the relay of examples/relay-pg
// from its source tree and runs it in its place, which then tries the
// database (here none listens) and says so, password hidden.
func TestPostgresHandOver(t *testing.T) {
	code, _, stderr := e2e.Run(t, 5*time.Minute, nil, relayBin, "-queue", "postgres://u:secret@127.0.0.1:1/mail", "-list")
	if code == 0 || !strings.Contains(stderr, "the relay with both queues") || !strings.Contains(stderr, "examples/relay-pg") ||
		!strings.Contains(stderr, "connection refused") || strings.Contains(stderr, "secret") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// TestPostgresNoPGBuild: a relay built without its source path
// (-trimpath) and with no relay-pg next to it or in PATH says how to get
// the relay with both queues, password hidden.
func TestPostgresNoPGBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "relay")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, e2e.Module+"relay").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-queue", "postgres://u:secret@127.0.0.1:1/mail", "-list")
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "go -C examples/relay-pg build") || strings.Contains(string(out), "secret") {
		t.Errorf("%v: %s", err, out)
	}
}

// TestFlushRetriesDeadDestination: a destination that refused a
// connection is left alone for its backoff (the other messages for it are
// deferred without a connection), until the operator's -flush, which
// tries it again at once, as postqueue -f does.
func TestFlushRetriesDeadDestination(t *testing.T) {
	w := newWorld(t)
	w.startRelay("-retry", "1h")
	w.submit([]byte("Subject: one\r\n\r\nx\r\n"), "a@x.test", "b@y.test")
	w.waitQueue("shows an attempt", func(l []string) bool { return len(l) == 1 && strings.Contains(l[0], "attempts=1 ") })
	w.submit([]byte("Subject: two\r\n\r\nx\r\n"), "a@x.test", "c@y.test")
	w.waitQueue("shows two attempts", func(l []string) bool {
		return len(l) == 2 && strings.Contains(l[1], "attempts=1 ") && strings.Contains(l[1], "dead-destination backoff")
	})
	w.startSink(w.yAddr, w.yMaildir)
	if got := w.runRelay("-flush"); got != "Flushed (due now): 2 messages\n" {
		t.Errorf("-flush: %q", got)
	}
	if files := e2e.Maildir(t, w.yMaildir, 2, 10*time.Second); len(files) != 2 {
		t.Fatalf("%d delivered after -flush, want 2", len(files))
	}
	w.waitQueue("empties", emptyQueue)
}

// session opens a raw SMTP session with the relay, byte for byte: EHLO,
// STARTTLS, EHLO and AUTH PLAIN as user.
func (w *world) session(user, pass string) *smtptest.Conn {
	w.t.Helper()
	c, _ := e2e.Login(w.t, w.relayAddr, user, pass)
	return c
}

// TestRelayRefusesNonULabels: over a real connection, a recipient domain
// in full-width letters (which IDNA would map to example.com) gets 553
// 5.1.3, a sender's 553 5.1.7 (issue 14.13), and a valid U-label is
// taken.
func TestRelayRefusesNonULabels(t *testing.T) {
	w := newWorld(t)
	w.startRelay()
	c := w.session("alice", "alice-pw")
	c.Send("MAIL FROM:<a@ｅｘａｍｐｌｅ.com> SMTPUTF8\r\n")
	c.Expect("553 5.1.7 Bad sender address: domain is not a valid internationalized domain name (IDNA2008 U-labels only)\r\n")
	c.Send("MAIL FROM:<a@x.test> SMTPUTF8\r\n")
	c.ExpectCode("250 ")
	c.Send("RCPT TO:<user@ｅｘａｍｐｌｅ.com>\r\n")
	c.Expect("553 5.1.3 Bad recipient address: domain is not a valid internationalized domain name (IDNA2008 U-labels only)\r\n")
	c.Send("RCPT TO:<user@BÜCHER.example>\r\n")
	c.ExpectCode("553 5.1.3 ")
	c.Send("RCPT TO:<user@bücher.example>\r\n")
	c.ExpectCode("250 ")
	c.Send("QUIT\r\n")
	c.ExpectCode("221 ")
}
