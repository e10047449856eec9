package envelope

// Length limits of RFC 5321 4.5.3.1. The RFC states them as sizes every
// implementation must be able to receive; this package also uses them as
// the default upper bounds, each configurable in ParseOptions.
const (
	// DefaultMaxLocalPartLength is the maximum length in octets of a local
	// part as sent on the wire, quotes and backslashes included
	// (RFC 5321 4.5.3.1.1: 64 octets).
	DefaultMaxLocalPartLength = 64
	// DefaultMaxDomainLength is the maximum length in octets of a domain or
	// address literal (RFC 5321 4.5.3.1.2: 255 octets).
	DefaultMaxDomainLength = 255
	// DefaultMaxPathLength is the maximum length in octets of a path,
	// including the angle brackets, any source route and the separators
	// (RFC 5321 4.5.3.1.3: 256 octets).
	DefaultMaxPathLength = 256
	// MaxLabelLength is the maximum length in octets of one label of a
	// domain name (RFC 1035 2.3.4: 63 octets). It is a property of the DNS,
	// not a policy, so it is not configurable.
	MaxLabelLength = 63
	// MaxEnvIDLength is the maximum length of the xtext value of the ENVID
	// parameter (RFC 3461 4.4: 100 characters).
	MaxEnvIDLength = 100
	// MaxORcptLength is the maximum length of the value of the ORCPT
	// parameter (RFC 3461 4.2: 500 characters).
	MaxORcptLength = 500
	// MaxSizeDigits is the maximum number of digits of a SIZE value
	// (RFC 1870 6: size-value ::= 1*20DIGIT).
	MaxSizeDigits = 20
)

// ParamSet is a set of SMTP service extensions whose MAIL and RCPT
// parameters a server accepts: the extensions it advertised in its EHLO
// reply. A parameter that belongs to an extension outside the set is
// rejected with 555 5.5.4 (RFC 5321 4.1.1.11), as if it were unknown.
type ParamSet uint16

// The extensions whose parameters this package parses.
const (
	// ParamSize enables SIZE= on MAIL (RFC 1870).
	ParamSize ParamSet = 1 << iota
	// Param8BitMIME enables BODY=7BIT and BODY=8BITMIME on MAIL (RFC 6152).
	Param8BitMIME
	// ParamBinaryMIME enables BODY=7BIT and BODY=BINARYMIME on MAIL
	// (RFC 3030 3).
	ParamBinaryMIME
	// ParamSMTPUTF8 enables the SMTPUTF8 parameter on MAIL (RFC 6531 3.4),
	// and with it UTF-8 in the reverse path of that command.
	ParamSMTPUTF8
	// ParamDSN enables RET= and ENVID= on MAIL and NOTIFY= and ORCPT= on
	// RCPT (RFC 3461 4).
	ParamDSN
	// ParamAuth enables AUTH= on MAIL (RFC 4954 5).
	ParamAuth
	// ParamRequireTLS enables REQUIRETLS on MAIL (RFC 8689 4).
	ParamRequireTLS
	// ParamOther accepts parameters this package does not know; they are
	// kept in MailParams.Extra or RcptParams.Extra for the caller to act
	// on. Without it they are rejected with 555 5.5.4.
	ParamOther

	// AllParams accepts every parameter. It suits tools and tests; a
	// server should list the extensions it advertised instead.
	AllParams = ParamSize | Param8BitMIME | ParamBinaryMIME | ParamSMTPUTF8 |
		ParamDSN | ParamAuth | ParamRequireTLS | ParamOther
)

// ParseOptions controls ParseMailCommand, ParseRcptCommand, ParsePath and
// ParseAddress. The zero value accepts no parameters (what a session
// started with HELO needs: RFC 5321 4.1.1.1, extensions only follow EHLO),
// ASCII addresses only, and the RFC 5321 4.5.3.1 length limits.
type ParseOptions struct {
	// SMTPUTF8 allows UTF-8 in the local part and domain (RFC 6531 3.3)
	// and in parameter values (RFC 6531 3.3, esmtp-value).
	//
	// For ParseRcptCommand set it when the transaction's MAIL command
	// carried the SMTPUTF8 parameter. ParseMailCommand turns it on by
	// itself when the command carries SMTPUTF8 and Allowed includes
	// ParamSMTPUTF8 (RFC 6531 3.4), so a server leaves it false there.
	//
	// Without it a non-ASCII address is rejected with 553 5.6.7
	// (RFC 6531 3.5).
	SMTPUTF8 bool

	// Allowed is the set of extensions whose parameters are accepted,
	// normally the ones the server advertised. The zero value accepts no
	// parameter at all.
	Allowed ParamSet

	// MaxLocalPartLength bounds the local part in octets, as sent.
	// Zero means DefaultMaxLocalPartLength (64); a negative value removes
	// the bound (the path limit still applies). RFC 5321 4.5.3.1 asks
	// implementations to avoid limits where possible, and some real
	// addresses (SRS and VERP return paths, for example) are longer than
	// 64 octets: a relay may prefer -1.
	MaxLocalPartLength int

	// MaxDomainLength bounds the domain or address literal in octets.
	// Zero means DefaultMaxDomainLength (255); negative removes the bound.
	MaxDomainLength int

	// MaxPathLength bounds the whole path in octets, angle brackets
	// included. Zero means DefaultMaxPathLength (256); negative removes
	// the bound.
	MaxPathLength int
}

// limit returns the effective value of a limit field: def for zero, -1
// (no limit) for negative values, v otherwise.
func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

// exceeds reports whether n is over the limit max (-1 = unlimited).
func exceeds(n, max int) bool {
	return max >= 0 && n > max
}
