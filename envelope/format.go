package envelope

import (
	"strings"
	"unicode/utf8"
)

// AppendMailCommand appends "MAIL FROM:<path> parameters" (without CRLF) to
// dst, after checking that the command is valid and would parse back to
// the same values, so that a client never sends a malformed or injected
// command (an address with a control character, a parameter value with a
// space, ...). A non-ASCII path needs p.SMTPUTF8 (553 5.6.7, RFC 6531 3.4);
// an Extra parameter may not use the keyword of a MailParams field. No
// length limit is applied: the server enforces its own. On error dst is
// returned unchanged with an *Error. It does not allocate when dst has
// room.
func AppendMailCommand(dst []byte, from Path, p MailParams) ([]byte, error) {
	if err := checkPath(from, kindReverse, p.SMTPUTF8); err != nil {
		return dst, err
	}
	if err := checkMailParams(&p); err != nil {
		return dst, err
	}
	dst = append(dst, "MAIL FROM:"...)
	dst = from.AppendTo(dst)
	return p.AppendTo(dst), nil
}

// AppendRcptCommand appends "RCPT TO:<path> parameters" (without CRLF) to
// dst and checks it as AppendMailCommand does. smtputf8 tells whether the
// transaction's MAIL command carried SMTPUTF8; it allows a UTF-8 path and
// writes a "utf-8" ORCPT as utf-8-addr-unitext (RFC 6533 3).
func AppendRcptCommand(dst []byte, to Path, p RcptParams, smtputf8 bool) ([]byte, error) {
	if err := checkPath(to, kindForward, smtputf8); err != nil {
		return dst, err
	}
	if err := checkRcptParams(&p, smtputf8); err != nil {
		return dst, err
	}
	dst = append(dst, "RCPT TO:"...)
	dst = to.AppendTo(dst)
	return p.appendTo(dst, smtputf8), nil
}

// checkPath checks that Path.AppendTo writes a path the parser accepts.
func checkPath(p Path, kind pathKind, utf8ok bool) *Error {
	ap := addrParser{kind: kind, utf8: utf8ok, maxLocal: -1, maxDomain: -1, maxPath: -1}
	if p.IsZero() {
		if kind == kindForward {
			return ap.syntax("null recipient path")
		}
		return nil
	}
	if p.Domain == "" {
		// RFC 5321 4.1.1.3: only <Postmaster> goes without a domain.
		if kind == kindForward && p.IsPostmaster() {
			return nil
		}
		return ap.syntax("missing @domain")
	}
	// Any local part is written as a Dot-string or a Quoted-string
	// (RFC 5321 4.1.2), except for characters that neither can carry.
	for i := 0; i < len(p.Local); {
		c := p.Local[i]
		switch {
		case c >= 32 && c <= 126:
			i++
		case c >= utf8.RuneSelf:
			n, err := ap.checkUTF8(p.Local, i)
			if err != nil {
				return err
			}
			i += n
		default:
			return ap.syntax("invalid character in local part")
		}
	}
	return ap.checkDomain(p.Domain)
}

// checkKeyword checks esmtp-keyword (RFC 5321 4.1.2).
func checkKeyword(kw string) bool {
	if kw == "" || !isLetDig(kw[0]) {
		return false
	}
	for i := 1; i < len(kw); i++ {
		if c := kw[i]; !isLetDig(c) && c != '-' {
			return false
		}
	}
	return true
}

// checkValue checks esmtp-value (RFC 5321 4.1.2; RFC 6531 3.3 adds
// UTF8-non-ascii under SMTPUTF8).
func checkValue(val string, utf8ok bool) bool {
	for i := 0; i < len(val); i++ {
		c := val[i]
		if c >= utf8.RuneSelf {
			if !utf8ok || !utf8.ValidString(val) {
				return false
			}
			continue
		}
		if c < 33 || c == '=' || c > 126 {
			return false
		}
	}
	return val != ""
}

// checkExtra checks that each Extra parameter is one esmtp-param whose
// keyword is neither a known one (known must use their field) nor repeated.
func checkExtra(extra []Param, known func(string) bool, utf8ok bool) *Error {
	for i, p := range extra {
		if !checkKeyword(p.Keyword) {
			return paramError("Invalid parameter keyword")
		}
		if p.Value != "" && !checkValue(p.Value, utf8ok) {
			return paramError("Invalid value for parameter " + p.Keyword)
		}
		if known(p.Keyword) {
			return paramError("Parameter " + p.Keyword + " must not be given in Extra")
		}
		for _, q := range extra[:i] {
			if strings.EqualFold(p.Keyword, q.Keyword) {
				return paramError("Duplicate parameter " + p.Keyword)
			}
		}
	}
	return nil
}

// isMailKeyword reports whether kw is a MAIL parameter with a MailParams
// field.
func isMailKeyword(kw string) bool {
	for _, k := range [...]string{"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH", "REQUIRETLS"} {
		if strings.EqualFold(kw, k) {
			return true
		}
	}
	return false
}

// isRcptKeyword reports whether kw is a RCPT parameter with a RcptParams
// field.
func isRcptKeyword(kw string) bool {
	return strings.EqualFold(kw, "NOTIFY") || strings.EqualFold(kw, "ORCPT")
}

func checkMailParams(p *MailParams) *Error {
	if p.Body > BodyBinaryMIME {
		return paramError("Invalid BODY value")
	}
	if p.Ret > RetHdrs {
		return paramError("Invalid RET value")
	}
	// RFC 3461 4.4: at most 100 characters once xtext-encoded.
	if xtextLen(p.EnvID) > MaxEnvIDLength {
		return paramError("ENVID too long")
	}
	if hasControl(p.EnvID) {
		return paramError("Invalid ENVID value")
	}
	if hasControl(p.Auth) {
		return paramError("Invalid AUTH value")
	}
	return checkExtra(p.Extra, isMailKeyword, p.SMTPUTF8)
}

func checkRcptParams(p *RcptParams, smtputf8 bool) *Error {
	if n := p.Notify; n&^(NotifyNever|NotifySuccess|NotifyFailure|NotifyDelay) != 0 ||
		(n&NotifyNever != 0 && n != NotifyNever) {
		// RFC 3461 4.1: NEVER stands alone.
		return paramError("Invalid NOTIFY value")
	}
	if o := p.ORcpt; o != nil {
		// addr-type is an atom (RFC 3461 4.2) and, inside an
		// esmtp-value, has no "=" (RFC 5321 4.1.2).
		if !isAtom(o.AddrType) || strings.IndexByte(o.AddrType, '=') >= 0 || o.Addr == "" || hasControl(o.Addr) {
			return paramError("Invalid ORCPT value")
		}
		n := len(o.AddrType) + 1
		if strings.EqualFold(o.AddrType, "utf-8") {
			n += utf8AddrXtextLen(o.Addr, smtputf8)
		} else {
			n += xtextLen(o.Addr)
		}
		// RFC 3461 4.2: at most 500 characters.
		if n > MaxORcptLength {
			return paramError("ORCPT too long")
		}
	}
	return checkExtra(p.Extra, isRcptKeyword, smtputf8)
}

// xtextLen returns the length of the xtext encoding of s.
func xtextLen(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isXchar(s[i]) {
			n++
		} else {
			n += 3
		}
	}
	return n
}
