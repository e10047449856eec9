package envelope

import (
	"math"
	"strings"

	"github.com/smtpkit/smtp/reply"
)

// ParseMailCommand parses the argument of a MAIL command, what follows the
// verb: "FROM:<a@example.com> SIZE=10 BODY=8BITMIME" (RFC 5321 4.1.1.2).
//
// "FROM:" is matched case-insensitively. RFC 5321 4.1.2 allows no space
// after the colon, but many clients send "MAIL FROM: <a@b>", so spaces
// there are tolerated, as are runs of spaces between parameters and
// trailing spaces. The path must be in angle brackets.
//
// UTF-8 in the path is allowed when opts.SMTPUTF8 is set or when the
// command carries the SMTPUTF8 parameter and opts.Allowed has
// ParamSMTPUTF8 (RFC 6531 3.4).
//
// Errors are *Error values that carry the reply to send: 501 5.5.2 when
// "FROM:<...>" is missing, 501 5.1.7 for a bad path, 553 5.6.7 for a
// non-ASCII path without SMTPUTF8, 501 5.5.4 for a bad or repeated
// parameter and 555 5.5.4 for a parameter not allowed by opts.Allowed.
// Checking SIZE against the server's limit (552 5.3.4) and REQUIRETLS
// against the connection (RFC 8689) is the caller's job.
func ParseMailCommand(arg string, opts ParseOptions) (Path, MailParams, error) {
	path, params, err := parseMail(arg, &opts)
	if err != nil {
		return Path{}, MailParams{}, err
	}
	return path, params, nil
}

// ParseRcptCommand parses the argument of a RCPT command, what follows the
// verb: "TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org"
// (RFC 5321 4.1.1.3). "<Postmaster>" without a domain is accepted,
// case-insensitively; a source route is accepted and dropped.
//
// Set opts.SMTPUTF8 when the transaction's MAIL command carried SMTPUTF8.
// Spaces are tolerated as for ParseMailCommand. Errors are *Error values:
// 501 5.5.2 when "TO:<...>" is missing, 501 5.1.3 for a bad path,
// 553 5.6.7 for a non-ASCII path without SMTPUTF8, 501 5.5.4 for a bad or
// repeated parameter, 555 5.5.4 for a parameter not allowed.
func ParseRcptCommand(arg string, opts ParseOptions) (Path, RcptParams, error) {
	path, params, err := parseRcpt(arg, &opts)
	if err != nil {
		return Path{}, RcptParams{}, err
	}
	return path, params, nil
}

// splitCommandArg splits "FROM:<path> params" into the path (with its
// brackets) and the parameter string.
func splitCommandArg(arg, prefix string, kind pathKind) (path, params string, err *Error) {
	arg = trimSpaces(arg)
	if !hasPrefixFold(arg, prefix) {
		return "", "", syntaxError(kind)
	}
	// Tolerated: "MAIL FROM: <a@b>" (not RFC 5321 4.1.2, but common).
	rest := trimSpaces(arg[len(prefix):])
	if rest == "" || rest[0] != '<' {
		return "", "", syntaxError(kind)
	}
	end := pathEnd(rest)
	if end < 0 {
		return "", "", newError(codeSyntax, kind.enhanced(), "Bad "+kind.noun()+" syntax: unterminated path")
	}
	path, params = rest[:end], rest[end:]
	if params != "" && params[0] != ' ' {
		return "", "", newError(codeSyntax, kind.enhanced(), "Bad "+kind.noun()+" syntax: unexpected characters after path")
	}
	return path, params, nil
}

func syntaxError(kind pathKind) *Error {
	if kind == kindReverse {
		return newError(codeSyntax, reply.EnhSyntaxError(), "Syntax: MAIL FROM:<address> [parameters]")
	}
	return newError(codeSyntax, reply.EnhSyntaxError(), "Syntax: RCPT TO:<address> [parameters]")
}

// nextParam returns the next space-separated token of s and the rest.
func nextParam(s string) (tok, rest string) {
	s = trimSpaces(s)
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// paramError is the error for a malformed, repeated or misused parameter:
// 501 5.5.4 (RFC 5321 4.2.3 "Syntax error in parameters or arguments";
// RFC 3463 X.5.4 "Invalid command arguments").
func paramError(reason string) *Error {
	return newError(codeSyntax, reply.EnhInvalidArguments(), reason)
}

// maxEchoedKeyword is how many octets of an unrecognised parameter keyword
// are echoed in the 555 reply, so that a peer cannot make the reply text
// arbitrarily long (RFC 5321 4.5.3.1.5: a reply line is at most 512 octets).
const maxEchoedKeyword = 32

// notRecognized is the error for a parameter of an extension that was not
// advertised or that is unknown: 555 (RFC 5321 4.1.1.11) with X.5.4.
func notRecognized(cmd, keyword string) *Error {
	if len(keyword) > maxEchoedKeyword {
		keyword = keyword[:maxEchoedKeyword]
	}
	return newError(codeParamNotRecognized, reply.EnhInvalidArguments(), cmd+" parameter "+keyword+" not recognized")
}

// splitParam splits and checks esmtp-param = esmtp-keyword ["=" esmtp-value]
// (RFC 5321 4.1.2).
func splitParam(tok string, utf8ok bool) (kw, val string, err *Error) {
	kw, val, hasVal := strings.Cut(tok, "=")
	// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
	if !checkKeyword(kw) {
		return "", "", paramError("Invalid parameter keyword")
	}
	if !hasVal {
		return kw, "", nil
	}
	// esmtp-value = 1*(%d33-60 / %d62-126); RFC 6531 3.3 adds
	// UTF8-non-ascii under SMTPUTF8.
	if val == "" {
		return "", "", paramError("Empty value for parameter " + kw)
	}
	if !checkValue(val, utf8ok) {
		return "", "", paramError("Invalid character in value of parameter " + kw)
	}
	return kw, val, nil
}

// hasUTF8Param reports whether the parameter string holds the SMTPUTF8
// keyword (RFC 6531 3.4), before the parameters are fully parsed.
func hasUTF8Param(params string) bool {
	for params != "" {
		var tok string
		tok, params = nextParam(params)
		if strings.EqualFold(tok, "SMTPUTF8") {
			return true
		}
	}
	return false
}

// Keyword bits for duplicate detection.
const (
	seenSize uint16 = 1 << iota
	seenBody
	seenRet
	seenEnvID
	seenAuth
	seenRequireTLS
	seenNotify
	seenORcpt
)

func parseMail(arg string, opts *ParseOptions) (Path, MailParams, *Error) {
	var m MailParams
	pathStr, params, err := splitCommandArg(arg, "FROM:", kindReverse)
	if err != nil {
		return Path{}, m, err
	}
	// RFC 6531 3.4: UTF-8 in the reverse-path needs the SMTPUTF8
	// parameter on this very command (and the extension advertised).
	utf8ok := opts.SMTPUTF8 || (opts.Allowed&ParamSMTPUTF8 != 0 && hasUTF8Param(params))
	ap := newAddrParser(kindReverse, utf8ok, opts)
	path, err := ap.parsePath(pathStr)
	if err != nil {
		return Path{}, m, err
	}
	var seen uint16
	once := func(bit uint16, kw string) *Error {
		if seen&bit != 0 {
			return paramError("Duplicate parameter " + kw)
		}
		seen |= bit
		return nil
	}
	for params != "" {
		var tok string
		tok, params = nextParam(params)
		if tok == "" {
			break
		}
		kw, val, err := splitParam(tok, utf8ok)
		if err != nil {
			return Path{}, m, err
		}
		switch {
		case strings.EqualFold(kw, "SIZE"):
			// RFC 1870 6: size-value ::= 1*20DIGIT.
			if opts.Allowed&ParamSize == 0 {
				return Path{}, m, notRecognized("MAIL", kw)
			}
			if err := once(seenSize, "SIZE"); err != nil {
				return Path{}, m, err
			}
			size, ok := parseSize(val)
			if !ok {
				return Path{}, m, paramError("Invalid SIZE value")
			}
			m.Size = size
		case strings.EqualFold(kw, "BODY"):
			// RFC 6152 2; RFC 3030 3 adds BINARYMIME.
			if opts.Allowed&(Param8BitMIME|ParamBinaryMIME) == 0 {
				return Path{}, m, notRecognized("MAIL", kw)
			}
			var body BodyType
			switch {
			case strings.EqualFold(val, "7BIT"):
				body = Body7Bit
			case strings.EqualFold(val, "8BITMIME"):
				if opts.Allowed&Param8BitMIME == 0 {
					return Path{}, m, notRecognized("MAIL", "BODY=8BITMIME")
				}
				body = Body8BitMIME
			case strings.EqualFold(val, "BINARYMIME"):
				if opts.Allowed&ParamBinaryMIME == 0 {
					return Path{}, m, notRecognized("MAIL", "BODY=BINARYMIME")
				}
				body = BodyBinaryMIME
			default:
				return Path{}, m, paramError("Invalid BODY value")
			}
			// A repeat that says the same thing is harmless and real
			// clients send it (Python's smtplib adds BODY=8BITMIME and
			// SMTPUTF8 itself when the caller already passed them;
			// Postfix accepts it): refuse only a contradiction.
			if seen&seenBody != 0 && body != m.Body {
				return Path{}, m, paramError("Duplicate parameter BODY with another value")
			}
			seen |= seenBody
			m.Body = body
		case strings.EqualFold(kw, "SMTPUTF8"):
			// RFC 6531 3.4: no value.
			if opts.Allowed&ParamSMTPUTF8 == 0 {
				return Path{}, m, notRecognized("MAIL", kw)
			}
			// A repeated SMTPUTF8 is accepted: it carries no value, so a
			// repeat cannot contradict (see BODY above).
			if val != "" {
				return Path{}, m, paramError("SMTPUTF8 takes no value")
			}
			m.SMTPUTF8 = true
		case strings.EqualFold(kw, "RET"):
			// RFC 3461 4.3: ret-value = "FULL" / "HDRS".
			if opts.Allowed&ParamDSN == 0 {
				return Path{}, m, notRecognized("MAIL", kw)
			}
			if err := once(seenRet, "RET"); err != nil {
				return Path{}, m, err
			}
			switch {
			case strings.EqualFold(val, "FULL"):
				m.Ret = RetFull
			case strings.EqualFold(val, "HDRS"):
				m.Ret = RetHdrs
			default:
				return Path{}, m, paramError("Invalid RET value")
			}
		case strings.EqualFold(kw, "ENVID"):
			// RFC 3461 4.4: envid-value = xtext, at most 100 characters.
			if opts.Allowed&ParamDSN == 0 {
				return Path{}, m, notRecognized("MAIL", kw)
			}
			if err := once(seenEnvID, "ENVID"); err != nil {
				return Path{}, m, err
			}
			if len(val) > MaxEnvIDLength {
				return Path{}, m, paramError("ENVID too long")
			}
			id, derr := DecodeXtext(val)
			if derr != nil || val == "" || hasControl(id) {
				return Path{}, m, paramError("Invalid ENVID value")
			}
			m.EnvID = id
		case strings.EqualFold(kw, "AUTH"):
			// RFC 4954 5: auth-param = "AUTH=" xtext, "<>" for unknown.
			if opts.Allowed&ParamAuth == 0 {
				return Path{}, m, notRecognized("MAIL", kw)
			}
			if err := once(seenAuth, "AUTH"); err != nil {
				return Path{}, m, err
			}
			id, derr := DecodeXtext(val)
			if derr != nil || val == "" || hasControl(id) {
				return Path{}, m, paramError("Invalid AUTH value")
			}
			m.Auth = id
		case strings.EqualFold(kw, "REQUIRETLS"):
			// RFC 8689 4: no value.
			if opts.Allowed&ParamRequireTLS == 0 {
				return Path{}, m, notRecognized("MAIL", kw)
			}
			if err := once(seenRequireTLS, "REQUIRETLS"); err != nil {
				return Path{}, m, err
			}
			if val != "" {
				return Path{}, m, paramError("REQUIRETLS takes no value")
			}
			m.RequireTLS = true
		default:
			extra, err := addExtra(m.Extra, "MAIL", kw, val, opts)
			if err != nil {
				return Path{}, m, err
			}
			m.Extra = extra
		}
	}
	return path, m, nil
}

func parseRcpt(arg string, opts *ParseOptions) (Path, RcptParams, *Error) {
	var r RcptParams
	pathStr, params, err := splitCommandArg(arg, "TO:", kindForward)
	if err != nil {
		return Path{}, r, err
	}
	ap := newAddrParser(kindForward, opts.SMTPUTF8, opts)
	path, err := ap.parsePath(pathStr)
	if err != nil {
		return Path{}, r, err
	}
	var seen uint16
	for params != "" {
		var tok string
		tok, params = nextParam(params)
		if tok == "" {
			break
		}
		kw, val, err := splitParam(tok, opts.SMTPUTF8)
		if err != nil {
			return Path{}, r, err
		}
		switch {
		case strings.EqualFold(kw, "NOTIFY"):
			if opts.Allowed&ParamDSN == 0 {
				return Path{}, r, notRecognized("RCPT", kw)
			}
			if seen&seenNotify != 0 {
				return Path{}, r, paramError("Duplicate parameter NOTIFY")
			}
			seen |= seenNotify
			n, ok := parseNotify(val)
			if !ok {
				return Path{}, r, paramError("Invalid NOTIFY value")
			}
			r.Notify = n
		case strings.EqualFold(kw, "ORCPT"):
			if opts.Allowed&ParamDSN == 0 {
				return Path{}, r, notRecognized("RCPT", kw)
			}
			if seen&seenORcpt != 0 {
				return Path{}, r, paramError("Duplicate parameter ORCPT")
			}
			seen |= seenORcpt
			o, ok := parseORcpt(val, opts.SMTPUTF8)
			if !ok {
				return Path{}, r, paramError("Invalid ORCPT value")
			}
			r.ORcpt = o
		default:
			extra, err := addExtra(r.Extra, "RCPT", kw, val, opts)
			if err != nil {
				return Path{}, r, err
			}
			r.Extra = extra
		}
	}
	return path, r, nil
}

// addExtra keeps a parameter this package does not know, if allowed.
func addExtra(extra []Param, cmd, kw, val string, opts *ParseOptions) ([]Param, *Error) {
	if opts.Allowed&ParamOther == 0 {
		// RFC 5321 4.1.1.11: unrecognised parameters get 555.
		return nil, notRecognized(cmd, kw)
	}
	for _, p := range extra {
		if strings.EqualFold(p.Keyword, kw) {
			return nil, paramError("Duplicate parameter " + kw)
		}
	}
	return append(extra, Param{Keyword: kw, Value: val}), nil
}

// parseSize parses size-value = 1*20DIGIT (RFC 1870 6), saturating at
// math.MaxInt64.
func parseSize(s string) (int64, bool) {
	if s == "" || len(s) > MaxSizeDigits {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}

// parseNotify parses RFC 3461 4.1: "NEVER" alone, or a comma-separated
// list of "SUCCESS", "FAILURE" and "DELAY", each at most once.
func parseNotify(s string) (Notify, bool) {
	var n Notify
	for {
		item, rest, more := strings.Cut(s, ",")
		var f Notify
		switch {
		case strings.EqualFold(item, "NEVER"):
			f = NotifyNever
		case strings.EqualFold(item, "SUCCESS"):
			f = NotifySuccess
		case strings.EqualFold(item, "FAILURE"):
			f = NotifyFailure
		case strings.EqualFold(item, "DELAY"):
			f = NotifyDelay
		default:
			return 0, false
		}
		if n&f != 0 {
			return 0, false
		}
		n |= f
		if !more {
			break
		}
		s = rest
	}
	if n&NotifyNever != 0 && n != NotifyNever {
		return 0, false
	}
	return n, true
}

// parseORcpt parses original-recipient-address = addr-type ";" xtext
// (RFC 3461 4.2), at most MaxORcptLength characters. For the "utf-8"
// type the address is utf-8-addr-xtext, or utf-8-addr-unitext under
// SMTPUTF8 (RFC 6533 3).
func parseORcpt(s string, utf8ok bool) (*ORcpt, bool) {
	if len(s) > MaxORcptLength {
		return nil, false
	}
	typ, addr, ok := strings.Cut(s, ";")
	if !ok || typ == "" || addr == "" {
		return nil, false
	}
	// addr-type = atom (RFC 3461 4.2, from RFC 3464 2.1.1).
	if !isAtom(typ) {
		return nil, false
	}
	var dec string
	if strings.EqualFold(typ, "utf-8") {
		dec, ok = decodeUTF8AddrXtext(addr, utf8ok)
		if !ok {
			return nil, false
		}
	} else {
		var err error
		dec, err = DecodeXtext(addr)
		if err != nil {
			return nil, false
		}
	}
	if hasControl(dec) {
		return nil, false
	}
	return &ORcpt{AddrType: typ, Addr: dec}, true
}

// isAtom reports whether s is a non-empty run of atext (RFC 5322 3.2.3).
func isAtom(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAtext(s[i]) {
			return false
		}
	}
	return s != ""
}
