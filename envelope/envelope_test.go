package envelope

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rcpt(local, domain string) Recipient { return Recipient{Path: addr(local, domain)} }

func TestNeedsSMTPUTF8(t *testing.T) {
	tests := []struct {
		name string
		env  Envelope
		want bool
	}{
		{"ascii", Envelope{From: addr("a", "b"), To: []Recipient{rcpt("c", "d")}}, false},
		{"null sender", Envelope{From: Path{Null: true}, To: []Recipient{rcpt("c", "d")}}, false},
		{"utf8 domain converts", Envelope{From: addr("a", "bücher.de"), To: []Recipient{rcpt("c", "例子.广告")}}, false},
		{"utf8 local sender", Envelope{From: addr("jürgen", "b"), To: []Recipient{rcpt("c", "d")}}, true},
		{"utf8 local recipient", Envelope{From: addr("a", "b"), To: []Recipient{rcpt("c", "d"), rcpt("用户", "d")}}, true},
		{"unconvertible domain", Envelope{From: addr("a", "x\u0080y.com")}, true},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.env.NeedsSMTPUTF8(), tc.name)
	}
}

func TestDomains(t *testing.T) {
	env := Envelope{
		From: addr("a", "b"),
		To: []Recipient{
			rcpt("1", "Example.COM"),
			rcpt("2", "bücher.de"),
			rcpt("3", "example.com"),
			rcpt("4", "xn--bcher-kva.DE"),
			rcpt("5", "[192.0.2.1]"),
			rcpt("Postmaster", ""),
			{Path: addr("6", "example.com"), Params: RcptParams{Notify: NotifyNever}},
		},
	}
	groups := env.Domains()
	require.Len(t, groups, 4)
	locals := func(g DomainRecipients) []string {
		var out []string
		for _, r := range g.To {
			out = append(out, r.Local)
		}
		return out
	}
	assert.Equal(t, "example.com", groups[0].Domain)
	assert.Equal(t, []string{"1", "3", "6"}, locals(groups[0]))
	assert.Equal(t, NotifyNever, groups[0].To[2].Params.Notify)
	assert.Equal(t, "xn--bcher-kva.de", groups[1].Domain)
	assert.Equal(t, []string{"2", "4"}, locals(groups[1]))
	assert.Equal(t, "[192.0.2.1]", groups[2].Domain)
	assert.Equal(t, "", groups[3].Domain)
	assert.Equal(t, []string{"Postmaster"}, locals(groups[3]))

	assert.Empty(t, (&Envelope{}).Domains())

	// Many domains (past the linear scan), each twice, interleaved: the
	// groups keep first-seen order and collect both recipients.
	var many Envelope
	const n = 200
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			many.To = append(many.To, rcpt(strconv.Itoa(round), "d"+strconv.Itoa(i)+".example"))
		}
	}
	groups = many.Domains()
	require.Len(t, groups, n)
	for i, g := range groups {
		assert.Equal(t, "d"+strconv.Itoa(i)+".example", g.Domain)
		assert.Equal(t, []string{"0", "1"}, locals(g))
	}
}

func TestParamsString(t *testing.T) {
	m := MailParams{Size: 1000, Body: Body8BitMIME, SMTPUTF8: true, Ret: RetHdrs, EnvID: "id 1",
		Auth: "<>", RequireTLS: true, Extra: []Param{{Keyword: "X-A", Value: "1"}, {Keyword: "Y"}}}
	assert.Equal(t, "SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+201 AUTH=<> REQUIRETLS X-A=1 Y", m.String())
	assert.Equal(t, "", MailParams{}.String())
	assert.Equal(t, "BODY=BINARYMIME", MailParams{Body: BodyBinaryMIME}.String())
	assert.Equal(t, "BODY=7BIT RET=FULL", MailParams{Body: Body7Bit, Ret: RetFull}.String())
	assert.Equal(t, " SIZE=9223372036854775807", string(MailParams{Size: math.MaxInt64}.AppendTo(nil)))

	r := RcptParams{Notify: NotifyDelay | NotifySuccess, ORcpt: &ORcpt{AddrType: "rfc822", Addr: "a+b@c"}}
	assert.Equal(t, "NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@c", r.String())
	r = RcptParams{Notify: NotifyNever, ORcpt: &ORcpt{AddrType: "utf-8", Addr: "jü@c"}, Extra: []Param{{Keyword: "Z"}}}
	assert.Equal(t, `NOTIFY=NEVER ORCPT=utf-8;j\x{FC}@c Z`, r.String())
	assert.Equal(t, "", RcptParams{}.String())

	assert.Equal(t, "", BodyUnspecified.String())
	assert.Equal(t, "", RetUnspecified.String())
	assert.Equal(t, "", Notify(0).String())
	assert.Equal(t, "SUCCESS,FAILURE,DELAY", (NotifySuccess | NotifyFailure | NotifyDelay).String())
}

func TestAppendMailCommand(t *testing.T) {
	b, err := AppendMailCommand([]byte("x"), addr("a", "b"), MailParams{Size: 10, Body: Body8BitMIME})
	require.NoError(t, err)
	assert.Equal(t, "xMAIL FROM:<a@b> SIZE=10 BODY=8BITMIME", string(b))

	b, err = AppendMailCommand(nil, Path{Null: true}, MailParams{})
	require.NoError(t, err)
	assert.Equal(t, "MAIL FROM:<>", string(b))

	b, err = AppendMailCommand(nil, addr("jürgen", "bücher.de"), MailParams{SMTPUTF8: true})
	require.NoError(t, err)
	assert.Equal(t, "MAIL FROM:<jürgen@bücher.de> SMTPUTF8", string(b))

	// No limit is applied on the client side: the server decides.
	long := addr(strings.Repeat("a", 300), domainOfLen(300))
	_, err = AppendMailCommand(nil, long, MailParams{})
	assert.NoError(t, err)

	bad := []struct {
		name string
		from Path
		p    MailParams
		err  *wantErr
	}{
		{"CRLF in local part", addr("a\r\nRSET", "b"), MailParams{}, errSender},
		{"CRLF in domain", addr("a", "b\r\nRSET"), MailParams{}, errSender},
		{"space in domain", addr("a", "b c"), MailParams{}, errSender},
		{"postmaster sender", addr("Postmaster", ""), MailParams{}, errSender},
		{"non-ASCII without SMTPUTF8", addr("ü", "b"), MailParams{}, errNonASCII},
		{"extra keyword with CRLF", addr("a", "b"), MailParams{Extra: []Param{{Keyword: "X\r\nRSET"}}}, errParam},
		{"extra value with space", addr("a", "b"), MailParams{Extra: []Param{{Keyword: "X", Value: "1 Y"}}}, errParam},
		{"extra value with =", addr("a", "b"), MailParams{Extra: []Param{{Keyword: "X", Value: "a=b"}}}, errParam},
		{"extra keyword with =", addr("a", "b"), MailParams{Extra: []Param{{Keyword: "X=1"}}}, errParam},
		{"extra duplicates SIZE", addr("a", "b"), MailParams{Size: 1, Extra: []Param{{Keyword: "size", Value: "2"}}}, errParam},
		{"extra uses a known keyword", addr("a", "b"), MailParams{Extra: []Param{{Keyword: "Body", Value: "x"}}}, errParam},
		{"extra twice", addr("a", "b"), MailParams{Extra: []Param{{Keyword: "X"}, {Keyword: "x"}}}, errParam},
		{"extra empty keyword", addr("a", "b"), MailParams{Extra: []Param{{Value: "1"}}}, errParam},
		{"extra value utf8 without SMTPUTF8", addr("a", "b"), MailParams{Extra: []Param{{Keyword: "X", Value: "é"}}}, errParam},
		{"NUL in quoted local", addr("a\x00b", "c"), MailParams{}, errSender},
		{"DEL in local", addr("a\x7fb", "c"), MailParams{}, errSender},
		{"invalid utf8 local", addr("a\xffb", "c"), MailParams{SMTPUTF8: true}, errSender},
		{"no domain", addr("a", ""), MailParams{}, errSender},
		{"bad literal", addr("a", "[1.2.3]"), MailParams{}, errSender},
		{"bad body", addr("a", "b"), MailParams{Body: BodyType(9)}, errParam},
		{"bad ret", addr("a", "b"), MailParams{Ret: Ret(7)}, errParam},
		{"long ENVID", addr("a", "b"), MailParams{EnvID: string(make([]byte, 40))}, errParam},
	}
	for _, tc := range bad {
		b, err := AppendMailCommand([]byte("keep"), tc.from, tc.p)
		checkErr(t, err, tc.err)
		assert.Equal(t, "keep", string(b), tc.name)
	}
}

func TestAppendRcptCommand(t *testing.T) {
	b, err := AppendRcptCommand(nil, addr("a", "b"), RcptParams{Notify: NotifyNever}, false)
	require.NoError(t, err)
	assert.Equal(t, "RCPT TO:<a@b> NOTIFY=NEVER", string(b))

	b, err = AppendRcptCommand(nil, addr("Postmaster", ""), RcptParams{}, false)
	require.NoError(t, err)
	assert.Equal(t, "RCPT TO:<Postmaster>", string(b))

	o := &ORcpt{AddrType: "utf-8", Addr: "jü@c"}
	b, err = AppendRcptCommand(nil, addr("jü", "c"), RcptParams{ORcpt: o}, true)
	require.NoError(t, err)
	assert.Equal(t, "RCPT TO:<jü@c> ORCPT=utf-8;jü@c", string(b))
	b, err = AppendRcptCommand(nil, addr("j", "c"), RcptParams{ORcpt: o}, false)
	require.NoError(t, err)
	assert.Equal(t, `RCPT TO:<j@c> ORCPT=utf-8;j\x{FC}@c`, string(b))

	bad := []struct {
		name string
		to   Path
		p    RcptParams
		utf8 bool
		err  *wantErr
	}{
		{"null", Path{Null: true}, RcptParams{}, false, errRecipient},
		{"zero", Path{}, RcptParams{}, false, errRecipient},
		{"non-ASCII", addr("ü", "b"), RcptParams{}, false, errNonASCII},
		{"CRLF", addr("a", "b\r\n"), RcptParams{}, false, errRecipient},
		{"never and success", addr("a", "b"), RcptParams{Notify: NotifyNever | NotifySuccess}, false, errParam},
		{"bad notify bit", addr("a", "b"), RcptParams{Notify: 0x80}, false, errParam},
		{"orcpt type with space", addr("a", "b"), RcptParams{ORcpt: &ORcpt{AddrType: "rfc 822", Addr: "a"}}, false, errParam},
		{"orcpt type with ;", addr("a", "b"), RcptParams{ORcpt: &ORcpt{AddrType: "a;b", Addr: "a"}}, false, errParam},
		{"orcpt empty addr", addr("a", "b"), RcptParams{ORcpt: &ORcpt{AddrType: "rfc822"}}, false, errParam},
		{"extra bad", addr("a", "b"), RcptParams{Extra: []Param{{Keyword: "-X"}}}, false, errParam},
		{"extra known keyword", addr("a", "b"), RcptParams{Extra: []Param{{Keyword: "notify", Value: "NEVER"}}}, false, errParam},
		{"not postmaster without domain", addr("abuse", ""), RcptParams{}, false, errRecipient},
		{"orcpt too long", addr("a", "b"), RcptParams{ORcpt: &ORcpt{AddrType: "rfc822", Addr: strings.Repeat("+", 200)}}, false, errParam},
		{"utf-8 orcpt too long", addr("a", "b"), RcptParams{ORcpt: &ORcpt{AddrType: "utf-8", Addr: strings.Repeat("ü", 90)}}, false, errParam},
		{"extra utf8 without SMTPUTF8", addr("a", "b"), RcptParams{Extra: []Param{{Keyword: "X", Value: "é"}}}, false, errParam},
	}
	for _, tc := range bad {
		b, err := AppendRcptCommand([]byte("keep"), tc.to, tc.p, tc.utf8)
		checkErr(t, err, tc.err)
		assert.Equal(t, "keep", string(b), tc.name)
	}
}
