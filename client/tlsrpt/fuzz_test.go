package tlsrpt

import "testing"

// FuzzParseRecord: _smtp._tls TXT records from the DNS parse or are
// refused without a panic; what parses has mailto: or https: URIs only.
func FuzzParseRecord(f *testing.F) {
	f.Add("v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.com/x")
	f.Add("v=TLSRPTv1;rua=;")
	f.Add("v=TLSRPTv1; rua=%zz")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			return
		}
		if len(r.RUA) == 0 {
			t.Fatal("no rua")
		}
		for _, u := range r.RUA {
			if u.Scheme != "mailto" && u.Scheme != "https" {
				t.Fatalf("scheme %q", u.Scheme)
			}
		}
		SelectRecord([]string{s})
	})
}
