package cli

import (
	"bytes"
	"flag"
	"sync"
	"testing"
	"time"
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

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPrinter(t *testing.T) {
	var out syncBuf
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
