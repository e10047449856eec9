package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerify gives Verify arbitrary headers and bodies, as a receiver
// gets them from the network: it never panics, accepts only what Sign
// made from the same body and secret, and accepts that.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1767225600, 0)
	f.Add(Sign([][]byte{secret}, now, []byte("{}")), []byte("{}"))
	f.Add("t=1767225600,v1=zz,v1=", []byte(""))
	f.Add("t=-1,v1="+string(make([]byte, 64)), []byte("x"))
	f.Add(",,,=,t==,v1", []byte(nil))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := Verify(header, body, [][]byte{secret}, now, 0)
		if err == nil && header != Sign([][]byte{secret}, now, body) && !signedBy(header, body, now) {
			t.Fatalf("accepted %q for %q", header, body)
		}
		for _, want := range []error{nil, ErrNoSignature, ErrMalformed, ErrTimestamp, ErrMismatch} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("error %v", err)
	})
}

// signedBy reports whether header holds, among others, the v1 signature
// Sign makes for body at now (header may be written differently: spaces,
// other schemes, more signatures, upper-case hexadecimal).
func signedBy(header string, body []byte, now time.Time) bool {
	want := mac(secret, now.Unix(), body)
	header = strings.ToLower(header)
	for i := 0; i+len(want) <= len(header); i++ {
		if header[i:i+len(want)] == want {
			return true
		}
	}
	return false
}
