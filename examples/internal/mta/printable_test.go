package mta

import (
	"encoding/json"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain ascii <a@x>", "plain ascii <a@x>"},
		{"zoë@bücher.example", "zoë@bücher.example"},
		{"\x1b]0;t\x07\x1b[2J", `\x1b]0;t\x07\x1b[2J`},
		{"a\tb\rc\nd\x7f", `a\x09b\x0dc\x0ad\x7f`},
		{"\u009b31m \u202eexe.pdf \u2028 \u00a0", `\u009b31m \u202eexe.pdf \u2028 \u00a0`},
		{"bad \xff\xc2 utf-8", `bad \xff\xc2 utf-8`},
		{"tag \U000E0041", `tag \U000e0041`},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJSONPrintable(t *testing.T) {
	for _, v := range []string{"a\x7fb", "\u009b2J\u202egnp", "tag \U000E0041", "zoë \u2028"} {
		js, _ := json.Marshal(v)
		out := jsonPrintable(js)
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != v {
			t.Errorf("%q: %s decodes to %q, %v", v, out, back, err)
		}
		if Printable(string(out)) != string(out) {
			t.Errorf("%q: %s still holds controls", v, out)
		}
	}
}
