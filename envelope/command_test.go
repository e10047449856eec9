package envelope

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpkit/smtp/reply"
)

// wantErr is the reply an invalid input must produce.
type wantErr struct {
	code reply.Code
	enh  reply.EnhancedCode
}

var (
	errCmdSyntax = &wantErr{501, reply.EnhancedCode{Class: 5, Subject: 5, Detail: 2}}
	errSender    = &wantErr{501, reply.EnhancedCode{Class: 5, Subject: 1, Detail: 7}}
	errRecipient = &wantErr{501, reply.EnhancedCode{Class: 5, Subject: 1, Detail: 3}}
	errNonASCII  = &wantErr{553, reply.EnhancedCode{Class: 5, Subject: 6, Detail: 7}}
	// A label that is not a valid U-label (or A-label): 553 (issue 14.13).
	errIDNSender  = &wantErr{553, reply.EnhancedCode{Class: 5, Subject: 1, Detail: 7}}
	errParam      = &wantErr{501, reply.EnhancedCode{Class: 5, Subject: 5, Detail: 4}}
	errNotAllowed = &wantErr{555, reply.EnhancedCode{Class: 5, Subject: 5, Detail: 4}}
)

func checkErr(t *testing.T, err error, want *wantErr) {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "error %T is not *Error", err)
	assert.Equal(t, want.code, e.Code, "code (reason %q)", e.Reason)
	assert.Equal(t, want.enh, e.Enhanced, "enhanced code (reason %q)", e.Reason)
	assert.NotEmpty(t, e.Reason)
	r := e.Reply()
	assert.Equal(t, want.code, r.Code)
	assert.Equal(t, want.enh, r.Enhanced)
	assert.True(t, strings.HasPrefix(e.Error(), "envelope: "))
}

func addr(local, domain string) Path { return Path{Address: Address{Local: local, Domain: domain}} }

var allOpts = ParseOptions{Allowed: AllParams}

func TestParseMailCommand(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	label63 := strings.Repeat("d", 63)
	tests := []struct {
		name   string
		arg    string
		opts   *ParseOptions // nil = allOpts
		path   Path
		params MailParams
		err    *wantErr
	}{
		// RFC 5321 4.1.1.2 basics.
		{name: "simple", arg: "FROM:<a@example.com>", path: addr("a", "example.com")},
		{name: "lower-case verb arg", arg: "from:<a@example.com>", path: addr("a", "example.com")},
		{name: "mixed case", arg: "FrOm:<a@example.com>", path: addr("a", "example.com")},
		{name: "space after colon tolerated", arg: "FROM: <a@example.com>", path: addr("a", "example.com")},
		{name: "leading space", arg: " FROM:<a@example.com>", path: addr("a", "example.com")},
		{name: "null path", arg: "FROM:<>", path: Path{Null: true}},
		{name: "null path with params", arg: "FROM:<> SIZE=10 RET=HDRS", path: Path{Null: true},
			params: MailParams{Size: 10, Ret: RetHdrs}},
		{name: "case kept", arg: "FROM:<John.Doe@Example.COM>", path: addr("John.Doe", "Example.COM")},
		{name: "all atext", arg: "FROM:<!#$%&'*+-/=?^_`{|}~@x.y>", path: addr("!#$%&'*+-/=?^_`{|}~", "x.y")},
		{name: "dot-string", arg: "FROM:<a.b.c@x.y>", path: addr("a.b.c", "x.y")},
		{name: "single label domain", arg: "FROM:<a@localhost>", path: addr("a", "localhost")},
		{name: "digits in domain", arg: "FROM:<a@1.2.3.4>", path: addr("a", "1.2.3.4")},
		{name: "hyphens in domain", arg: "FROM:<a@r3---sn-abc.example>", path: addr("a", "r3---sn-abc.example")},
		{name: "63-octet label", arg: "FROM:<a@" + label63 + ".com>", path: addr("a", label63+".com")},
		{name: "A-label kept", arg: "FROM:<a@xn--bcher-kva.de>", path: addr("a", "xn--bcher-kva.de")},

		// RFC 5321 4.1.1.3 / appendix C: source routes are dropped.
		{name: "source route", arg: "FROM:<@r1.example,@r2.example:a@b.example>", path: addr("a", "b.example")},
		{name: "source route one hop", arg: "FROM:<@r1:a@b>", path: addr("a", "b")},
		{name: "source route no colon", arg: "FROM:<@r1.example>", err: errSender},
		{name: "source route bad hop", arg: "FROM:<@r1,r2:a@b>", err: errSender},
		{name: "source route empty hop", arg: "FROM:<@r1,:a@b>", err: errSender},
		{name: "source route bad domain", arg: "FROM:<@-r1:a@b>", err: errSender},
		{name: "source route literal", arg: "FROM:<@[1.2.3.4]:a@b>", err: errSender},

		// Quoted-string (RFC 5321 4.1.2).
		{name: "quoted", arg: `FROM:<"john doe"@x.y>`, path: addr("john doe", "x.y")},
		{name: "quoted pair", arg: `FROM:<"a\"b\\c"@x.y>`, path: addr(`a"b\c`, "x.y")},
		{name: "quoted pair plain", arg: `FROM:<"\a"@x.y>`, path: addr("a", "x.y")},
		{name: "quoted empty", arg: `FROM:<""@x.y>`, path: addr("", "x.y")},
		{name: "quoted gt", arg: `FROM:<"a>b"@x.y>`, path: addr("a>b", "x.y")},
		{name: "quoted at", arg: `FROM:<"a@b"@x.y>`, path: addr("a@b", "x.y")},
		{name: "quoted dots", arg: `FROM:<"a..b."@x.y>`, path: addr("a..b.", "x.y")},
		{name: "quoted unterminated", arg: `FROM:<"ab@x.y>`, err: errSender},
		{name: "quoted then junk", arg: `FROM:<"a"b@x.y>`, err: errSender},
		{name: "quoted no domain", arg: `FROM:<"a">`, err: errSender},
		{name: "quoted tab", arg: "FROM:<\"a\tb\"@x.y>", err: errSender},
		{name: "quoted pair control", arg: "FROM:<\"a\\\x01\"@x.y>", err: errSender},
		{name: "quoted pair at end", arg: "FROM:<\"a\\\">", err: errSender},
		{name: "quoted DEL", arg: "FROM:<\"a\x7f\"@x.y>", err: errSender},

		// Dot-string errors.
		{name: "leading dot", arg: "FROM:<.a@x.y>", err: errSender},
		{name: "trailing dot", arg: "FROM:<a.@x.y>", err: errSender},
		{name: "double dot", arg: "FROM:<a..b@x.y>", err: errSender},
		{name: "space in local", arg: "FROM:<a b@x.y>", err: errSender},
		{name: "comma in local", arg: "FROM:<a,b@x.y>", err: errSender},
		{name: "empty local", arg: "FROM:<@x.y>", err: errSender},
		{name: "no at", arg: "FROM:<a>", err: errSender},
		{name: "postmaster is not a sender", arg: "FROM:<Postmaster>", err: errSender},
		{name: "two ats", arg: "FROM:<a@b@c>", err: errSender},
		{name: "NUL", arg: "FROM:<a\x00b@c>", err: errSender},

		// Domain (RFC 5321 4.1.2).
		{name: "empty domain", arg: "FROM:<a@>", err: errSender},
		{name: "domain trailing dot", arg: "FROM:<a@x.y.>", err: errSender},
		{name: "domain leading dot", arg: "FROM:<a@.x.y>", err: errSender},
		{name: "domain empty label", arg: "FROM:<a@x..y>", err: errSender},
		{name: "label leading hyphen", arg: "FROM:<a@-x.y>", err: errSender},
		{name: "label trailing hyphen", arg: "FROM:<a@x-.y>", err: errSender},
		{name: "underscore", arg: "FROM:<a@x_y.z>", err: errSender},
		{name: "64-octet label", arg: "FROM:<a@" + label63 + "d.com>", err: errSender},

		// Address literals (RFC 5321 4.1.3).
		{name: "IPv4 literal", arg: "FROM:<a@[192.0.2.1]>", path: addr("a", "[192.0.2.1]")},
		{name: "IPv4 leading zero", arg: "FROM:<a@[010.0.0.1]>", path: addr("a", "[010.0.0.1]")},
		{name: "IPv6 literal", arg: "FROM:<a@[IPv6:2001:db8::1]>", path: addr("a", "[IPv6:2001:db8::1]")},
		{name: "IPv6 tag case", arg: "FROM:<a@[ipv6:::1]>", path: addr("a", "[ipv6:::1]")},
		{name: "IPv6 full", arg: "FROM:<a@[IPv6:2001:db8:0:0:0:0:0:1]>", path: addr("a", "[IPv6:2001:db8:0:0:0:0:0:1]")},
		{name: "IPv6v4", arg: "FROM:<a@[IPv6:::ffff:192.0.2.1]>", path: addr("a", "[IPv6:::ffff:192.0.2.1]")},
		{name: "IPv4 three parts", arg: "FROM:<a@[1.2.3]>", err: errSender},
		{name: "IPv4 five parts", arg: "FROM:<a@[1.2.3.4.5]>", err: errSender},
		{name: "IPv4 256", arg: "FROM:<a@[1.2.3.256]>", err: errSender},
		{name: "IPv4 four digits", arg: "FROM:<a@[1.2.3.0001]>", err: errSender},
		{name: "IPv4 empty part", arg: "FROM:<a@[1..3.4]>", err: errSender},
		{name: "IPv4 sign", arg: "FROM:<a@[+1.2.3.4]>", err: errSender},
		{name: "IPv6 bad", arg: "FROM:<a@[IPv6:2001:db8:::1]>", err: errSender},
		{name: "IPv6 zone", arg: "FROM:<a@[IPv6:fe80::1%eth0]>", err: errSender},
		{name: "IPv6 with IPv4 only", arg: "FROM:<a@[IPv6:1.2.3.4]>", err: errSender},
		{name: "IPv6 without tag", arg: "FROM:<a@[2001:db8::1]>", err: errSender},
		{name: "general literal", arg: "FROM:<a@[x400:abc]>", err: errSender},
		{name: "empty literal", arg: "FROM:<a@[]>", err: errSender},
		{name: "literal junk after", arg: "FROM:<a@[1.2.3.4]x>", err: errSender},
		{name: "literal unterminated", arg: "FROM:<a@[1.2.3.4>", err: errSender},
		{name: "literal hostname", arg: "FROM:<a@[example.com]>", err: errSender},

		// Command syntax.
		{name: "empty", arg: "", err: errCmdSyntax},
		{name: "no colon", arg: "FROM <a@b>", err: errCmdSyntax},
		{name: "TO instead of FROM", arg: "TO:<a@b>", err: errCmdSyntax},
		{name: "no brackets", arg: "FROM:a@b", err: errCmdSyntax},
		{name: "nothing after colon", arg: "FROM:", err: errCmdSyntax},
		{name: "unterminated path", arg: "FROM:<a@b", err: errSender},
		{name: "junk after path", arg: "FROM:<a@b>x", err: errSender},
		{name: "space inside brackets", arg: "FROM:< a@b>", err: errSender},

		// Length limits (RFC 5321 4.5.3.1.1-3).
		{name: "local 64", arg: "FROM:<" + long(64) + "@x>", path: addr(long(64), "x")},
		{name: "local 65", arg: "FROM:<" + long(65) + "@x>", err: errSender},
		{name: "local 65 unlimited", arg: "FROM:<" + long(65) + "@x>",
			opts: &ParseOptions{MaxLocalPartLength: -1}, path: addr(long(65), "x")},
		{name: "local 10 custom", arg: "FROM:<" + long(11) + "@x>",
			opts: &ParseOptions{MaxLocalPartLength: 10}, err: errSender},
		{name: "quoted local counts quotes", arg: `FROM:<"` + long(63) + `"@x>`, err: errSender},
		{name: "domain 255", arg: "FROM:<a@" + domainOfLen(255) + ">",
			opts: &ParseOptions{MaxPathLength: -1}, path: addr("a", domainOfLen(255))},
		{name: "domain 256", arg: "FROM:<a@" + domainOfLen(256) + ">",
			opts: &ParseOptions{MaxPathLength: -1}, err: errSender},
		{name: "path 256", arg: "FROM:<" + long(64) + "@" + domainOfLen(256-64-3) + ">",
			path: addr(long(64), domainOfLen(256-64-3))},
		{name: "path 257", arg: "FROM:<" + long(64) + "@" + domainOfLen(257-64-3) + ">", err: errSender},
		{name: "path limit counts route", arg: "FROM:<@" + domainOfLen(200) + ":" + long(10) + "@" + domainOfLen(50) + ">", err: errSender},

		// SMTPUTF8 (RFC 6531 3.3, 3.4).
		{name: "utf8 without SMTPUTF8", arg: "FROM:<jürgen@example.com>", err: errNonASCII},
		{name: "utf8 domain without SMTPUTF8", arg: "FROM:<a@bücher.de>", err: errNonASCII},
		{name: "utf8 quoted without SMTPUTF8", arg: "FROM:<\"jü rgen\"@x>", err: errNonASCII},
		{name: "utf8 with SMTPUTF8", arg: "FROM:<jürgen@bücher.de> SMTPUTF8",
			path: addr("jürgen", "bücher.de"), params: MailParams{SMTPUTF8: true}},
		{name: "utf8 quoted with SMTPUTF8", arg: "FROM:<\"jü rgen\"@x> SMTPUTF8",
			path: addr("jü rgen", "x"), params: MailParams{SMTPUTF8: true}},
		{name: "utf8 with lower-case smtputf8", arg: "FROM:<δοκιμή@παράδειγμα.δοκιμή> smtputf8",
			path: addr("δοκιμή", "παράδειγμα.δοκιμή"), params: MailParams{SMTPUTF8: true}},
		{name: "utf8 by option", arg: "FROM:<用户@例子.广告>", opts: &ParseOptions{SMTPUTF8: true},
			path: addr("用户", "例子.广告")},
		{name: "utf8 SMTPUTF8 not advertised", arg: "FROM:<jürgen@x> SMTPUTF8",
			opts: &ParseOptions{Allowed: ParamSize}, err: errNonASCII},
		{name: "ascii SMTPUTF8 not advertised", arg: "FROM:<a@x> SMTPUTF8",
			opts: &ParseOptions{Allowed: ParamSize}, err: errNotAllowed},
		{name: "invalid utf8", arg: "FROM:<a\xffb@x> SMTPUTF8", err: errSender},
		{name: "invalid utf8 quoted", arg: "FROM:<\"a\xc3\"@x> SMTPUTF8", err: errSender},
		{name: "invalid utf8 domain", arg: "FROM:<a@b\xff.c> SMTPUTF8", err: errSender},
		{name: "ideographic full stop", arg: "FROM:<a@例子\u3002广告> SMTPUTF8", err: errIDNSender},
		{name: "IDN mapping to dot", arg: "FROM:<a@x\u2488y.com> SMTPUTF8", err: errIDNSender},
		// Found by FuzzParseMail: U+00AD maps to nothing, leaving an
		// empty label (it used to panic).
		{name: "IDN label mapping to nothing", arg: "FROM:<\u00d9@\u00ad> SMTPUTF8", err: errIDNSender},
		{name: "IDN label mapping to nothing, inner", arg: "FROM:<a@x.\u00ad.com> SMTPUTF8", err: errIDNSender},
		{name: "IDN disallowed", arg: "FROM:<a@x\u0080y.com> SMTPUTF8", err: errIDNSender},
		{name: "IDN bidi violation", arg: "FROM:<a@\u05d0a\u05d1.com> SMTPUTF8", err: errIDNSender},
		// IDNA2008 U-labels are lower case: a capital is not mapped but
		// refused (more in TestOnlyULabels).
		{name: "IDN upper case refused", arg: "FROM:<a@BÜCHER.de> SMTPUTF8", err: errIDNSender},

		// Parameters (RFC 5321 4.1.2 esmtp-param).
		{name: "all known params",
			arg:  "FROM:<a@b> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=QQ314159+2B1 AUTH=e+2Bf@example.com REQUIRETLS",
			path: addr("a", "b"),
			params: MailParams{Size: 12345, Body: Body8BitMIME, SMTPUTF8: true, Ret: RetFull,
				EnvID: "QQ314159+1", Auth: "e+f@example.com", RequireTLS: true}},
		{name: "lower-case keywords and values", arg: "FROM:<a@b> size=1 body=binarymime ret=hdrs",
			path: addr("a", "b"), params: MailParams{Size: 1, Body: BodyBinaryMIME, Ret: RetHdrs}},
		{name: "BODY=7BIT", arg: "FROM:<a@b> BODY=7BIT", path: addr("a", "b"), params: MailParams{Body: Body7Bit}},
		{name: "AUTH=<>", arg: "FROM:<a@b> AUTH=<>", path: addr("a", "b"), params: MailParams{Auth: "<>"}},
		{name: "extra params kept", arg: "FROM:<a@b> X-FOO=bar HOLDFOR=10 MT-PRIORITY=3 XYZ",
			path: addr("a", "b"), params: MailParams{Extra: []Param{
				{Keyword: "X-FOO", Value: "bar"}, {Keyword: "HOLDFOR", Value: "10"},
				{Keyword: "MT-PRIORITY", Value: "3"}, {Keyword: "XYZ"}}}},
		{name: "many spaces", arg: "FROM:<a@b>   SIZE=10    BODY=7BIT   ", path: addr("a", "b"),
			params: MailParams{Size: 10, Body: Body7Bit}},
		{name: "trailing space", arg: "FROM:<a@b> ", path: addr("a", "b")},
		{name: "SIZE=0", arg: "FROM:<a@b> SIZE=0", path: addr("a", "b")},
		{name: "SIZE 20 digits saturates", arg: "FROM:<a@b> SIZE=99999999999999999999", path: addr("a", "b"),
			params: MailParams{Size: math.MaxInt64}},
		{name: "SIZE max int64", arg: "FROM:<a@b> SIZE=9223372036854775807", path: addr("a", "b"),
			params: MailParams{Size: math.MaxInt64}},
		{name: "SIZE leading zeros", arg: "FROM:<a@b> SIZE=000123", path: addr("a", "b"),
			params: MailParams{Size: 123}},
		{name: "SIZE 21 digits", arg: "FROM:<a@b> SIZE=100000000000000000000", err: errParam},
		{name: "SIZE letters", arg: "FROM:<a@b> SIZE=12k", err: errParam},
		{name: "SIZE negative", arg: "FROM:<a@b> SIZE=-1", err: errParam},
		{name: "SIZE no value", arg: "FROM:<a@b> SIZE", err: errParam},
		{name: "SIZE empty value", arg: "FROM:<a@b> SIZE=", err: errParam},
		{name: "SIZE twice", arg: "FROM:<a@b> SIZE=1 size=2", err: errParam},
		{name: "BODY bad", arg: "FROM:<a@b> BODY=9BIT", err: errParam},
		{name: "BODY twice", arg: "FROM:<a@b> BODY=7BIT BODY=8BITMIME", err: errParam},
		{name: "SMTPUTF8 with value", arg: "FROM:<a@b> SMTPUTF8=yes", err: errParam},
		// Python's smtplib repeats SMTPUTF8 and BODY=8BITMIME when the
		// caller passed them too; Postfix accepts that, and so do we.
		{name: "SMTPUTF8 twice", arg: "FROM:<a@b> SMTPUTF8 SMTPUTF8", path: addr("a", "b"),
			params: MailParams{SMTPUTF8: true}},
		{name: "BODY same value twice", arg: "FROM:<a@b> BODY=8BITMIME body=8bitmime", path: addr("a", "b"),
			params: MailParams{Body: Body8BitMIME}},
		{name: "RET bad", arg: "FROM:<a@b> RET=ALL", err: errParam},
		{name: "RET twice", arg: "FROM:<a@b> RET=FULL RET=HDRS", err: errParam},
		{name: "ENVID bad xtext", arg: "FROM:<a@b> ENVID=a+2", err: errParam},
		{name: "ENVID bad hex", arg: "FROM:<a@b> ENVID=a+GG", err: errParam},
		{name: "ENVID 100", arg: "FROM:<a@b> ENVID=" + long(100), path: addr("a", "b"),
			params: MailParams{EnvID: long(100)}},
		{name: "ENVID 101", arg: "FROM:<a@b> ENVID=" + long(101), err: errParam},
		{name: "ENVID no value", arg: "FROM:<a@b> ENVID", err: errParam},
		{name: "ENVID twice", arg: "FROM:<a@b> ENVID=a ENVID=b", err: errParam},
		{name: "AUTH bad xtext", arg: "FROM:<a@b> AUTH=a+zz", err: errParam},
		{name: "AUTH twice", arg: "FROM:<a@b> AUTH=<> AUTH=<>", err: errParam},
		{name: "REQUIRETLS with value", arg: "FROM:<a@b> REQUIRETLS=1", err: errParam},
		{name: "REQUIRETLS twice", arg: "FROM:<a@b> REQUIRETLS REQUIRETLS", err: errParam},
		{name: "keyword empty", arg: "FROM:<a@b> =x", err: errParam},
		{name: "keyword leading hyphen", arg: "FROM:<a@b> -X=1", err: errParam},
		{name: "keyword underscore", arg: "FROM:<a@b> X_Y=1", err: errParam},
		{name: "value with equals", arg: "FROM:<a@b> X=a=b", err: errParam},
		{name: "value control", arg: "FROM:<a@b> X=a\x01", err: errParam},
		{name: "value tab", arg: "FROM:<a@b> X=a\tb", err: errParam},
		{name: "value utf8 without SMTPUTF8", arg: "FROM:<a@b> X=é", err: errParam},
		{name: "value utf8 with SMTPUTF8", arg: "FROM:<a@b> SMTPUTF8 X=é", path: addr("a", "b"),
			params: MailParams{SMTPUTF8: true, Extra: []Param{{Keyword: "X", Value: "é"}}}},
		{name: "value invalid utf8 with SMTPUTF8", arg: "FROM:<a@b> SMTPUTF8 X=\xff", err: errParam},
		{name: "extra twice", arg: "FROM:<a@b> X=1 x=2", err: errParam},

		// ParseOptions.Allowed (RFC 5321 4.1.1.11: 555).
		{name: "no params allowed", arg: "FROM:<a@b> SIZE=1", opts: &ParseOptions{}, err: errNotAllowed},
		{name: "no params allowed, no params", arg: "FROM:<a@b>", opts: &ParseOptions{}, path: addr("a", "b")},
		{name: "unknown not allowed", arg: "FROM:<a@b> X-FOO=1", opts: &ParseOptions{Allowed: ParamSize}, err: errNotAllowed},
		{name: "BODY without 8BITMIME", arg: "FROM:<a@b> BODY=8BITMIME", opts: &ParseOptions{Allowed: ParamBinaryMIME}, err: errNotAllowed},
		{name: "BINARYMIME not allowed", arg: "FROM:<a@b> BODY=BINARYMIME", opts: &ParseOptions{Allowed: Param8BitMIME}, err: errNotAllowed},
		{name: "7BIT with BINARYMIME only", arg: "FROM:<a@b> BODY=7BIT", opts: &ParseOptions{Allowed: ParamBinaryMIME},
			path: addr("a", "b"), params: MailParams{Body: Body7Bit}},
		{name: "BODY nothing", arg: "FROM:<a@b> BODY=7BIT", opts: &ParseOptions{Allowed: ParamSize}, err: errNotAllowed},
		{name: "RET without DSN", arg: "FROM:<a@b> RET=FULL", opts: &ParseOptions{Allowed: ParamSize}, err: errNotAllowed},
		{name: "ENVID without DSN", arg: "FROM:<a@b> ENVID=x", opts: &ParseOptions{Allowed: ParamSize}, err: errNotAllowed},
		{name: "AUTH not allowed", arg: "FROM:<a@b> AUTH=<>", opts: &ParseOptions{Allowed: ParamSize}, err: errNotAllowed},
		{name: "REQUIRETLS not allowed", arg: "FROM:<a@b> REQUIRETLS", opts: &ParseOptions{Allowed: ParamSize}, err: errNotAllowed},
		{name: "NOTIFY is not a MAIL parameter", arg: "FROM:<a@b> NOTIFY=NEVER", opts: &ParseOptions{Allowed: ParamDSN}, err: errNotAllowed},
		{name: "long unknown keyword", arg: "FROM:<a@b> " + strings.Repeat("K", 300), opts: &ParseOptions{}, err: errNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := allOpts
			if tc.opts != nil {
				opts = *tc.opts
			}
			path, params, err := ParseMailCommand(tc.arg, opts)
			if tc.err != nil {
				checkErr(t, err, tc.err)
				assert.Equal(t, Path{}, path)
				assert.Equal(t, MailParams{}, params)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.path, path)
			assert.Equal(t, tc.params, params)

			// Round trip: what a client formats parses back the same.
			if !path.IsASCII() && !params.SMTPUTF8 {
				// RFC 6531 3.4: a client must send SMTPUTF8 with it.
				b, err := AppendMailCommand([]byte("x"), path, params)
				checkErr(t, err, errNonASCII)
				assert.Equal(t, "x", string(b))
				opts.Allowed |= ParamSMTPUTF8
				params.SMTPUTF8 = true
			}
			b, err := AppendMailCommand(nil, path, params)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(b), "MAIL "))
			opts.SMTPUTF8 = params.SMTPUTF8 || opts.SMTPUTF8
			path2, params2, err := ParseMailCommand(string(b[len("MAIL "):]), opts)
			require.NoError(t, err, "reparse %q", b)
			assert.Equal(t, path, path2)
			assert.Equal(t, params, params2)
		})
	}
}

// domainOfLen returns a valid domain of exactly n octets.
func domainOfLen(n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		rest := n - b.Len()
		switch {
		case rest > 64:
			b.WriteString(strings.Repeat("x", 62))
		case rest == 64:
			// Avoid a trailing 1-octet remainder after the dot.
			b.WriteString(strings.Repeat("x", 61))
		default:
			b.WriteString(strings.Repeat("x", rest))
		}
	}
	return b.String()
}

func TestDomainOfLen(t *testing.T) {
	for _, n := range []int{1, 62, 63, 64, 65, 127, 189, 190, 255, 256} {
		d := domainOfLen(n)
		assert.Len(t, d, n)
		p := newAddrParser(kindAny, false, &ParseOptions{MaxDomainLength: -1})
		assert.Nil(t, p.checkDomain(d), "%d: %q", n, d)
	}
}

func TestParseRcptCommand(t *testing.T) {
	tests := []struct {
		name   string
		arg    string
		opts   *ParseOptions
		path   Path
		params RcptParams
		err    *wantErr
	}{
		{name: "simple", arg: "TO:<b@example.org>", path: addr("b", "example.org")},
		{name: "lower case", arg: "to:<b@example.org>", path: addr("b", "example.org")},
		{name: "space after colon", arg: "TO:  <b@example.org>", path: addr("b", "example.org")},
		// RFC 5321 4.1.1.3 and 4.5.1: <Postmaster>, any case.
		{name: "postmaster", arg: "TO:<Postmaster>", path: addr("Postmaster", "")},
		{name: "postmaster lower", arg: "TO:<postmaster>", path: addr("postmaster", "")},
		{name: "postmaster upper", arg: "TO:<POSTMASTER>", path: addr("POSTMASTER", "")},
		{name: "postmaster at domain", arg: "TO:<postmaster@example.org>", path: addr("postmaster", "example.org")},
		{name: "postmaster with params", arg: "TO:<Postmaster> NOTIFY=NEVER", path: addr("Postmaster", ""),
			params: RcptParams{Notify: NotifyNever}},
		{name: "other bare local", arg: "TO:<webmaster>", err: errRecipient},
		{name: "null path", arg: "TO:<>", err: errRecipient},
		{name: "source route", arg: "TO:<@hosta.int,@jkl.org:userc@d.bar.org>", path: addr("userc", "d.bar.org")},
		{name: "quoted", arg: `TO:<"x y"@example.org>`, path: addr("x y", "example.org")},
		{name: "literal", arg: "TO:<b@[IPv6:::1]>", path: addr("b", "[IPv6:::1]")},
		{name: "FROM instead of TO", arg: "FROM:<b@example.org>", err: errCmdSyntax},
		{name: "empty", arg: "", err: errCmdSyntax},
		{name: "no brackets", arg: "TO:b@example.org", err: errCmdSyntax},
		{name: "bad address", arg: "TO:<b@@example.org>", err: errRecipient},
		{name: "junk after path", arg: "TO:<b@example.org>junk", err: errRecipient},
		{name: "utf8 without SMTPUTF8", arg: "TO:<ü@example.org>", err: errNonASCII},
		{name: "utf8 with SMTPUTF8", arg: "TO:<ü@bücher.example>", opts: &ParseOptions{SMTPUTF8: true, Allowed: AllParams},
			path: addr("ü", "bücher.example")},
		{name: "SMTPUTF8 param is not for RCPT", arg: "TO:<ü@x> SMTPUTF8", err: errNonASCII},

		// RFC 3461 4.1 NOTIFY.
		{name: "notify list", arg: "TO:<b@x> NOTIFY=SUCCESS,FAILURE", path: addr("b", "x"),
			params: RcptParams{Notify: NotifySuccess | NotifyFailure}},
		{name: "notify all", arg: "TO:<b@x> notify=delay,failure,success", path: addr("b", "x"),
			params: RcptParams{Notify: NotifySuccess | NotifyFailure | NotifyDelay}},
		{name: "notify never", arg: "TO:<b@x> NOTIFY=NEVER", path: addr("b", "x"), params: RcptParams{Notify: NotifyNever}},
		{name: "notify never with others", arg: "TO:<b@x> NOTIFY=NEVER,SUCCESS", err: errParam},
		{name: "notify others then never", arg: "TO:<b@x> NOTIFY=DELAY,NEVER", err: errParam},
		{name: "notify repeated item", arg: "TO:<b@x> NOTIFY=SUCCESS,SUCCESS", err: errParam},
		{name: "notify empty item", arg: "TO:<b@x> NOTIFY=SUCCESS,", err: errParam},
		{name: "notify unknown", arg: "TO:<b@x> NOTIFY=ALWAYS", err: errParam},
		{name: "notify no value", arg: "TO:<b@x> NOTIFY", err: errParam},
		{name: "notify twice", arg: "TO:<b@x> NOTIFY=NEVER NOTIFY=NEVER", err: errParam},

		// RFC 3461 4.2 ORCPT, RFC 6533 3.
		{name: "orcpt rfc822", arg: "TO:<b@x> ORCPT=rfc822;b+2Bc@x", path: addr("b", "x"),
			params: RcptParams{ORcpt: &ORcpt{AddrType: "rfc822", Addr: "b+c@x"}}},
		{name: "orcpt RFC822 case kept", arg: "TO:<b@x> ORCPT=RFC822;b@x", path: addr("b", "x"),
			params: RcptParams{ORcpt: &ORcpt{AddrType: "RFC822", Addr: "b@x"}}},
		{name: "orcpt other type", arg: "TO:<b@x> ORCPT=x400;a+3Db", path: addr("b", "x"),
			params: RcptParams{ORcpt: &ORcpt{AddrType: "x400", Addr: "a=b"}}},
		{name: "orcpt utf-8 escaped", arg: `TO:<b@x> ORCPT=utf-8;j\x{FC}rgen@x`, path: addr("b", "x"),
			params: RcptParams{ORcpt: &ORcpt{AddrType: "utf-8", Addr: "jürgen@x"}}},
		{name: "orcpt utf-8 escaped plus", arg: `TO:<b@x> ORCPT=utf-8;a\x{2B}b@x`, path: addr("b", "x"),
			params: RcptParams{ORcpt: &ORcpt{AddrType: "utf-8", Addr: "a+b@x"}}},
		{name: "orcpt utf-8 raw with SMTPUTF8", arg: "TO:<b@x> ORCPT=utf-8;jürgen@x",
			opts: &ParseOptions{SMTPUTF8: true, Allowed: AllParams}, path: addr("b", "x"),
			params: RcptParams{ORcpt: &ORcpt{AddrType: "utf-8", Addr: "jürgen@x"}}},
		{name: "orcpt utf-8 raw without SMTPUTF8", arg: "TO:<b@x> ORCPT=utf-8;jürgen@x", err: errParam},
		{name: "orcpt utf-8 bad escape", arg: `TO:<b@x> ORCPT=utf-8;a\x{}b`, err: errParam},
		{name: "orcpt utf-8 unterminated escape", arg: `TO:<b@x> ORCPT=utf-8;a\x{41`, err: errParam},
		{name: "orcpt utf-8 surrogate", arg: `TO:<b@x> ORCPT=utf-8;a\x{D800}`, err: errParam},
		{name: "orcpt utf-8 too big", arg: `TO:<b@x> ORCPT=utf-8;a\x{1100000}`, err: errParam},
		{name: "orcpt utf-8 backslash", arg: `TO:<b@x> ORCPT=utf-8;a\b`, err: errParam},
		{name: "orcpt utf-8 plus", arg: `TO:<b@x> ORCPT=utf-8;a+b`, err: errParam},
		{name: "orcpt no type", arg: "TO:<b@x> ORCPT=;b@x", err: errParam},
		{name: "orcpt no address", arg: "TO:<b@x> ORCPT=rfc822;", err: errParam},
		{name: "orcpt no semicolon", arg: "TO:<b@x> ORCPT=b@x", err: errParam},
		{name: "orcpt bad type", arg: "TO:<b@x> ORCPT=rfc(822);b@x", err: errParam},
		{name: "orcpt bad xtext", arg: "TO:<b@x> ORCPT=rfc822;b+4", err: errParam},
		{name: "orcpt 500", arg: "TO:<b@x> ORCPT=rfc822;" + strings.Repeat("a", 493), path: addr("b", "x"),
			params: RcptParams{ORcpt: &ORcpt{AddrType: "rfc822", Addr: strings.Repeat("a", 493)}}},
		{name: "orcpt 501", arg: "TO:<b@x> ORCPT=rfc822;" + strings.Repeat("a", 494), err: errParam},
		{name: "orcpt twice", arg: "TO:<b@x> ORCPT=rfc822;a ORCPT=rfc822;b", err: errParam},
		{name: "both", arg: "TO:<b@x> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@x", path: addr("b", "x"),
			params: RcptParams{Notify: NotifyFailure | NotifyDelay, ORcpt: &ORcpt{AddrType: "rfc822", Addr: "b@x"}}},

		{name: "extra", arg: "TO:<b@x> SIZE=1 X-Y", path: addr("b", "x"),
			params: RcptParams{Extra: []Param{{Keyword: "SIZE", Value: "1"}, {Keyword: "X-Y"}}}},
		{name: "extra twice", arg: "TO:<b@x> X=1 X=1", err: errParam},
		{name: "extra not allowed", arg: "TO:<b@x> X=1", opts: &ParseOptions{Allowed: ParamDSN}, err: errNotAllowed},
		{name: "dsn not allowed", arg: "TO:<b@x> NOTIFY=NEVER", opts: &ParseOptions{}, err: errNotAllowed},
		{name: "orcpt not allowed", arg: "TO:<b@x> ORCPT=rfc822;b@x", opts: &ParseOptions{Allowed: ParamOther}, err: errNotAllowed},
		{name: "bad keyword", arg: "TO:<b@x> *=1", err: errParam},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := allOpts
			if tc.opts != nil {
				opts = *tc.opts
			}
			path, params, err := ParseRcptCommand(tc.arg, opts)
			if tc.err != nil {
				checkErr(t, err, tc.err)
				assert.Equal(t, Path{}, path)
				assert.Equal(t, RcptParams{}, params)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.path, path)
			assert.Equal(t, tc.params, params)

			b, err := AppendRcptCommand(nil, path, params, opts.SMTPUTF8)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(b), "RCPT "))
			path2, params2, err := ParseRcptCommand(string(b[len("RCPT "):]), opts)
			require.NoError(t, err, "reparse %q", b)
			assert.Equal(t, path, path2)
			assert.Equal(t, params, params2)
		})
	}
}
