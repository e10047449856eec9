package smtptest_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server/smtptest"
)

// The faults of the test server, each against our client: every one
// must give the error the client documents for it.

// bigMessage is more than the socket buffers of a loopback connection
// hold, so that a client is still writing it when the server cuts.
var bigMessage = "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 998)+"\r\n", 32<<10)

// send dials ts with opts and sends one message to each of rcpts (default
// one recipient). It returns Send's error; a failure before Send (dial,
// EHLO) is returned as well, with the step it failed at.
func send(t *testing.T, ts *smtptest.Server, opts *client.Options, body string, rcpts ...string) (step string, err error) {
	t.Helper()
	ctx := ctxT(t)
	c, err := client.Dial(ctx, ts.Addr, opts)
	if err != nil {
		return "dial", err
	}
	defer c.Close()
	if len(rcpts) == 0 {
		rcpts = []string{"b@example.org"}
	}
	_, err = c.Send(ctx, newEnv(t, "a@example.org", rcpts...), strings.NewReader(body))
	return "send", err
}

// asError finds the *client.Error in err: the error itself, or, when the
// message reached some recipients only, the one recipient's failure (a
// partial delivery hides it from errors.As on purpose, so that a retry loop
// cannot mistake it for the whole message's fate).
func asError(t *testing.T, err error, command string, code reply.Code) *client.Error {
	t.Helper()
	var re *client.RecipientsError
	if errors.As(err, &re) && len(re.Failed) == 1 {
		err = re.Failed[0].Err
	}
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want a *client.Error", err, err)
	}
	if e.Command != command || e.Code != code {
		t.Fatalf("err = %v, want %s %d", err, command, code)
	}
	return e
}

func TestFaultReplies(t *testing.T) {
	tests := []struct {
		name     string
		fault    smtptest.Fault
		chunking bool
		rcpts    []string
		command  string
		code     reply.Code
		temp     bool
		stored   int  // messages recorded
		accepted bool // ... and accepted
	}{
		{"MAIL 451", smtptest.ReplyAt("MAIL", 1, reply.New(451, reply.EnhSystemError(), "Try later")), false, nil, "MAIL", 451, true, 0, false},
		{"RCPT 550 second", smtptest.ReplyAt("RCPT", 2, reply.MailboxUnavailable("No such user")), false, []string{"b@example.org", "c@example.org"}, "RCPT", 550, false, 1, true},
		{"RCPT 452 by address", smtptest.RcptReply("B@example.org", reply.New(452, reply.EnhMailboxFull(), "Full")), false, []string{"a@example.org", "b@example.org", "c@example.org"}, "RCPT", 452, true, 1, true},
		{"DATA 554", smtptest.ReplyAt("DATA", 1, reply.TransactionFailed("Spam")), false, nil, "DATA", 554, false, 1, false},
		{"BDAT 452", smtptest.ReplyAt("BDAT", 1, reply.New(452, reply.EnhSystemFull(), "Full")), true, nil, "BDAT", 452, true, 1, false},
		{"DATA 421", smtptest.ReplyAt("DATA", 1, reply.ServiceNotAvailable("localhost")), false, nil, "DATA", 421, true, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := smtptest.NewUnstartedServer(t, tt.fault)
			ts.Config.EnableChunking = tt.chunking
			ts.Start()
			_, err := send(t, ts, nil, "Subject: x\r\n\r\nbody\r\n", tt.rcpts...)
			e := asError(t, err, tt.command, tt.code)
			if e.Temporary() != tt.temp || e.Local {
				t.Errorf("Temporary() = %v, Local = %v; want %v, false", e.Temporary(), e.Local, tt.temp)
			}
			msgs := ts.Messages()
			if len(msgs) != tt.stored {
				t.Fatalf("%d messages recorded, want %d", len(msgs), tt.stored)
			}
			if tt.stored > 0 && msgs[0].Accepted != tt.accepted {
				t.Errorf("Accepted = %v, want %v", msgs[0].Accepted, tt.accepted)
			}
		})
	}
}

// TestFaultRecipientCount: with a Recipient, N counts the RCPTs to that
// address only.
func TestFaultRecipientCount(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.Fault{Command: "RCPT", Recipient: "b@example.org", N: 2, Reply: reply.MailboxUnavailable("Second time")})
	for i, wantErr := range []bool{false, true, false} {
		_, err := send(t, ts, nil, "x\r\n", "a@example.org", "b@example.org")
		if (err != nil) != wantErr {
			t.Errorf("message %d: err = %v, want an error: %v", i, err, wantErr)
		}
	}
	msgs := ts.Messages()
	if len(msgs) != 3 || len(msgs[1].Envelope.To) != 1 || len(msgs[2].Envelope.To) != 2 {
		t.Errorf("messages = %+v", msgs)
	}
}

// TestFault421MidSession: a 421 to RCPT closes the connection; the client
// reports it and every later call fails (RFC 5321 3.8). (Without
// pipelining: a pipelining client reports the DATA that got no reply.)
func TestFault421MidSession(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.ReplyAt("RCPT", 1, reply.ServiceNotAvailable("localhost")))
	ctx := ctxT(t)
	c := dialClient(t, client.Dial, ts.Addr, &client.Options{NoPipelining: true})
	_, err := c.Send(ctx, newEnv(t, "a@example.org", "b@example.org"), strings.NewReader("x\r\n"))
	asError(t, err, "RCPT", 421)
	if err := c.Noop(ctx); err == nil {
		t.Error("NOOP after a 421 succeeded")
	}
}

// TestFaultDropAfterDot: the connection is cut after the final dot (or
// BDAT LAST): the client cannot know whether the message was taken. (BDAT
// without pipelining: a pipelining client reports a *NetError for MAIL
// when the connection breaks before any reply, although it sent BDAT
// LAST.)
func TestFaultDropAfterDot(t *testing.T) {
	for _, cmd := range []string{"DATA", "BDAT"} {
		t.Run(cmd, func(t *testing.T) {
			ts := smtptest.NewUnstartedServer(t, smtptest.DropAt(cmd, 1))
			ts.Config.EnableChunking = cmd == "BDAT"
			ts.Start()
			_, err := send(t, ts, &client.Options{NoPipelining: cmd == "BDAT"}, "Subject: x\r\n\r\nbody\r\n")
			var ou *client.OutcomeUnknownError
			if !errors.As(err, &ou) || !errors.Is(err, client.ErrOutcomeUnknown) || ou.Command != cmd {
				t.Fatalf("err = %v (%T), want an *OutcomeUnknownError for %s", err, err, cmd)
			}
			// The server did get the whole message: a retry would
			// duplicate it.
			msgs := ts.Messages()
			if len(msgs) != 1 || msgs[0].Accepted || string(msgs[0].Data) != "Subject: x\r\n\r\nbody\r\n" {
				t.Errorf("messages = %+v, want the whole message, not accepted", msgs)
			}
		})
	}
}

// TestFaultCutBeforeDot: the connection is cut in the middle of the
// message: nothing was delivered and the client knows it.
func TestFaultCutBeforeDot(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.CutData("DATA", 1, 1))
	_, err := send(t, ts, nil, bigMessage)
	var ne *client.NetError
	if !errors.As(err, &ne) || errors.Is(err, client.ErrOutcomeUnknown) {
		t.Fatalf("err = %v (%T), want a *NetError", err, err)
	}
	if n := len(ts.Messages()); n != 0 {
		t.Errorf("%d messages recorded, want none", n)
	}
}

// TestFaultDropCommand: the connection is cut instead of the reply to
// MAIL: a network error, nothing delivered.
func TestFaultDropCommand(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.DropAt("MAIL", 1))
	_, err := send(t, ts, nil, "x\r\n")
	var ne *client.NetError
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v (%T), want a *NetError", err, err)
	}
}

// TestFaultHang: a server that never answers is ended by the client's
// timeout of the stage: before the end of the message a *NetError
// (timeout), after it an *OutcomeUnknownError.
func TestFaultHang(t *testing.T) {
	short := 200 * time.Millisecond
	tests := []struct {
		name    string
		fault   smtptest.Fault
		opts    *client.Options
		unknown bool
	}{
		{"greeting", smtptest.NoGreeting(), &client.Options{GreetingTimeout: short}, false},
		{"MAIL", smtptest.HangAt("MAIL", 1), &client.Options{MailTimeout: short}, false},
		// Without pipelining: a pipelining client waits for the reply to
		// MAIL, which the server holds back with the next replies.
		{"RCPT", smtptest.HangAt("RCPT", 1), &client.Options{RcptTimeout: short, NoPipelining: true}, false},
		{"MAIL delayed past the timeout", smtptest.DelayAt("MAIL", 1, time.Hour), &client.Options{MailTimeout: short}, false},
		{"DATA", smtptest.HangAt("DATA", 1), &client.Options{DataTermTimeout: short}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := smtptest.NewServer(t, tt.fault)
			_, err := send(t, ts, tt.opts, "x\r\n")
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("err = %v (%T), want a timeout", err, err)
			}
			var want any = new(*client.NetError)
			if tt.unknown {
				want = new(*client.OutcomeUnknownError)
			}
			if !errors.As(err, want) {
				t.Errorf("err = %v (%T), want %T", err, err, want)
			}
		})
	}
}

// TestFaultDelay: a delay shorter than the client's timeouts only slows
// the session down.
func TestFaultDelay(t *testing.T) {
	ts := smtptest.NewServer(t,
		smtptest.DelayAt("CONNECT", 1, 20*time.Millisecond),
		smtptest.DelayAt("RCPT", 0, 20*time.Millisecond),
		smtptest.DelayAt("DATA", 1, 20*time.Millisecond))
	if _, err := send(t, ts, nil, "x\r\n", "b@example.org", "c@example.org"); err != nil {
		t.Fatal(err)
	}
	if msgs := ts.Messages(); len(msgs) != 1 || !msgs[0].Accepted {
		t.Errorf("messages = %+v", msgs)
	}
}

// TestFaultGreeting: a refusal instead of the greeting is the client's
// *Error for the greeting; a cut one its *NetError.
func TestFaultGreeting(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.ReplyAt("CONNECT", 1, reply.NoService("localhost")), smtptest.DropAt("CONNECT", 2))
	step, err := send(t, ts, nil, "x\r\n")
	if step != "dial" {
		t.Fatalf("failed at %s: %v", step, err)
	}
	asError(t, err, "greeting", 554)
	_, err = send(t, ts, nil, "x\r\n")
	var ne *client.NetError
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v (%T), want a *NetError", err, err)
	}
}

// TestFaultTrickle: replies that come a byte at a time are read whole;
// too slow, and the client's timeout ends the wait.
func TestFaultTrickle(t *testing.T) {
	t.Run("slow", func(t *testing.T) {
		ts := smtptest.NewServer(t, smtptest.Trickle(time.Millisecond))
		if _, err := send(t, ts, nil, "x\r\n"); err != nil {
			t.Fatal(err)
		}
		if n := len(ts.Messages()); n != 1 {
			t.Errorf("%d messages", n)
		}
	})
	t.Run("too slow", func(t *testing.T) {
		// The greeting takes over 2 seconds, the client waits 200ms.
		ts := smtptest.NewServer(t, smtptest.Trickle(100*time.Millisecond))
		_, err := send(t, ts, &client.Options{GreetingTimeout: 200 * time.Millisecond}, "x\r\n")
		var ne *client.NetError
		var te net.Error
		if !errors.As(err, &ne) || !errors.As(err, &te) || !te.Timeout() {
			t.Fatalf("err = %v (%T), want a *NetError timeout", err, err)
		}
	})
}

// TestFaultLMTPRecipient: in LMTP a fault can refuse one recipient after
// the message; the client reports that recipient only.
func TestFaultLMTPRecipient(t *testing.T) {
	ts := smtptest.NewServer(t, smtptest.LMTP(),
		smtptest.Fault{Command: "DATA", N: 1, Recipient: "c@example.org", Reply: reply.New(452, reply.EnhMailboxFull().WithClass(4), "Mailbox full")})
	_, err := send(t, ts, &client.Options{LMTP: true}, "x\r\n", "b@example.org", "c@example.org")
	e := asError(t, err, "DATA", 452)
	if !e.Temporary() {
		t.Errorf("%v: want a temporary failure", e)
	}
	msgs := ts.Messages()
	if len(msgs) != 1 || !msgs[0].Accepted || len(msgs[0].Envelope.To) != 2 {
		t.Errorf("messages = %+v", msgs)
	}
}

// TestFaultCheck: a fault that cannot strike fails the test at once.
func TestFaultCheck(t *testing.T) {
	for _, f := range []smtptest.Fault{
		{Command: "EHLO", Drop: true},
		{Command: "MAIL"},
		{Command: "MAIL", Drop: true, Hang: true},
		{Command: "RCPT", CutAfter: 10},
		{Command: "MAIL", Recipient: "a@b", Reply: reply.OK()},
		{Command: "DATA", Recipient: "a@b", Drop: true},
		{Command: "DATA", N: -1, Drop: true},
	} {
		ft := &fakeTB{}
		ft.run(func() { smtptest.NewServer(ft, f) })
		if !strings.Contains(ft.fatal, "fault") {
			t.Errorf("%+v: fatal %q, want a complaint about the fault", f, ft.fatal)
		}
	}
}
