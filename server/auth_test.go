package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/internal/sasl"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

func plainIR(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

var ehloAuthS = ehloWith("AUTH PLAIN LOGIN")

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
		` + ehloWith("STARTTLS") + `
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
		` + ehloWith("AUTH OAUTHBEARER XOAUTH2") + `
		C: NOOP ` + strings.Repeat("x", 600) + `
		S: 500 5.5.2 Line too long
		C: AUTH XOAUTH2 ` + ir + `
		S: 235 2.7.0 Authentication successful
	`)
}

// mechSession implements every authentication add-on for the user alice
// (password, secret and SCRAM credentials "secret", token "good-token");
// the user "broken" makes every check fail with an internal error.
type mechSession struct {
	*testSession
	scram server.ScramCredentials
}

var errDatabaseDown = errors.New("database down: password=hunter2")

func (s *mechSession) AuthPassword(ctx context.Context, identity, username, password string) error {
	if username == "broken" {
		return errDatabaseDown
	}
	if username == "alice" && password == "secret" && (identity == "" || identity == username) {
		return nil
	}
	return server.ErrAuthFailed
}

func (s *mechSession) AuthSecret(ctx context.Context, username string) (string, error) {
	switch username {
	case "alice":
		return "secret", nil
	case "broken":
		return "", errDatabaseDown
	}
	return "", server.ErrAuthFailed
}

func (s *mechSession) AuthScram(ctx context.Context, username string) (server.ScramCredentials, error) {
	switch username {
	case "alice":
		return s.scram, nil
	case "broken":
		return server.ScramCredentials{}, errDatabaseDown
	}
	return server.ScramCredentials{}, server.ErrAuthFailed
}

func (s *mechSession) AuthToken(ctx context.Context, mech, username, token string) error {
	if username == "broken" {
		return errDatabaseDown
	}
	if token == "good-token" && (username == "alice" || username == "") {
		return nil
	}
	return server.ErrAuthFailed
}

// mechServer serves mechSessions over loopback, AUTH allowed in clear.
func mechServer(t *testing.T, logs io.Writer) (*smtptest.Loopback, *testBackend) {
	t.Helper()
	return mechServerWith(t, logs, nil)
}

// mechServerWith is mechServer with the settings changed by set (if not
// nil) before serving.
func mechServerWith(t *testing.T, logs io.Writer, set func(*server.Server)) (*smtptest.Loopback, *testBackend) {
	t.Helper()
	creds, err := server.NewScramCredentials("secret", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{}
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		b.mu.Lock()
		b.conns = append(b.conns, c)
		b.mu.Unlock()
		return &mechSession{testSession: &testSession{b: b, c: c}, scram: creds}, nil
	}))
	s.AllowInsecureAuth = true
	s.MaxAuthFailures = -1
	if logs != nil {
		s.Logger = slogDebug(logs) // every event, to check no secret is logged
		s.Events = nil
	}
	if set != nil {
		set(s)
	}
	return start(t, s), b
}

var ehloMechS = ehloWith("AUTH SCRAM-SHA-256 OAUTHBEARER XOAUTH2 CRAM-MD5 PLAIN LOGIN")

// authWith runs an AUTH exchange driven by the client half cl and returns
// the final reply.
func authWith(t *testing.T, c *smtptest.Conn, cl sasl.Client) string {
	t.Helper()
	ir, err := cl.Start()
	if err != nil {
		t.Fatal(err)
	}
	cmd := "AUTH " + cl.Name()
	switch {
	case ir == nil:
	case len(ir) == 0:
		cmd += " ="
	default:
		cmd += " " + base64.StdEncoding.EncodeToString(ir)
	}
	c.Send(cmd + "\r\n")
	for {
		r, err := c.ReadReply()
		if err != nil {
			t.Fatalf("AUTH %s: %v (got %q)", cl.Name(), err, r)
		}
		if !strings.HasPrefix(r, "334 ") {
			return r
		}
		ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r[4:]))
		if err != nil {
			t.Fatalf("challenge %q: %v", r, err)
		}
		resp, err := cl.Next(ch)
		if err != nil {
			c.Send("*\r\n")
			continue
		}
		c.Send(base64.StdEncoding.EncodeToString(resp) + "\r\n")
	}
}

// TestAuthMechanisms: every mechanism the add-ons enable authenticates the
// right credentials (235, Identity set), refuses wrong ones (535), and
// answers a failing backend with 454 without leaking its error.
func TestAuthMechanisms(t *testing.T) {
	type mk func(user, secret string) sasl.Client
	mechs := map[string]mk{
		"PLAIN":    func(u, p string) sasl.Client { return sasl.NewPlainClient("", u, p) },
		"LOGIN":    func(u, p string) sasl.Client { return sasl.NewLoginClient(u, p) },
		"CRAM-MD5": func(u, p string) sasl.Client { return sasl.NewCramMD5Client(u, p) },
		"SCRAM-SHA-256": func(u, p string) sasl.Client {
			return sasl.NewScramSHA256Client(u, p)
		},
		"XOAUTH2": func(u, p string) sasl.Client {
			if p == "secret" {
				p = "good-token"
			}
			return sasl.NewXOAuth2Client(u, p)
		},
		"OAUTHBEARER": func(u, p string) sasl.Client {
			if p == "secret" {
				p = "good-token"
			}
			return sasl.NewOAuthBearerClient(u, "mx.test", 25, p)
		},
	}
	for name, newClient := range mechs {
		t.Run(name, func(t *testing.T) {
			logs := &syncBuffer{}
			lb, b := mechServer(t, logs)

			c := dial(t, lb)
			c.Run("C: EHLO client\n" + ehloMechS)
			if r := authWith(t, c, newClient("alice", "wrong")); r != "535 5.7.8 Authentication credentials invalid\r\n" {
				t.Errorf("wrong secret: %q", r)
			}
			if r := authWith(t, c, newClient("broken", "secret")); r != "454 4.7.0 Temporary authentication failure\r\n" {
				t.Errorf("failing backend: %q", r)
			}
			if r := authWith(t, c, newClient("alice", "secret")); r != "235 2.7.0 Authentication successful\r\n" {
				t.Fatalf("right secret: %q", r)
			}
			b.mu.Lock()
			id := b.conns[0].Identity()
			b.mu.Unlock()
			if id != "alice" {
				t.Errorf("Identity() = %q, want alice", id)
			}
			l := logs.String()
			if !strings.Contains(l, "database down") {
				t.Errorf("backend error not logged:\n%s", l)
			}
			// A failed attempt names the user it tried (never the secret).
			if !strings.Contains(l, "mechanism="+name+" user=alice err=") {
				t.Errorf("failed AUTH not logged with its user name:\n%s", l)
			}
			if strings.Contains(l, "secret") || strings.Contains(l, "good-token") || strings.Contains(l, "wrong") {
				t.Errorf("a credential was logged:\n%s", l)
			}
		})
	}
}

// TestAuthMalformedCountsAsError: garbage in an AUTH exchange counts
// towards MaxErrors, so a client cannot loop on it forever.
func TestAuthMalformedCountsAsError(t *testing.T) {
	b := &testBackend{users: map[string]string{"alice": "secret"}}
	s := newServer(b)
	s.AllowInsecureAuth = true
	s.MaxErrors = 2
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloAuthS + `
		C: AUTH PLAIN
		S: 334 
		C: not base64!
		S: 501 5.5.4 Invalid base64 in response
		C: AUTH PLAIN
		S: 334 
		C: ` + base64.StdEncoding.EncodeToString([]byte("no NULs here")) + `
		S: 501 5.5.4 Malformed authentication response
		S: 421 4.7.0 mx.test Too many errors, closing transmission channel
	`)
	c.ExpectClosed()
}
