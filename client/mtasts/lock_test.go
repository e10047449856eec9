package mtasts

import (
	"context"
	"net"
	"testing"
)

type noTXT struct{}

func (noTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// TestDomainLocksReleased: the per-domain locks leave the Resolver with
// their last user; a long-running relay looks up countless domains.
func TestDomainLocksReleased(t *testing.T) {
	r := &Resolver{TXT: noTXT{}}
	for _, d := range []string{"a.example", "b.example", "c.example"} {
		if res := r.Lookup(context.Background(), d); res.Policy != nil || res.Err != nil {
			t.Fatalf("%s: %+v", d, res)
		}
	}
	r.mu.Lock()
	n := len(r.locks)
	r.mu.Unlock()
	if n != 0 {
		t.Errorf("%d domain locks kept after the lookups ended", n)
	}
}
