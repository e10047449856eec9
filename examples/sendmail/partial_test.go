package main

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// scripted is a minimal SMTP server that answers RCPT TO:<addr> with
// rcpt[addr] (250 for any other address) and records, per message, the
// recipients it accepted.
type scripted struct {
	rcpt map[string]string
	mu   sync.Mutex
	got  [][]string
}

func (s *scripted) start(t *testing.T) string { return serve(t, s.serve) }

func (s *scripted) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	c.Write([]byte("220 scripted.test ESMTP\r\n"))
	var to []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimRight(line, "\r\n"))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			c.Write([]byte("250-scripted.test\r\n250 8BITMIME\r\n"))
		case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RSET"):
			to = nil
			c.Write([]byte("250 2.0.0 OK\r\n"))
		case strings.HasPrefix(cmd, "RCPT TO:<"):
			addr := strings.ToLower(strings.TrimSuffix(strings.TrimRight(line, "\r\n")[len("RCPT TO:<"):], ">"))
			rep, ok := s.rcpt[addr]
			if !ok {
				rep = "250 2.1.5 OK"
				to = append(to, addr)
			}
			c.Write([]byte(rep + "\r\n"))
		case cmd == "DATA":
			c.Write([]byte("354 go on\r\n"))
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.mu.Lock()
			s.got = append(s.got, to)
			s.mu.Unlock()
			c.Write([]byte("250 2.0.0 queued\r\n"))
		case cmd == "QUIT":
			c.Write([]byte("221 2.0.0 bye\r\n"))
			return
		default:
			c.Write([]byte("502 5.5.1 no\r\n"))
		}
	}
}

func (s *scripted) messages() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.got...)
}

// TestPartialDelivery: when the message reaches some recipients but not
// others, sendmail reports each recipient's outcome and exits 65, a status
// that never invites a caller to send the message again to those that got
// it (issue 14.15: it exited 69 or 75, and 75 makes callers resend);
// recipients refused with 452 4.5.3 (too many recipients, RFC 5321
// 4.5.3.1.10) get the message in another transaction.
func TestPartialDelivery(t *testing.T) {
	srv := &scripted{rcpt: map[string]string{
		"bad@y.test":  "550 5.1.1 no such user",
		"full@y.test": "452 4.2.2 mailbox full",
	}}
	addr := srv.start(t)
	run := func(to ...string) (int, string) {
		args := []string{"-server", addr, "-from", "a@x.test"}
		for _, r := range to {
			args = append(args, "-to", r)
		}
		return send(t, msg, args...)
	}

	code, stderr := run("good@y.test", "bad@y.test")
	if code != 65 {
		t.Errorf("one accepted, one refused: exit %d, want 65: %s", code, stderr)
	}
	for _, want := range []string{"<good@y.test>: sent", "<bad@y.test>: refused: ", "550 5.1.1 no such user",
		"sent to 1 of 2 recipients"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	code, stderr = run("good@y.test", "full@y.test")
	if code != 65 || !strings.Contains(stderr, "<full@y.test>: deferred: ") || !strings.Contains(stderr, "<good@y.test>: sent") {
		t.Errorf("one accepted, one deferred: exit %d, want 65 (75 would resend to good@y.test): %s", code, stderr)
	}

	// Nothing sent: 75 when something may succeed later, 69 when not.
	if code, stderr := run("full@y.test", "bad@y.test"); code != 75 {
		t.Errorf("one deferred, one refused, none sent: exit %d, want 75: %s", code, stderr)
	}
	if code, stderr := run("bad@y.test"); code != 69 || !strings.Contains(stderr, "<bad@y.test>: refused: ") {
		t.Errorf("all refused: exit %d, want 69: %s", code, stderr)
	}
	if got := srv.messages(); len(got) != 2 || strings.Join(got[0], ",") != "good@y.test" || strings.Join(got[1], ",") != "good@y.test" {
		t.Errorf("messages %v, want good@y.test twice", got)
	}
}

// TestTooManyRecipients: three recipients for a server that takes two per
// transaction: the third gets the message in a second transaction, and
// the exit status is 0 (it was 75, so a caller resent to all three).
func TestTooManyRecipients(t *testing.T) {
	addr, md := sink(t, "-max-rcpts", "2")
	code, stderr := send(t, msg, "-server", addr, "-from", "a@x.test", "-to", "b@y.test", "-to", "c@y.test", "-to", "d@y.test")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	files := e2e.Maildir(t, md, 2, 5*time.Second)
	var to []string
	for _, f := range files {
		to = append(to, e2e.ReadStored(t, f).To...)
	}
	if len(files) != 2 || len(to) != 3 {
		t.Errorf("%d messages to %v, want 2 messages to the 3 recipients", len(files), to)
	}
}
