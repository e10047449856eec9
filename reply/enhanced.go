package reply

import "strconv"

// EnhancedCode is an enhanced mail system status code, class.subject.detail
// (RFC 3463 2; the registry is RFC 5248). The zero value means "absent".
//
// Named codes are offered as functions (EnhOK, EnhBadMailbox, ...) rather
// than variables, so that no package-level value can be changed. Use
// WithClass to turn a permanent code into its transient twin (5.2.2 into
// 4.2.2). In a Reply the class always follows the reply code: New,
// AppendWire and Error all use Reply.WireEnhanced, so a 452 reply given
// EnhMailboxFull() says 4.2.2 everywhere.
type EnhancedCode struct {
	Class   int // 2 success, 4 persistent transient failure, 5 permanent failure
	Subject int // 0-999
	Detail  int // 0-999
}

// Enh returns the enhanced code class.subject.detail.
func Enh(class, subject, detail int) EnhancedCode {
	return EnhancedCode{Class: class, Subject: subject, Detail: detail}
}

// IsZero reports whether e is the zero value, meaning no enhanced code.
func (e EnhancedCode) IsZero() bool { return e == EnhancedCode{} }

// Valid reports whether e is a well-formed code: class 2, 4 or 5 and subject
// and detail of one to three digits (RFC 3463 2).
func (e EnhancedCode) Valid() bool {
	return (e.Class == 2 || e.Class == 4 || e.Class == 5) &&
		e.Subject >= 0 && e.Subject <= 999 && e.Detail >= 0 && e.Detail <= 999
}

// WithClass returns e with its class replaced, for example to turn
// EnhMailboxFull() (5.2.2) into 4.2.2.
func (e EnhancedCode) WithClass(class int) EnhancedCode {
	e.Class = class
	return e
}

// String returns "class.subject.detail", or "" for the zero value.
func (e EnhancedCode) String() string {
	if e.IsZero() {
		return ""
	}
	var b [16]byte
	return string(e.appendTo(b[:0]))
}

// appendTo appends the dotted form of e.
func (e EnhancedCode) appendTo(dst []byte) []byte {
	dst = appendSmall(dst, e.Class)
	dst = append(dst, '.')
	dst = appendSmall(dst, e.Subject)
	dst = append(dst, '.')
	return appendSmall(dst, e.Detail)
}

// appendSmall appends n in decimal, with a fast path for one digit, the
// common case in enhanced codes.
func appendSmall(dst []byte, n int) []byte {
	if n >= 0 && n < 10 {
		return append(dst, byte('0'+n))
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

// EnhancedCodeError reports a malformed enhanced status code.
type EnhancedCodeError struct {
	Input string // the text that was parsed
}

// Error implements error.
func (e *EnhancedCodeError) Error() string {
	return "reply: malformed enhanced status code " + strconv.Quote(e.Input)
}

// ParseEnhancedCode parses "class.subject.detail" (RFC 3463 2: class is 2,
// 4 or 5; subject and detail are 1*3digit). The whole string must be the
// code; the error is an *EnhancedCodeError.
func ParseEnhancedCode(s string) (EnhancedCode, error) {
	e, n := parseEnhancedPrefix(s)
	if n == 0 || n != len(s) {
		return EnhancedCode{}, &EnhancedCodeError{Input: s}
	}
	return e, nil
}

// parseEnhancedPrefix parses an enhanced code at the start of s and returns
// it with the number of bytes it used, or n == 0 if s does not start with
// one. It does not look at what follows the code.
func parseEnhancedPrefix[T string | []byte](s T) (e EnhancedCode, n int) {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return EnhancedCode{}, 0
	}
	e.Class = int(s[0] - '0')
	i := 2
	var ok bool
	if e.Subject, i, ok = parseDigits(s, i); !ok || i >= len(s) || s[i] != '.' {
		return EnhancedCode{}, 0
	}
	if e.Detail, i, ok = parseDigits(s, i+1); !ok {
		return EnhancedCode{}, 0
	}
	return e, i
}

// parseDigits reads one to three decimal digits at s[i:] (RFC 3463 2:
// 1*3digit) and returns the value and the index after them.
func parseDigits[T string | []byte](s T, i int) (v, next int, ok bool) {
	start := i
	for i < len(s) && i-start < 3 && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + int(s[i]-'0')
		i++
	}
	if i == start || (i < len(s) && s[i] >= '0' && s[i] <= '9') {
		return 0, i, false // no digit, or more than three
	}
	return v, i, true
}

// Named enhanced status codes (RFC 3463 3, registry RFC 5248). Each returns
// the class usually paired with it; use WithClass for the other one.

// EnhOK is 2.0.0, "Other undefined status": a success with nothing more to say.
func EnhOK() EnhancedCode { return EnhancedCode{2, 0, 0} }

// EnhSenderOK is 2.1.0, "Other address status", for an accepted MAIL FROM.
func EnhSenderOK() EnhancedCode { return EnhancedCode{2, 1, 0} }

// EnhRecipientOK is 2.1.5, "Destination address valid", for an accepted RCPT TO.
func EnhRecipientOK() EnhancedCode { return EnhancedCode{2, 1, 5} }

// EnhAuthOK is 2.7.0, "Other or undefined security status", for a
// successful AUTH (RFC 4954 6).
func EnhAuthOK() EnhancedCode { return EnhancedCode{2, 7, 0} }

// EnhOther is 5.0.0, "Other undefined status".
func EnhOther() EnhancedCode { return EnhancedCode{5, 0, 0} }

// EnhAddressOther is 5.1.0, "Other address status".
func EnhAddressOther() EnhancedCode { return EnhancedCode{5, 1, 0} }

// EnhBadMailbox is 5.1.1, "Bad destination mailbox address": no such user.
func EnhBadMailbox() EnhancedCode { return EnhancedCode{5, 1, 1} }

// EnhBadDestSystem is 5.1.2, "Bad destination system address".
func EnhBadDestSystem() EnhancedCode { return EnhancedCode{5, 1, 2} }

// EnhBadDestSyntax is 5.1.3, "Bad destination mailbox address syntax".
func EnhBadDestSyntax() EnhancedCode { return EnhancedCode{5, 1, 3} }

// EnhMailboxMoved is 5.1.6, "Destination mailbox has moved, No forwarding address".
func EnhMailboxMoved() EnhancedCode { return EnhancedCode{5, 1, 6} }

// EnhBadSenderSyntax is 5.1.7, "Bad sender's mailbox address syntax".
func EnhBadSenderSyntax() EnhancedCode { return EnhancedCode{5, 1, 7} }

// EnhBadSenderSystem is 5.1.8, "Bad sender's system address".
func EnhBadSenderSystem() EnhancedCode { return EnhancedCode{5, 1, 8} }

// EnhNullMX is 5.1.10, "Recipient address has null MX" (RFC 7505 4.2).
func EnhNullMX() EnhancedCode { return EnhancedCode{5, 1, 10} }

// EnhMailboxDisabled is 5.2.1, "Mailbox disabled, not accepting messages".
func EnhMailboxDisabled() EnhancedCode { return EnhancedCode{5, 2, 1} }

// EnhMailboxFull is 5.2.2, "Mailbox full" (4.2.2 when transient).
func EnhMailboxFull() EnhancedCode { return EnhancedCode{5, 2, 2} }

// EnhMessageTooBigForMailbox is 5.2.3, "Message length exceeds administrative limit".
func EnhMessageTooBigForMailbox() EnhancedCode { return EnhancedCode{5, 2, 3} }

// EnhSystemError is 4.3.0, "Other or undefined mail system status".
func EnhSystemError() EnhancedCode { return EnhancedCode{4, 3, 0} }

// EnhSystemFull is 4.3.1, "Mail system full".
func EnhSystemFull() EnhancedCode { return EnhancedCode{4, 3, 1} }

// EnhSystemNotAccepting is 4.3.2, "System not accepting network messages".
func EnhSystemNotAccepting() EnhancedCode { return EnhancedCode{4, 3, 2} }

// EnhMessageTooBig is 5.3.4, "Message too big for system" (RFC 1870 6.1).
func EnhMessageTooBig() EnhancedCode { return EnhancedCode{5, 3, 4} }

// EnhNetworkError is 4.4.0, "Other or undefined network or routing status".
func EnhNetworkError() EnhancedCode { return EnhancedCode{4, 4, 0} }

// EnhBadConnection is 4.4.2, "Bad connection", for example a timeout.
func EnhBadConnection() EnhancedCode { return EnhancedCode{4, 4, 2} }

// EnhCongestion is 4.4.5, "System congestion".
func EnhCongestion() EnhancedCode { return EnhancedCode{4, 4, 5} }

// EnhProtocolError is 5.5.0, "Other or undefined protocol status".
func EnhProtocolError() EnhancedCode { return EnhancedCode{5, 5, 0} }

// EnhInvalidCommand is 5.5.1, "Invalid command": out of sequence or unsupported.
func EnhInvalidCommand() EnhancedCode { return EnhancedCode{5, 5, 1} }

// EnhSyntaxError is 5.5.2, "Syntax error": the command could not be
// interpreted, or is unrecognized.
func EnhSyntaxError() EnhancedCode { return EnhancedCode{5, 5, 2} }

// EnhTooManyRecipients is 4.5.3, "Too many recipients" (RFC 5321 4.5.3.1.10).
func EnhTooManyRecipients() EnhancedCode { return EnhancedCode{4, 5, 3} }

// EnhInvalidArguments is 5.5.4, "Invalid command arguments".
func EnhInvalidArguments() EnhancedCode { return EnhancedCode{5, 5, 4} }

// EnhWrongProtocolVersion is 5.5.5, "Wrong protocol version".
func EnhWrongProtocolVersion() EnhancedCode { return EnhancedCode{5, 5, 5} }

// EnhAuthLineTooLong is 5.5.6, "Authentication Exchange line is too long" (RFC 4954 6).
func EnhAuthLineTooLong() EnhancedCode { return EnhancedCode{5, 5, 6} }

// EnhMediaError is 5.6.0, "Other or undefined media error".
func EnhMediaError() EnhancedCode { return EnhancedCode{5, 6, 0} }

// EnhNonASCIIAddress is 5.6.7, "Non-ASCII addresses not permitted for that
// sender/recipient" (RFC 6531 3.7.4.1).
func EnhNonASCIIAddress() EnhancedCode { return EnhancedCode{5, 6, 7} }

// EnhUTF8ReplyRequired is 5.6.8, "UTF-8 string reply is required, but not
// permitted by the SMTP client" (RFC 6531).
func EnhUTF8ReplyRequired() EnhancedCode { return EnhancedCode{5, 6, 8} }

// EnhUTF8HeaderNotTransferable is 5.6.9, "UTF-8 header message cannot be
// transferred to one or more recipients" (RFC 6531).
func EnhUTF8HeaderNotTransferable() EnhancedCode { return EnhancedCode{5, 6, 9} }

// EnhSecurityError is 5.7.0, "Other or undefined security status"; used by
// "Authentication required" (RFC 4954 6) and "Must issue a STARTTLS command
// first" (RFC 3207 4).
func EnhSecurityError() EnhancedCode { return EnhancedCode{5, 7, 0} }

// EnhNotAuthorized is 5.7.1, "Delivery not authorized, message refused",
// for example relaying denied.
func EnhNotAuthorized() EnhancedCode { return EnhancedCode{5, 7, 1} }

// EnhAuthInvalid is 5.7.8, "Authentication credentials invalid" (RFC 4954 6).
func EnhAuthInvalid() EnhancedCode { return EnhancedCode{5, 7, 8} }

// EnhAuthTooWeak is 5.7.9, "Authentication mechanism is too weak" (RFC 4954 6).
func EnhAuthTooWeak() EnhancedCode { return EnhancedCode{5, 7, 9} }

// EnhEncryptionNeeded is 5.7.10, "Encryption needed" (RFC 5248).
func EnhEncryptionNeeded() EnhancedCode { return EnhancedCode{5, 7, 10} }

// EnhEncryptionRequired is 5.7.11, "Encryption required for requested
// authentication mechanism" (RFC 4954 6).
func EnhEncryptionRequired() EnhancedCode { return EnhancedCode{5, 7, 11} }

// EnhPasswordTransition is 4.7.12, "A password transition is needed" (RFC 4954 6).
func EnhPasswordTransition() EnhancedCode { return EnhancedCode{4, 7, 12} }

// EnhRequireTLS is 5.7.30, "REQUIRETLS support required" (RFC 8689 5).
func EnhRequireTLS() EnhancedCode { return EnhancedCode{5, 7, 30} }
