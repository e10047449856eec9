package client

import (
	"errors"
	"strings"

	"github.com/smtpkit/smtp/reply"
)

// Error is a negative reply (4xx or 5xx, or an unexpected code) to a
// command, or a refusal the client made itself before the command went on
// the wire (Local), such as an out-of-order call or 8-bit content for a
// server without 8BITMIME. It carries everything a queue needs to retry or
// bounce.
type Error struct {
	// Command is the command that failed: "EHLO", "MAIL", "RCPT", "DATA",
	// "BDAT", "AUTH", "STARTTLS", ... For a recipient's final LMTP reply it
	// is "DATA" or "BDAT".
	Command string
	// Code is the reply code.
	Code reply.Code
	// Enhanced is the enhanced status code (RFC 3463), zero when absent.
	Enhanced reply.EnhancedCode
	// Text is the reply text, its lines joined with "\n", without the code
	// and the enhanced code.
	Text string
	// Reply is the whole reply (for a Local error: the reply the client
	// would report in a bounce).
	Reply *reply.Reply
	// Local reports that the client refused the command without asking
	// the server; Err then says why.
	Local bool
	// Err is the cause of a Local refusal: ErrBadSequence, or an
	// *ExtensionError, or a *SizeError. Nil for a server's reply.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("smtp: ")
	b.WriteString(e.Command)
	if e.Local {
		b.WriteString(" (refused by the client)")
	}
	b.WriteString(": ")
	b.WriteString(e.Code.String())
	if e.Enhanced != (reply.EnhancedCode{}) {
		b.WriteByte(' ')
		b.WriteString(e.Enhanced.String())
	}
	if e.Text != "" {
		b.WriteByte(' ')
		b.WriteString(e.Text)
	}
	return b.String()
}

// Unwrap returns the reply and, for a Local error, its cause, so that
// errors.As finds a *reply.Reply and errors.Is finds ErrBadSequence.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Reply != nil {
		errs = append(errs, e.Reply)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Temporary reports a transient failure (4xx, RFC 5321 4.2.1): the same
// request may succeed later.
func (e *Error) Temporary() bool { return e.Code.IsTransient() }

// Permanent reports a permanent failure (5xx, RFC 5321 4.2.1): the request
// should not be repeated as it is. Unexpected codes (say a 3xx where a 2xx
// was due) count as permanent: the server does not speak the protocol.
func (e *Error) Permanent() bool { return !e.Code.IsTransient() }

// newReplyError builds the Error of a negative or unexpected reply.
func newReplyError(cmd string, r *reply.Reply) *Error {
	return &Error{
		Command:  cmd,
		Code:     r.Code,
		Enhanced: r.Enhanced,
		Text:     strings.Join(r.Lines, "\n"),
		Reply:    r,
	}
}

// localError builds a Local Error with the reply r that stands for it.
func localError(cmd string, r *reply.Reply, cause error) *Error {
	e := newReplyError(cmd, r)
	e.Local, e.Err = true, cause
	return e
}

// ErrBadSequence is the cause of a Local *Error for a call out of the
// order of RFC 5321 4.1.4 (say Rcpt before Mail, or Data without an
// accepted recipient): the client refuses it before it reaches the wire.
var ErrBadSequence = errors.New("command out of sequence")

// ErrOutcomeUnknown is matched (errors.Is) by an *OutcomeUnknownError.
var ErrOutcomeUnknown = errors.New("smtp: outcome unknown: connection lost after the end of the message")

// OutcomeUnknownError reports that the connection broke (or timed out)
// after the client sent the end of the message (the final dot, or BDAT
// LAST) and before the server's reply: the server may or may not have taken
// responsibility for the message (RFC 5321 6.1, 4.5.4.1 on duplicates). A
// queue should not treat it as an ordinary transient failure: retrying may
// deliver the message twice.
type OutcomeUnknownError struct {
	// Command is "DATA" or "BDAT".
	Command string
	// Err is the network error.
	Err error
}

// Error implements error.
func (e *OutcomeUnknownError) Error() string {
	s := "smtp: " + e.Command + ": outcome unknown: connection lost after the end of the message"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the network error.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Is reports whether target is ErrOutcomeUnknown.
func (e *OutcomeUnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

// ExtensionError is the cause of a Local *Error: what was asked needs a
// service extension the server did not announce, e.g. 8-bit content without
// 8BITMIME (RFC 6152 3), a UTF-8 address without SMTPUTF8 (RFC 6531 3.4),
// binary content without BINARYMIME and CHUNKING (RFC 3030 3), STARTTLS or
// AUTH that is not offered.
type ExtensionError struct {
	// Extension is the missing keyword, e.g. "8BITMIME".
	Extension string
	// Reason says what needed it.
	Reason string
}

// Error implements error.
func (e *ExtensionError) Error() string {
	return e.Reason + ": the server does not offer " + e.Extension
}

// SizeError is the cause of a Local *Error: the message is larger than the
// SIZE the server announced (RFC 1870 4, 6.1).
type SizeError struct {
	// Size is the message size (or the part of it read so far when the
	// size was found out while streaming), Limit the announced SIZE.
	Size, Limit int64
}

// Error implements error.
func (e *SizeError) Error() string {
	return "message of " + itoa(e.Size) + " octets is larger than the server's SIZE " + itoa(e.Limit)
}

// NetError is a network failure (a closed connection, a timeout, a failed
// write) during a command, before the end of the message: nothing was
// delivered and the failure is transient. After a NetError the Client is
// unusable; close it.
type NetError struct {
	// Command is the command in progress.
	Command string
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *NetError) Error() string { return "smtp: " + e.Command + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *NetError) Unwrap() error { return e.Err }

// Temporary reports true: a broken connection is a transient failure.
func (e *NetError) Temporary() bool { return true }
