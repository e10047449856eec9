package main

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// hostileRcptReply is a RCPT reply of a hostile server: terminal escape
// sequences (colours, and a window title an xterm would set), and a second
// line dressed as one of sendmail's own report lines.
const hostileRcptReply = "550-5.1.1 \x1b]0;pwned\x07\x1b[31mno such\x1b[0m user\r\n" +
	"550 5.1.1 sendmail: <ceo@bank.test>: sent (mx.bank.test)\r\n"

// hostileServer answers SMTP sessions with hostileRcptReply to every
// RCPT, and returns its address.
func hostileServer(t *testing.T) string {
	return e2e.ServeTCP(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		c.Write([]byte("220 hostile.test ESMTP\r\n"))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.ToUpper(line[:min(4, len(line))]) {
			case "EHLO":
				c.Write([]byte("250-hostile.test\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"))
			case "RCPT":
				c.Write([]byte(hostileRcptReply))
			case "QUIT":
				c.Write([]byte("221 2.0.0 bye\r\n"))
			default:
				c.Write([]byte("250 2.0.0 ok\r\n"))
			}
		}
	})
}

// TestAttackHostileServerForgesReport: sendmail printed a server's reply
// text to standard error as it came, so a hostile server could send
// escape sequences to the user's terminal and add lines of its own that a
// script reading the report takes for sendmail's ("<ceo@bank.test>:
// sent"). Each recipient's outcome is one line, control characters
// replaced, the lines of a multi-line reply joined with "; " as
// reply.Reply.Error writes them.
func TestAttackHostileServerForgesReport(t *testing.T) {
	addr := hostileServer(t)
	code, stderr := send(t, msg, "-server", addr, "-from", "a@x.test", "-to", "b@y.test")
	if code != exitUnavailable {
		t.Errorf("exit %d, want %d", code, exitUnavailable)
	}
	if strings.ContainsAny(stderr, "\x1b\x07") {
		t.Errorf("the server's escape sequences reached standard error: %q", stderr)
	}
	for line := range strings.Lines(stderr) {
		if strings.HasPrefix(line, "sendmail: <ceo@bank.test>") {
			t.Errorf("the server added a report line: %q", stderr)
		}
	}
	if !strings.Contains(stderr, "no such") || !strings.Contains(stderr, "user; sendmail: <ceo@bank.test>: sent") {
		t.Errorf("the reply is not shown on one line: %q", stderr)
	}
}

// TestAttackClientErrorIsOneLine: client.Error.Error() (and so every
// program that prints a client error) had a server's reply text raw:
// escape sequences, and the lines of a multi-line reply joined with "\n".
// Found through sendmail (TestAttackHostileServerForgesReport, fixed there
// at the edge first); the library's error is now one clean line, as
// reply.Reply.Error writes it.
func TestAttackClientErrorIsOneLine(t *testing.T) {
	addr := hostileServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := envelope.Envelope{From: envelope.Path{Address: envelope.Address{Local: "a", Domain: "x.test"}},
		To: []envelope.Recipient{{Path: envelope.Path{Address: envelope.Address{Local: "b", Domain: "y.test"}}}}}
	_, err = c.Send(ctx, e, strings.NewReader("x\r\n"))
	if err == nil {
		t.Fatal("sent")
	}
	if s := err.Error(); strings.ContainsAny(s, "\x1b\x07\r\n") {
		t.Errorf("client error %q holds control characters", s)
	}
}
