package mta

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// smtpTransport delivers with the client package's Deliverer: to the static
// route of a domain when there is one (STARTTLS when offered, certificate
// not verified), else to the domain's MX hosts (RFC 5321 5.1) with
// opportunistic TLS (RFC 7435). Connections stay open for the next message
// to the same host (client.ConnCache), and a destination that refused a
// connection is not dialled again until its backoff passes (destCache).
type smtpTransport struct {
	base client.Deliverer
	// plain is base without DANE, MTA-STS and TLS-RPT counting, for the
	// messages that ask for it (TLS-Required: No); nil without them.
	plain *client.Deliverer
	// smartHost is the "*" route: where every domain without its own
	// route goes ("" = the MX hosts).
	smartHost string
	cache     *client.ConnCache
	dests     *destCache
}

func newSMTPTransport(hostname string, routes map[string]string, schedule queue.Schedule, sec *Security) *smtpTransport {
	t := &smtpTransport{smartHost: routes["*"], cache: &client.ConnCache{}}
	t.dests = newDestCache(func(n int) time.Duration { return min(schedule.Delay(n), MaxDestBackoff) })
	rs := map[string]string{}
	for d, a := range routes {
		if d != "*" {
			rs[d] = a
		}
	}
	t.base = client.Deliverer{
		Options: &client.Options{LocalName: hostname, Dialer: t.dests},
		Routes:  rs,
		Cache:   t.cache,
	}
	t.plain = sec.configure(&t.base)
	return t
}

// close QUITs the cached connections.
func (t *smtpTransport) close() { t.cache.Close() }

func (t *smtpTransport) deliver(ctx context.Context, m *queue.Message, domain string, rcpts []int, msg io.ReaderAt, size int64) []outcome {
	env, bad := buildEnvelope(m, rcpts)
	if bad != nil {
		return bad
	}
	d := &t.base
	// RFC 8689 5: TLS-Required: No is ignored for a REQUIRETLS message.
	if t.plain != nil && !m.RequireTLS && tlsRequiredNo(msg, size) {
		d = t.plain
	}
	if _, routed := d.Routes[domain]; !routed && t.smartHost != "" {
		dd := *d
		dd.Routes = map[string]string{domain: t.smartHost}
		d = &dd
	}
	res := d.Deliver(ctx, env, msg, size)
	outs := make([]outcome, len(res))
	for i := range res {
		outs[i] = outcomeOf(&res[i])
	}
	return outs
}

// buildEnvelope builds the envelope for m's recipients rcpts. An address
// that no longer parses (a damaged queue file) fails permanently.
func buildEnvelope(m *queue.Message, rcpts []int) (envelope.Envelope, []outcome) {
	opts := envelope.ParseOptions{SMTPUTF8: true}
	env := envelope.Envelope{From: envelope.Path{Null: true}}
	env.Mail.SMTPUTF8 = m.SMTPUTF8
	// RFC 8689 4.2.1: the Deliverer sends a REQUIRETLS message only over
	// TLS with a verified certificate, to a server that offers REQUIRETLS,
	// and passes the parameter on; else the recipients fail with 5.7.30.
	env.Mail.RequireTLS = m.RequireTLS
	if m.EightBit {
		env.Mail.Body = envelope.Body8BitMIME
	}
	fail := func(err error) []outcome {
		outs := make([]outcome, len(rcpts))
		for i := range outs {
			outs[i] = outcome{state: queue.Failed, status: "5.1.3", diag: "bad address in the queue: " + err.Error()}
		}
		return outs
	}
	if m.From != "" {
		p, err := envelope.ParsePath("<"+m.From+">", opts)
		if err != nil {
			return env, fail(err)
		}
		env.From = p
	}
	for _, i := range rcpts {
		p, err := envelope.ParsePath("<"+m.Recipients[i].Addr+">", opts)
		if err != nil {
			return env, fail(err)
		}
		env.To = append(env.To, envelope.Recipient{Path: p})
	}
	return env, nil
}

// outcomeOf turns the Deliverer's result for a recipient into queue state:
// delivered; failed on a permanent failure (a 5xx, or a local refusal that
// will not change, like a null MX); else pending, to retry (RFC 5321
// 4.5.4.1). A connection lost after the end of the data (the outcome is
// unknown) is retried too: a possible duplicate is better than a lost
// message (RFC 5321 6.1).
//
// Only a server's reply is recorded as what a host said (remote and the
// reply as diag, for Remote-MTA and Diagnostic-Code in a bounce). A
// connection that failed or broke, or a refusal of the client itself, has
// no remote: its diag is an explanation that names the host it concerns,
// and its status one of RFC 3463's network codes when it has none.
func outcomeOf(o *client.RecipientOutcome) outcome {
	out := outcome{status: o.Enhanced.String(), relay: formatRelay(o.Host, o.Addr), tls: "none"}
	if o.Addr != "" {
		out.tls = o.TLS.String()
	}
	switch {
	case o.Delivered():
		out.state = queue.Delivered
		out.remote = o.Host
		out.diag = replyText(int(o.Code), out.status, "")
		if r := o.Reply; r != nil {
			// The reply to the message, which names the remote queue ID,
			// and its status rather than RCPT's (SMTP; LMTP has one
			// reply per recipient).
			out.diag = replyText(int(r.Code), r.Enhanced.String(), r.Text())
			if validStatus(r.Enhanced.String()) {
				out.status = r.Enhanced.String()
			}
		}
		if !validStatus(out.status) {
			out.status = "2.0.0"
		}
		return out
	case o.Permanent():
		out.state = queue.Failed
	default:
		out.state = queue.Pending
		out.unknown = o.OutcomeUnknown()
	}
	var ce *client.Error
	var ne *client.NetError
	var ue *client.OutcomeUnknownError
	switch {
	case errors.As(o.Err, &ce) && !ce.Local:
		out.remote = o.Host
		out.status = ce.Enhanced.String()
		out.diag = replyText(int(ce.Code), out.status, ce.Text)
	case errors.As(o.Err, &ce):
		// The client's own refusal (DNS, null MX, TLS required...): its
		// reply stands for the status only.
		out.status = ce.Enhanced.String()
		out.diag = oneLine(ce.Text)
	case errors.As(o.Err, &ue):
		// RFC 3463 X.4.2: bad connection.
		out.status = "4.4.2"
		out.diag = "connection to " + hostOr(o.Host) + " lost after the end of the message, before the reply: " + errText(ue.Err)
	case errors.As(o.Err, &ne) && (ne.Command == "connect" || ne.Command == "TLS"):
		// RFC 3463 X.4.1: no answer from host.
		out.status = "4.4.1"
		out.diag = "connection to " + hostOr(o.Host) + " failed: " + errText(ne.Err)
	case errors.As(o.Err, &ne):
		out.status = "4.4.2"
		out.diag = "connection to " + hostOr(o.Host) + " lost during " + ne.Command + ": " + errText(ne.Err)
	case o.Err != nil:
		out.diag = oneLine(o.Err.Error())
	}
	if !validStatus(out.status) {
		out.status = ""
	}
	return out
}

// hostOr names the host of a failed connection.
func hostOr(host string) string {
	if host == "" {
		return "the mail exchanger"
	}
	return host
}

// errText is an error's text on one line.
func errText(err error) string {
	if err == nil {
		return "closed"
	}
	return oneLine(err.Error())
}

// replyText formats a reply as one line: "550 5.1.1 text".
func replyText(code int, enh, text string) string {
	s := strconv.Itoa(code)
	if validStatus(enh) {
		s += " " + enh
	}
	if text != "" {
		s += " " + oneLine(text)
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// validStatus checks the shape of an RFC 3463 code: class.subject.detail.
func validStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
