package smtptest

import (
	"strings"
	"testing"

	"github.com/smtpkit/smtp/reply"
)

func TestMatchLine(t *testing.T) {
	tests := []struct {
		pattern, got string
		ok           bool
	}{
		{"250 OK", "250 OK", true},
		{"250 OK", "250 Ok", false},
		{"220 {*} ESMTP", "220 mx.example ESMTP", true},
		{"220 {*} ESMTP", "220  ESMTP", true},
		{"220 {*} ESMTP", "220 a\r\nb ESMTP", false},
		{"250 {*}", "250 queued as 12", true},
		{"{*}", "", true},
		{"a{*}b{*}c", "a b b c", true},
		{"a{*}b{*}c", "abc", true},
		{"a{*}b{*}c", "acb", false},
		{"a{*}bc", "abcbc", true},
		{"a.b", "aXb", false},
		{"x{*}", "y", false},
	}
	for _, tt := range tests {
		if got := matchLine(tt.pattern, tt.got); got != tt.ok {
			t.Errorf("matchLine(%q, %q) = %v, want %v", tt.pattern, tt.got, got, tt.ok)
		}
	}
}

func TestParseTranscript(t *testing.T) {
	tr, err := parseTranscript("\n\t\tC: EHLO x\r\n  S: 250 ok\nC:\nS:\n!tls\n!eof\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []step{{2, 'C', "EHLO x"}, {3, 'S', "250 ok"}, {4, 'C', ""}, {5, 'S', ""}, {6, '!', "tls"}, {7, '!', "eof"}}
	if len(tr.steps) != len(want) {
		t.Fatalf("got %v", tr.steps)
	}
	for i := range want {
		if tr.steps[i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, tr.steps[i], want[i])
		}
	}
	for _, bad := range []string{"X: y", "C", "250 ok", "c: lower", "!sleep", "!close\nC: x", "!eof\nS: x", "", "\n  \n"} {
		if _, err := parseTranscript(bad); err == nil {
			t.Errorf("parseTranscript(%q) accepted it", bad)
		}
	}
}

func TestReplyPattern(t *testing.T) {
	ok := reply.New(250, reply.EnhSenderOK(), "Sender OK")
	ehlo := reply.New(250, reply.EnhancedCode{}, "mx greets me", "PIPELINING", "8BITMIME")
	bad := reply.New(550, reply.EnhBadMailbox(), "No such user here")
	tests := []struct {
		pattern string
		r       *reply.Reply
		match   bool
	}{
		{"250", ok, true},
		{"2xx", ok, true},
		{"25X", ok, true},
		{"251", ok, false},
		{"250 2.1.0", ok, true},
		{"250 2.x.x", ok, true},
		{"250 2.1.5", ok, false},
		{"250 2.1.0 Sender OK", ok, true},
		{"250 2.1.0 Sender", ok, false},
		{"250 Sender OK", ok, true},
		{"250 {*}OK", ok, true},
		{"250 {*}\nPIPELINING\n{*}", ehlo, true},
		{"250 {*}\nSTARTTLS\n{*}", ehlo, false},
		{"250 2.0.0", ehlo, false}, // no enhanced code
		{"5xx 5.1.1 {*}such user{*}", bad, true},
		{"4xx", bad, false},
	}
	for _, tt := range tests {
		p, err := parseReplyPattern(tt.pattern)
		if err != nil {
			t.Errorf("%q: %v", tt.pattern, err)
			continue
		}
		if got := p.match(tt.r); got != tt.match {
			t.Errorf("%q matches %q: %v, want %v", tt.pattern, tt.r.Error(), got, tt.match)
		}
	}
	for _, bad := range []string{"", "25", "2500", "abc", "OK 250"} {
		if _, err := parseReplyPattern(bad); err == nil {
			t.Errorf("parseReplyPattern(%q) accepted it", bad)
		}
	}
}

func TestMismatchContext(t *testing.T) {
	tr, err := parseTranscript("S: 1\nS: 2\nS: 3\nS: 4\nS: 5\nS: 6\nC: 7")
	if err != nil {
		t.Fatal(err)
	}
	got := tr.mismatch(6, "C: x").Error()
	if strings.Contains(got, "S: 2") || !strings.Contains(got, "S: 3\n") || !strings.Contains(got, ">   7  C: 7") {
		t.Errorf("context:\n%s", got)
	}
}
