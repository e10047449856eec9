package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// stuckStdout is a stdout that takes no byte until the test ends, like a
// pipe whose reader stopped reading (a test harness that started mailsink
// with stdout=PIPE and never reads it; `mailsink | less` left open).
type stuckStdout struct {
	gate chan struct{}
	once sync.Once
}

func newStuckStdout(t *testing.T) *stuckStdout {
	s := &stuckStdout{gate: make(chan struct{})}
	t.Cleanup(func() { s.once.Do(func() { close(s.gate) }) })
	return s
}

func (s *stuckStdout) Write(p []byte) (int, error) {
	<-s.gate
	return len(p), nil
}

// runInProcess runs mailsink's run with stdout and returns its address
// and a channel that receives run's result.
func runInProcess(t *testing.T, ctx context.Context, stdout *stuckStdout, args ...string) (string, <-chan error) {
	t.Helper()
	addr := e2e.FreeAddr(t)
	cfg, err := parseFlags(append([]string{"-listen", addr, "-http", ""}, args...), &e2e.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, stdout, &e2e.Buffer{}) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, done
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailsink not listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAttackStdoutStuckExit: with a stdout nobody reads, SIGTERM (the
// context's end) never stops mailsink: the session ended, Shutdown is
// done, and run waits forever in the final Flush for a write that never
// ends. Signals stay caught (NotifyContext is stopped only when run
// returns), so only SIGKILL ends it; the same with the bufio.Writer
// before.
func TestAttackStdoutStuckExit(t *testing.T) {
	stdout := newStuckStdout(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := runInProcess(t, ctx, stdout, "-discard")
	c, err := client.Dial(ctxT(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctxT(t), env("a@x.test", "b@y.test"), strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctxT(t))
	cancel() // SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(30 * time.Second): // no session left: Shutdown is immediate
		t.Fatal("mailsink did not stop: its final Flush waits for a stdout nobody reads")
	}
}

func ctxT(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestAttackStdoutStuckStallsMail: with a stdout nobody reads, the line
// of a message is printed before its 250 (Data calls print), so once
// PrinterMaxBuffer of lines wait the sessions stop getting their 250:
// about 44 messages of 100 long recipients (24 KB lines), or 7000 plain
// ones, after which the application under test times out on every
// message although mailsink stored each one. A catcher's line is a
// notice, the message is what it is for: a stuck stdout should cost
// lines (counted, said when stdout moves again), not mail.
func TestAttackStdoutStuckStallsMail(t *testing.T) {
	stdout := newStuckStdout(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _ := runInProcess(t, ctx, stdout, "-discard")
	c, err := client.Dial(ctxT(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// 100 recipients of 235 octets (RFC 5321 4.5.3.1: local part 64,
	// domain 255, path 256; 4.5.3.1.8: 100 recipients).
	e := envelope.Envelope{From: envelope.Path{Address: envelope.Address{Local: "a", Domain: "x.test"}}}
	dom := strings.Repeat("d", 55) + "." + strings.Repeat("e", 55) + "." + strings.Repeat("f", 55) + ".test"
	for i := range 100 {
		local := fmt.Sprintf("%03d%s", i, strings.Repeat("l", 61))
		e.To = append(e.To, envelope.Recipient{Path: envelope.Path{Address: envelope.Address{Local: local, Domain: dom}}})
	}
	const n = 80 // about 1.9 MiB of lines
	for i := range n {
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := c.Send(sctx, e, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
		scancel()
		if err != nil {
			t.Fatalf("message %d of %d: %v (stdout is stuck: the message was taken, its 250 waits for its line)", i+1, n, err)
		}
	}
}

// TestAttackStdoutClosedKillsSink: `mailsink | head -2`, `mailsink | tee
// log` whose tee was killed, a harness that closes its end of the pipe:
// the first write after the reader is gone gets EPIPE on fd 1, which the
// Go runtime turns into SIGPIPE, and mailsink dies (status 141) in the
// middle of whatever sessions are under way (the client of one sees
// "connection lost after the end of the message": stored or not, it
// cannot tell, and sends again). The lines are a notice; a catcher
// should drop them and go on taking mail (signal.Ignore(SIGPIPE) makes
// the write return EPIPE instead; Printer already drops a failed write).
func TestAttackStdoutClosedKillsSink(t *testing.T) {
	dir := t.TempDir()
	addr := e2e.FreeAddr(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-listen", addr, "-http", "", "-maildir", filepath.Join(dir, "md"))
	cmd.Stdout = w
	var stderr e2e.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	status := func() any {
		select {
		case <-exited:
			return waitErr
		case <-time.After(5 * time.Second):
			return "still running"
		}
	}
	c := dialWhenListening(t, addr)
	defer c.Close()
	send := func() error {
		_, err := c.Send(ctxT(t), env("a@x.test", "b@y.test"), strings.NewReader("Subject: x\r\n\r\nx\r\n"))
		return err
	}
	if err := send(); err != nil {
		t.Fatal(err)
	}
	// The line is printed: read it, then the reader goes away.
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.Contains(line, "from=<a@x.test>") {
		t.Fatalf("line %q, %v", line, err)
	}
	r.Close()
	for i := range 5 {
		if err := send(); err != nil {
			t.Fatalf("message %d after stdout's reader left: %v (mailsink: %v, stderr %q)", i+2, err, status(), stderr.String())
		}
		// Let the printer write (FlushDelay) before the next message.
		time.Sleep(3 * cli.FlushDelay)
	}
}

func dialWhenListening(t *testing.T, addr string) *client.Client {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := client.Dial(ctxT(t), addr, nil)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailsink not listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAttackPrintedLineEscapes: a hostile client's SMTPUTF8 addresses
// reach mailsink's line on stdout raw (the Message-ID goes through
// appendToken, from= and to= do not): a C1 CSI (U+009B, which terminals
// take as ESC [: "\u009b2J" clears the screen, "\u009d" starts an OSC
// such as 52, the clipboard) and a right-to-left override (U+202E, which
// shows the rest of the line backwards: a forged from=/to=). The relay's
// mail log escapes the same characters (mta.Printable); mailsink's line,
// shown on the developer's terminal, should too.
func TestAttackPrintedLineEscapes(t *testing.T) {
	out := printedLine(t, "a\u009b2J\u202eb@x.test", "\"c\u009d52;c;cHdu\u009c\u202ed\"@y.test")
	var raw []string
	for _, c := range out {
		if (unicode.IsControl(c) && c != '\n') || unicode.Is(unicode.Bidi_Control, c) {
			raw = append(raw, fmt.Sprintf("%U", c))
		}
	}
	if len(raw) > 0 {
		t.Errorf("the printed line carries %v from the client raw: %q", raw, out)
	}
}

// printedLine sends one message from and to the given addresses (with
// SMTPUTF8) over a raw connection to a new mailsink, stops it, and
// returns what it printed.
func printedLine(t *testing.T, from, to string) string {
	t.Helper()
	addr, p := start(t, t.TempDir(), "-discard")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	cmd := func(line, want string) {
		t.Helper()
		if line != "" {
			fmt.Fprintf(conn, "%s\r\n", line)
		}
		for {
			got, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			if len(got) < 4 || got[3] != '-' {
				if !strings.HasPrefix(got, want) {
					t.Fatalf("%q: %q, want %s", line, got, want)
				}
				return
			}
		}
	}
	cmd("", "220")
	cmd("EHLO client", "250")
	cmd("MAIL FROM:<"+from+"> SMTPUTF8", "250")
	cmd("RCPT TO:<"+to+">", "250")
	cmd("DATA", "354")
	cmd("x\r\n.", "250")
	cmd("QUIT", "221")
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	out := p.Stdout.String()
	if !strings.Contains(out, "x.test") {
		t.Fatalf("no line printed: %q", out)
	}
	return out
}
