package main

import (
	"errors"
	"io"
	"testing"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/reply"
)

// TestOutcomeOf: only a remote server's reply is recorded as what a host
// said (remote set, the reply as diagnostic); a connection that failed or
// broke, or a refusal of the client itself, is a local explanation that
// names the host it concerns (issue 14.16).
func TestOutcomeOf(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:2: connect: connection refused")
	tests := []struct {
		name string
		in   client.RecipientOutcome
		want outcome
	}{
		{"delivered", client.RecipientOutcome{Host: "mx.y.test", Code: 250, Enhanced: reply.EnhOK()},
			outcome{state: queue.Delivered, status: "2.0.0", diag: "250 2.0.0", remote: "mx.y.test"}},
		{"refused by the host", client.RecipientOutcome{Host: "mx.y.test", Code: 550, Enhanced: reply.EnhBadMailbox(),
			Err: &client.Error{Command: "RCPT", Code: 550, Enhanced: reply.EnhBadMailbox(), Text: "no such user"}},
			outcome{state: queue.Failed, status: "5.1.1", diag: "550 5.1.1 no such user", remote: "mx.y.test"}},
		{"connection failed", client.RecipientOutcome{Host: "127.0.0.1", Err: &client.NetError{Command: "connect", Err: refused}},
			outcome{state: queue.Pending, status: "4.4.1", diag: "connection to 127.0.0.1 failed: " + refused.Error()}},
		{"connection lost", client.RecipientOutcome{Host: "mx.y.test", Err: &client.NetError{Command: "RCPT", Err: io.ErrUnexpectedEOF}},
			outcome{state: queue.Pending, status: "4.4.2", diag: "connection to mx.y.test lost during RCPT: unexpected EOF"}},
		{"outcome unknown", client.RecipientOutcome{Host: "mx.y.test", Err: &client.OutcomeUnknownError{Command: "DATA", Err: io.EOF}},
			outcome{state: queue.Pending, status: "4.4.2", diag: "connection to mx.y.test lost after the end of the message, before the reply: EOF"}},
		{"refused by the client", client.RecipientOutcome{Err: &client.Error{Command: "MX", Code: 556, Enhanced: reply.EnhNullMX(),
			Text: "domain y.test does not accept mail (null MX)", Local: true}},
			outcome{state: queue.Failed, status: "5.1.10", diag: "domain y.test does not accept mail (null MX)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outcomeOf(&tt.in)
			if got != tt.want {
				t.Errorf("outcomeOf = %+v\nwant        %+v", got, tt.want)
			}
		})
	}
}
