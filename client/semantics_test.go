package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
)

// Tests of what the client's results and errors mean to a caller that
// retries (issue 14).

// doneContexts are contexts that are over before the call starts.
func doneContexts() map[string]context.Context {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	cancel2()
	return map[string]context.Context{"cancelled": cancelled, "expired": expired}
}

// TestContextDoneBeforeCommand: a context that is done before a call
// starts fails that call only: nothing is written, the error says so
// (*ContextError, errors.Is context.Canceled or DeadlineExceeded), and the
// connection goes on working, as net/http fails the request and not the
// Transport.
func TestContextDoneBeforeCommand(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	calls := []struct {
		name string
		call func(ctx context.Context, c *Client) error
	}{
		{"Noop", func(ctx context.Context, c *Client) error { return c.Noop(ctx) }},
		{"Hello", func(ctx context.Context, c *Client) error { return c.Hello(ctx, "") }},
		{"Reset", func(ctx context.Context, c *Client) error { return c.Reset(ctx) }},
		{"Verify", func(ctx context.Context, c *Client) error { _, err := c.Verify(ctx, "x"); return err }},
		{"Mail", func(ctx context.Context, c *Client) error { return c.Mail(ctx, path("a@x.example"), nil) }},
		{"Send", func(ctx context.Context, c *Client) error {
			res, err := c.Send(ctx, env("a@x.example", "b@y.example"), strings.NewReader("x\r\n"))
			if res == nil || res.Recipients[0].Status() != StatusDeferred {
				return errors.New("no deferred result")
			}
			return err
		}},
		{"SendMail", func(ctx context.Context, c *Client) error {
			return c.SendMail(ctx, "a@x.example", []string{"b@y.example"}, strings.NewReader("x\r\n"))
		}},
		{"SendBatch", func(ctx context.Context, c *Client) error {
			r := c.SendBatch(ctx, []Message{{Envelope: env("a@x.example", "b@y.example"), Body: strings.NewReader("x\r\n")}})
			if r[0].Result.Recipients[0].Status() != StatusDeferred {
				return errors.New("no deferred result")
			}
			return r[0].Err
		}},
		{"Auth", func(ctx context.Context, c *Client) error { return c.Auth(ctx, CramMD5Auth("u", "pw")) }},
		{"AuthAuto", func(ctx context.Context, c *Client) error {
			return c.AuthAuto(ctx, Credentials{Username: "u", Password: "pw"})
		}},
		{"StartTLS", func(ctx context.Context, c *Client) error { return c.StartTLS(ctx, nil) }},
		{"Rcpt", func(ctx context.Context, c *Client) error {
			if err := c.Mail(testCtx(t), path("a@x.example"), nil); err != nil {
				return err
			}
			return c.Rcpt(ctx, path("b@y.example"), nil)
		}},
		{"Data", func(ctx context.Context, c *Client) error {
			if err := c.Mail(testCtx(t), path("a@x.example"), nil); err != nil {
				return err
			}
			if err := c.Rcpt(testCtx(t), path("b@y.example"), nil); err != nil {
				return err
			}
			_, err := c.Data(ctx)
			return err
		}},
	}
	for ctxName, ctx := range doneContexts() {
		want := context.Canceled
		if ctxName == "expired" {
			want = context.DeadlineExceeded
		}
		for _, tc := range calls {
			t.Run(ctxName+"/"+tc.name, func(t *testing.T) {
				fs := newFakeServer(t, "PIPELINING", "STARTTLS", "AUTH CRAM-MD5")
				fs.tls = cert.ServerConfig()
				c := dialT(t, fs.start(), nil)
				before := fs.bytes()
				err := tc.call(ctx, c)
				var ce *ContextError
				var ne *NetError
				if !errors.Is(err, want) || !errors.As(err, &ce) || errors.As(err, &ne) {
					t.Fatalf("err = %v", err)
				}
				if !strings.Contains(err.Error(), "not sent") {
					t.Errorf("error does not say nothing was sent: %v", err)
				}
				// Rcpt and Data open a transaction first with a live context.
				if got := strings.TrimPrefix(fs.bytes(), before); strings.Contains(got, "NOOP") || strings.Contains(got, "STARTTLS") ||
					strings.Contains(got, "AUTH") || strings.Contains(got, "RSET") || strings.Contains(got, "DATA") ||
					(tc.name != "Rcpt" && tc.name != "Data" && got != "") {
					t.Errorf("sent %q", got)
				}
				if err := c.Noop(testCtx(t)); err != nil {
					t.Fatalf("client broken by a done context: %v", err)
				}
				if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("x\r\n")); err != nil {
					t.Fatalf("Send after: %v", err)
				}
			})
		}
	}
	// Quit with a done context closes the connection without QUIT (Quit
	// always closes it).
	fs := newFakeServer(t)
	c := dialT(t, fs.start(), nil)
	ctx := doneContexts()["cancelled"]
	if err := c.Quit(ctx); !errors.Is(err, context.Canceled) || strings.Contains(fs.bytes(), "QUIT") {
		t.Errorf("Quit: %v, wire %q", err, fs.bytes())
	}
}

// cancelOnRead is a message whose reading cancels the context: the caller
// gives up while Send reads ahead, before anything was written.
type cancelOnRead struct {
	cancel context.CancelFunc
	r      io.Reader
}

func (c cancelOnRead) Read(p []byte) (int, error) {
	c.cancel()
	return c.r.Read(p)
}

// TestContextDoneWhileReading: a context done while Send reads the start
// of the message (before MAIL is written) fails that Send only.
func TestContextDoneWhileReading(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	c := dialT(t, fs.start(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := c.Send(ctx, env("a@x.example", "b@y.example"), cancelOnRead{cancel, strings.NewReader("x\r\n")})
	var ce *ContextError
	if !errors.As(err, &ce) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := fs.bytes(); got != "EHLO client.example\r\n" {
		t.Errorf("sent %q", got)
	}
	if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	// The Deliverer reports a context done before it connects as such.
	d := &Deliverer{Routes: map[string]string{"y.example": fs.ln.Addr().String()}}
	msg := strings.NewReader("x\r\n")
	o := d.Deliver(ctx, env("a@x.example", "b@y.example"), msg, msg.Size())[0]
	if !errors.As(o.Err, &ce) || !o.Temporary() {
		t.Errorf("Deliver: %v", o.Err)
	}
}

// TestContextCancelMidCommand: a context cancelled while a command waits
// for its reply leaves the connection in an unknown state: the client
// closes it, and the error (a *NetError that errors.Is
// context.Canceled) says so.
func TestContextCancelMidCommand(t *testing.T) {
	got := make(chan struct{})
	fs := newFakeServer(t)
	fs.onCommand = func(fc *fakeConn, line string) bool {
		if line == "NOOP" {
			close(got)
			fc.readLine() // never answers
			return true
		}
		return false
	}
	c := dialT(t, fs.start(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-got; cancel() }()
	err := c.Noop(ctx)
	var ne *NetError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ne) || !strings.Contains(err.Error(), "connection closed") {
		t.Fatalf("err = %v", err)
	}
	if err := c.Noop(testCtx(t)); !errors.As(err, &ne) {
		t.Errorf("usable after an interrupted command: %v", err)
	}
}

// partialServer refuses carol for now (450) and dave for good (550).
func partialServer(t *testing.T, ext ...string) *fakeServer {
	fs := newFakeServer(t, ext...)
	fs.rcptReply = map[string]string{
		"carol@y.example": "450 4.2.1 try later",
		"dave@y.example":  "550 5.1.1 no such user",
	}
	return fs
}

// TestPartialDelivery: Send's result says, per recipient, accepted,
// deferred (4xx: retry later) or refused (5xx: never), and Retry builds
// the envelope that is safe to send again: the deferred recipients only.
// The aggregate error does not pose as any single recipient's reply, and
// its Temporary never invites resending the whole message to a recipient
// that already got it.
func TestPartialDelivery(t *testing.T) {
	for _, ext := range [][]string{nil, {"PIPELINING"}, {"PIPELINING", "CHUNKING"}} {
		t.Run(strings.Join(ext, "+"), func(t *testing.T) {
			fs := partialServer(t, ext...)
			c := dialT(t, fs.start(), nil)
			ctx := testCtx(t)
			e := env("a@x.example", "bob@y.example", "carol@y.example", "dave@y.example")
			res, err := c.Send(ctx, e, strings.NewReader("hi\r\n"))
			var re *RecipientsError
			if !errors.As(err, &re) || re.Accepted != 1 || len(re.Failed) != 2 {
				t.Fatalf("err = %v", err)
			}
			var ce *Error
			if errors.As(err, &ce) {
				t.Errorf("errors.As finds one recipient's reply (%v) in a partial delivery", ce)
			}
			if re.Temporary() || re.Permanent() || isTemporary(err) {
				t.Errorf("mixed outcome: Temporary %v Permanent %v", re.Temporary(), re.Permanent())
			}
			want := []RecipientStatus{StatusAccepted, StatusDeferred, StatusRefused}
			for i, w := range want {
				if got := res.Recipients[i].Status(); got != w {
					t.Errorf("%v: status %v, want %v", res.Recipients[i].Path, got, w)
				}
			}
			if n := res.Count(StatusDeferred); n != 1 || res.Count(StatusRefused) != 1 || res.Count(StatusAccepted) != 1 {
				t.Errorf("counts %d", n)
			}
			retry := res.Retry(e)
			if len(retry.To) != 1 || retry.To[0].Path != path("carol@y.example") || retry.From != e.From {
				t.Fatalf("Retry = %+v", retry)
			}
			// The loop a caller writes: send again to what Retry returns.
			for i := 0; i < 3 && len(retry.To) > 0; i++ {
				res, err = c.Send(ctx, retry, strings.NewReader("hi\r\n"))
				if err == nil {
					break
				}
				retry = res.Retry(retry)
			}
			if got := fs.delivered(); got["bob@y.example"] != 1 || got["dave@y.example"] != 0 {
				t.Errorf("copies %v", got)
			}
			if n := strings.Count(fs.bytes(), "RCPT TO:<dave@y.example>"); n != 1 {
				t.Errorf("refused recipient retried: %d RCPTs", n)
			}
		})
	}
	fs := partialServer(t, "PIPELINING")
	c := dialT(t, fs.start(), nil)
	ctx := testCtx(t)
	for _, tc := range []struct {
		to         []string
		temp, perm bool
	}{
		{[]string{"bob@y.example", "carol@y.example"}, false, false}, // bob has it: never resend as is
		{[]string{"carol@y.example"}, true, false},                   // nothing delivered, all transient
		{[]string{"dave@y.example"}, false, true},                    // nothing delivered, all permanent
		{[]string{"bob@y.example", "dave@y.example"}, false, true},   // nothing left to deliver
		{[]string{"carol@y.example", "dave@y.example"}, false, false},
	} {
		_, err := c.Send(ctx, env("a@x.example", tc.to...), strings.NewReader("hi\r\n"))
		var re *RecipientsError
		if !errors.As(err, &re) || re.Temporary() != tc.temp || re.Permanent() != tc.perm || isTemporary(err) != tc.temp {
			t.Errorf("%v: err = %v, Temporary %v", tc.to, err, isTemporary(err))
		}
		// bob has the message: no *Error may stand for the whole send,
		// or a go-smtp style loop (errors.As, Temporary, resend) would
		// give him a second copy.
		var ce *Error
		if re != nil && re.Accepted > 0 && errors.As(err, &ce) {
			t.Errorf("%v: errors.As finds %v although a recipient has the message", tc.to, ce)
		}
	}
}

// TestSendResultAlways: Send returns a Result with every recipient's
// outcome even when it fails before MAIL, so that a retry loop need not
// special-case a nil Result.
func TestSendResultAlways(t *testing.T) {
	fs := newFakeServer(t)
	fs.onCommand = replyTo("EHLO", "421 4.3.2 busy")
	c, err := Dial(testCtx(t), fs.start(), &Options{LocalName: "client.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := env("a@x.example", "b@y.example", "c@y.example")
	res, err := c.Send(testCtx(t), e, strings.NewReader("x\r\n"))
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != 421 {
		t.Fatalf("err = %v", err)
	}
	if res == nil || len(res.Recipients) != 2 || res.Recipients[1].Status() != StatusDeferred || len(res.Retry(e).To) != 2 {
		t.Fatalf("result %+v", res)
	}
}

// unsized hides the length of a reader, as a pipe would.
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

// TestTooManyRecipients: a 452 4.5.3 (or 452 alone after some
// recipients were taken, or 552 5.5.3, RFC 5321 4.5.3.1.10) to RCPT means
// "send the rest in another transaction": Send does so on the same
// connection when it can read the message again, and otherwise reports
// those recipients as deferred, without a second copy to anyone.
func TestTooManyRecipients(t *testing.T) {
	rcpts := []string{"r1@y.example", "r2@y.example", "r3@y.example", "r4@y.example", "r5@y.example"}
	for _, ext := range [][]string{nil, {"PIPELINING"}, {"PIPELINING", "CHUNKING"}, {"CHUNKING"}} {
		for _, tooMany := range []string{"", "452 too many recipients", "552 5.5.3 too many recipients"} {
			t.Run(strings.Join(ext, "+")+"/"+tooMany, func(t *testing.T) {
				fs := newFakeServer(t, ext...)
				fs.maxRcpt, fs.tooManyReply = 2, tooMany
				c := dialT(t, fs.start(), nil)
				res, err := c.Send(testCtx(t), env("a@x.example", rcpts...), strings.NewReader("hi\r\n"))
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if res.Accepted() != 5 || res.Code != 250 {
					t.Errorf("accepted %d, code %d", res.Accepted(), res.Code)
				}
				got := fs.delivered()
				for _, r := range rcpts {
					if got[r] != 1 {
						t.Errorf("%s got %d copies", r, got[r])
					}
				}
				if n := strings.Count(fs.bytes(), "MAIL FROM"); n != 3 {
					t.Errorf("%d transactions", n)
				}
				if m := fs.msgs(); len(m) != 3 || m[2] != "hi\r\n" {
					t.Errorf("messages %q", m)
				}
			})
		}
	}
	t.Run("unseekable", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING")
		fs.maxRcpt = 2
		c := dialT(t, fs.start(), nil)
		e := env("a@x.example", rcpts...)
		res, err := c.Send(testCtx(t), e, unsized{strings.NewReader("hi\r\n")})
		var re *RecipientsError
		if !errors.As(err, &re) || re.Accepted != 2 || re.Temporary() {
			t.Fatalf("err = %v", err)
		}
		retry := res.Retry(e)
		if len(retry.To) != 3 || retry.To[0].Path != path("r3@y.example") || res.Recipients[4].Code != 452 {
			t.Errorf("retry %v", retry.To)
		}
		if n := strings.Count(fs.bytes(), "MAIL FROM"); n != 1 {
			t.Errorf("%d transactions", n)
		}
	})
	t.Run("no-progress", func(t *testing.T) {
		// Every recipient refused with 452 4.5.3: no transaction took
		// one, so there is no point in another: all deferred.
		fs := newFakeServer(t, "PIPELINING")
		fs.rcptReply = map[string]string{"r1@y.example": "452 4.5.3 too many", "r2@y.example": "452 4.5.3 too many"}
		c := dialT(t, fs.start(), nil)
		res, err := c.Send(testCtx(t), env("a@x.example", "r1@y.example", "r2@y.example"), strings.NewReader("hi\r\n"))
		var re *RecipientsError
		if !errors.As(err, &re) || !re.Temporary() || res.Count(StatusDeferred) != 2 {
			t.Fatalf("err = %v", err)
		}
		if n := strings.Count(fs.bytes(), "MAIL FROM"); n != 1 {
			t.Errorf("%d transactions", n)
		}
	})
	t.Run("mailbox-full", func(t *testing.T) {
		// 452 4.2.2 is about that mailbox, not the transaction.
		fs := newFakeServer(t, "PIPELINING")
		fs.rcptReply = map[string]string{"r2@y.example": "452 4.2.2 mailbox full"}
		c := dialT(t, fs.start(), nil)
		res, err := c.Send(testCtx(t), env("a@x.example", "r1@y.example", "r2@y.example", "r3@y.example"), strings.NewReader("hi\r\n"))
		var re *RecipientsError
		if !errors.As(err, &re) || res.Recipients[1].Status() != StatusDeferred {
			t.Fatalf("err = %v", err)
		}
		if n := strings.Count(fs.bytes(), "MAIL FROM"); n != 1 {
			t.Errorf("%d transactions", n)
		}
	})
}

// TestDeliverTooManyRecipients: the Deliverer sends the recipients past
// an exchanger's limit in further transactions (RFC 5321 4.5.3.1.10).
func TestDeliverTooManyRecipients(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	fs.maxRcpt = 2
	d := &Deliverer{Routes: map[string]string{"y.example": fs.start()}}
	e := env("a@x.example", "r1@y.example", "r2@y.example", "r3@y.example", "r4@y.example", "r5@y.example")
	msg := strings.NewReader("hi\r\n")
	for _, o := range d.Deliver(testCtx(t), e, msg, msg.Size()) {
		if !o.Delivered() {
			t.Errorf("%v: %v", o.Recipient.Path, o.Err)
		}
	}
	for r, n := range fs.delivered() {
		if n != 1 {
			t.Errorf("%s got %d copies", r, n)
		}
	}
	if len(fs.delivered()) != 5 {
		t.Errorf("delivered %v", fs.delivered())
	}
}

// bigMessage is a message of unknown length (so that Send learns its size
// only while streaming it) larger than the first read.
func bigMessage() io.Reader {
	return unsized{strings.NewReader(strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 200))}
}

// TestAbortSaysWhatHappened: a message found to exceed SIZE while it is
// streamed was already begun on the wire: the error is an *AbortError that
// says so (and whether the connection was closed), not a "refused by the
// client" *Error; and a later call on a connection closed that way fails
// as a closed connection, not with the first message's size.
func TestAbortSaysWhatHappened(t *testing.T) {
	for _, tc := range []struct {
		ext    []string
		closed bool
	}{
		{[]string{"PIPELINING", "SIZE 5000"}, true},
		{[]string{"PIPELINING", "CHUNKING", "SIZE 5000"}, false},
	} {
		t.Run(strings.Join(tc.ext, "+"), func(t *testing.T) {
			fs := newFakeServer(t, tc.ext...)
			c := dialT(t, fs.start(), nil)
			e := env("a@x.example", "b@y.example")
			res, err := c.Send(testCtx(t), e, bigMessage())
			var ae *AbortError
			var se *SizeError
			var ce *Error
			if !errors.As(err, &ae) || ae.Closed != tc.closed || !errors.As(err, &se) || se.Limit != 5000 {
				t.Fatalf("err = %v", err)
			}
			if errors.As(err, &ce) && ce.Local {
				t.Errorf("reported as refused before the wire: %v", err)
			}
			if ae.Reply == nil || ae.Reply.Code != reply.CodeExceededStorage || isTemporary(err) {
				t.Errorf("reply %v", ae.Reply)
			}
			if res.Recipients[0].Status() != StatusRefused {
				t.Errorf("status %v", res.Recipients[0].Status())
			}
			if !strings.Contains(fs.bytes(), "MAIL FROM") || len(fs.msgs()) != 0 {
				t.Errorf("wire %q", fs.bytes())
			}
			_, err = c.Send(testCtx(t), e, strings.NewReader("small\r\n"))
			if tc.closed {
				var ne *NetError
				if !errors.As(err, &ne) || errors.As(err, &se) || errors.As(err, &ae) {
					t.Errorf("next Send: %v", err)
				}
			} else if err != nil {
				t.Errorf("next Send: %v", err)
			}
		})
	}
}

// TestStickyErrorNotOutcomeUnknown: after a connection broke past the end
// of a message, a later Send fails as "not sent" (a *NetError), never as
// "outcome unknown": that message never left.
func TestStickyErrorNotOutcomeUnknown(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	fs.onCommand = func(fc *fakeConn, line string) bool {
		if line == "DATA" {
			fc.send("354 go")
			fc.readData()
			fc.conn.Close()
			return true
		}
		return false
	}
	c := dialT(t, fs.start(), nil)
	e := env("a@x.example", "b@y.example")
	if _, err := c.Send(testCtx(t), e, strings.NewReader("x\r\n")); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("first: %v", err)
	}
	res, err := c.Send(testCtx(t), e, strings.NewReader("y\r\n"))
	var ne *NetError
	if errors.Is(err, ErrOutcomeUnknown) || !errors.As(err, &ne) || res.Recipients[0].Status() != StatusDeferred {
		t.Errorf("second: %v", err)
	}
	if err := c.Noop(testCtx(t)); errors.Is(err, ErrOutcomeUnknown) || !errors.As(err, &ne) {
		t.Errorf("Noop: %v", err)
	}
}

// TestRecipientStatusOfErrors: every error a recipient can get maps to
// one status, the same for Send's results and the Deliverer's outcomes.
func TestRecipientStatusOfErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want RecipientStatus
	}{
		{nil, StatusAccepted},
		{newReplyError("RCPT", reply.New(450, reply.Enh(4, 2, 1), "later")), StatusDeferred},
		{newReplyError("RCPT", reply.New(550, reply.Enh(5, 1, 1), "no")), StatusRefused},
		{newReplyError("DATA", reply.New(354, reply.EnhancedCode{}, "odd")), StatusRefused},
		{errNeeds8BitMIME("MAIL"), StatusRefused},
		{&NetError{Command: "RCPT", Err: io.EOF}, StatusDeferred},
		{&ContextError{Command: "MAIL", Err: context.Canceled}, StatusDeferred},
		{&MessageError{Err: io.ErrUnexpectedEOF}, StatusDeferred},
		{&OutcomeUnknownError{Command: "DATA", Err: io.EOF}, StatusUnknown},
		{&AbortError{Command: "DATA", Err: &SizeError{Size: 2, Limit: 1}, Reply: reply.New(552, reply.Enh(5, 3, 4), "big")}, StatusRefused},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, StatusDeferred},
	} {
		r := RecipientResult{Err: tc.err}
		o := RecipientOutcome{Err: tc.err}
		if got := r.Status(); got != tc.want || o.Status() != tc.want {
			t.Errorf("%v: status %v / %v, want %v", tc.err, got, o.Status(), tc.want)
		}
		if o.Delivered() != (tc.want == StatusAccepted) || o.Temporary() != (tc.want == StatusDeferred) ||
			o.Permanent() != (tc.want == StatusRefused) || o.OutcomeUnknown() != (tc.want == StatusUnknown) {
			t.Errorf("%v: outcome methods disagree with %v", tc.err, tc.want)
		}
	}
}
