package cli

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// AppendPrintable appends s to dst with every character that would act
// on the terminal showing it, instead of being shown, escaped as Go
// writes it (\x1b, \u009b, \u202e): C0 and C1 controls and DEL (an ESC or
// a C1 CSI starts the sequences that set a window title, clear the
// screen or write the clipboard), format characters (the bidirectional
// overrides that make a line read otherwise than it is), separators
// other than the space, and bytes that are not UTF-8; also characters
// shown as nothing (the default-ignorable fillers such as U+3164 and
// U+034F, variation selectors), which make one address look like
// another, and a combining mark not on a letter (one drawn over a '<').
// Other printable Unicode (an SMTPUTF8 address) is kept, as Postfix logs
// it.
func AppendPrintable(dst []byte, s string) []byte {
	i := 0
	for i < len(s) && s[i] >= ' ' && s[i] < 0x7f {
		i++
	}
	dst = append(dst, s[:i]...)
	prev := rune(-1) // the rune before s[i], -1 at the start
	if i > 0 {
		prev = rune(s[i-1])
	}
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = fmt.Appendf(dst, `\x%02x`, s[i])
		case unicode.IsPrint(r) && !invisible(r) && !(unicode.In(r, unicode.Mn, unicode.Me) && !onLetter(prev)):
			dst = append(dst, s[i:i+n]...)
		case r < 0x80:
			dst = fmt.Appendf(dst, `\x%02x`, r)
		case r <= 0xffff:
			dst = fmt.Appendf(dst, `\u%04x`, r)
		default:
			dst = fmt.Appendf(dst, `\U%08x`, r)
		}
		i += n
		prev = r
	}
	return dst
}

// invisible reports whether r is printable but shown as nothing.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// onLetter reports whether a combining mark after prev is drawn on a
// letter (or on another mark, or a digit) rather than on punctuation, a
// space or nothing.
func onLetter(prev rune) bool {
	return prev >= 0 && unicode.In(prev, unicode.L, unicode.M, unicode.N)
}

// PrintableTail escapes b[from:] as AppendPrintable does, in place when
// it is plain ASCII (nothing to do).
func PrintableTail(b []byte, from int) []byte {
	for _, c := range b[from:] {
		if c < ' ' || c >= 0x7f {
			return AppendPrintable(b[:from], string(b[from:]))
		}
	}
	return b
}
