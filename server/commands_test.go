package server_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// TestTranscripts runs each transcript on a fresh connection to a default
// server, after the greeting.
func TestTranscripts(t *testing.T) {
	tests := []struct {
		name   string
		script string
	}{
		{"helo", `
			C: HELO client.example
			S: 250 mx.test
			C: MAIL FROM:<a@b.example>
			S: 250 Sender OK
			C: MAIL FROM:<a@b.example>
			S: 503 Nested MAIL command: send RSET first
		`},
		{"helo without name", `
			C: HELO
			S: 501 Domain name or address literal required
			C: EHLO
			S: 501 Domain name or address literal required
		`},
		{"helo ignores extensions", `
			C: HELO client
			S: 250 mx.test
			C: MAIL FROM:<a@b.example> SIZE=10
			S: 555 MAIL parameter SIZE not recognized
		`},
		{"lhlo in smtp", `
			C: LHLO client
			S: 500 Command unrecognized
		`},
		{"mail before helo", `
			C: MAIL FROM:<a@b.example>
			S: 503 Send EHLO or HELO first
		`},
		{"rcpt before mail", `
			C: EHLO client
			` + ehloS + `
			C: RCPT TO:<a@b.example>
			S: 503 5.5.1 Need MAIL before RCPT
			C: DATA
			S: 503 5.5.1 Need MAIL before DATA
		`},
		{"data without rcpt", `
			C: EHLO client
			` + ehloS + `
			C: MAIL FROM:<>
			S: 250 2.1.0 Sender OK
			C: DATA
			S: 503 5.5.1 Need RCPT before DATA
		`},
		{"mail syntax", `
			C: EHLO client
			` + ehloS + `
			C: MAIL FROM:a@b
			S: 501 5.5.2 Syntax: MAIL FROM:<address> [parameters]
			C: MAIL TO:<a@b.example>
			S: 501 5.5.2 Syntax: MAIL FROM:<address> [parameters]
			C: MAIL FROM:<a@b.example> FOO=BAR
			S: 555 5.5.4 MAIL parameter FOO not recognized
		`},
		{"mail size over limit", `
			C: EHLO client
			` + ehloS + `
			C: MAIL FROM:<a@b.example> SIZE=33554433
			S: 552 5.3.4 Message size exceeds fixed maximum message size of 33554432 octets
			C: MAIL FROM:<a@b.example> SIZE=33554432 BODY=8BITMIME
			S: 250 2.1.0 Sender OK
		`},
		{"rcpt syntax", `
			` + mailS + `
			C: RCPT TO:<>
			S: 501 5.1.3 {*}
			C: RCPT TO:<b@c.example> NOTIFY=NEVER
			S: 555 5.5.4 {*}
			C: DATA
			S: 554 5.5.1 No valid recipients
		`},
		{"rset", `
			` + mailS + `
			C: RSET
			S: 250 2.0.0 OK
			C: RCPT TO:<b@c.example>
			S: 503 5.5.1 Need MAIL before RCPT
			C: RSET x
			S: 501 5.5.4 RSET takes no argument
		`},
		{"noop vrfy expn help", `
			C: NOOP
			S: 250 OK
			C: NOOP anything
			S: 250 OK
			C: VRFY postmaster
			S: 252 Cannot VRFY user, but will accept message and attempt delivery
			C: VRFY
			S: 501 VRFY needs a user name or mailbox
			C: EXPN list
			S: 502 EXPN not available
			C: HELP
			S: 214-Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH
			S: 214 See RFC 5321
			C: EHLO client
			` + ehloS + `
			C: NOOP
			S: 250 2.0.0 OK
		`},
		{"unknown command", `
			C: FOO bar
			S: 500 Command unrecognized
			C: EHLO client
			` + ehloS + `
			C: MAILX FROM:<a@b.example>
			S: 500 5.5.2 Command unrecognized
		`},
		{"starttls not offered", `
			C: EHLO client
			` + ehloS + `
			C: STARTTLS
			S: 502 5.5.1 STARTTLS not offered
		`},
		{"auth not available", `
			C: EHLO client
			` + ehloS + `
			C: AUTH PLAIN AGZvbwBiYXI=
			S: 502 5.5.1 AUTH not available
		`},
		{"bdat not offered", `
			` + mailS + `
			C: RCPT TO:<b@c.example>
			S: 250 2.1.5 Recipient OK
			C: BDAT 4 LAST
			C: abcd
			C: RSET
			S: 502 5.5.1 BDAT not offered
			S: 500 5.5.2 Command unrecognized
			S: 250 2.0.0 OK
		`},
		{"data with argument", `
			` + mailS + `
			C: RCPT TO:<b@c.example>
			S: 250 2.1.5 Recipient OK
			C: DATA now
			S: 501 5.5.4 DATA takes no argument
		`},
		{"pipelined transaction", openS("EHLO", ehloS, "b@c.example", "c@c.example") + `
			C: hello
			C: .
			` + txnS("S: 250 2.0.0 OK: message accepted\n", "b@c.example") + `
			C: .
			C: QUIT
			S: 250 2.0.0 OK: message accepted
			S: 221 2.0.0 mx.test closing connection
		`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lb := start(t, newServer(&testBackend{}))
			c := dial(t, lb)
			c.Run(tt.script)
		})
	}
}

// In the bdat-not-offered transcript the chunk "abcd\r\n" is 6 octets but
// announced as 4: the server skips 4 and reads "\r\n" as an empty command
// line, which is unrecognized: this shows it skipped exactly the octets.

func TestBackendReplies(t *testing.T) {
	b := &testBackend{
		mail: func(from envelope.Path) error {
			switch from.Local {
			case "blocked":
				return reply.PolicyRejected("You are blocked")
			case "broken":
				return errors.New("database password is hunter2")
			case "custom":
				return reply.New(reply.CodeOK, reply.EnhSenderOK(), "Welcome back")
			}
			return nil
		},
		rcpt: func(to envelope.Path) error {
			if to.Local == "nobody" {
				return reply.MailboxUnavailable("No such user")
			}
			return nil
		},
	}
	lb := start(t, newServer(b))
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloS + `
		C: MAIL FROM:<blocked@b.example>
		S: 550 5.7.1 You are blocked
		C: MAIL FROM:<broken@b.example>
		S: 451 4.3.0 Requested action aborted: local error in processing
		C: MAIL FROM:<custom@b.example>
		S: 250 2.1.0 Welcome back
		C: RCPT TO:<nobody@c.example>
		S: 550 5.1.1 No such user
		C: RCPT TO:<somebody@c.example>
		S: 250 2.1.5 Recipient OK
	`)
}

func TestDataReplyFromBackend(t *testing.T) {
	b := &testBackend{}
	b.data = func(r io.Reader) (string, error) {
		buf := new(strings.Builder)
		_, err := io.Copy(buf, r)
		if err != nil {
			return "", err
		}
		if strings.Contains(buf.String(), "reject") {
			return "", reply.New(reply.CodeTransactionFailed, reply.EnhNotAuthorized(), "Spam")
		}
		if strings.Contains(buf.String(), "fail") {
			return "", errors.New("disk on fire")
		}
		return buf.String(), reply.Queued("Q123")
	}
	lb := start(t, newServer(b))
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloS + `
		` + txnS("", "b@c.example") + `
		C: reject me
		C: .
		S: 554 5.7.1 Spam
		` + txnS("", "b@c.example") + `
		C: fail
		C: .
		S: 451 4.3.0 Requested action aborted: local error in processing
		` + txnS("", "b@c.example") + `
		C: fine
		C: .
		S: 250 2.0.0 OK: queued as Q123
	`)
}

// TestGreetingRefused: a backend refusing the session with 554 gets 503 to
// everything but QUIT (RFC 5321 3.1); any other error gets 421.
func TestGreetingRefused(t *testing.T) {
	b := &testBackend{newSession: func(c *server.Conn) error {
		return reply.NoService("mx.test")
	}}
	lb := start(t, newServer(b))
	c := lb.Dial(t)
	c.Run(`
		S: 554 mx.test No SMTP service here
		C: EHLO client
		S: 503 No SMTP service here
		C: QUIT
		S: 221 mx.test closing connection
	`)
	c.ExpectClosed()

	b2 := &testBackend{newSession: func(c *server.Conn) error { return errors.New("boom") }}
	lb2 := start(t, newServer(b2))
	c2 := lb2.Dial(t)
	c2.Expect("421 mx.test Service not available, closing transmission channel\r\n")
	c2.ExpectClosed()
}

// TestSizeUnlimited: without a size limit SIZE is advertised without a
// number (RFC 1870 4) and any declared size is accepted.
func TestSizeUnlimited(t *testing.T) {
	s := newServer(&testBackend{})
	s.MaxMessageBytes = -1
	c := dial(t, start(t, s))
	c.Run(`
		C: EHLO client
		` + ehloScript("") + `
		C: MAIL FROM:<a@b.example> SIZE=999999999999
		S: 250 2.1.0 Sender OK
	`)
}

// TestPipelinedRepliesBounded: the replies to a pipelined batch go out
// when the server's next read would wait (RFC 2920 3.1), and also once a
// bounded amount is queued: a client streaming commands without pause
// gets its replies as it goes, and the server never queues without
// bound. Here the whole batch is in the socket before the server reads
// it (the first MAIL waits for that) and the last message's Data waits
// until the client has had replies.
func TestPipelinedRepliesBounded(t *testing.T) {
	const n = 400 // transactions, about 40 KB of replies
	written, release := make(chan struct{}), make(chan struct{})
	var mails, datas int
	b := &testBackend{
		mail: func(envelope.Path) error {
			if mails++; mails == 1 {
				<-written
			}
			return nil
		},
		data: func(r io.Reader) (string, error) {
			if datas++; datas == n {
				<-release
			}
			_, err := io.ReadAll(r)
			return "", err
		},
	}
	c := dial(t, start(t, newServer(b)))
	c.Run(`
		C: EHLO client
		` + ehloS)
	txn := "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nx\r\n.\r\n"
	c.Send(strings.Repeat(txn, n))
	close(written)
	want := "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n250 2.0.0 OK: message accepted\r\n"
	c.Expect(want) // before the last message is accepted
	close(release)
	c.Expect(strings.Repeat(want, n-1))
}

// TestPipelineSegments: a pipelined batch that reaches the server in
// several segments, with pauses, or that fills the first read's buffer
// exactly, is answered in full (RFC 2920 3.1). This guards the idle wait
// (idle.go): it must read before it parks, or a command that arrived
// before the wait began would be left unanswered.
func TestPipelineSegments(t *testing.T) {
	c := dial(t, start(t, newServer(&testBackend{})))
	c.Run(`
		C: EHLO client
		` + ehloS)
	for i := 0; i < 20; i++ {
		c.Send("MAIL FROM:<a@b.example>\r\n")
		time.Sleep(time.Millisecond)
		c.Send("RSET\r\n")
		c.Expect("250 2.1.0 Sender OK\r\n250 2.0.0 OK\r\n")
	}
	// NOOP lines filling exactly 1024 bytes (one idle read), then one more.
	line := "NOOP " + strings.Repeat("x", 25) + "\r\n" // 32 bytes
	batch := strings.Repeat(line, 1024/len(line))
	c.Send(batch)
	time.Sleep(5 * time.Millisecond)
	c.Send("NOOP\r\n")
	c.Expect(strings.Repeat("250 2.0.0 OK\r\n", 1024/len(line)+1))
}
