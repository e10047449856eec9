package reply

import "strconv"

// The catalogue: constructors for the standard replies, each with its
// enhanced status code from RFC 3463 / RFC 5248, so that no package writes
// "250 2.0.0 OK" by hand. Every call returns a fresh *Reply that the caller
// may modify. Where a constructor takes a text, an empty text means the
// standard wording.

// or returns text, or def when text is empty.
func or(text, def string) string {
	if text == "" {
		return def
	}
	return text
}

// --- 2xx ---

// Ready is the greeting, "220 <host> ESMTP ready" (RFC 5321 4.2, 4.3.1:
// the greeting starts with the server's domain). It has no enhanced code:
// RFC 2034 3 exempts the greeting.
func Ready(host string) *Reply {
	return &Reply{Code: CodeReady, Lines: []string{host + " ESMTP ready"}}
}

// Greeting is a 220 greeting with a custom text after the domain, for
// example Greeting("mx.example.org", "LMTP ready") (RFC 5321 4.3.1).
func Greeting(host, text string) *Reply {
	if text != "" {
		host += " " + text
	}
	return New(CodeReady, EnhancedCode{}, host)
}

// Hello is the reply to EHLO, HELO or LHLO: "250-<domain> <greet>" followed
// by one line per extension keyword (RFC 5321 4.1.1.1, ehlo-ok-rsp). It has
// no enhanced code: RFC 2034 3 exempts replies to HELO and EHLO.
func Hello(domain, greet string, extensions ...string) *Reply {
	first := domain
	if greet != "" {
		first += " " + greet
	}
	lines := make([]string, 0, 1+len(extensions))
	lines = append(lines, first)
	lines = append(lines, extensions...)
	return New(CodeOK, EnhancedCode{}, lines...)
}

// ReadyToStartTLS is "220 2.0.0 Ready to start TLS" (RFC 3207 4).
func ReadyToStartTLS() *Reply {
	return &Reply{Code: CodeReady, Enhanced: EnhOK(), Lines: []string{"Ready to start TLS"}}
}

// Closing is the reply to QUIT, "221 2.0.0 <host> closing connection"
// (RFC 5321 4.1.1.10, 4.2.2).
func Closing(host string) *Reply {
	return &Reply{Code: CodeClosing, Enhanced: EnhOK(), Lines: []string{host + " closing connection"}}
}

// AuthSucceeded is "235 2.7.0 Authentication successful" (RFC 4954 6).
func AuthSucceeded() *Reply {
	return &Reply{Code: CodeAuthSucceeded, Enhanced: EnhAuthOK(), Lines: []string{"Authentication successful"}}
}

// OK is "250 2.0.0 OK", for NOOP, RSET and other commands that succeed
// with nothing more to say.
func OK() *Reply {
	return &Reply{Code: CodeOK, Enhanced: EnhOK(), Lines: []string{"OK"}}
}

// OKText is a 250 2.0.0 reply with the given text.
func OKText(text string) *Reply {
	return New(CodeOK, EnhOK(), or(text, "OK"))
}

// SenderOK is "250 2.1.0 Sender OK", the reply to an accepted MAIL FROM.
func SenderOK() *Reply {
	return &Reply{Code: CodeOK, Enhanced: EnhSenderOK(), Lines: []string{"Sender OK"}}
}

// RecipientOK is "250 2.1.5 Recipient OK", the reply to an accepted RCPT TO.
func RecipientOK() *Reply {
	return &Reply{Code: CodeOK, Enhanced: EnhRecipientOK(), Lines: []string{"Recipient OK"}}
}

// Queued is the reply to an accepted message, "250 2.0.0 OK: queued as
// <id>", or "250 2.0.0 OK: message accepted" when id is empty.
func Queued(id string) *Reply {
	if id == "" {
		return &Reply{Code: CodeOK, Enhanced: EnhOK(), Lines: []string{"OK: message accepted"}}
	}
	return New(CodeOK, EnhOK(), "OK: queued as "+id)
}

// ChunkReceived is the reply to a BDAT chunk that is not the last one,
// "250 2.0.0 <n> octets received" (RFC 3030 2).
func ChunkReceived(n int64) *Reply {
	var b [32]byte
	t := strconv.AppendInt(b[:0], n, 10)
	return &Reply{Code: CodeOK, Enhanced: EnhOK(), Lines: []string{string(t) + " octets received"}}
}

// CannotVRFY is "252 2.0.0 Cannot VRFY user, but will accept message and
// attempt delivery" (RFC 5321 3.5.3: a server that does not verify answers
// 252 rather than 250 or 550).
func CannotVRFY() *Reply {
	return &Reply{Code: CodeCannotVerify, Enhanced: EnhOK(),
		Lines: []string{"Cannot VRFY user, but will accept message and attempt delivery"}}
}

// Help is a 214 2.0.0 help reply with the given lines (RFC 5321 4.1.1.8).
func Help(text ...string) *Reply {
	if len(text) == 0 {
		text = []string{"See RFC 5321"}
	}
	return New(CodeHelp, EnhOK(), text...)
}

// --- 3xx ---

// AuthChallenge is "334 <challenge>", a SASL server challenge already
// encoded in base64 (RFC 4954 4). It has no enhanced code: 3xx replies
// have none (RFC 3463 2 defines classes 2, 4 and 5 only). An empty
// challenge is sent as "334 ".
func AuthChallenge(challenge string) *Reply {
	return New(CodeAuthContinue, EnhancedCode{}, challenge)
}

// StartMailInput is "354 Start mail input; end with <CRLF>.<CRLF>", the
// reply to DATA (RFC 5321 4.1.1.4).
func StartMailInput() *Reply {
	return &Reply{Code: CodeStartMailInput, Lines: []string{"Start mail input; end with <CRLF>.<CRLF>"}}
}

// --- 4xx ---

// ServiceNotAvailable is "421 4.3.2 <host> Service not available, closing
// transmission channel", sent when the server shuts down (RFC 5321 3.8,
// 4.2.2). The server closes the connection after sending it.
func ServiceNotAvailable(host string) *Reply {
	return &Reply{Code: CodeServiceNotAvailable, Enhanced: EnhSystemNotAccepting(),
		Lines: []string{host + " Service not available, closing transmission channel"}}
}

// Timeout is "421 4.4.2 <host> Timeout, closing transmission channel",
// sent before closing an idle or stalled connection (RFC 5321 4.5.3.2).
func Timeout(host string) *Reply {
	return &Reply{Code: CodeServiceNotAvailable, Enhanced: EnhBadConnection(),
		Lines: []string{host + " Timeout, closing transmission channel"}}
}

// TooManyErrors is "421 4.7.0 <host> Too many errors, closing transmission
// channel", sent before dropping a client that keeps sending bad commands
// (RFC 5321 4.2.2 allows 421 in reply to any command).
func TooManyErrors(host string) *Reply {
	return &Reply{Code: CodeServiceNotAvailable, Enhanced: EnhSecurityError().WithClass(4),
		Lines: []string{host + " Too many errors, closing transmission channel"}}
}

// PasswordTransition is "432 4.7.12 A password transition is needed" (RFC 4954 6).
func PasswordTransition() *Reply {
	return &Reply{Code: CodePasswordTransition, Enhanced: EnhPasswordTransition(),
		Lines: []string{"A password transition is needed"}}
}

// MailboxBusy is a 450 4.2.0 reply: mailbox temporarily unavailable
// (RFC 5321 4.2.2). Also fits greylisting.
func MailboxBusy(text string) *Reply {
	return New(CodeMailboxBusy, Enh(4, 2, 0), or(text, "Mailbox temporarily unavailable"))
}

// LocalError is "451 4.3.0 Requested action aborted: local error in
// processing" (RFC 5321 4.2.2), the generic reply for a backend failure
// whose details must not reach the client.
func LocalError() *Reply {
	return &Reply{Code: CodeLocalError, Enhanced: EnhSystemError(),
		Lines: []string{"Requested action aborted: local error in processing"}}
}

// InsufficientStorage is "452 4.3.1 Insufficient system storage"
// (RFC 5321 4.2.2, RFC 1870 6.2).
func InsufficientStorage() *Reply {
	return &Reply{Code: CodeInsufficientStorage, Enhanced: EnhSystemFull(),
		Lines: []string{"Insufficient system storage"}}
}

// TooManyRecipients is "452 4.5.3 Too many recipients" (RFC 5321
// 4.5.3.1.10: the server answers 452, and the client sends the rest in
// another transaction).
func TooManyRecipients() *Reply {
	return &Reply{Code: CodeInsufficientStorage, Enhanced: EnhTooManyRecipients(),
		Lines: []string{"Too many recipients"}}
}

// TLSNotAvailable is "454 4.7.0 TLS not available due to temporary reason"
// (RFC 3207 4).
func TLSNotAvailable() *Reply {
	return &Reply{Code: CodeTemporaryFailure, Enhanced: EnhSecurityError().WithClass(4),
		Lines: []string{"TLS not available due to temporary reason"}}
}

// TemporaryAuthFailure is "454 4.7.0 Temporary authentication failure"
// (RFC 4954 6), for an authentication backend that is down, as opposed to
// wrong credentials (AuthFailed).
func TemporaryAuthFailure() *Reply {
	return &Reply{Code: CodeTemporaryFailure, Enhanced: EnhSecurityError().WithClass(4),
		Lines: []string{"Temporary authentication failure"}}
}

// ParamsNotAccommodated is a 455 4.5.4 reply, "Server unable to
// accommodate parameters" (RFC 5321 4.2.2).
func ParamsNotAccommodated(text string) *Reply {
	return New(CodeParamsNotAccommodated, EnhInvalidArguments().WithClass(4),
		or(text, "Server unable to accommodate parameters"))
}

// --- 5xx ---

// BadSyntax is a 500 5.5.2 reply, "Syntax error, command unrecognized"
// (RFC 5321 4.2.2), for a command line that cannot be parsed. (The name
// SyntaxError is taken by the Reader's error type.)
func BadSyntax(text string) *Reply {
	return New(CodeSyntaxError, EnhSyntaxError(), or(text, "Syntax error, command unrecognized"))
}

// CommandUnrecognized is "500 5.5.2 Command unrecognized" (RFC 5321 4.2.4:
// an unknown command gets 500).
func CommandUnrecognized() *Reply {
	return &Reply{Code: CodeSyntaxError, Enhanced: EnhSyntaxError(), Lines: []string{"Command unrecognized"}}
}

// LineTooLong is "500 5.5.2 Line too long" (RFC 5321 4.5.3.1.10), for a
// command line or text line over its limit.
func LineTooLong() *Reply {
	return &Reply{Code: CodeSyntaxError, Enhanced: EnhSyntaxError(), Lines: []string{"Line too long"}}
}

// AuthLineTooLong is "500 5.5.6 Authentication Exchange line is too long"
// (RFC 4954 4, 6).
func AuthLineTooLong() *Reply {
	return &Reply{Code: CodeSyntaxError, Enhanced: EnhAuthLineTooLong(),
		Lines: []string{"Authentication Exchange line is too long"}}
}

// ParamSyntax is a 501 5.5.4 reply, "Syntax error in parameters or
// arguments" (RFC 5321 4.2.2).
func ParamSyntax(text string) *Reply {
	return New(CodeParamSyntax, EnhInvalidArguments(), or(text, "Syntax error in parameters or arguments"))
}

// AuthCancelled is "501 5.0.0 Authentication cancelled", the reply when the
// client answers a challenge with "*" (RFC 4954 4).
func AuthCancelled() *Reply {
	return &Reply{Code: CodeParamSyntax, Enhanced: EnhOther(), Lines: []string{"Authentication cancelled"}}
}

// NotImplemented is a 502 5.5.1 reply, "Command not implemented" (RFC 5321
// 4.2.2), for a known command the server does not offer (for example VRFY
// when disabled, or an extension that was not advertised).
func NotImplemented(text string) *Reply {
	return New(CodeNotImplemented, EnhInvalidCommand(), or(text, "Command not implemented"))
}

// BadSequence is a 503 5.5.1 reply, "Bad sequence of commands" (RFC 5321
// 4.2.2); text says what was expected, for example "need MAIL before RCPT".
func BadSequence(text string) *Reply {
	return New(CodeBadSequence, EnhInvalidCommand(), or(text, "Bad sequence of commands"))
}

// ParamNotImplemented is a 504 5.5.4 reply, "Command parameter not
// implemented" (RFC 5321 4.2.2), for example an unknown AUTH mechanism
// (RFC 4954 4).
func ParamNotImplemented(text string) *Reply {
	return New(CodeParamNotImplemented, EnhInvalidArguments(), or(text, "Command parameter not implemented"))
}

// AuthRequired is "530 5.7.0 Authentication required" (RFC 4954 6).
func AuthRequired() *Reply {
	return &Reply{Code: CodeAuthRequired, Enhanced: EnhSecurityError(), Lines: []string{"Authentication required"}}
}

// MustIssueSTARTTLS is "530 5.7.0 Must issue a STARTTLS command first"
// (RFC 3207 4), for a server that requires TLS before other commands.
func MustIssueSTARTTLS() *Reply {
	return &Reply{Code: CodeAuthRequired, Enhanced: EnhSecurityError(),
		Lines: []string{"Must issue a STARTTLS command first"}}
}

// AuthTooWeak is "534 5.7.9 Authentication mechanism is too weak" (RFC 4954 6).
func AuthTooWeak() *Reply {
	return &Reply{Code: CodeAuthTooWeak, Enhanced: EnhAuthTooWeak(),
		Lines: []string{"Authentication mechanism is too weak"}}
}

// AuthFailed is "535 5.7.8 Authentication credentials invalid" (RFC 4954 6).
func AuthFailed() *Reply {
	return &Reply{Code: CodeAuthInvalid, Enhanced: EnhAuthInvalid(),
		Lines: []string{"Authentication credentials invalid"}}
}

// EncryptionRequired is "538 5.7.11 Encryption required for requested
// authentication mechanism" (RFC 4954 6), for example PLAIN over a
// connection without TLS.
func EncryptionRequired() *Reply {
	return &Reply{Code: CodeEncryptionRequired, Enhanced: EnhEncryptionRequired(),
		Lines: []string{"Encryption required for requested authentication mechanism"}}
}

// MailboxUnavailable is a 550 5.1.1 reply: the mailbox does not exist
// (RFC 5321 4.2.2).
func MailboxUnavailable(text string) *Reply {
	return New(CodeMailboxUnavailable, EnhBadMailbox(), or(text, "Mailbox unavailable"))
}

// PolicyRejected is a 550 5.7.1 reply: the command is refused for policy
// reasons (RFC 5321 4.2.2, 550 "command rejected for policy reasons").
func PolicyRejected(text string) *Reply {
	return New(CodeMailboxUnavailable, EnhNotAuthorized(), or(text, "Rejected for policy reasons"))
}

// RelayDenied is "550 5.7.1 Relaying denied": the server does not accept
// mail for that domain from this client (RFC 5321 3.6.2, 7.1).
func RelayDenied() *Reply {
	return &Reply{Code: CodeMailboxUnavailable, Enhanced: EnhNotAuthorized(), Lines: []string{"Relaying denied"}}
}

// UserNotLocal is "551 5.1.6 User not local; please try <forward-path>"
// (RFC 5321 3.4, 4.2.2).
func UserNotLocal(forwardPath string) *Reply {
	return New(CodeUserNotLocal, EnhMailboxMoved(), "User not local; please try <"+forwardPath+">")
}

// ExceededStorage is a 552 5.2.2 reply, "Requested mail action aborted:
// exceeded storage allocation" (RFC 5321 4.2.2): the mailbox is full.
func ExceededStorage(text string) *Reply {
	return New(CodeExceededStorage, EnhMailboxFull(), or(text, "Requested mail action aborted: exceeded storage allocation"))
}

// MessageTooBig is "552 5.3.4 Message size exceeds fixed maximum message
// size" (RFC 1870 6.1), with the limit in octets when it is positive.
func MessageTooBig(limit int64) *Reply {
	t := "Message size exceeds fixed maximum message size"
	if limit > 0 {
		var b [32]byte
		t += " of " + string(strconv.AppendInt(b[:0], limit, 10)) + " octets"
	}
	return &Reply{Code: CodeExceededStorage, Enhanced: EnhMessageTooBig(), Lines: []string{t}}
}

// MailboxNameNotAllowed is a 553 5.1.3 reply, "mailbox name not allowed"
// (RFC 5321 4.2.2).
func MailboxNameNotAllowed(text string) *Reply {
	return New(CodeMailboxNameNotAllowed, EnhBadDestSyntax(), or(text, "Mailbox name not allowed"))
}

// NonASCIIAddress is "553 5.6.7 Non-ASCII addresses not permitted" for an
// address with UTF-8 when SMTPUTF8 was not requested (RFC 6531 3.5).
func NonASCIIAddress() *Reply {
	return &Reply{Code: CodeMailboxNameNotAllowed, Enhanced: EnhNonASCIIAddress(),
		Lines: []string{"Non-ASCII addresses not permitted without SMTPUTF8"}}
}

// TransactionFailed is a 554 5.0.0 reply, "Transaction failed" (RFC 5321
// 4.2.2).
func TransactionFailed(text string) *Reply {
	return New(CodeTransactionFailed, EnhOther(), or(text, "Transaction failed"))
}

// NoValidRecipients is "554 5.5.1 No valid recipients", the reply to DATA or
// BDAT when every RCPT was refused (RFC 5321 3.3).
func NoValidRecipients() *Reply {
	return &Reply{Code: CodeTransactionFailed, Enhanced: EnhInvalidCommand(), Lines: []string{"No valid recipients"}}
}

// NoService is "554 <host> No SMTP service here", a greeting that refuses
// the session (RFC 5321 3.1: the server then waits for QUIT and answers
// 503 to anything else). No enhanced code: greetings have none (RFC 2034 3).
func NoService(host string) *Reply {
	return &Reply{Code: CodeTransactionFailed, Lines: []string{host + " No SMTP service here"}}
}

// ParamsNotRecognized is a 555 5.5.4 reply, "MAIL FROM/RCPT TO parameters
// not recognized or not implemented" (RFC 5321 4.2.2).
func ParamsNotRecognized(text string) *Reply {
	return New(CodeParamsNotRecognized, EnhInvalidArguments(),
		or(text, "MAIL FROM/RCPT TO parameters not recognized or not implemented"))
}
