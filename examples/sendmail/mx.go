package main

import (
	"bytes"
	"context"
	"fmt"
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
	outs := d.Deliver(ctx, env, bytes.NewReader(msg), int64(len(msg)))
	return outcomesError(outs, cfg.verbose, stderr)
}

// mxError reports the recipients that did not get the message.
type mxError struct {
	failed    int
	total     int
	permanent bool // some failure is permanent
}

func (e *mxError) Error() string {
	return fmt.Sprintf("message not delivered to %d of %d recipients", e.failed, e.total)
}

// Temporary reports whether every failure is transient.
func (e *mxError) Temporary() bool { return !e.permanent }

// outcomesError prints each recipient's outcome that failed (all of them
// with -v) and sums them up: nil when every recipient got the message.
func outcomesError(outs []client.RecipientOutcome, verbose bool, stderr io.Writer) error {
	e := &mxError{total: len(outs)}
	for i := range outs {
		o := &outs[i]
		host := o.Host
		if host == "" {
			host = "-"
		}
		if o.Delivered() {
			if verbose {
				fmt.Fprintf(stderr, "sendmail: %s: delivered by %s (%d %s)\n", o.Recipient.Path.String(), host, o.Code, o.Enhanced)
			}
			continue
		}
		e.failed++
		// A lost connection after the data is transient here: the
		// sender may try again (at the risk of a duplicate).
		if o.Permanent() {
			e.permanent = true
		}
		fmt.Fprintf(stderr, "sendmail: %s: %s: %v\n", o.Recipient.Path.String(), host, o.Err)
	}
	if e.failed == 0 {
		return nil
	}
	return e
}
