package main

import "testing"

// TestRoutesLookup: a recipient's domain finds its route in any case and
// either IDN form (RFC 5321 2.4: domains are case-insensitive), keyed as
// -route keys it (cli.DomainKey).
func TestRoutesLookup(t *testing.T) {
	rs := routes{"xn--bcher-kva.test": "http://b/", "shop.test": "http://s/"}
	for _, tc := range []struct{ addr, want string }{
		{"x@shop.test", "http://s/"},
		{"x@SHOP.Test.", "http://s/"},
		{"x@bücher.test", "http://b/"},
		{"x@Bücher.test", "http://b/"},
		{"x@BÜCHER.TEST", "http://b/"},
		{"x@XN--BCHER-KVA.test", "http://b/"},
		{"x@elsewhere.test", ""},
		{"postmaster", ""},
	} {
		if got := rs.lookup(tc.addr); got != tc.want {
			t.Errorf("lookup(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
