package envelope

import (
	"testing"
	"unicode/utf8"
)

// The byte-by-byte definition isDotString's fast form stands for (the
// code before it), kept as a reference; the other fast paths are checked
// against the slow functions they skip (pathEndQuoted, parseMailboxSlow,
// checkLabelSlow, checkDotStringSlow).

func refIsDotString(s string) bool {
	if s == "" {
		return false
	}
	prevDot := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
		case isAtext(c) || c >= utf8.RuneSelf:
			prevDot = false
		default:
			return false
		}
	}
	return !prevDot
}

// FuzzFastPaths: each fast path of the address parser agrees with the
// byte-by-byte rule it shortcuts: pathEnd and isDotString give the same
// answers, and a local part or label the fast path accepts is one the
// full check accepts (under every option).
func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{"<a@b.example>", `<"a>b"@c>`, "<a\"@b>", "a.b", ".a", "a..b", "a.", "xn--abc", "Ab-9", "-ab", "a-", "\xc3\xa9", "",
		"a@b", "a.b@c.d", "a@b.", "a@.b", "a@b..c", "a@-b", "a@b-", "a@xn--bcher-kva.de", "a@b@c", "@b", "a@", "x@[192.0.2.1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 0 && s[0] == '<' {
			if got, want := pathEnd(s), pathEndQuoted(s); got != want {
				t.Fatalf("pathEnd(%q) = %d, want %d", s, got, want)
			}
		}
		if got, want := isDotString(s), refIsDotString(s); got != want {
			t.Fatalf("isDotString(%q) = %v, want %v", s, got, want)
		}
		for _, utf8ok := range []bool{false, true} {
			p := addrParser{kind: kindForward, utf8: utf8ok, maxLocal: 64, maxDomain: 255, maxPath: 256}
			if a, ok := p.fastMailbox(s); ok {
				b, err := p.parseMailboxSlow(s)
				if err != nil || a != b {
					t.Fatalf("fast path: %q is %+v, full parser: %+v, %v", s, a, b, err)
				}
			}
			if s != "" && isLDHLabel(s) {
				if err := p.checkLabelSlow(s); err != nil {
					t.Fatalf("fast path accepts label %q, full check: %v", s, err)
				}
			}
			if isDotString(s) && isASCII(s) {
				if err := p.checkDotStringSlow(s); err != nil {
					t.Fatalf("fast path accepts local part %q, full check: %v", s, err)
				}
			}
		}
	})
}
