package mta

import (
	"strings"
	"testing"
)

// TestAppendComment: a login name in the Received field cannot end the
// comment, the field or the header.
func TestAppendComment(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                              "alice",
		"a)\r\nBcc: x (y\\z":                 `a\)??Bcc:?x?\(y\\z`,
		"jürgen":                             "j?rgen",
		strings.Repeat("a", maxTraceName+10): strings.Repeat("a", maxTraceName),
	} {
		if got := string(appendComment(nil, in)); got != want {
			t.Errorf("appendComment(%q) = %q, want %q", in, got, want)
		}
	}
}
