package envelope

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestXtext(t *testing.T) {
	tests := []struct{ plain, enc string }{
		{"", ""},
		{"abc", "abc"},
		{"a+b", "a+2Bb"},
		{"a=b", "a+3Db"},
		{"a b", "a+20b"},
		{"<>", "<>"},
		{"\x00\x7f\xff", "+00+7F+FF"},
		{"ü", "+C3+BC"},
		{"!~\\", "!~\\"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.enc, EncodeXtext(tc.plain))
		assert.Equal(t, "x"+tc.enc, string(AppendXtext([]byte("x"), tc.plain)))
		dec, err := DecodeXtext(tc.enc)
		require.NoError(t, err)
		assert.Equal(t, tc.plain, dec)
	}
	// Lower-case hex is accepted on input.
	dec, err := DecodeXtext("a+2bb")
	require.NoError(t, err)
	assert.Equal(t, "a+b", dec)

	for _, tc := range []struct {
		in  string
		off int
	}{
		{"a+", 1}, {"a+2", 1}, {"+G0", 0}, {"+0G", 0}, {"a=b", 1}, {"a b", 1}, {"\x7f", 0}, {"é", 0}, {"ab\x00", 2},
	} {
		_, err := DecodeXtext(tc.in)
		var xe *XtextError
		require.True(t, errors.As(err, &xe), "%q", tc.in)
		assert.Equal(t, tc.off, xe.Offset, "%q", tc.in)
		assert.Contains(t, xe.Error(), "xtext")
	}
}

func TestUTF8AddrXtext(t *testing.T) {
	tests := []struct{ plain, xtext, unitext string }{
		{"a@b", "a@b", "a@b"},
		{"jürgen@x", `j\x{FC}rgen@x`, "jürgen@x"},
		{"a+b=c\\d", `a\x{2B}b\x{3D}c\x{5C}d`, `a\x{2B}b\x{3D}c\x{5C}d`},
		{"a b\x00", `a\x{20}b\x{00}`, `a\x{20}b\x{00}`},
		{"😀", `\x{1F600}`, "😀"},
		{"\uFFFD", `\x{FFFD}`, "\uFFFD"},
		{"a\xffb", `a\x{FFFD}b`, `a\x{FFFD}b`},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.xtext, string(appendUTF8AddrXtext(nil, tc.plain, false)), "%q", tc.plain)
		assert.Equal(t, tc.unitext, string(appendUTF8AddrXtext(nil, tc.plain, true)), "%q", tc.plain)
		want := tc.plain
		if want == "a\xffb" {
			want = "a\uFFFDb"
		}
		got, ok := decodeUTF8AddrXtext(tc.xtext, false)
		assert.True(t, ok, tc.xtext)
		assert.Equal(t, want, got)
		got, ok = decodeUTF8AddrXtext(tc.unitext, true)
		assert.True(t, ok, tc.unitext)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{`\x{}`, `\x{41`, `\x41`, `\y{41}`, `\`, `\x{D800}`, `\x{110000}`, `\x{0000041}`, `\x{1}`, `\x{041}`, "a+b", "a=b", "a b", "ü", "\x01"} {
		_, ok := decodeUTF8AddrXtext(bad, false)
		assert.False(t, ok, "%q", bad)
	}
	_, ok := decodeUTF8AddrXtext("a\xff", true)
	assert.False(t, ok)
	_, ok = decodeUTF8AddrXtext(`ü\x{FF`, true)
	assert.False(t, ok)
}

func TestUTF8AddrXtextLen(t *testing.T) {
	for _, s := range []string{"", "a", "ü", "a+b", "😀\x00", "\xff", "\uFFFD", "\u0100x\U0010FFFF"} {
		for _, unitext := range []bool{false, true} {
			assert.Equal(t, len(appendUTF8AddrXtext(nil, s, unitext)), utf8AddrXtextLen(s, unitext), "%q %v", s, unitext)
		}
	}
	assert.Equal(t, len(AppendXtext(nil, "a+ b\xff")), xtextLen("a+ b\xff"))
}
