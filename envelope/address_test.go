package envelope

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpkit/smtp/reply"
)

func TestAddressString(t *testing.T) {
	tests := []struct {
		addr Address
		want string
	}{
		{Address{"a", "example.com"}, "a@example.com"},
		{Address{"a.b", "x"}, "a.b@x"},
		{Address{"!#$%&'*+-/=?^_`{|}~", "x"}, "!#$%&'*+-/=?^_`{|}~@x"},
		{Address{"john doe", "x"}, `"john doe"@x`},
		{Address{`a"b\c`, "x"}, `"a\"b\\c"@x`},
		{Address{".a", "x"}, `".a"@x`},
		{Address{"a.", "x"}, `"a."@x`},
		{Address{"a..b", "x"}, `"a..b"@x`},
		{Address{"a@b", "x"}, `"a@b"@x`},
		{Address{"", "x"}, `""@x`},
		{Address{"jürgen", "bücher.de"}, "jürgen@bücher.de"},
		{Address{"Postmaster", ""}, "Postmaster"},
		{Address{"a", "[192.0.2.1]"}, "a@[192.0.2.1]"},
		{Address{}, ""},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.addr.String())
		assert.Equal(t, "<"+tc.want+">", Path{Address: tc.addr}.String(), "%+v", tc.addr)
		assert.Equal(t, "pre"+tc.want, string(tc.addr.AppendTo([]byte("pre"))))
	}
	assert.Equal(t, "<>", Path{Null: true}.String())
	assert.Equal(t, "<>", Path{Null: true, Address: Address{"a", "b"}}.String())
	assert.Equal(t, "<>", Path{}.String())
	assert.True(t, Path{}.IsZero())
	assert.False(t, addr("a", "b").IsZero())
}

func TestParsePath(t *testing.T) {
	utf8 := ParseOptions{SMTPUTF8: true}
	tests := []struct {
		in   string
		opts ParseOptions
		want Path
		err  *wantErr
	}{
		{in: "<a@b>", want: addr("a", "b")},
		{in: "<>", want: Path{Null: true}},
		{in: "<postmaster>", want: addr("postmaster", "")},
		{in: "<@x,@y:a@b>", want: addr("a", "b")},
		{in: `<"a b"@c>`, want: addr("a b", "c")},
		{in: "<ü@ü.de>", opts: utf8, want: addr("ü", "ü.de")},
		{in: "<ü@ü.de>", err: errNonASCII},
		{in: "a@b", err: errRecipient},
		{in: "<a@b", err: errRecipient},
		{in: "<a@b> ", err: errRecipient},
		{in: "<", err: errRecipient},
		{in: "", err: errRecipient},
		{in: "<" + strings.Repeat("a", 20) + "@b>", opts: ParseOptions{MaxPathLength: 20}, err: errRecipient},
	}
	for _, tc := range tests {
		p, err := ParsePath(tc.in, tc.opts)
		if tc.err != nil {
			checkErr(t, err, tc.err)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, p, tc.in)
	}
}

func TestParseAddress(t *testing.T) {
	a, err := ParseAddress("user@example.com", ParseOptions{})
	require.NoError(t, err)
	assert.Equal(t, Address{"user", "example.com"}, a)

	a, err = ParseAddress(`"x y"@[IPv6:::1]`, ParseOptions{})
	require.NoError(t, err)
	assert.Equal(t, Address{"x y", "[IPv6:::1]"}, a)

	a, err = ParseAddress("δοκιμή@παράδειγμα.δοκιμή", ParseOptions{SMTPUTF8: true})
	require.NoError(t, err)
	assert.Equal(t, Address{"δοκιμή", "παράδειγμα.δοκιμή"}, a)

	for _, in := range []string{"", "user", "<user@example.com>", "user@", "@example.com", "a b@c", "user@exa mple.com"} {
		_, err := ParseAddress(in, ParseOptions{})
		checkErr(t, err, errRecipient)
	}
	_, err = ParseAddress("ü@x", ParseOptions{})
	checkErr(t, err, errNonASCII)
	_, err = ParseAddress(strings.Repeat("a", 65)+"@x", ParseOptions{})
	checkErr(t, err, errRecipient)
	_, err = ParseAddress("a@"+domainOfLen(300), ParseOptions{})
	checkErr(t, err, errRecipient)
	_, err = ParseAddress("a@"+domainOfLen(300), ParseOptions{MaxDomainLength: -1})
	assert.NoError(t, err)
}

func TestAddressIDNA(t *testing.T) {
	tests := []struct {
		addr    Address
		ascii   string
		unicode string
	}{
		{Address{"a", "bücher.de"}, "a@xn--bcher-kva.de", "a@bücher.de"},
		{Address{"a", "bücher.Example"}, "a@xn--bcher-kva.Example", "a@bücher.Example"}, // ASCII labels keep their case
		{Address{"a", "xn--bcher-kva.de"}, "a@xn--bcher-kva.de", "a@bücher.de"},
		{Address{"a", "XN--BCHER-KVA.DE"}, "a@XN--BCHER-KVA.DE", "a@bücher.DE"},
		{Address{"jürgen", "例子.广告"}, "jürgen@xn--fsqu00a.xn--4rr70v", "jürgen@例子.广告"},
		{Address{"a", "example.com"}, "a@example.com", "a@example.com"},
		{Address{"a", "[IPv6:::1]"}, "a@[IPv6:::1]", "a@[IPv6:::1]"},
		{Address{"Postmaster", ""}, "Postmaster", "Postmaster"},
	}
	for _, tc := range tests {
		a, err := tc.addr.ASCII()
		require.NoError(t, err, "%+v", tc.addr)
		assert.Equal(t, tc.ascii, a.String())
		u, err := tc.addr.Unicode()
		require.NoError(t, err, "%+v", tc.addr)
		assert.Equal(t, tc.unicode, u.String())
	}

	// Conversions of invalid names fail and leave the address unchanged.
	bad := Address{"a", "x\u2488y.com"}
	got, err := bad.ASCII()
	assert.Error(t, err)
	assert.Equal(t, bad, got)
	bad = Address{"a", "x\u0080y.com"}
	got, err = bad.ASCII()
	assert.Error(t, err)
	assert.Equal(t, bad, got)
	bad = Address{"a", "x.\u00ad.com"} // maps to an empty label
	got, err = bad.ASCII()
	assert.Error(t, err)
	assert.Equal(t, bad, got)
	bad = Address{"a", "xn--zz--.com"}
	got, err = bad.Unicode()
	assert.Error(t, err)
	assert.Equal(t, bad, got)
	bad = Address{"a", "BÜCHER.Example"} // not a U-label: not mapped either
	got, err = bad.ASCII()
	assert.Error(t, err)
	assert.Equal(t, bad, got)
}

func TestAddressPredicates(t *testing.T) {
	assert.True(t, Address{"a", "b"}.IsASCII())
	assert.False(t, Address{"ü", "b"}.IsASCII())
	assert.False(t, Address{"a", "ü"}.IsASCII())
	assert.True(t, Address{"PostMaster", ""}.IsPostmaster())
	assert.True(t, Address{"postmaster", "example.com"}.IsPostmaster())
	assert.False(t, Address{"postmaster2", ""}.IsPostmaster())
	assert.True(t, Address{"a", "[1.2.3.4]"}.IsAddressLiteral())
	assert.False(t, Address{"a", "b"}.IsAddressLiteral())
}

func TestErrorReply(t *testing.T) {
	_, _, err := ParseRcptCommand("TO:<a b@c>", allOpts)
	var e *Error
	require.ErrorAs(t, err, &e)
	r := e.Reply()
	assert.EqualValues(t, 501, r.Code)
	assert.Equal(t, "5.1.3", r.Enhanced.String())
	require.Len(t, r.Lines, 1)
	assert.Equal(t, e.Reason, r.Lines[0])
	assert.Contains(t, e.Reason, "recipient address")
	assert.Equal(t, "envelope: "+e.Reason, e.Error())
}

// TestOnlyULabels: a non-ASCII label is accepted only when it is a valid
// U-label, one that IDNA2008 converts to an A-label and back to itself
// (RFC 5890 2.3.2.1, RFC 5891 5; RFC 6531 3.3: sub-domain =/ U-label), and
// an "xn--" label only when it is a valid A-label; the rest get 553 with
// X.1.3 (X.1.7 for a sender). Issue 14.13: user@ｅｘａｍｐｌｅ.com
// (full-width letters) parsed, and ASCII() mapped it to example.com, so a
// backend's rules and the delivery domain disagreed.
func TestOnlyULabels(t *testing.T) {
	errIDNSender := &wantErr{553, reply.EnhBadSenderSyntax()}
	errIDNRecipient := &wantErr{553, reply.EnhBadDestSyntax()}
	utf8Opts := ParseOptions{Allowed: AllParams, SMTPUTF8: true}
	for _, tc := range []struct {
		name, domain string
		ok           bool
	}{
		{"U-labels", "bücher.de", true},
		{"CJK", "例子.广告", true},
		{"Greek", "παράδειγμα.δοκιμή", true},
		{"A-label", "xn--bcher-kva.de", true},
		{"A-label in capitals", "XN--BCHER-KVA.DE", true},
		{"ASCII in capitals", "EXAMPLE.com", true},
		{"full-width letters", "ｅｘａｍｐｌｅ.com", false},
		{"full-width label among others", "mail.ｅｘａｍｐｌｅ.com", false},
		{"capital U-label", "BÜCHER.de", false},
		{"capital in U-label", "Bücher.de", false},
		{"decomposed (not NFC)", "bu\u0308cher.de", false},
		{"ideographic full stop", "例子\u3002广告", false},
		{"maps to two labels", "x\u2488y.com", false},
		{"maps to nothing", "x.\u00ad.com", false},
		{"disallowed", "x\u0080y.com", false},
		{"bidi rule", "\u05d0a\u05d1.com", false},
		{"U-label with hyphens", "bü-c-h.de", true},
		{"U-label ending in a hyphen", "bü-.de", false},
		{"U-label starting with a hyphen", "-bü.de", false},
		{"U-label with hyphens third and fourth", "ab--ü.de", false},
		{"invalid A-label", "xn--zz--.com", false},
		{"A-label of ASCII", "xn--abc-.com", false},
		{"A-label of a capital", "xn--bcher-2pa.de", false},               // "bÜcher"
		{"A-label of full-width letters", "xn--mi7chab1aes7c.com", false}, // "ｅｘａｍｐｌｅ"
		{"A-label not NFC", "xn--bucher-xyd.de", false},                   // "bu\u0308cher"
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := ParseMailCommand("FROM:<a@"+tc.domain+"> SMTPUTF8", utf8Opts)
			q, _, rerr := ParseRcptCommand("TO:<a@"+tc.domain+">", utf8Opts)
			_, aerr := Address{Local: "a", Domain: tc.domain}.ASCII()
			if tc.ok {
				require.NoError(t, err)
				require.NoError(t, rerr)
				require.NoError(t, aerr)
				assert.Equal(t, tc.domain, p.Domain)
				assert.Equal(t, tc.domain, q.Domain)
				return
			}
			checkErr(t, err, errIDNSender)
			checkErr(t, rerr, errIDNRecipient)
			require.Error(t, aerr, "ASCII() must not map what the parser refuses")
			var e *Error
			require.ErrorAs(t, aerr, &e)
			assert.Equal(t, reply.CodeMailboxNameNotAllowed, e.Code)
			// The client refuses to send it too.
			_, ferr := AppendRcptCommand(nil, Path{Address: Address{Local: "a", Domain: tc.domain}}, RcptParams{}, true)
			checkErr(t, ferr, errIDNRecipient)
		})
	}
}
