package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server/smtptest"
)

// TestPartialDelivery: when the message reaches some recipients but not
// others, sendmail reports each recipient's outcome and exits 65, a status
// that never invites a caller to send the message again to those that got
// it (issue 14.15: it exited 69 or 75, and 75 makes callers resend);
// recipients refused with 452 4.5.3 (too many recipients, RFC 5321
// 4.5.3.1.10) get the message in another transaction.
func TestPartialDelivery(t *testing.T) {
	srv := smtptest.NewServer(t,
		smtptest.RcptReply("bad@y.test", reply.New(550, reply.EnhBadMailbox(), "no such user")),
		smtptest.RcptReply("full@y.test", reply.New(452, reply.EnhMailboxFull(), "mailbox full")))
	addr := srv.Addr
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
	var got []string
	for _, m := range srv.Messages() {
		for _, r := range m.Envelope.To {
			got = append(got, r.Path.Address.String())
		}
		got = append(got, "|")
	}
	if strings.Join(got, " ") != "good@y.test | good@y.test |" {
		t.Errorf("messages to %v, want good@y.test twice", got)
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

// TestTooManyRecipientsOnce: the client sends recipients put off by a
// server's limit (452 4.5.3) in further transactions for as long as each
// one delivers; sendmail adds no transaction of its own. A recipient the
// server keeps putting off is tried twice (its first transaction, then
// alone), not a third time, and is reported deferred (exit 65: the others
// have the message).
func TestTooManyRecipientsOnce(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.RcptReply("c@y.test", reply.New(452, reply.EnhTooManyRecipients(), "too many recipients")))
	code, stderr := send(t, msg, "-server", srv.Addr, "-from", "a@x.test", "-to", "a@y.test", "-to", "c@y.test")
	if code != 65 || !strings.Contains(stderr, "<c@y.test>: deferred: ") || !strings.Contains(stderr, "<a@y.test>: sent") {
		t.Errorf("exit %d, want 65: %s", code, stderr)
	}
	if n := strings.Count(srv.Trace(), "RCPT TO:<c@y.test>"); n != 2 {
		t.Errorf("RCPT TO:<c@y.test> sent %d times, want 2:\n%s", n, srv.Trace())
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

// TestReportStatus: the exit status follows the recipients' statuses as
// the client classifies them (RecipientStatus), with one exception kept
// from the documented exit codes: a certificate that does not verify (the
// Deliverer's transient 4.7.5 under -starttls) is final, 69.
func TestReportStatus(t *testing.T) {
	badCert := &client.Error{Command: "STARTTLS", Code: 451, Enhanced: reply.Enh(4, 7, 5), Local: true,
		Err: &client.TLSPolicyError{Host: "mx.y.test", Policy: client.PolicyTLSRequired,
			Err: &client.NetError{Command: "STARTTLS", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}}}
	temp := &client.Error{Command: "RCPT", Code: 450, Enhanced: reply.Enh(4, 2, 0)}
	perm := &client.Error{Command: "RCPT", Code: 550, Enhanced: reply.EnhBadMailbox()}
	unknown := &client.OutcomeUnknownError{Command: "DATA", Err: io.ErrUnexpectedEOF}
	cases := []struct {
		name string
		errs []error
		want int
	}{
		{"all sent", []error{nil, nil}, 0},
		{"partial", []error{nil, temp}, 65},
		{"partial, refused", []error{nil, perm}, 65},
		{"none, one transient", []error{temp, perm}, 75},
		{"none, all permanent", []error{perm, perm}, 69},
		{"outcome unknown", []error{unknown}, 75},
		{"bad certificate", []error{badCert}, 69},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outs := make([]rcptOutcome, len(tc.errs))
			for i, err := range tc.errs {
				r := client.RecipientResult{Path: envelope.Path{Address: envelope.Address{Local: "r" + string(rune('a'+i)), Domain: "y.test"}}, Err: err}
				outs[i] = newOutcome(r.Path, "mx.y.test", r.Err, r.Status())
			}
			err := report(outs, false, io.Discard)
			code := exitOK
			if err != nil {
				code = exitCode(err)
			}
			if code != tc.want {
				t.Errorf("exit %d, want %d (%v)", code, tc.want, err)
			}
		})
	}
}
