package envelope

import (
	"github.com/smtpkit/smtp/reply"
)

// The replies of this package come from the reply catalogue:
//   - 501 (reply.CodeParamSyntax, RFC 5321 4.2.3 "Syntax error in parameters
//     or arguments"; RFC 5321 4.5.3.1.9 also uses it for "Path too long");
//   - 553 (reply.CodeMailboxNameNotAllowed), which RFC 6531 3.5 asks
//     for a non-ASCII address without SMTPUTF8, with X.6.7, and for a
//     domain that is not a valid internationalised name (a label that is
//     not an IDNA2008 U-label or A-label), with X.1.3 or X.1.7;
//   - 555 (reply.CodeParamsNotRecognized, RFC 5321 4.1.1.11) for MAIL/RCPT
//     parameters not recognised or not implemented.
//
// Enhanced codes (RFC 3463): X.1.3 bad destination mailbox address syntax,
// X.1.7 bad sender's mailbox address syntax, X.5.2 syntax error, X.5.4
// invalid command arguments, X.6.7 non-ASCII address not permitted
// (RFC 6531, RFC 5248).
const (
	codeSyntax             = reply.CodeParamSyntax
	codeMailboxNotAllowed  = reply.CodeMailboxNameNotAllowed
	codeParamNotRecognized = reply.CodeParamsNotRecognized
)

// Error is the error returned for a MAIL or RCPT argument, a path or a
// parameter that cannot be accepted. It carries the reply the server should
// send; Reply builds it. Use errors.As to get at it.
type Error struct {
	// Code is the SMTP reply code: 501 for syntax errors (bad path, bad
	// parameter value, duplicate parameter, path too long), 553 for a
	// non-ASCII address without SMTPUTF8 or a domain that is not a valid
	// IDN, and 555 for a parameter that is not recognised or whose
	// extension was not advertised.
	Code reply.Code
	// Enhanced is the RFC 3463 enhanced status code (5.1.3, 5.1.7, 5.5.2,
	// 5.5.4 or 5.6.7).
	Enhanced reply.EnhancedCode
	// Reason is a short human-readable explanation, suitable as reply text.
	Reason string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return "envelope: " + e.Reason
}

// Reply returns the SMTP reply that reports e to the client.
func (e *Error) Reply() *reply.Reply {
	return reply.New(e.Code, e.Enhanced, e.Reason)
}

func newError(code reply.Code, enh reply.EnhancedCode, reason string) *Error {
	return &Error{Code: code, Enhanced: enh, Reason: reason}
}
