package client

import (
	"context"
	"errors"
	"strings"
	"time"

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
	// and the enhanced code, as the server sent it. Error shows it on one
	// line ("; " between lines) without control characters.
	Text string
	// Reply is the whole reply (for a Local error: the reply the client
	// would report in a bounce).
	Reply *reply.Reply
	// Local reports that the client refused the command without asking
	// the server; Err then says why.
	Local bool
	// Err is the cause of a Local refusal: ErrBadSequence,
	// ErrNoRecipients, ErrNoVerifiedTLS, an *ExtensionError, a *SizeError,
	// or the envelope's error for an argument that cannot be sent. Nil for
	// a server's reply.
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
		writeClean(&b, e.Text)
	}
	return b.String()
}

// writeClean writes s to b as an error string may carry it: a line break
// (CR LF, CR or LF) as "; ", every other control character but HT as a
// space, as reply.Reply.Error writes a reply. Error strings end up in logs
// and terminals, and the words of a hostile server (a reply's text, RFC
// 5321 4.2: printable characters; the names of its certificate, quoted by
// crypto/x509) must not bring escape sequences or lines of their own.
func writeClean(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
		case c == '\r' || c == '\n':
			b.WriteString("; ")
		case c < ' ' && c != '\t' || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
}

// clean returns s as writeClean writes it.
func clean(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	writeClean(&b, s)
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
//
// This holds whatever reply was lost: BDAT LAST pipelined with MAIL and
// RCPT (RFC 2920 3.1) reaches a server that may read the whole group, and
// take the message, before it answers MAIL. Only the replies already read
// can rule delivery out: MAIL or the data refused, or every recipient
// refused; then the failure is a *NetError.
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
		s += ": " + clean(e.Err.Error())
	}
	return s
}

// Unwrap returns the network error.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Is reports whether target is ErrOutcomeUnknown.
func (e *OutcomeUnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

// Temporary reports false, however the connection broke (the network
// error inside would say false after a reset, true after a timeout):
// resending the message may deliver it twice, so it is not the transient
// failure a retry loop may resend on (StatusUnknown; Result.Retry leaves
// these recipients out). A program that prefers a possible duplicate to a
// possible loss, as an MTA does (RFC 5321 6.1), resends on
// errors.Is(err, ErrOutcomeUnknown).
func (e *OutcomeUnknownError) Temporary() bool { return false }

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
// write) during a command, before the end of the message was written (a
// write of it that failed did not complete it): nothing was delivered and
// the failure is transient. After a NetError the Client is unusable; close
// it. A 421 reply followed by the server closing the connection is not a
// NetError but that reply, an *Error (RFC 5321 3.8).
//
// A context that ends while a command is under way is one too: the client
// cannot know what the server made of the half-finished exchange, so it
// closes the connection; Err is then the context's error (errors.Is
// context.Canceled or context.DeadlineExceeded), and the message says that
// the connection was closed. (A context done before the command is sent
// is a *ContextError instead, and leaves the Client usable.)
type NetError struct {
	// Command is the command in progress.
	Command string
	// Err is the underlying error.
	Err error

	interrupted bool // the context ended the command
}

// Error implements error.
func (e *NetError) Error() string {
	s := "smtp: " + e.Command + ": " + clean(e.Err.Error())
	if e.interrupted {
		s += " during the command; connection closed"
	}
	return s
}

// isContextErr reports an error of a done context.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Unwrap returns Err.
func (e *NetError) Unwrap() error { return e.Err }

// Temporary reports true: a broken connection is a transient failure.
func (e *NetError) Temporary() bool { return true }

// ContextError reports that the context of a call was done before the call
// wrote anything: the command was not sent, and the Client is still
// usable (as net/http fails the request, not the Transport). errors.Is
// matches its context error (context.Canceled or
// context.DeadlineExceeded); a cause given with context.WithCancelCause is
// in Cause.
//
// A context that ends while a command is under way is different: the
// client cannot know what the server made of the half-finished exchange,
// so it closes the connection and returns a *NetError (or, after the end
// of a message, an *OutcomeUnknownError) wrapping the context's error.
type ContextError struct {
	// Command is the command that was not sent.
	Command string
	// Err is ctx.Err().
	Err error
	// Cause is context.Cause(ctx), when it differs from Err.
	Cause error
}

// Error implements error.
func (e *ContextError) Error() string {
	s := "smtp: " + e.Command + " not sent: " + e.Err.Error()
	if e.Cause != nil {
		s += " (" + e.Cause.Error() + ")"
	}
	return s
}

// Unwrap returns the context's error and its cause.
func (e *ContextError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// Temporary reports true: nothing was sent, the call may be made again
// with a live context.
func (e *ContextError) Temporary() bool { return true }

// ctxDone returns a *ContextError when ctx is over (cancelled, or its
// deadline passed even if its timer has not fired yet), before cmd writes
// anything. It costs no allocation for a live context.
func ctxDone(ctx context.Context, cmd string) error {
	if ctx.Done() == nil {
		return nil
	}
	err := ctx.Err()
	if err == nil {
		if dl, ok := ctx.Deadline(); !ok || time.Now().Before(dl) {
			return nil
		}
		err = context.DeadlineExceeded
	}
	e := &ContextError{Command: cmd, Err: err}
	if cause := context.Cause(ctx); cause != nil && cause != err {
		e.Cause = cause
	}
	return e
}

// AbortError reports a message the client gave up after its transaction
// had begun on the wire: MAIL and RCPT (and DATA, or some BDAT chunks)
// were sent when the client found, reading further in the message, a
// reason not to go on: the message is larger than the server's SIZE
// (RFC 1870), it has 8-bit content for a server without 8BITMIME (RFC
// 6152), or the caller's reader failed. Nothing was delivered.
//
// With BDAT the chunks sent are complete commands: the client leaves the
// transaction to be reset (RSET before the next one, RFC 3030 2) and the
// connection stays usable. DATA cannot be cancelled (RFC 5321 4.1.1.4):
// the only way not to deliver a part of the message is to drop the
// connection, so the client closed it (Closed) and is unusable.
type AbortError struct {
	// Command is "DATA" or "BDAT".
	Command string
	// Closed reports that the client closed the connection.
	Closed bool
	// Reply is the reply a bounce would report (552 5.3.4 for SIZE, 554
	// 5.6.3 for 8-bit content), nil when the caller's reader failed.
	Reply *reply.Reply
	// Err is the reason: a *SizeError, an *ExtensionError or a
	// *MessageError.
	Err error
}

// Error implements error.
func (e *AbortError) Error() string {
	s := "smtp: " + e.Command + ": message abandoned after the transaction started"
	if e.Closed {
		s += " (connection closed)"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *AbortError) Unwrap() error { return e.Err }

// Temporary reports whether sending the message again may succeed: the
// caller's reader failed, or the reply is transient.
func (e *AbortError) Temporary() bool { return e.Reply == nil || e.Reply.Code.IsTransient() }

// abortError builds the AbortError of cause: a Local *Error (its reply and
// its own cause are kept) or a *MessageError.
func abortError(cmd string, closed bool, cause error) *AbortError {
	e := &AbortError{Command: cmd, Closed: closed, Err: cause}
	var le *Error
	if errors.As(cause, &le) && le.Local {
		e.Reply, e.Err = le.Reply, le.Err
	}
	return e
}

// ErrServerNotAuthenticated is matched (errors.Is) by a *ServerAuthError.
var ErrServerNotAuthenticated = errors.New("smtp: the server did not authenticate itself")

// ServerAuthError reports an AUTH exchange that the server declared a
// success without what its mechanism requires of it: for SCRAM-SHA-256 the
// server's signature, which proves that it holds the user's keys (RFC 5802
// 5, RFC 7677), missing, wrong or replaced by an error; for the OAuth
// mechanisms, a success after the server refused the token (RFC 7628
// 3.2.3); for any mechanism, a success in answer to the client's
// cancellation (RFC 4954 4). The peer may be an impostor or a man in the
// middle: the client closed the connection, sent nothing more, and is
// unusable. Do not retry blindly: it is not a transient failure.
type ServerAuthError struct {
	// Mechanism is the SASL mechanism.
	Mechanism string
	// Reply is the server's last reply (the 235, or the reply to "*").
	Reply *reply.Reply
	// Err says what was missing or wrong.
	Err error
}

// Error implements error.
func (e *ServerAuthError) Error() string {
	s := "smtp: AUTH " + e.Mechanism + ": the server did not authenticate itself"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + "; connection closed"
}

// Unwrap returns Err.
func (e *ServerAuthError) Unwrap() error { return e.Err }

// Is reports whether target is ErrServerNotAuthenticated.
func (e *ServerAuthError) Is(target error) bool { return target == ErrServerNotAuthenticated }

// Temporary reports false: trying again reaches the same peer.
func (e *ServerAuthError) Temporary() bool { return false }

// ErrNoVerifiedTLS is the cause of the Local *Error (554 5.7.30, RFC 8689
// 5) for a REQUIRETLS message on a connection that is not TLS with a
// certificate verified by the client (RFC 8689 4.2.1): in clear, or under
// TLS whose certificate was not checked (InsecureSkipVerify).
var ErrNoVerifiedTLS = errors.New("the connection is not TLS with a verified certificate")

// Causes of the *NetError that later calls get after the client closed
// the connection itself.
var (
	errAbandoned = errors.New("connection closed by the client to abandon a message in DATA")
	errDistrust  = errors.New("connection closed by the client: the server did not authenticate itself")
)
