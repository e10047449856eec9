package main

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// smtpTransport delivers outbound mail (the API's messages and the
// bounces) with client.Deliverer: to each recipient domain's MX hosts
// (RFC 5321 5.1, opportunistic STARTTLS), or to one smart host for every
// domain (STARTTLS when offered, certificate not verified, as the relay's
// routes).
type smtpTransport struct {
	base      client.Deliverer
	smartHost string
}

func newSMTPTransport(hostname, smartHost string) *smtpTransport {
	return &smtpTransport{
		base:      client.Deliverer{Options: &client.Options{LocalName: hostname}},
		smartHost: smartHost,
	}
}

// domainKey is a recipient's domain as client.Deliverer.Routes keys it:
// lower case, A-labels.
func domainKey(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	a := envelope.Address{Local: "postmaster", Domain: addr[i+1:]}
	if asc, err := a.ASCII(); err == nil {
		a = asc
	}
	return strings.ToLower(a.Domain)
}

// groups puts together the recipients of a domain (RFC 5321 2.4: domains
// compare without case).
func (t *smtpTransport) groups(m *queue.Message, pending []int) [][]int {
	var gs [][]int
	pos := map[string]int{}
	for _, i := range pending {
		d := domainKey(m.Recipients[i].Addr)
		p, ok := pos[d]
		if !ok {
			p = len(gs)
			pos[d] = p
			gs = append(gs, nil)
		}
		gs[p] = append(gs[p], i)
	}
	return gs
}

func (t *smtpTransport) deliver(ctx context.Context, m *queue.Message, idx []int, data messageData) []outcome {
	outs := make([]outcome, len(idx))
	env, err := smtpEnvelope(m, idx)
	if err != nil {
		// A queue file whose address no longer parses: no attempt helps.
		for i := range outs {
			outs[i] = outcome{state: queue.Failed, status: "5.1.3", diag: "bad address in the queue: " + err.Error()}
		}
		return outs
	}
	d := &t.base
	if t.smartHost != "" {
		dd := t.base
		dd.Routes = map[string]string{domainKey(m.Recipients[idx[0]].Addr): t.smartHost}
		d = &dd
	}
	res := d.Deliver(ctx, env, data, data.Size())
	for i := range res {
		outs[i] = smtpOutcome(&res[i])
	}
	return outs
}

// smtpEnvelope is the envelope of m for its recipients idx, with the
// parameters the message needs (RFC 6531 SMTPUTF8, RFC 6152 8BITMIME).
func smtpEnvelope(m *queue.Message, idx []int) (envelope.Envelope, error) {
	opts := envelope.ParseOptions{SMTPUTF8: true}
	env := envelope.Envelope{From: envelope.Path{Null: true}}
	env.Mail.SMTPUTF8 = m.SMTPUTF8
	if m.EightBit {
		env.Mail.Body = envelope.Body8BitMIME
	}
	if m.From != "" {
		p, err := envelope.ParsePath("<"+m.From+">", opts)
		if err != nil {
			return env, err
		}
		env.From = p
	}
	for _, i := range idx {
		p, err := envelope.ParsePath("<"+m.Recipients[i].Addr+">", opts)
		if err != nil {
			return env, err
		}
		env.To = append(env.To, envelope.Recipient{Path: p})
	}
	return env, nil
}

// smtpOutcome turns the Deliverer's result for a recipient into queue
// state: delivered; failed when permanent (a 5xx, a null MX); else pending
// (RFC 5321 4.5.4.1), a connection lost after the end of the data
// included: a duplicate is better than a loss (RFC 5321 6.1). Only a
// server's reply is recorded as what a host said (remote set, for the
// bounce's Remote-MTA and Diagnostic-Code); a failure no server replied to
// has a network status code of RFC 3463 and an explanation.
func smtpOutcome(o *client.RecipientOutcome) outcome {
	var out outcome
	switch {
	case o.Delivered():
		return outcome{state: queue.Delivered, status: statusOr(o.Enhanced.String(), "2.0.0"), remote: o.Host,
			diag: replyLine(int(o.Code), o.Enhanced.String(), "")}
	case o.Permanent():
		out.state = queue.Failed
	default:
		out.state = queue.Pending
	}
	host := o.Host
	if host == "" {
		host = "the mail exchanger"
	}
	var ce *client.Error
	var ne *client.NetError
	var ue *client.OutcomeUnknownError
	switch {
	case errors.As(o.Err, &ce) && !ce.Local:
		out.remote, out.status = o.Host, ce.Enhanced.String()
		out.diag = replyLine(int(ce.Code), out.status, ce.Text)
	case errors.As(o.Err, &ce):
		out.status, out.diag = ce.Enhanced.String(), oneLine(ce.Text)
	case errors.As(o.Err, &ue):
		out.status = "4.4.2" // bad connection
		out.diag = "connection to " + host + " lost after the end of the message, before the reply: " + oneLine(errString(ue.Err))
	case errors.As(o.Err, &ne) && (ne.Command == "connect" || ne.Command == "TLS"):
		out.status = "4.4.1" // no answer from host
		out.diag = "connection to " + host + " failed: " + oneLine(errString(ne.Err))
	case errors.As(o.Err, &ne):
		out.status = "4.4.2"
		out.diag = "connection to " + host + " lost during " + ne.Command + ": " + oneLine(errString(ne.Err))
	case o.Err != nil:
		out.diag = oneLine(o.Err.Error())
	}
	out.status = statusOr(out.status, "")
	return out
}

func errString(err error) string {
	if err == nil {
		return "closed"
	}
	return err.Error()
}

// statusOr returns s when it is an RFC 3463 code (class.subject.detail),
// else def.
func statusOr(s, def string) string {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return def
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return def
		}
	}
	return s
}

// replyLine writes a reply on one line: "550 5.1.1 text".
func replyLine(code int, enh, text string) string {
	s := strconv.Itoa(code)
	if statusOr(enh, "") != "" {
		s += " " + enh
	}
	if t := oneLine(text); t != "" {
		s += " " + t
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
