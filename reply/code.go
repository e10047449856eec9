package reply

// Code is a three-digit SMTP reply code (RFC 5321 4.2). The first digit is
// the class: 2 positive completion, 3 positive intermediate, 4 transient
// negative completion, 5 permanent negative completion (RFC 5321 4.2.1).
type Code int

// Reply codes of RFC 5321 4.2.2 and 4.2.3, and those added by SMTP
// extensions.
const (
	// CodeSystemStatus is "System status, or system help reply" (RFC 5321 4.2.2).
	CodeSystemStatus Code = 211
	// CodeHelp is "Help message" (RFC 5321 4.2.2).
	CodeHelp Code = 214
	// CodeReady is "<domain> Service ready", the greeting (RFC 5321 4.2.2),
	// also "Ready to start TLS" after STARTTLS (RFC 3207 4).
	CodeReady Code = 220
	// CodeClosing is "<domain> Service closing transmission channel" (RFC 5321 4.2.2).
	CodeClosing Code = 221
	// CodeAuthSucceeded is "Authentication succeeded" (RFC 4954 6).
	CodeAuthSucceeded Code = 235
	// CodeOK is "Requested mail action okay, completed" (RFC 5321 4.2.2).
	CodeOK Code = 250
	// CodeWillForward is "User not local; will forward to <forward-path>" (RFC 5321 4.2.2).
	CodeWillForward Code = 251
	// CodeCannotVerify is "Cannot VRFY user, but will accept message and
	// attempt delivery" (RFC 5321 4.2.2, 3.5.3).
	CodeCannotVerify Code = 252

	// CodeAuthContinue is the SASL server challenge (RFC 4954 4).
	CodeAuthContinue Code = 334
	// CodeStartMailInput is "Start mail input; end with <CRLF>.<CRLF>" (RFC 5321 4.2.2).
	CodeStartMailInput Code = 354

	// CodeServiceNotAvailable is "<domain> Service not available, closing
	// transmission channel" (RFC 5321 4.2.2, 3.8).
	CodeServiceNotAvailable Code = 421
	// CodePasswordTransition is "A password transition is needed" (RFC 4954 6).
	CodePasswordTransition Code = 432
	// CodeMailboxBusy is "Requested mail action not taken: mailbox
	// unavailable (e.g., mailbox busy or temporarily blocked)" (RFC 5321 4.2.2).
	CodeMailboxBusy Code = 450
	// CodeLocalError is "Requested action aborted: local error in
	// processing" (RFC 5321 4.2.2).
	CodeLocalError Code = 451
	// CodeInsufficientStorage is "Requested action not taken: insufficient
	// system storage" (RFC 5321 4.2.2); also "too many recipients"
	// (RFC 5321 4.5.3.1.10) and the SIZE extension's temporary refusal
	// (RFC 1870 6.2).
	CodeInsufficientStorage Code = 452
	// CodeTemporaryFailure is "TLS not available due to temporary reason"
	// (RFC 3207 4) and "Temporary authentication failure" (RFC 4954 6).
	CodeTemporaryFailure Code = 454
	// CodeParamsNotAccommodated is "Server unable to accommodate
	// parameters" (RFC 5321 4.2.2).
	CodeParamsNotAccommodated Code = 455

	// CodeSyntaxError is "Syntax error, command unrecognized" (RFC 5321
	// 4.2.2), also used for a command line that is too long (4.5.3.1.10).
	CodeSyntaxError Code = 500
	// CodeParamSyntax is "Syntax error in parameters or arguments" (RFC 5321 4.2.2).
	CodeParamSyntax Code = 501
	// CodeNotImplemented is "Command not implemented" (RFC 5321 4.2.2).
	CodeNotImplemented Code = 502
	// CodeBadSequence is "Bad sequence of commands" (RFC 5321 4.2.2).
	CodeBadSequence Code = 503
	// CodeParamNotImplemented is "Command parameter not implemented" (RFC 5321 4.2.2).
	CodeParamNotImplemented Code = 504
	// CodeNoMail is "Host does not accept mail" (RFC 7504 3).
	CodeNoMail Code = 521
	// CodeAuthRequired is "Authentication required" (RFC 4954 6), and
	// "Must issue a STARTTLS command first" (RFC 3207 4).
	CodeAuthRequired Code = 530
	// CodeAuthTooWeak is "Authentication mechanism is too weak" (RFC 4954 6).
	CodeAuthTooWeak Code = 534
	// CodeAuthInvalid is "Authentication credentials invalid" (RFC 4954 6).
	CodeAuthInvalid Code = 535
	// CodeEncryptionRequired is "Encryption required for requested
	// authentication mechanism" (RFC 4954 6).
	CodeEncryptionRequired Code = 538
	// CodeMailboxUnavailable is "Requested action not taken: mailbox
	// unavailable (e.g., mailbox not found, no access, or command rejected
	// for policy reasons)" (RFC 5321 4.2.2).
	CodeMailboxUnavailable Code = 550
	// CodeUserNotLocal is "User not local; please try <forward-path>" (RFC 5321 4.2.2).
	CodeUserNotLocal Code = 551
	// CodeExceededStorage is "Requested mail action aborted: exceeded
	// storage allocation" (RFC 5321 4.2.2); also the SIZE extension's
	// permanent refusal (RFC 1870 6.1).
	CodeExceededStorage Code = 552
	// CodeMailboxNameNotAllowed is "Requested action not taken: mailbox name
	// not allowed (e.g., mailbox syntax incorrect)" (RFC 5321 4.2.2).
	CodeMailboxNameNotAllowed Code = 553
	// CodeTransactionFailed is "Transaction failed" (or, in the greeting,
	// "No SMTP service here") (RFC 5321 4.2.2, 3.1).
	CodeTransactionFailed Code = 554
	// CodeParamsNotRecognized is "MAIL FROM/RCPT TO parameters not
	// recognized or not implemented" (RFC 5321 4.2.2).
	CodeParamsNotRecognized Code = 555
	// CodeDomainNoMail is "Domain does not accept mail" (RFC 7504 3).
	CodeDomainNoMail Code = 556
)

// Class returns the first digit of the code: 2, 3, 4 or 5 for valid codes
// (RFC 5321 4.2.1).
func (c Code) Class() int { return int(c) / 100 }

// Valid reports whether c has the shape of a reply code: first digit 2-5,
// second digit 0-5, third digit 0-9 (RFC 5321 4.2: Reply-code =
// %x32-35 %x30-35 %x30-39).
func (c Code) Valid() bool {
	return c >= 200 && c <= 599 && (int(c)/10)%10 <= 5
}

// IsPositive reports whether c is a positive completion reply (2xx).
func (c Code) IsPositive() bool { return c.Class() == 2 }

// IsIntermediate reports whether c is a positive intermediate reply (3xx):
// the server waits for more input (354 after DATA, 334 during AUTH).
func (c Code) IsIntermediate() bool { return c.Class() == 3 }

// IsTransient reports whether c is a transient negative completion reply
// (4xx): the client may try again later (RFC 5321 4.2.1).
func (c Code) IsTransient() bool { return c.Class() == 4 }

// IsPermanent reports whether c is a permanent negative completion reply
// (5xx): the client should not repeat the same request (RFC 5321 4.2.1).
func (c Code) IsPermanent() bool { return c.Class() == 5 }

// String returns the code as three decimal digits.
func (c Code) String() string {
	var b [3]byte
	return string(appendCode(b[:0], c))
}

// appendCode appends c as exactly three digits (values outside 0-999 are
// reduced modulo 1000, so the wire form always has three digits).
func appendCode(dst []byte, c Code) []byte {
	n := int(c) % 1000
	if n < 0 {
		n = -n
	}
	return append(dst, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
}
