package mta

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Printable returns s with every character that would act on the
// terminal showing it, instead of being shown, escaped as Go writes it
// (\x1b, \u009b, \u202e): C0 and C1 controls and DEL (an ESC starts the
// sequences that set a window title or clear the screen), format
// characters (the bidirectional overrides that make a line read otherwise
// than it is), separators other than the space, and bytes that are not
// UTF-8. Printable Unicode (an SMTPUTF8 address) is kept, as Postfix logs
// it. For the mail log and -list: the text comes from senders, recipients
// and remote servers (RFC 5321 4.2 allows only printable text in replies;
// a hostile server sends what it likes).
func Printable(s string) string {
	i := 0
	for i < len(s) && s[i] >= ' ' && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+16)
	b = append(b, s[:i]...)
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = fmt.Appendf(b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b = append(b, s[i:i+n]...)
		case r < 0x80:
			b = fmt.Appendf(b, `\x%02x`, r)
		case r <= 0xffff:
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = fmt.Appendf(b, `\U%08x`, r)
		}
		i += n
	}
	return string(b)
}

// jsonPrintable escapes in JSON text the characters Printable escapes and
// encoding/json leaves raw (DEL, C1 controls, format characters...), as
// \u escapes: the same JSON values, which a terminal shows harmlessly.
func jsonPrintable(js []byte) []byte {
	i := 0
	for i < len(js) && js[i] < 0x7f {
		i++
	}
	if i == len(js) {
		return js
	}
	out := make([]byte, 0, len(js)+16)
	out = append(out, js[:i]...)
	for i < len(js) {
		r, n := utf8.DecodeRune(js[i:])
		if r < 0x7f || r == ' ' || (r != utf8.RuneError && unicode.IsPrint(r)) {
			out = append(out, js[i:i+n]...)
		} else if r1, r2 := utf16.EncodeRune(r); r1 != unicode.ReplacementChar {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += n
	}
	return out
}
