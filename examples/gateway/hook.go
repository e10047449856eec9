package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/smtpkit/smtp/examples/gateway/internal/webhook"
	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/internal/queue"
	"github.com/smtpkit/smtp/reply"
)

// routes maps a recipient domain (lower case, A-labels) to its webhook.
type routes map[string]string

// lookup returns the webhook of an address's domain, "" when none.
func (r routes) lookup(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	// RFC 5321 2.4: domain names are case-insensitive; the routes are
	// keyed as cli.DomainKey gives them.
	dom, err := cli.DomainKey(addr[i+1:])
	if err != nil {
		return ""
	}
	return r[dom]
}

// hookTransport delivers inbound mail to the webhooks (an mta.Transport):
// one signed POST per recipient domain, with the recipients of that
// domain.
type hookTransport struct {
	routes        routes
	client        *webhook.Client
	maxAttachment int
}

// payload builds the JSON body of delivery deliveryID (Payload.DeliveryID)
// for recipients rcpts of m, whose bytes are raw.
func (t *hookTransport) payload(m *queue.Message, deliveryID string, rcpts []string, raw []byte) ([]byte, error) {
	env := webhook.Envelope{MailFrom: m.From, RcptTo: rcpts, RemoteAddr: m.Client, SMTPUTF8: m.SMTPUTF8, EightBitMIME: m.EightBit}
	p := webhook.NewPayload(m.ID, m.Created, env, raw, t.maxAttachment)
	p.DeliveryID = deliveryID
	return p.Marshal()
}

// Deliver implements mta.Transport.
func (t *hookTransport) Deliver(ctx context.Context, m *queue.Message, domain string, idx []int, msg io.ReaderAt, size int64) []mta.Outcome {
	all := func(o mta.Outcome) []mta.Outcome {
		outs := make([]mta.Outcome, len(idx))
		for i := range outs {
			outs[i] = o
		}
		return outs
	}
	hook := t.routes.lookup(m.Recipients[idx[0]].Addr)
	if hook == "" {
		// RFC 3463 X.3.5: the system is not configured for the
		// destination. Kept until the route is back or the message
		// expires.
		return all(mta.Outcome{State: queue.Pending, Status: "4.3.5", Diag: "no -route for this domain (removed since the message came?)"})
	}
	raw, err := io.ReadAll(io.NewSectionReader(msg, 0, size))
	if err != nil {
		return all(mta.Outcome{State: queue.Pending, Status: "4.3.0", Diag: "cannot read the queued message: " + err.Error()})
	}
	rcpts := make([]string, len(idx))
	for i, j := range idx {
		rcpts[i] = m.Recipients[j].Addr
	}
	// One request per recipient domain, each its own delivery: the
	// same in every attempt (the domain's recipients share their
	// outcome), another for the message's other domains.
	body, err := t.payload(m, m.ID+"/"+domain, rcpts, raw)
	if err != nil {
		return all(mta.Outcome{State: queue.Pending, Status: "4.3.0", Diag: "cannot build the payload: " + err.Error()})
	}
	res := t.client.Post(ctx, hook, body, m.ID, m.Attempts)
	o := hookOutcome(&res)
	o.Relay = relayName(hook)
	return all(o)
}

// relayName names a webhook in the mail log: its scheme and host, never
// its path or query, which may hold a secret.
func relayName(hook string) string {
	u, err := url.Parse(hook)
	if err != nil {
		return "webhook"
	}
	return u.Scheme + "://" + u.Host
}

// refusalStatus is the RFC 3463 code of a webhook's refusal: X.7.1
// (delivery not authorized) for 401 and 403, X.1.1 (bad destination
// mailbox) for 404 and 410, X.3.4 (message too big) for 413, X.6.0
// (media error) for a request the receiver cannot take, else X.0.0.
func refusalStatus(code int) reply.EnhancedCode {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return reply.Enh(5, 7, 1)
	case http.StatusNotFound, http.StatusGone:
		return reply.Enh(5, 1, 1)
	case http.StatusRequestEntityTooLarge:
		return reply.Enh(5, 3, 4)
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return reply.Enh(5, 6, 0)
	}
	return reply.Enh(5, 0, 0)
}

// hookOutcome turns a webhook's answer into queue state: 2xx delivered,
// 408, 429, 5xx and no answer pending (retried; RFC 3463 X.4.1 no answer
// from host, else X.3.0), any other 4xx failed (bounced). The answer is
// the application's, not an MTA's: no Remote (RFC 3464 2.3.5), so the
// bounce gives it in its text.
func hookOutcome(r *webhook.Result) mta.Outcome {
	switch r.Outcome {
	case webhook.Delivered:
		return mta.Outcome{State: queue.Delivered, Status: "2.0.0", Diag: "the application accepted the message: " + r.Describe()}
	case webhook.Refused:
		return mta.Outcome{State: queue.Failed, Status: refusalStatus(r.StatusCode).String(),
			Diag: "the receiving application refused the message: " + r.Describe()}
	}
	o := mta.Outcome{State: queue.Pending, Status: "4.3.0", Diag: "the receiving application answered " + r.Describe(), RetryAfter: r.RetryAfter}
	if r.StatusCode == 0 {
		o.Status = "4.4.1"
		o.Diag = "the receiving application gave " + r.Describe()
	}
	return o
}

// syncReply is the SMTP reply -sync gives for a webhook's answer: 250
// when it took the message; 550 with its text, sanitised, when it refused
// it (a 4xx); 451 when it failed or did not answer in time (a 5xx, 408,
// 429, a timeout), so that the client tries again later.
func syncReply(r *webhook.Result, id string) *reply.Reply {
	switch r.Outcome {
	case webhook.Delivered:
		return reply.New(reply.CodeOK, reply.Enh(2, 0, 0), "Delivered to the application, id "+id)
	case webhook.Refused:
		text := r.Text
		if text == "" {
			text = http.StatusText(r.StatusCode)
		}
		return reply.New(reply.CodeMailboxUnavailable, refusalStatus(r.StatusCode), text)
	}
	enh := reply.Enh(4, 3, 0)
	if r.StatusCode == 0 {
		enh = reply.Enh(4, 4, 1)
	}
	return reply.New(reply.CodeLocalError, enh, "The application is not available ("+r.Describe()+"); try again later")
}
