package main

import (
	"bytes"
	"context"
	"io"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
)

// deliverMX delivers the message straight to each recipient's mail
// exchanger (RFC 5321 5.1) with the client's Deliverer: one transaction per
// recipient domain, exchangers in order of preference, opportunistic
// STARTTLS (RFC 7435), or -starttls to require TLS with a verified
// certificate. -route sends a domain to a fixed address instead.
func deliverMX(ctx context.Context, cfg *config, msg []byte, stderr io.Writer) error {
	d := &client.Deliverer{
		Options: options(cfg, stderr),
		Routes:  cfg.routes,
	}
	if cfg.starttls {
		d.TLSPolicy = client.TLSRequired
	}
	env := envelope.Envelope{From: cfg.from, To: cfg.to}
	res := d.Deliver(ctx, env, bytes.NewReader(msg), int64(len(msg)))
	outs := make([]rcptOutcome, len(res))
	for i := range res {
		outs[i] = newOutcome(res[i].Recipient.Path, res[i].Host, res[i].Err, res[i].Status())
	}
	return report(outs, cfg.verbose, stderr)
}
