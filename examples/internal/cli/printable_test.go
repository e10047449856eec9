package cli

import "testing"

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
