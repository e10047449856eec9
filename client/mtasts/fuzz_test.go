package mtasts

import (
	"strings"
	"testing"
)

// FuzzParseRecord: TXT records from the DNS parse or are refused without
// a panic; what parses has a valid id.
func FuzzParseRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Add("v=STSv1;id=a;x=y;")
	f.Add("v=STSv1; id=; ;")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err == nil && !validID(r.ID) {
			t.Fatalf("%q gave id %q", s, r.ID)
		}
		SelectRecord([]string{s, s})
	})
}

// FuzzParsePolicy: policy bodies from the network parse or are refused
// without a panic; a parsed policy is consistent and survives String.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte("version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 604800\r\n"))
	f.Add([]byte("version: STSv1\nmode: none\nmax_age: 99999999999\n"))
	f.Add([]byte("version:STSv1\nmode:testing\nmx:a\nmax_age:0\nx: y"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePolicy(body)
		if err != nil {
			return
		}
		if p.MaxAge < 0 || p.MaxAge > MaxMaxAge {
			t.Fatalf("max_age %v", p.MaxAge)
		}
		if p.Mode != None && len(p.MX) == 0 {
			t.Fatal("no mx")
		}
		q, err := ParsePolicy([]byte(p.String()))
		if err != nil {
			t.Fatalf("String() of %q does not parse: %v", body, err)
		}
		if q.Mode != p.Mode || strings.Join(q.MX, ",") != strings.Join(p.MX, ",") || q.MaxAge != p.MaxAge {
			t.Fatalf("round trip %+v -> %+v", p, q)
		}
		for _, mx := range p.MX {
			host := strings.TrimPrefix(mx, "*.")
			if mx != host {
				host = "x." + host
			}
			if !p.Match(host) {
				t.Fatalf("%q does not match its own pattern %q", host, mx)
			}
		}
	})
}
