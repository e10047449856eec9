package smtptest

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMatchLine checks the wildcard matcher, which compares what a peer
// under test sent, against a regular expression built from the pattern.
func FuzzMatchLine(f *testing.F) {
	for _, s := range [][2]string{
		{"220 {*} ESMTP", "220 mx ESMTP"},
		{"a{*}b{*}c", "a b\nb c"},
		{"{*}{*}", ""},
		{"x{*}y", "xy\r"},
		{"{*}", "\r\n"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, got string) {
		// regexp works on UTF-8: compare on valid text only.
		if !utf8.ValidString(pattern) || !utf8.ValidString(got) {
			return
		}
		parts := strings.Split(pattern, "{*}")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`^` + strings.Join(parts, `[^\r\n]*`) + `$`)
		if want := re.MatchString(got); matchLine(pattern, got) != want {
			t.Errorf("matchLine(%q, %q) = %v, want %v", pattern, got, !want, want)
		}
	})
}
