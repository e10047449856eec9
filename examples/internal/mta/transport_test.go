package mta

import (
	"crypto/tls"
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
			outcome{state: queue.Delivered, status: "2.0.0", diag: "250 2.0.0", remote: "mx.y.test", relay: "none", tls: "none"}},
		{"delivered, with the reply to the message", client.RecipientOutcome{Host: "mx.y.test", Code: 250, Enhanced: reply.Enh(2, 1, 5),
			Addr: "192.0.2.1:25", TLS: client.TLSInfo{Version: tls.VersionTLS13, Verified: true},
			Reply: reply.New(250, reply.EnhOK(), "Ok: queued as 4Xyz")},
			outcome{state: queue.Delivered, status: "2.0.0", diag: "250 2.0.0 Ok: queued as 4Xyz", remote: "mx.y.test",
				relay: "mx.y.test[192.0.2.1]:25", tls: "TLSv1.3/verified"}},
		{"refused by the host", client.RecipientOutcome{Host: "mx.y.test", Code: 550, Enhanced: reply.EnhBadMailbox(), Addr: "192.0.2.1:25",
			Err: &client.Error{Command: "RCPT", Code: 550, Enhanced: reply.EnhBadMailbox(), Text: "no such user"}},
			outcome{state: queue.Failed, status: "5.1.1", diag: "550 5.1.1 no such user", remote: "mx.y.test", relay: "mx.y.test[192.0.2.1]:25", tls: "none"}},
		{"connection failed", client.RecipientOutcome{Host: "127.0.0.1", Err: &client.NetError{Command: "connect", Err: refused}},
			outcome{state: queue.Pending, status: "4.4.1", diag: "connection to 127.0.0.1 failed: " + refused.Error(), relay: "none", tls: "none"}},
		{"connection lost", client.RecipientOutcome{Host: "mx.y.test", Err: &client.NetError{Command: "RCPT", Err: io.ErrUnexpectedEOF}},
			outcome{state: queue.Pending, status: "4.4.2", diag: "connection to mx.y.test lost during RCPT: unexpected EOF", relay: "none", tls: "none"}},
		{"outcome unknown", client.RecipientOutcome{Host: "mx.y.test", Err: &client.OutcomeUnknownError{Command: "DATA", Err: io.EOF}},
			outcome{state: queue.Pending, status: "4.4.2", diag: "connection to mx.y.test lost after the end of the message, before the reply: EOF",
				relay: "none", tls: "none", unknown: true}},
		{"refused by the client", client.RecipientOutcome{Err: &client.Error{Command: "MX", Code: 556, Enhanced: reply.EnhNullMX(),
			Text: "domain y.test does not accept mail (null MX)", Local: true}},
			outcome{state: queue.Failed, status: "5.1.10", diag: "domain y.test does not accept mail (null MX)", relay: "none", tls: "none"}},
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
