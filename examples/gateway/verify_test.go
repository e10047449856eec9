package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/gateway/internal/webhook"
)

// verifySignature is the receiver's check examples/README.md gives in Go,
// word for word (TestReadmeVerifySnippet); the receiver of the tests runs
// it on every request next to webhook.Verify.
func verifySignature(secret []byte, header string, body []byte, now time.Time) bool {
	var ts string
	var sigs []string
	for _, f := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(t, 0)).Abs() > 5*time.Minute {
		return false // no time, too old (a replay), or clocks far apart
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// TestReadmeVerifySnippet: the README's Go check is this file's.
func TestReadmeVerifySnippet(t *testing.T) {
	src, err := os.ReadFile("verify_test.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	start := strings.Index(s, "func verifySignature(")
	end := start + strings.Index(s[start:], "\n}\n") + 3
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), s[start:end]) {
		t.Errorf("examples/README.md does not hold verifySignature as tested:\n%s", s[start:end])
	}
}

// TestVerifySnippetRefuses: the README's check refuses what
// webhook.Verify refuses.
func TestVerifySnippetRefuses(t *testing.T) {
	secret, body, now := []byte(testSecret), []byte(`{"id":"x"}`), time.Now()
	h := webhook.Sign([][]byte{secret}, now, body)
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   bool
	}{
		{"Valid", secret, h, body, now, true},
		{"Rotated", secret, webhook.Sign([][]byte{[]byte("new-secret-0123456789"), secret}, now, body), body, now, true},
		{"Tampered", secret, h, []byte(`{"id":"y"}`), now, false},
		{"Replayed", secret, h, body, now.Add(6 * time.Minute), false},
		{"OtherSecret", []byte("other-secret-0123456789"), h, body, now, false},
		{"NoTime", secret, h[strings.Index(h, ",")+1:], body, now, false},
		{"Empty", secret, "", body, now, false},
	}
	for _, tc := range cases {
		if got := verifySignature(tc.secret, tc.header, tc.body, tc.now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if err := webhook.Verify(tc.header, tc.body, [][]byte{tc.secret}, tc.now, 0); (err == nil) != tc.want {
			t.Errorf("%s: webhook.Verify %v", tc.name, err)
		}
	}
}
