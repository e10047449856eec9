package envelope

import (
	"strings"
	"testing"
)

// TestCharClass: the lookup table gives, for every byte, the classes the
// grammar of RFC 5321 4.1.2 (and RFC 5322 3.2.3 atext) spells out, and
// hasPrefixFold agrees with strings.EqualFold on the prefixes it is used
// with.
func TestCharClass(t *testing.T) {
	for i := 0; i < 256; i++ {
		c := byte(i)
		letDig := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		atext := letDig || c < 0x80 && strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", rune(c))
		qtext := c == 32 || c == 33 || (35 <= c && c <= 91) || (93 <= c && c <= 126)
		if isAtext(c) != atext || isQtext(c) != qtext || isLetDig(c) != letDig ||
			(charClass[c]&classLdh != 0) != (letDig || c == '-') {
			t.Errorf("byte %#x: atext %v qtext %v letdig %v ldh %v", c, isAtext(c), isQtext(c), isLetDig(c), charClass[c]&classLdh != 0)
		}
	}
	for _, prefix := range []string{"FROM:", "TO:", "XN--"} {
		for _, s := range []string{"", "f", "from:", "FrOm:<a@b>", "to:", "To:x", "xn--abc", "XN-", "fro:", "FROM;", "\u212aROM:", "ＦROM:", "xN--"} {
			want := len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
			if got := hasPrefixFold(s, prefix); got != want {
				t.Errorf("hasPrefixFold(%q, %q) = %v, want %v", s, prefix, got, want)
			}
		}
	}
}
