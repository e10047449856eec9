package mailstore

import (
	"strings"
	"testing"
)

func TestHTMLText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<p>Hello <b>world</b></p>", " Hello  world  "},
		{"a<script>var x = '<p>';</script>b", "a b"},
		{"a<SCRIPT type=x>x</Script >b", "a b"},
		{"a<style>p{}</style>b<style\n>q{}</style\t>c", "a b c"},
		{"a<scripts>b</scripts>c", "a b c"},
		{"a<script>never closed<p>b", "a never closed b"},
		{"a<script>x</style>b", "a b"},
		{"1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"},
		{"a < b", "a < b"},
		{"a <b", "a <b"},
		{"ÄÖ<B>İ</B>", "ÄÖ İ "},
		{strings.Repeat("<script>", 3) + "x", "   x"},
	} {
		if got := htmlText(tc.in); got != tc.want {
			t.Errorf("htmlText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
