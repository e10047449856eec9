package envelope

import (
	"errors"
	"strings"
	"testing"
)

// fuzzOpts derives parse options from a fuzzed byte, so that the fuzzer
// explores SMTPUTF8, restricted parameter sets and custom limits.
func fuzzOpts(sel uint8) ParseOptions {
	opts := ParseOptions{Allowed: AllParams}
	if sel&1 != 0 {
		opts.SMTPUTF8 = true
	}
	if sel&2 != 0 {
		opts.Allowed = ParamSize | Param8BitMIME | ParamDSN
	}
	if sel&4 != 0 {
		opts.MaxLocalPartLength = -1
		opts.MaxPathLength = -1
	}
	if sel&8 != 0 {
		opts.MaxLocalPartLength = 8
		opts.MaxDomainLength = 16
		opts.MaxPathLength = 24
	}
	return opts
}

func checkFuzzErr(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	switch e.Code {
	case 501, 553, 555:
	default:
		t.Fatalf("unexpected code %d", e.Code)
	}
	if e.Reason == "" || e.Reply() == nil {
		t.Fatal("empty reason")
	}
}

var mailSeeds = []string{
	"FROM:<a@example.com>",
	"FROM:<>",
	"from: <a@b> SIZE=100 BODY=8BITMIME",
	"FROM:<@r1,@r2:a@b.c> RET=HDRS ENVID=a+2Bb",
	`FROM:<"x \"y"@[192.0.2.1]> AUTH=<>`,
	"FROM:<a@[IPv6:2001:db8::1]> REQUIRETLS X-Y=z W",
	"FROM:<jürgen@bücher.de> SMTPUTF8",
	"FROM:<a@b> SIZE=99999999999999999999",
	"FROM:<a..b@c>",
	"FROM:<a@b> SIZE=1 SIZE=2",
	"FROM:<\"a\\",
	"FROM:<a@例子\u3002广告> SMTPUTF8",
	// Labels that IDNA would map to others: refused (issue 14.13).
	"FROM:<user@ｅｘａｍｐｌｅ.com> SMTPUTF8",
	"FROM:<a@BÜCHER.de> SMTPUTF8",
	"FROM:<a@bu\u0308cher.de> SMTPUTF8",
	"FROM:<a@xn--bcher-kva.de>",
	"FROM:<a@xn--mi7chab1aes7c.com>",
	"FROM:<a@ab--ü.de> SMTPUTF8",
}

var rcptSeeds = []string{
	"TO:<b@example.org>",
	"TO:<Postmaster>",
	"to: <b@x> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bc@x",
	`TO:<b@x> ORCPT=utf-8;j\x{FC}rgen@x`,
	"TO:<b@x> ORCPT=utf-8;jürgen@x",
	"TO:<@a,@b:c@d> NOTIFY=NEVER X=1",
	"TO:<>",
	"TO:<ü@ü.de>",
	"TO:<user@ｅｘａｍｐｌｅ.com>",
	"TO:<a@XN--BCHER-KVA.DE>",
	"TO:<a@xn--bcher-2pa.de>",
	`TO:<"\"@x>`,
}

func FuzzParseMail(f *testing.F) {
	for i, s := range mailSeeds {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, arg string, sel uint8) {
		opts := fuzzOpts(sel)
		path, params, err := ParseMailCommand(arg, opts)
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		// Round trip: the canonical form parses back to the same values,
		// under the same options (it is never longer than the input).
		b, err := AppendMailCommand(nil, path, params)
		if err != nil {
			// Only UTF-8 accepted through opts.SMTPUTF8 without the
			// SMTPUTF8 parameter is refused on output.
			if !opts.SMTPUTF8 || params.SMTPUTF8 || isASCII(arg) {
				t.Fatalf("format %q: %v", arg, err)
			}
			return
		}
		if !strings.HasPrefix(string(b), "MAIL FROM:") || strings.ContainsAny(string(b), "\r\n\x00") {
			t.Fatalf("bad output %q", b)
		}
		path2, params2, err := ParseMailCommand(string(b[len("MAIL "):]), opts)
		if err != nil {
			t.Fatalf("reparse %q (from %q): %v", b, arg, err)
		}
		if path != path2 {
			t.Fatalf("path %+v != %+v (%q)", path, path2, b)
		}
		if params.String() != params2.String() || !equalMail(params, params2) {
			t.Fatalf("params %+v != %+v (%q)", params, params2, b)
		}
	})
}

func equalMail(a, b MailParams) bool {
	if len(a.Extra) != len(b.Extra) {
		return false
	}
	for i := range a.Extra {
		if a.Extra[i] != b.Extra[i] {
			return false
		}
	}
	return a.Size == b.Size && a.Body == b.Body && a.SMTPUTF8 == b.SMTPUTF8 && a.Ret == b.Ret &&
		a.EnvID == b.EnvID && a.Auth == b.Auth && a.RequireTLS == b.RequireTLS
}

func FuzzParseRcpt(f *testing.F) {
	for i, s := range rcptSeeds {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, arg string, sel uint8) {
		opts := fuzzOpts(sel)
		path, params, err := ParseRcptCommand(arg, opts)
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		if path.Null {
			t.Fatal("null forward-path accepted")
		}
		b, err := AppendRcptCommand(nil, path, params, opts.SMTPUTF8)
		if err != nil {
			t.Fatalf("format %q: %v", arg, err)
		}
		if !strings.HasPrefix(string(b), "RCPT TO:") || strings.ContainsAny(string(b), "\r\n\x00") {
			t.Fatalf("bad output %q", b)
		}
		path2, params2, err := ParseRcptCommand(string(b[len("RCPT "):]), opts)
		if err != nil {
			t.Fatalf("reparse %q (from %q): %v", b, arg, err)
		}
		if path != path2 {
			t.Fatalf("path %+v != %+v (%q)", path, path2, b)
		}
		if params.String() != params2.String() || params.Notify != params2.Notify ||
			(params.ORcpt == nil) != (params2.ORcpt == nil) ||
			(params.ORcpt != nil && *params.ORcpt != *params2.ORcpt) {
			t.Fatalf("params %+v != %+v (%q)", params, params2, b)
		}
	})
}

func FuzzXtext(f *testing.F) {
	for _, s := range []string{"", "abc", "a+2Bb", "+", "+4", "+zz", "a=b", "\x00\xff", "ü", `j\x{FC}`, `\x{1F600}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Encoding any bytes decodes back to them.
		enc := EncodeXtext(s)
		for i := 0; i < len(enc); i++ {
			if enc[i] < '!' || enc[i] > '~' || enc[i] == '=' {
				t.Fatalf("EncodeXtext(%q) = %q", s, enc)
			}
		}
		dec, err := DecodeXtext(enc)
		if err != nil || dec != s {
			t.Fatalf("DecodeXtext(EncodeXtext(%q)) = %q, %v", s, dec, err)
		}
		// Decoding valid input and encoding it again is stable.
		if d, err := DecodeXtext(s); err == nil {
			if d2, err := DecodeXtext(EncodeXtext(d)); err != nil || d2 != d {
				t.Fatalf("xtext %q unstable", s)
			}
		}
		// The same for utf-8-addr-xtext / unitext (RFC 6533 3).
		for _, unitext := range []bool{false, true} {
			if d, ok := decodeUTF8AddrXtext(s, unitext); ok {
				e := appendUTF8AddrXtext(nil, d, unitext)
				d2, ok := decodeUTF8AddrXtext(string(e), unitext)
				if !ok || d2 != d {
					t.Fatalf("utf-8-addr-xtext %q -> %q -> %q (%v)", s, e, d2, ok)
				}
				if len(e) > len(s) {
					t.Fatalf("canonical form %q longer than %q", e, s)
				}
			}
		}
	})
}

// FuzzAppendCommand builds commands from arbitrary field values: whenever
// AppendMailCommand or AppendRcptCommand accepts them, the output must
// parse back to the same values and hold no control character.
func FuzzAppendCommand(f *testing.F) {
	f.Add("a", "b.example", "X", "1", "rfc822", "a@b", uint8(0))
	f.Add("john doe", "[IPv6:::1]", "Y-Z", "", "utf-8", "jü@x", uint8(1))
	f.Add("jü", "bücher.de", "K", "é", "x400", "\x00", uint8(3))
	f.Add("a\r\nRSET", "b", "", "", "", "", uint8(2))
	f.Add("user", "ｅｘａｍｐｌｅ.com", "", "", "", "", uint8(1))
	f.Add("a", "xn--bcher-2pa.de", "", "", "", "", uint8(0))
	f.Fuzz(func(t *testing.T, local, domain, kw, val, otype, oaddr string, sel uint8) {
		utf8ok := sel&1 != 0
		from := Path{Address: Address{Local: local, Domain: domain}}
		mp := MailParams{SMTPUTF8: utf8ok, Size: int64(sel), EnvID: oaddr, Auth: local}
		if kw != "" {
			mp.Extra = []Param{{Keyword: kw, Value: val}}
		}
		opts := ParseOptions{Allowed: AllParams, SMTPUTF8: utf8ok, MaxLocalPartLength: -1, MaxDomainLength: -1, MaxPathLength: -1}
		if b, err := AppendMailCommand(nil, from, mp); err == nil {
			if strings.ContainsAny(string(b), "\r\n\x00") {
				t.Fatalf("control character in %q", b)
			}
			p2, mp2, err := ParseMailCommand(string(b[len("MAIL "):]), opts)
			if err != nil {
				t.Fatalf("reparse %q: %v", b, err)
			}
			if p2 != from && !(from.IsZero() && p2.Null) {
				t.Fatalf("path %+v != %+v (%q)", from, p2, b)
			}
			if !equalMail(mp, mp2) && !(mp.Size == 0 && mp2.Size == 0) {
				t.Fatalf("params %+v != %+v (%q)", mp, mp2, b)
			}
		} else {
			checkFuzzErr(t, err)
		}

		rp := RcptParams{Notify: Notify(sel >> 4)}
		if otype != "" || oaddr != "" {
			rp.ORcpt = &ORcpt{AddrType: otype, Addr: oaddr}
		}
		if kw != "" {
			rp.Extra = []Param{{Keyword: kw, Value: val}}
		}
		if b, err := AppendRcptCommand(nil, from, rp, utf8ok); err == nil {
			if strings.ContainsAny(string(b), "\r\n\x00") {
				t.Fatalf("control character in %q", b)
			}
			p2, rp2, err := ParseRcptCommand(string(b[len("RCPT "):]), opts)
			if err != nil {
				t.Fatalf("reparse %q: %v", b, err)
			}
			if p2 != from {
				t.Fatalf("path %+v != %+v (%q)", from, p2, b)
			}
			if rp.String() != rp2.String() {
				t.Fatalf("params %q != %q", rp.String(), rp2.String())
			}
		} else {
			checkFuzzErr(t, err)
		}
	})
}
