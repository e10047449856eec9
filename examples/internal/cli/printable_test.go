package cli

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestAppendPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"bob@example.org", "bob@example.org"},
		{"jörg@bücher.example", "jörg@bücher.example"},
		{"e\u0301t\u00e9@x.test", "e\u0301t\u00e9@x.test"}, // a mark on a letter is kept
		{"<\u0338a@x.test>", `<\u0338a@x.test>`},           // a mark over the delimiter is not
		{"\u0301a", `\u0301a`},
		{"a\u034fdmin\u3164@x.test", `a\u034fdmin\u3164@x.test`},
		{"b\ufe0fob", `b\ufe0fob`},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"a\u009b2J\u202eb", `a\u009b2J\u202eb`},
		{"a\xffb", `a\xffb`},
		{"a\u2028b", `a\u2028b`},
	} {
		if got := string(AppendPrintable(nil, tc.in)); got != tc.want {
			t.Errorf("AppendPrintable(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := string(PrintableTail([]byte("x="+tc.in), 2)); got != "x="+tc.want {
			t.Errorf("PrintableTail(%q) = %q, want %q", tc.in, got, "x="+tc.want)
		}
	}
}

// FuzzAppendPrintable: whatever the client sends, what is printed is
// UTF-8 without a character that acts on a terminal or shows as nothing,
// and plain printable ASCII is printed as it is.
func FuzzAppendPrintable(f *testing.F) {
	for _, s := range []string{"bob@example.org", "<\u0338a@x.test>", "a\u009b2J\u202eb", "a\xffb", "e\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := string(AppendPrintable(nil, s))
		if !utf8.ValidString(out) {
			t.Fatalf("AppendPrintable(%q) = %q: not UTF-8", s, out)
		}
		prev := rune(-1)
		for _, r := range out {
			if !unicode.IsPrint(r) || invisible(r) || unicode.In(r, unicode.Mn, unicode.Me) && !onLetter(prev) {
				t.Fatalf("AppendPrintable(%q) = %q: %U printed raw", s, out, r)
			}
			prev = r
		}
		plain := true
		for i := 0; i < len(s); i++ {
			plain = plain && s[i] >= ' ' && s[i] < 0x7f
		}
		if plain && out != s {
			t.Fatalf("AppendPrintable(%q) = %q: plain ASCII changed", s, out)
		}
	})
}
