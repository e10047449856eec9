package server_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

func plainIR(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

const ehloAuthS = `S: 250-mx.test greets client
S: 250-PIPELINING
S: 250-SIZE 33554432
S: 250-8BITMIME
S: 250-ENHANCEDSTATUSCODES
S: 250 AUTH PLAIN LOGIN
`

func TestAuthPlain(t *testing.T) {
	b := &testBackend{users: map[string]string{"alice": "secret"}}
	s := newServer(b)
	s.AllowInsecureAuth = true
	s.AuthRequired = true
	events := &eventLog{}
	s.Events = events
	trace := &syncBuffer{}
	s.Trace = trace
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloAuthS + `
		C: MAIL FROM:<alice@example.org>
		S: 530 5.7.0 Authentication required
		C: AUTH PLAIN ` + plainIR("", "alice", "wrong") + `
		S: 535 5.7.8 Authentication credentials invalid
		C: AUTH CRAM-MD5
		S: 504 5.5.4 Unrecognized authentication mechanism
		C: AUTH PLAIN !!!
		S: 501 5.5.4 Invalid base64 in initial response
		C: AUTH PLAIN
		S: 334 
		C: *
		S: 501 5.0.0 Authentication cancelled
		C: AUTH PLAIN
		S: 334 
		C: ` + plainIR("", "alice", "secret") + `
		S: 235 2.7.0 Authentication successful
		C: AUTH PLAIN ` + plainIR("", "alice", "secret") + `
		S: 503 5.5.1 Already authenticated
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 Sender OK
	`)
	b.mu.Lock()
	id := b.conns[0].Identity()
	b.mu.Unlock()
	if id != "alice" {
		t.Errorf("Identity() = %q", id)
	}
	if !events.has(server.EventAuth, "PLAIN") {
		t.Errorf("no auth event: %v", events.list())
	}
	tr := trace.String()
	for _, secret := range []string{plainIR("", "alice", "secret"), plainIR("", "alice", "wrong"), "secret"} {
		if strings.Contains(tr, secret) {
			t.Errorf("trace holds a secret %q:\n%s", secret, tr)
		}
	}
	if !strings.Contains(tr, "C: AUTH PLAIN [redacted]") || !strings.Contains(tr, "C: [redacted]") {
		t.Errorf("trace does not show redacted AUTH:\n%s", tr)
	}
}

func TestAuthLogin(t *testing.T) {
	b := &testBackend{users: map[string]string{"bob": "pw"}}
	s := newServer(b)
	s.AllowInsecureAuth = true
	lb := start(t, s)
	c := dial(t, lb)
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	c.Run(`
		C: EHLO client
		` + ehloAuthS + `
		C: AUTH LOGIN
		S: 334 ` + enc("Username:") + `
		C: ` + enc("bob") + `
		S: 334 ` + enc("Password:") + `
		C: ` + enc("pw") + `
		S: 235 2.7.0 Authentication successful
	`)
}

// TestAuthNeedsTLS: AUTH is neither offered nor accepted in clear unless
// AllowInsecureAuth (RFC 4954 4); after STARTTLS it is.
func TestAuthNeedsTLS(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	b := &testBackend{users: map[string]string{"alice": "secret"}}
	s := newServer(b)
	s.TLSConfig = cert.ServerConfig()
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		S: 250-mx.test greets client
		S: 250-PIPELINING
		S: 250-SIZE 33554432
		S: 250-8BITMIME
		S: 250-ENHANCEDSTATUSCODES
		S: 250 STARTTLS
		C: AUTH PLAIN ` + plainIR("", "alice", "secret") + `
		S: 538 5.7.11 Encryption required for requested authentication mechanism
		C: STARTTLS
		S: 220 2.0.0 Ready to start TLS
	`)
	c.StartTLS(cert.ClientConfig())
	c.Run(`
		C: EHLO client
		` + ehloAuthS + `
		C: AUTH PLAIN ` + plainIR("", "alice", "secret") + `
		S: 235 2.7.0 Authentication successful
	`)
}

// TestAuthFailureLimit: failed attempts are slowed down, and after
// MaxAuthFailures the connection is closed with 421.
func TestAuthFailureLimit(t *testing.T) {
	b := &testBackend{users: map[string]string{"alice": "secret"}}
	s := newServer(b)
	s.AllowInsecureAuth = true
	s.MaxAuthFailures = 2
	s.AuthFailureDelay = 150 * time.Millisecond
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloAuthS)
	start := time.Now()
	c.Run(`
		C: AUTH PLAIN ` + plainIR("", "alice", "guess1") + `
		S: 535 5.7.8 Authentication credentials invalid
	`)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("failed AUTH answered after %v, want >= 150ms", d)
	}
	c.Run(`
		C: AUTH PLAIN ` + plainIR("", "alice", "guess2") + `
		S: 535 5.7.8 Authentication credentials invalid
		S: 421 4.7.0 mx.test Too many failed authentication attempts, closing connection
	`)
	c.ExpectClosed()
}

// tokenSession accepts the token "good-" followed by anything.
type tokenSession struct{ *testSession }

func (s *tokenSession) AuthToken(ctx context.Context, mech, username, token string) error {
	if strings.HasPrefix(token, "good-") && username == "alice@example.org" {
		return nil
	}
	return server.ErrAuthFailed
}

// TestAuthLongToken: an XOAUTH2 initial response longer than 512 octets
// is accepted (RFC 4954 4: up to 12288), other commands are not.
func TestAuthLongToken(t *testing.T) {
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return &tokenSession{&testSession{b: &testBackend{}, c: c}}, nil
	}))
	s.AllowInsecureAuth = true
	lb := start(t, s)
	c := dial(t, lb)
	token := "good-" + strings.Repeat("t", 3000)
	ir := base64.StdEncoding.EncodeToString([]byte("user=alice@example.org\x01auth=Bearer " + token + "\x01\x01"))
	c.Run(`
		C: EHLO client
		S: 250-mx.test greets client
		S: 250-PIPELINING
		S: 250-SIZE 33554432
		S: 250-8BITMIME
		S: 250-ENHANCEDSTATUSCODES
		S: 250 AUTH OAUTHBEARER XOAUTH2
		C: NOOP ` + strings.Repeat("x", 600) + `
		S: 500 5.5.2 Line too long
		C: AUTH XOAUTH2 ` + ir + `
		S: 235 2.7.0 Authentication successful
	`)
}
