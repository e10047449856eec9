package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
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
				c.Write([]byte("250-mx.y.test\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n"))
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

// terminalControls are characters that act on the terminal that shows
// them instead of being shown: C0 controls (ESC starts the sequences that
// set a window title, clear the screen or move the cursor), DEL, the C1
// controls (U+009B is a CSI by itself), and the bidirectional overrides
// and isolates that reorder what a line seems to say.
var terminalControls = regexp.MustCompile("[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")

// TestAttackTerminalControlsInMailLog: a hostile destination answers with
// escape sequences in its reply text (RFC 5321 4.2 allows only printable
// text), and an authenticated client uses an SMTPUTF8 sender whose local
// part holds a C1 control and a right-to-left override. The relay wrote
// both raw into the mail log and -list, so that the operator's terminal
// (tail -f, mailq) ran them: a changed window title, a cleared screen, a
// line that reads otherwise than it is. Each must be shown escaped.
func TestAttackTerminalControlsInMailLog(t *testing.T) {
	w := newWorld(t)
	w.yAddr = hostileMX(t, func(string) string {
		return "450 4.2.0 busy \x1b]0;pwned\x07\x1b[2J \xc2\x9b31m red \xe2\x80\xaeevil"
	}, func(string) string { return "250 ok" })
	w.startRelay()
	c := w.session("alice", "alice-pw")
	c.Send("MAIL FROM:<\"\u009b2J\u202egnp.exe\"@x.test> SMTPUTF8\r\n")
	c.ExpectCode("250 ")
	c.Send("RCPT TO:<b@y.test>\r\n")
	c.ExpectCode("250 ")
	c.Send("DATA\r\n")
	c.ExpectCode("354 ")
	c.Send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.ExpectCode("250 ")
	c.Send("QUIT\r\n")
	c.ExpectCode("221 ")
	waitFor(t, "the deferral", w.relay.Stderr.String, "status=deferred")
	for what, out := range map[string]string{"mail log": w.relay.Stderr.String(), "-list": strings.Join(w.list(), "\n")} {
		if m := terminalControls.FindString(out); m != "" {
			t.Errorf("the %s holds %q raw:\n%q", what, m, out)
		}
		if !strings.Contains(out, "gnp.exe") || !strings.Contains(out, "busy") {
			t.Errorf("the %s lost the text around the controls:\n%s", what, out)
		}
	}
	code, out, stderr := e2e.Run(t, 10*time.Second, nil, relayBin, "-list", "-json", "-queue", w.queue)
	if code != 0 {
		t.Fatalf("-list -json: exit %d: %s", code, stderr)
	}
	if m := terminalControls.FindString(out); m != "" {
		t.Errorf("-list -json holds %q raw (JSON has \\u escapes for it):\n%q", m, out)
	}
	var e struct {
		Sender     string `json:"sender"`
		Recipients []struct {
			Reason string `json:"reason"`
		} `json:"recipients"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	if e.Sender != "\u009b2J\u202egnp.exe@x.test" || len(e.Recipients) != 1 || !strings.Contains(e.Recipients[0].Reason, "\u202eevil") {
		t.Errorf("-list -json must keep the values exact: %+v", e)
	}
}
