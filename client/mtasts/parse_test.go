package mtasts

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseRecord: RFC 8461 3.1's grammar.
func TestParseRecord(t *testing.T) {
	cases := []struct {
		in   string
		id   string
		exts int
		ok   bool
	}{
		{"v=STSv1; id=20160831085700Z;", "20160831085700Z", 0, true},
		{"v=STSv1;id=abc", "abc", 0, true},
		{"v=STSv1; id=abc ;  ", "abc", 0, true},
		{"v=STSv1; id=abc; ext-1.x=val!ue", "abc", 1, true},
		{"v=STSv1; id=" + strings.Repeat("a", 32), strings.Repeat("a", 32), 0, true},
		{"v=STSv1; id=" + strings.Repeat("a", 33), "", 0, false},
		{"v=STSv1; id=", "", 0, false},
		{"v=STSv1; id=a-b", "", 0, false},
		{"v=STSv1", "", 0, false},
		{"v=stsv1; id=abc", "", 0, false},
		{"id=abc; v=STSv1", "", 0, false},
		{"v=STSv1; ext=1; id=abc", "", 0, false},
		{"v=STSv1; id=abc; id=def", "", 0, false},
		{"v=STSv1; id=abc; ext=a=b", "", 0, false},
		{"v=STSv1; id=abc; ext", "", 0, false},
		{"v=STSv1; id=abc; _x=1", "", 0, false},
		{"", "", 0, false},
	}
	for _, tc := range cases {
		r, err := ParseRecord(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil {
			var re *RecordError
			if !errors.As(err, &re) {
				t.Errorf("%q: %T", tc.in, err)
			}
			continue
		}
		if r.ID != tc.id || len(r.Extensions) != tc.exts {
			t.Errorf("%q: %+v", tc.in, r)
		}
	}
}

// TestSelectRecord: records not starting with v=STSv1; are discarded;
// exactly one must remain (RFC 8461 3.1).
func TestSelectRecord(t *testing.T) {
	cases := []struct {
		txts []string
		id   string
		err  string
	}{
		{[]string{"v=spf1 -all", "v=STSv1; id=1"}, "1", ""},
		{[]string{"v=spf1 -all"}, "", "none"},
		{nil, "", "none"},
		{[]string{"v=STSv1; id=1", "v=STSv1; id=2"}, "", "invalid"},
		{[]string{"v=STSv1; id=!"}, "", "invalid"},
		{[]string{"v=STSv10; id=1"}, "", "none"},
	}
	for _, tc := range cases {
		r, err := SelectRecord(tc.txts)
		var re *RecordError
		switch {
		case tc.err == "none" && !errors.Is(err, errNoRecord),
			tc.err == "invalid" && !errors.As(err, &re),
			tc.err == "" && (err != nil || r.ID != tc.id):
			t.Errorf("%q: %v %v, want %s", tc.txts, r, err, tc.err)
		}
	}
}

const goodPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"

// TestParsePolicy: RFC 8461 3.2.
func TestParsePolicy(t *testing.T) {
	cases := []struct {
		name string
		in   string
		mode Mode
		mx   int
		age  time.Duration
		ok   bool
	}{
		{"RFCExample", goodPolicy, Enforce, 3, 604800 * time.Second, true},
		{"LFOnly", strings.ReplaceAll(goodPolicy, "\r\n", "\n"), Enforce, 3, 604800 * time.Second, true},
		{"NoFinalLineEnd", "version: STSv1\nmode: testing\nmx: a.example\nmax_age: 86400", Testing, 1, 86400 * time.Second, true},
		{"WhiteSpace", "version:STSv1  \nmode:\ttesting\nmx:   a.example\nmax_age: 86400\n", Testing, 1, 86400 * time.Second, true},
		{"ModeNoneWithoutMX", "version: STSv1\nmode: none\nmax_age: 86400\n", None, 0, 86400 * time.Second, true},
		{"MaxAgeClamped", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n", Enforce, 1, MaxMaxAge, true},
		{"MaxAgeLargest", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600\n", Enforce, 1, MaxMaxAge, true},
		{"UnknownFieldKept", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nx-ext: 1\n", Enforce, 1, time.Second, true},
		{"RepeatedModeFirstWins", "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 1\n", Testing, 1, time.Second, true},
		{"BadVersion", strings.Replace(goodPolicy, "STSv1", "STSv2", 1), "", 0, 0, false},
		{"NoVersion", "mode: enforce\nmx: a.example\nmax_age: 1\n", "", 0, 0, false},
		{"BadMode", "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "", 0, 0, false},
		{"NoMode", "version: STSv1\nmx: a.example\nmax_age: 1\n", "", 0, 0, false},
		{"NoMaxAge", "version: STSv1\nmode: enforce\nmx: a.example\n", "", 0, 0, false},
		{"MaxAgeEleven", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n", "", 0, 0, false},
		{"MaxAgeNegative", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", "", 0, 0, false},
		{"EnforceWithoutMX", "version: STSv1\nmode: enforce\nmax_age: 1\n", "", 0, 0, false},
		{"BadMX", "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n", "", 0, 0, false},
		{"WildcardInside", "version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n", "", 0, 0, false},
		{"NotKeyValue", "version: STSv1\nthis is html\n", "", 0, 0, false},
		{"Empty", "", "", 0, 0, false},
	}
	for _, tc := range cases {
		p, err := ParsePolicy([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
			continue
		}
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.ResultType() != ResultPolicyInvalid {
				t.Errorf("%s: %T %v", tc.name, err, err)
			}
			continue
		}
		if p.Mode != tc.mode || len(p.MX) != tc.mx || p.MaxAge != tc.age {
			t.Errorf("%s: %+v", tc.name, p)
		}
		// String gives back an equivalent policy.
		q, err := ParsePolicy([]byte(p.String()))
		if err != nil || q.Mode != p.Mode || len(q.MX) != len(p.MX) || q.MaxAge != p.MaxAge {
			t.Errorf("%s: round trip %v %+v", tc.name, err, q)
		}
	}
}

// TestMatch: RFC 8461 4.1's patterns.
func TestMatch(t *testing.T) {
	p, err := ParsePolicy([]byte(goodPolicy))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host string
		ok   bool
	}{
		{"mail.example.com", true},
		{"MAIL.Example.COM.", true},
		{"backupmx.example.com", true},
		{"mx1.example.net", true},
		{"example.net", false},           // the wildcard needs a label
		{"a.b.example.net", false},       // and only one
		{".example.net", false},          // an empty label is none
		{"mail.example.com.evil", false}, // no suffix matching
		{"xmail.example.com", false},
		{"other.example.com", false},
	}
	for _, tc := range cases {
		if got := p.Match(tc.host); got != tc.ok {
			t.Errorf("Match(%q) = %v", tc.host, got)
		}
	}
}
