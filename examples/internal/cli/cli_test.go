package cli

import (
	"flag"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

func TestUsers(t *testing.T) {
	u, err := ParseUsers([]string{"alice:pw", "bob:a:b:c"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{{"alice", "pw", true}, {"bob", "a:b:c", true}, {"alice", "PW", false}, {"carol", "pw", false}, {"alice", "", false}} {
		if u.Check(tc.user, tc.pass) != tc.ok {
			t.Errorf("Check(%q, %q) = %v", tc.user, tc.pass, !tc.ok)
		}
	}
	for _, tc := range []struct {
		identity, user, pass string
		ok                   bool
	}{{"", "alice", "pw", true}, {"alice", "alice", "pw", true}, {"bob", "alice", "pw", false}, {"", "alice", "PW", false}, {"alice", "bob", "a:b:c", false}} {
		if u.Authenticate(tc.identity, tc.user, tc.pass) != tc.ok {
			t.Errorf("Authenticate(%q, %q, %q) = %v", tc.identity, tc.user, tc.pass, !tc.ok)
		}
	}
	for _, bad := range []string{"alice", ":pw", ""} {
		if _, err := ParseUsers([]string{bad}); err == nil {
			t.Errorf("ParseUsers(%q) accepted", bad)
		}
	}
}

func TestStrings(t *testing.T) {
	var s Strings
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&s, "to", "")
	if err := fs.Parse([]string{"-to", "a", "-to", "b"}); err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s.String() != "a,b" {
		t.Errorf("got %v", s)
	}
}

func TestLoadKeyPair(t *testing.T) {
	if c, err := LoadKeyPair("", ""); c != nil || err != nil {
		t.Errorf("no files: %v %v", c, err)
	}
	if _, err := LoadKeyPair("a", ""); err == nil {
		t.Error("cert without key accepted")
	}
	if _, err := LoadKeyPair("/nonexistent", "/nonexistent"); err == nil {
		t.Error("missing files accepted")
	}
}

func TestPrinter(t *testing.T) {
	var out e2e.Buffer
	p := NewPrinter(&out)
	p.Line([]byte("one"))
	p.Line([]byte("two"))
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "one\ntwo\n" {
		if time.Now().After(deadline) {
			t.Fatalf("lines not flushed: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Line([]byte("three"))
	p.Flush()
	if out.String() != "one\ntwo\nthree\n" {
		t.Errorf("after Flush: %q", out.String())
	}
}

func TestParseRoute(t *testing.T) {
	tests := []struct {
		in, domain, addr string
		bad              bool
	}{
		{in: "Example.ORG=127.0.0.1:25", domain: "example.org", addr: "127.0.0.1:25"},
		{in: "example.org.=[::1]:2525", domain: "example.org", addr: "[::1]:2525"},
		{in: "bücher.example=127.0.0.1:25", domain: "xn--bcher-kva.example", addr: "127.0.0.1:25"},
		{in: "XN--BCHER-KVA.example=127.0.0.1:25", domain: "xn--bcher-kva.example", addr: "127.0.0.1:25"},
		{in: "*=smarthost:587", domain: "*", addr: "smarthost:587"},
		{in: "example.org", bad: true},
		{in: "=127.0.0.1:25", bad: true},
		{in: "example.org=127.0.0.1", bad: true},
		{in: "x\u2488y.example=127.0.0.1:25", bad: true}, // not a valid U-label
		// Domain names are case-insensitive: capitals in a route are
		// lower-cased first; full-width letters are not mapped.
		{in: "BÜCHER.example=127.0.0.1:25", domain: "xn--bcher-kva.example", addr: "127.0.0.1:25"},
		{in: "ｅｘａｍｐｌｅ.com=127.0.0.1:25", bad: true},
	}
	for _, tc := range tests {
		dom, addr, err := ParseRoute(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseRoute(%q) = %q, %q; want an error", tc.in, dom, addr)
			}
			continue
		}
		if err != nil || dom != tc.domain || addr != tc.addr {
			t.Errorf("ParseRoute(%q) = %q, %q, %v; want %q, %q", tc.in, dom, addr, err, tc.domain, tc.addr)
		}
	}
}
