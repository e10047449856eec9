package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
)

func TestErrorStrings(t *testing.T) {
	e := newReplyError("RCPT", reply.New(550, reply.Enh(5, 1, 1), "no such", "user"))
	if got := e.Error(); got != "smtp: RCPT: 550 5.1.1 no such; user" {
		t.Errorf("Error() = %q", got)
	}
	var r *reply.Reply
	if !errors.As(e, &r) || r.Code != 550 {
		t.Errorf("no *reply.Reply through Unwrap")
	}
	l := errTooLarge("MAIL", 10, 5)
	if got := l.Error(); got != "smtp: MAIL (refused by the client): 552 5.3.4 message larger than the server's SIZE 5" {
		t.Errorf("Error() = %q", got)
	}
	var se *SizeError
	if !errors.As(l, &se) || se.Error() != "message of 10 octets is larger than the server's SIZE 5" {
		t.Errorf("SizeError %v", se)
	}
	ou := &OutcomeUnknownError{Command: "BDAT", Err: io.ErrUnexpectedEOF}
	if !strings.Contains(ou.Error(), "BDAT: outcome unknown") || !errors.Is(ou, io.ErrUnexpectedEOF) || !errors.Is(ou, ErrOutcomeUnknown) {
		t.Errorf("OutcomeUnknownError %v", ou)
	}
	ne := &NetError{Command: "MAIL", Err: io.EOF}
	if ne.Error() != "smtp: MAIL: EOF" || !ne.Temporary() || !errors.Is(ne, io.EOF) {
		t.Errorf("NetError %v", ne)
	}
	re := &RecipientsError{Accepted: 1, Failed: []RecipientResult{{Path: path("a@b.example"), Err: e}}}
	if got := re.Error(); got != "smtp: message refused for 1 of 2 recipients (delivered to the other 1: do not send it to them again); <a@b.example>: "+e.Error() {
		t.Errorf("Error() = %q", got)
	}
	if re.Temporary() || !re.Permanent() {
		t.Errorf("550 temporary")
	}
	var ce *Error
	if errors.As(re, &ce) || errors.Is(re, ErrOutcomeUnknown) {
		t.Errorf("RecipientsError poses as one recipient's error")
	}
	// Nothing delivered, one kind of failure: the error speaks for all.
	re = &RecipientsError{Failed: []RecipientResult{{Path: path("a@b.example"), Err: e}, {Path: path("c@b.example"), Err: e}}}
	if !errors.As(re, &ce) || ce.Code != 550 || !re.Permanent() {
		t.Errorf("uniform refusal not found: %v", re)
	}
	re.Failed[1].Err = newReplyError("RCPT", reply.New(450, reply.Enh(4, 2, 1), "later"))
	if errors.As(re, &ce) || re.Permanent() || re.Temporary() {
		t.Errorf("mixed refusal found: %v", ce)
	}
	ctxErr := &ContextError{Command: "MAIL", Err: context.Canceled, Cause: io.ErrClosedPipe}
	if got := ctxErr.Error(); got != "smtp: MAIL not sent: context canceled (io: read/write on closed pipe)" ||
		!errors.Is(ctxErr, context.Canceled) || !errors.Is(ctxErr, io.ErrClosedPipe) || !ctxErr.Temporary() {
		t.Errorf("ContextError %v", ctxErr)
	}
	ne = &NetError{Command: "NOOP", Err: context.DeadlineExceeded, interrupted: true}
	if got := ne.Error(); got != "smtp: NOOP: context deadline exceeded during the command; connection closed" {
		t.Errorf("NetError %v", got)
	}
	ae := abortError("DATA", true, errTooLarge("DATA", 10, 5))
	if got := ae.Error(); got != "smtp: DATA: message abandoned after the transaction started (connection closed): message of 10 octets is larger than the server's SIZE 5" ||
		ae.Temporary() || ae.Reply.Code != 552 || !errors.As(ae, &se) || errors.As(ae, &ce) {
		t.Errorf("AbortError %v", ae)
	}
	sa := &ServerAuthError{Mechanism: "SCRAM-SHA-256", Err: io.ErrUnexpectedEOF}
	if got := sa.Error(); got != "smtp: AUTH SCRAM-SHA-256: the server did not authenticate itself: unexpected EOF; connection closed" ||
		!errors.Is(sa, ErrServerNotAuthenticated) || isTemporary(sa) {
		t.Errorf("ServerAuthError %v", sa)
	}
	if StatusDeferred.String() != "deferred" || RecipientStatus(0).String() != "RecipientStatus(0)" {
		t.Errorf("status names")
	}
	me := &MessageError{Err: io.ErrClosedPipe}
	if !errors.Is(me, io.ErrClosedPipe) || !strings.Contains(me.Error(), "reading the message") {
		t.Errorf("MessageError %v", me)
	}
}

func TestSendMailArguments(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	var logs bytes.Buffer
	c := dialT(t, fs.start(), &Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := testCtx(t)
	for _, bad := range [][2]string{{"a@x.example\r\nRSET", "b@y.example"}, {"a@x.example", "no-at-sign"}, {"a@x.example", "<>"}} {
		err := c.SendMail(ctx, bad[0], []string{bad[1]}, strings.NewReader("x\r\n"))
		var e *Error
		if !errors.As(err, &e) || !e.Local {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	if _, err := c.Send(ctx, envelope.Envelope{From: path("a@x.example")}, strings.NewReader("x")); !errors.Is(err, ErrNoRecipients) {
		t.Errorf("no recipients: %v", err)
	}
	if err := c.SendMail(ctx, "", []string{"<b@y.example>"}, strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	res := c.res.Clone()
	if rep := res.Reply(); rep == nil || rep.Code != 250 || rep.Text() != "OK queued as 1234" {
		t.Errorf("Reply() = %v", rep)
	}
	if !strings.Contains(fs.bytes(), "MAIL FROM:<>\r\n") || strings.Contains(fs.bytes(), "RSET") {
		t.Errorf("wire %q", fs.bytes())
	}
	if c.Greeting().Code != 220 || c.Conn() == nil {
		t.Errorf("greeting %v", c.Greeting())
	}
	if !strings.Contains(logs.String(), "connected") {
		t.Errorf("logs: %s", logs.String())
	}
}

// TestRefusalKeepsSync: a refusal after a queued RSET must not leave the
// RSET unanswered in the pipeline.
func TestRefusalKeepsSync(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	fs.rcptReply = map[string]string{"bad@y.example": "550 5.1.1 no"}
	c := dialT(t, fs.start(), nil)
	ctx := testCtx(t)
	// Leaves a transaction to reset.
	if _, err := c.Send(ctx, env("a@x.example", "bad@y.example"), strings.NewReader("x\r\n")); err == nil {
		t.Fatal("no error")
	}
	bad := env("a@x.example", "b@y.example")
	bad.From.Local = "a\r\nQUIT"
	if _, err := c.Send(ctx, bad, strings.NewReader("x\r\n")); err == nil {
		t.Fatal("injected MAIL accepted")
	}
	for i := 0; i < 2; i++ {
		if _, err := c.Send(ctx, env("a@x.example", "b@y.example"), strings.NewReader("x\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(fs.bytes(), "QUIT") || strings.Count(fs.bytes(), "RSET") != 1 {
		t.Errorf("wire %q", fs.bytes())
	}
}
