package envelope

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789ABCDEF"

// isXchar reports whether c stands for itself in xtext (RFC 3461 4: "!"
// to "~" except "+" and "=").
func isXchar(c byte) bool {
	return c >= '!' && c <= '~' && c != '+' && c != '='
}

// EncodeXtext encodes s as xtext (RFC 3461 4), the encoding of the ENVID,
// ORCPT and AUTH parameter values: every byte outside "!".."~", and "+"
// and "=", becomes "+" and two upper-case hex digits.
func EncodeXtext(s string) string {
	for i := 0; i < len(s); i++ {
		if !isXchar(s[i]) {
			return string(AppendXtext(make([]byte, 0, len(s)+8), s))
		}
	}
	return s
}

// AppendXtext appends the xtext encoding of s (see EncodeXtext) to dst.
func AppendXtext(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isXchar(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '+', hexDigits[c>>4], hexDigits[c&0xF])
		}
	}
	return dst
}

// XtextError reports malformed xtext.
type XtextError struct {
	// Offset is the byte offset of the problem in the input.
	Offset int
}

// Error implements the error interface.
func (e *XtextError) Error() string {
	return "envelope: malformed xtext at offset " + strconv.Itoa(e.Offset)
}

// DecodeXtext decodes xtext (RFC 3461 4). The RFC asks for upper-case hex
// digits after "+"; lower case is accepted too, being unambiguous. Bytes
// outside "!".."~" and a bare "=" are errors (*XtextError).
func DecodeXtext(s string) (string, error) {
	plus := strings.IndexByte(s, '+')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '+' && !isXchar(c) {
			return "", &XtextError{Offset: i}
		}
	}
	if plus < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:plus]...)
	for i := plus; i < len(s); i++ {
		c := s[i]
		if c != '+' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", &XtextError{Offset: i}
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", &XtextError{Offset: i}
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

// hasControl reports whether s holds an ASCII control character (NUL to
// US, or DEL). xtext encodes any octet ("+0D+0A" is CR LF), but what the
// DSN parameters stand for is text: RFC 3461 4.2 and 4.4 require the
// decoded ORCPT address and ENVID to be printable US-ASCII (they are
// copied into DSN fields), and the AUTH value is a mailbox (RFC 4954 5).
// A control character there could only inject lines downstream.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// isQchar reports whether c stands for itself in utf-8-addr-xtext
// (RFC 6533 3: QCHAR, printable ASCII except "+", "=" and "\").
func isQchar(c byte) bool {
	return isXchar(c) && c != '\\'
}

// appendUTF8AddrXtext appends s encoded as utf-8-addr-xtext or, when
// unitext is set, utf-8-addr-unitext (RFC 6533 3). QCHARs stand for
// themselves, and so do non-ASCII characters in unitext; every other
// character becomes "\x{HEX}" (EmbeddedUnicodeChar). The xtext form is pure
// ASCII. Invalid UTF-8 bytes are encoded as U+FFFD.
func appendUTF8AddrXtext(dst []byte, s string, unitext bool) []byte {
	for i, r := range s {
		switch {
		case r < utf8.RuneSelf && isQchar(byte(r)):
			dst = append(dst, byte(r))
		case unitext && isRawUnitext(s[i:], r):
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, '\\', 'x', '{')
			dst = appendHexRune(dst, r)
			dst = append(dst, '}')
		}
	}
	return dst
}

// utf8AddrXtextLen returns len(appendUTF8AddrXtext(nil, s, unitext)).
func utf8AddrXtextLen(s string, unitext bool) int {
	n := 0
	for i, r := range s {
		switch {
		case r < utf8.RuneSelf && isQchar(byte(r)):
			n++
		case unitext && isRawUnitext(s[i:], r):
			n += utf8.RuneLen(r)
		default:
			n += 4 + hexLen(r) // \x{HEX}
		}
	}
	return n
}

// isRawUnitext reports whether the rune r, decoded from the start of s,
// is written as is in utf-8-addr-unitext: a non-ASCII character that is
// really in s (not U+FFFD standing for an invalid byte).
func isRawUnitext(s string, r rune) bool {
	return r >= utf8.RuneSelf && (r != utf8.RuneError || strings.HasPrefix(s, "\uFFFD"))
}

// hexLen returns the number of digits appendHexRune writes for r.
func hexLen(r rune) int {
	n := 2
	for v := uint32(r) >> 8; v != 0; v >>= 4 {
		n++
	}
	return n
}

func appendHexRune(dst []byte, r rune) []byte {
	var buf [8]byte
	n := len(buf)
	for v := uint32(r); v != 0 || n > len(buf)-2; v >>= 4 {
		n--
		buf[n] = hexDigits[v&0xF]
	}
	return append(dst, buf[n:]...)
}

// decodeUTF8AddrXtext decodes utf-8-addr-xtext or, when utf8ok,
// utf-8-addr-unitext (RFC 6533 3): QCHARs, "\x{HEX}" escapes and, for
// unitext, raw UTF-8. It reports false on malformed input.
func decodeUTF8AddrXtext(s string, utf8ok bool) (string, bool) {
	if strings.IndexByte(s, '\\') < 0 {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= utf8.RuneSelf {
				if !utf8ok {
					return "", false
				}
				continue
			}
			if !isQchar(c) {
				return "", false
			}
		}
		if utf8ok && !utf8.ValidString(s) {
			return "", false
		}
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			// EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}".
			if !strings.HasPrefix(s[i:], `\x{`) {
				return "", false
			}
			j := i + 3
			var v rune
			for j < len(s) && s[j] != '}' {
				d, ok := unhex(s[j])
				if !ok || j-(i+3) >= 6 {
					return "", false
				}
				v = v<<4 | rune(d)
				j++
			}
			// HEXPOINT: 2 to 6 hex digits, no leading zero beyond two.
			digits := j - (i + 3)
			if j >= len(s) || digits < 2 || (digits > 2 && s[i+3] == '0') || !utf8.ValidRune(v) {
				return "", false
			}
			b = utf8.AppendRune(b, v)
			i = j + 1
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if !utf8ok || (r == utf8.RuneError && n == 1) {
				return "", false
			}
			b = append(b, s[i:i+n]...)
			i += n
		case isQchar(c):
			b = append(b, c)
			i++
		default:
			return "", false
		}
	}
	return string(b), true
}
