package dkim

import (
	"crypto"
	"io"
	"strings"
	"testing"
)

// BenchmarkSign signs a 1 MiB message, relaxed and simple, with Ed25519
// and RSA-2048: the body hash dominates for large messages, the key
// operation for small ones.
func BenchmarkSign(b *testing.B) {
	const size = 1 << 20
	keys := []struct {
		name string
		key  crypto.Signer
	}{{"ed25519", rfc8463Ed25519Key(b)}, {"rsa2048", testRSAKey(b)}}
	for _, k := range keys {
		for _, c := range []Canonicalization{Relaxed, Simple} {
			b.Run(k.name+"/"+string(c), func(b *testing.B) {
				s := &Signer{Domain: "example.org", Selector: "s", Key: k.key, HeaderCanonicalization: c, BodyCanonicalization: c}
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Sign(io.MultiReader(strings.NewReader("From: a@example.org\r\n\r\n"), &lineReader{n: size})); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
