package main

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// cli.AppendPrintable keeps every rune unicode.IsPrint accepts, which
// includes nonspacing marks and invisible default-ignorable letters. A
// client's address that starts with U+0338 (COMBINING LONG SOLIDUS
// OVERLAY) prints as "<" with a stroke drawn over it (the mark combines
// with the delimiter before it), and U+034F, U+3164 (HANGUL FILLER) and
// U+FE0F show as nothing or a blank: "a\u034fdmin@x.test" looks like
// "admin@x.test" on the terminal, an address the client did not use.
// A policy call (Postfix logs UTF-8 as it is), but the '<' overlay acts
// on the line's own syntax.
func TestAttackPrintedLineMarksAndInvisibles(t *testing.T) {
	out := printedLine(t, "\u0338a\u034fdmin\u3164@x.test", "b\ufe0fob@y.test")
	if i := strings.Index(out, "<"); i >= 0 {
		if c, _ := utf8.DecodeRuneInString(out[i+1:]); unicode.Is(unicode.Mn, c) {
			t.Errorf("%U printed raw right after '<': it draws over the delimiter: %q", c, out)
		}
	}
	for _, c := range []rune{'\u034f', '\u3164', '\ufe0f'} {
		if strings.ContainsRune(out, c) {
			t.Errorf("invisible %U printed raw: %q", c, out)
		}
	}
}
