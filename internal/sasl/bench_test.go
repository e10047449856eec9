package sasl

import (
	"context"
	"testing"
)

func BenchmarkPlainServer(b *testing.B) {
	msg := []byte("\x00alice@example.org\x00correct horse battery staple")
	check := func(context.Context, string, string, string) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := NewPlainServer(check).Next(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScramServer measures the server's two steps: the client's
// PBKDF2 is done once outside the loop, as the server never runs it.
func BenchmarkScramServer(b *testing.B) {
	creds := rfc7677Credentials(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s := newTestScramServer(creds)
		if _, _, err := s.Next(ctx, []byte(rfc7677ClientFirst)); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Next(ctx, []byte(rfc7677ClientFinal)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScramKeys is the PBKDF2 cost per 4096 iterations, the work a
// SCRAM client does once per AUTH.
func BenchmarkScramKeys(b *testing.B) {
	salt := []byte("0123456789abcdef")
	for b.Loop() {
		if _, _, _, err := scramKeys("pencil", salt, 4096); err != nil {
			b.Fatal(err)
		}
	}
}
