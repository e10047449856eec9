package mta

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/smtpkit/smtp/examples/internal/cli"
)

// Printable returns s with every character that would act on the
// terminal showing it, instead of being shown, escaped as
// cli.AppendPrintable does (\x1b, \u009b, \u202e). For the mail log
// and -list: the text comes from senders, recipients and remote servers
// (RFC 5321 4.2 allows only printable text in replies; a hostile server
// sends what it likes).
func Printable(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return string(cli.AppendPrintable(make([]byte, 0, len(s)+16), s))
		}
	}
	return s
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
