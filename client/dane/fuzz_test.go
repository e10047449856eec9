package dane

import (
	"crypto/x509"
	"testing"
	"time"
)

// FuzzParseTLSA: TLSA RDATA from the network parses or is refused without
// a panic, and what parses can be checked for usability and matched.
func FuzzParseTLSA(f *testing.F) {
	f.Add([]byte{3, 1, 1, 0xde, 0xad})
	f.Add(append([]byte{2, 0, 2}, make([]byte, 64)...))
	f.Add([]byte{3, 1})
	cert := &x509.Certificate{Raw: []byte{1, 2, 3}, RawSubjectPublicKeyInfo: []byte{4, 5}}
	f.Fuzz(func(t *testing.T, rdata []byte) {
		r, err := ParseTLSA(rdata)
		if err != nil {
			if len(rdata) >= 4 {
				t.Fatalf("refused %x", rdata)
			}
			return
		}
		if r.Usable() && r.Usage != UsageDANEEE && r.Usage != UsageDANETA {
			t.Fatalf("usable with usage %d", r.Usage)
		}
		r.Matches(cert)
		_ = r.String()
		if err := Verify([]TLSA{r}, []*x509.Certificate{cert}, []string{"mx.example"}, time.Now()); err == nil && r.Usage != UsageDANEEE {
			t.Fatalf("%v verified a certificate as DANE-TA leaf", r)
		}
	})
}
