package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// hostileMX is a destination server written by hand: it answers EHLO,
// MAIL, RSET and QUIT as a server does, and RCPT and DATA with what rcpt
// and data return, called with the command line (they may block: the
// test does something to the relay meanwhile).
func hostileMX(t *testing.T, rcpt, data func(line string) string) string {
	return e2e.ServeTCP(t, func(c net.Conn) {
		defer c.Close()
		r := bufio.NewReader(c)
		c.Write([]byte("220 mx.y.test ESMTP\r\n"))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.ToUpper(strings.TrimSpace(line))
			switch {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				c.Write([]byte("250-mx.y.test\r\n250 8BITMIME\r\n"))
			case strings.HasPrefix(cmd, "RCPT"):
				c.Write([]byte(rcpt(line) + "\r\n"))
			case strings.HasPrefix(cmd, "DATA"):
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
				c.Write([]byte(data(line) + "\r\n"))
			case strings.HasPrefix(cmd, "QUIT"):
				c.Write([]byte("221 bye\r\n"))
				return
			default: // MAIL, RSET, NOOP
				c.Write([]byte("250 ok\r\n"))
			}
		}
	})
}

// waitFor waits until s() contains want.
func waitFor(t *testing.T, what string, s func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(s(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s (%q) within 15s:\n%s", what, want, s())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAttackBounceQueueFailureKeepsMessage: the destination refuses the
// recipient (550) at a moment the queue cannot take the bounce (its tmp/
// directory unusable, as with a full disk). The message was acknowledged
// with 250, its only recipient failed, and the report is still owed to
// the sender (RFC 5321 6.1: a message is delivered or reported, never
// dropped; RFC 3464): the relay must keep the message and queue the
// bounce when it can. It used to remove the message at once, and the
// sender never heard of the failure.
func TestAttackBounceQueueFailureKeepsMessage(t *testing.T) {
	w := newWorld(t)
	w.startSink(w.xAddr, w.xMaildir) // the sender's domain, for the bounce
	atRcpt, answer := make(chan struct{}), make(chan struct{})
	w.yAddr = hostileMX(t, func(string) string {
		close(atRcpt)
		<-answer
		return "550 5.1.1 no such user"
	}, func(string) string { return "250 ok" })
	w.startRelay()
	w.submit([]byte("Subject: refused\r\n\r\nhello\r\n"), "a@x.test", "b@y.test")

	<-atRcpt
	tmp := filepath.Join(w.queue, "tmp")
	if err := os.Rename(tmp, tmp+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, nil, 0o600); err != nil { // not a directory: every new queue file fails
		t.Fatal(err)
	}
	close(answer)
	waitFor(t, "failed bounce", w.relay.Stderr.String, "cannot queue the bounce")
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp+".away", tmp); err != nil {
		t.Fatal(err)
	}

	files := e2e.Maildir(t, w.xMaildir, 1, 15*time.Second)
	if len(files) != 1 {
		t.Fatalf("%d bounces reached the sender, want 1 (the message was dropped without its report)\n%s",
			len(files), w.relay.Stderr.String())
	}
	body := string(e2e.ReadStored(t, files[0]).Body)
	if !strings.Contains(body, "Final-Recipient: rfc822; b@y.test") || !strings.Contains(body, "Status: 5.1.1") {
		t.Errorf("bounce:\n%s", body)
	}
	w.waitQueue("empties", emptyQueue)
}
