package server_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/server"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// The error challenges of the token mechanisms (RFC 7628 3.2.2).
var (
	xoauth2ErrS     = "S: 334 " + b64(`{"status":"401","schemes":"bearer"}`)
	oauthBearerErrS = "S: 334 " + b64(`{"status":"invalid_token"}`)
)

const (
	authFailedS      = "S: 535 5.7.8 Authentication credentials invalid\n"
	authCancelledS   = "S: 501 5.0.0 Authentication cancelled\n"
	tooManyErrorsS   = "S: 421 4.7.0 mx.test Too many errors, closing transmission channel\n"
	tooManyFailuresS = "S: 421 4.7.0 mx.test Too many failed authentication attempts, closing connection\n"
)

// overlongAuthLine is longer than any AUTH line a server must accept (RFC
// 4954 4: 12288 octets).
var overlongAuthLine = strings.Repeat("A", 13000)

// TestAuthRefusedTokenCountsWhateverTheClientSays: once the backend has
// refused a token, the exchange is a failed AUTH (535 5.7.8, RFC 7628
// 3.2.3, RFC 4954 6) whatever the client answers to the error challenge:
// the dummy response, "*", garbage or an over-long line. Each counts
// towards MaxAuthFailures, so token guessing cannot escape the limit.
func TestAuthRefusedTokenCountsWhateverTheClientSays(t *testing.T) {
	mechs := []struct{ mech, ir, errS string }{
		{"XOAUTH2", b64("user=alice\x01auth=Bearer guess\x01\x01"), xoauth2ErrS},
		{"OAUTHBEARER", b64("n,a=alice,\x01auth=Bearer guess\x01\x01"), oauthBearerErrS},
	}
	answers := map[string]string{
		"dummy":    b64("\x01"),
		"empty":    "=",
		"cancel":   "*",
		"garbage":  "not base64!",
		"overlong": overlongAuthLine,
	}
	for _, m := range mechs {
		for name, answer := range answers {
			t.Run(m.mech+"/"+name, func(t *testing.T) {
				lb, _ := mechServerWith(t, nil, func(s *server.Server) { s.MaxAuthFailures = 1 })
				c := dial(t, lb)
				c.Run("C: EHLO client\n" + ehloMechS + `
					C: AUTH ` + m.mech + ` ` + m.ir + `
					` + m.errS + `
					C: ` + answer + `
					` + authFailedS + tooManyFailuresS)
				c.ExpectClosed()
			})
		}
	}
}

// TestAuthRefusedTokenIsDelayed: a refused token costs AuthFailureDelay even
// when the client cancels after the error challenge.
func TestAuthRefusedTokenIsDelayed(t *testing.T) {
	const delay = 200 * time.Millisecond
	lb, _ := mechServerWith(t, nil, func(s *server.Server) { s.AuthFailureDelay = delay })
	c := dial(t, lb)
	c.Run("C: EHLO client\n" + ehloMechS + `
		C: AUTH XOAUTH2 ` + b64("user=alice\x01auth=Bearer guess\x01\x01") + `
		` + xoauth2ErrS)
	start := time.Now()
	c.Run("C: *\n" + authFailedS)
	if d := time.Since(start); d < delay {
		t.Errorf("refused token answered after %v, want at least %v", d, delay)
	}
}

// TestAuthCancelCountsAsError: an exchange the client cancels with "*",
// or answers with an over-long line, before any credential was checked
// counts towards MaxErrors, so an AUTH loop ends with 421.
func TestAuthCancelCountsAsError(t *testing.T) {
	tests := []struct{ name, script string }{
		{"PLAIN", `
			C: AUTH PLAIN
			S: 334 
			C: *
			` + authCancelledS},
		{"LOGIN at password", `
			C: AUTH LOGIN
			S: 334 VXNlcm5hbWU6
			C: ` + b64("alice") + `
			S: 334 UGFzc3dvcmQ6
			C: *
			` + authCancelledS},
		{"CRAM-MD5", `
			C: AUTH CRAM-MD5
			S: 334 {*}
			C: *
			` + authCancelledS},
		{"SCRAM-SHA-256 after server-first", `
			C: AUTH SCRAM-SHA-256 ` + b64("n,,n=alice,r=clientnonce") + `
			S: 334 {*}
			C: *
			` + authCancelledS},
		{"over-long response", `
			C: AUTH PLAIN
			S: 334 
			C: ` + overlongAuthLine + `
			S: 500 5.5.6 Authentication Exchange line is too long
		`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lb, _ := mechServerWith(t, nil, func(s *server.Server) { s.MaxErrors = 1 })
			c := dial(t, lb)
			c.Run("C: EHLO client\n" + ehloMechS + tt.script + tooManyErrorsS)
			c.ExpectClosed()
		})
	}
}
