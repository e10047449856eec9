package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
)

// Exit status of a partial delivery: the message reached some recipients
// and not others. sysexits.h has no code for it; 65 (EX_DATAERR) is one
// that no other outcome of this program uses, and it is neither 0 nor 75
// (EX_TEMPFAIL), the status on which callers of sendmail programs send the
// same message again, which would give a second copy to every recipient
// that has one. Standard error says which recipients did not get it.
const exitPartial = 65

// rcptOutcome is what became of the message for one recipient.
type rcptOutcome struct {
	rcpt   envelope.Path
	host   string // the server that answered, or that was tried
	err    error  // nil: the server took the message for this recipient
	status client.RecipientStatus
}

// newOutcome records a recipient's outcome as the client classified it
// (RecipientResult.Status, RecipientOutcome.Status), except that a
// certificate that does not verify is final for this program (exit 69):
// the client defers it, since the receiving side may fix it.
func newOutcome(rcpt envelope.Path, host string, err error, st client.RecipientStatus) rcptOutcome {
	if st == client.StatusDeferred && badCertificate(err) {
		st = client.StatusRefused
	}
	return rcptOutcome{rcpt: rcpt, host: host, err: err, status: st}
}

// transient reports a failure after which the same recipient may succeed
// later: deferred (a 4xx, a network failure, the timeout), or an outcome
// unknown (RFC 5321 6.1 prefers a possible duplicate to a loss).
func (o *rcptOutcome) transient() bool {
	return o.status == client.StatusDeferred || o.status == client.StatusUnknown
}

// deliveryError reports a message that did not reach every recipient;
// report has printed each recipient's outcome.
type deliveryError struct {
	sent, total int
	deferred    bool // some recipient may get it on a later attempt
}

func (e *deliveryError) Error() string {
	if e.sent > 0 {
		return fmt.Sprintf("message sent to %d of %d recipients; do not send it again to those it reached", e.sent, e.total)
	}
	return fmt.Sprintf("message not sent to any of the %d recipients", e.total)
}

// status is the exit status: partial delivery (65) whenever some recipient
// got the message; else 75 when some failure is transient, so that the
// whole message may be sent again (no recipient has it); else 69.
func (e *deliveryError) status() int {
	switch {
	case e.sent > 0:
		return exitPartial
	case e.deferred:
		return exitTempFail
	}
	return exitUnavailable
}

// report prints each recipient's outcome when the message did not reach
// them all (with verbose, always), in command-line order, and sums them
// up: nil when every recipient got the message.
func report(outs []rcptOutcome, verbose bool, stderr io.Writer) error {
	e := &deliveryError{total: len(outs)}
	for i := range outs {
		if outs[i].status == client.StatusAccepted {
			e.sent++
		} else if outs[i].transient() {
			e.deferred = true
		}
	}
	if e.sent == e.total && !verbose {
		return nil
	}
	for i := range outs {
		o := &outs[i]
		host := o.host
		if host == "" {
			host = "no server"
		}
		switch o.status {
		case client.StatusAccepted:
			fmt.Fprintf(stderr, "sendmail: %s: sent (%s)\n", o.rcpt, host)
		case client.StatusUnknown:
			fmt.Fprintf(stderr, "sendmail: %s: outcome unknown, it may have been sent (%s): %s\n", o.rcpt, host, oneLine(o.err))
		case client.StatusDeferred:
			fmt.Fprintf(stderr, "sendmail: %s: deferred: %s (%s)\n", o.rcpt, oneLine(o.err), host)
		default:
			fmt.Fprintf(stderr, "sendmail: %s: refused: %s (%s)\n", o.rcpt, oneLine(o.err), host)
		}
	}
	if e.sent == e.total {
		return nil
	}
	return e
}

// oneLine returns err's text as one line fit for a terminal: its line
// breaks become "; " (as reply.Reply.Error joins the lines of a multi-line
// reply) and other control characters spaces. An error may hold a
// server's reply text, which must neither send escape sequences to the
// user's terminal nor add lines of its own to the report a script reads.
func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n", "; ")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
