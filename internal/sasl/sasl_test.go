package sasl

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wire mimics the SMTP layer's base64 transport of one message: nil stays
// nil (no initial response), anything else round-trips through base64,
// so an empty message arrives as an empty non-nil slice ("=").
func wire(t testing.TB, msg []byte) []byte {
	t.Helper()
	if msg == nil {
		return nil
	}
	out, err := base64.StdEncoding.DecodeString(base64.StdEncoding.EncodeToString(msg))
	require.NoError(t, err)
	if out == nil {
		out = []byte{}
	}
	return out
}

// maxTestSteps bounds exchanges driven by the tests.
const maxTestSteps = 10

// exchange drives a client against a server the way the SMTP layers do.
// With useIR false the client's initial response is not put on the AUTH
// line but sent in reply to the server's first (empty) challenge, as a
// client does when the line would be too long (RFC 4954 4). It returns the
// server's final error, or the client's error wrapped as clientErr.
func exchange(t testing.TB, c Client, s Server, useIR bool) error {
	t.Helper()
	ctx := context.Background()
	ir, err := c.Start()
	if err != nil {
		return clientErr{err}
	}
	var ch []byte
	var done bool
	if useIR || ir == nil {
		ch, done, err = s.Next(ctx, wire(t, ir))
	} else {
		ch, done, err = s.Next(ctx, nil)
		if err == nil && !done {
			if !assert.Empty(t, ch, "first challenge without initial response") {
				return errors.New("unexpected challenge")
			}
			ch, done, err = s.Next(ctx, wire(t, ir))
		}
	}
	for i := 0; !done; i++ {
		require.Less(t, i, maxTestSteps, "exchange does not end")
		require.NoError(t, err, "error with done=false")
		resp, cerr := c.Next(wire(t, ch))
		if cerr != nil {
			return clientErr{cerr}
		}
		ch, done, err = s.Next(ctx, wire(t, resp))
	}
	if err == nil {
		assert.Nil(t, ch, "challenge returned with success")
	}
	// The exchange is over: another message is refused.
	_, done2, err2 := s.Next(ctx, []byte("x"))
	assert.True(t, done2)
	var me *MalformedError
	assert.ErrorAs(t, err2, &me, "Next after the end")
	return err
}

// clientErr marks an error that came from the Client.
type clientErr struct{ err error }

func (e clientErr) Error() string { return "client: " + e.err.Error() }
func (e clientErr) Unwrap() error { return e.err }

// Test credentials shared by the round-trip tests.
const (
	testUser   = "alice@example.org"
	testPass   = "correct horse battery staple"
	testToken  = "ya29.a0AfH6SMBx-Kz_0~9/+A=="
	testSecret = "tanstaaftanstaaf"
)

// errBackend is a backend failure that is not a credentials failure.
var errBackend = errors.New("directory unreachable")

// mechCase makes a client and a server for one mechanism. backend selects
// what the server's callback does: "ok" checks the real credentials,
// "down" fails with errBackend.
type mechCase struct {
	name      string
	client    func(user, secret string) Client
	server    func(backend string) Server
	noIROnly  bool // the mechanism has no initial response
	wrongCred string
}

func checkPass(backend, user, pass string) error {
	if backend == "down" {
		return errBackend
	}
	if user != testUser || pass != testPass {
		return ErrAuthFailed
	}
	return nil
}

func mechCases(t testing.TB) []mechCase {
	creds, err := NewScramCredentials(testPass, []byte("0123456789abcdef"), 4096)
	require.NoError(t, err)
	return []mechCase{
		{
			name:   Plain,
			client: func(u, p string) Client { return NewPlainClient("", u, p) },
			server: func(b string) Server {
				return NewPlainServer(func(_ context.Context, id, u, p string) error {
					if id != "" {
						return ErrAuthFailed
					}
					return checkPass(b, u, p)
				})
			},
			wrongCred: "wrong",
		},
		{
			name:   Login,
			client: NewLoginClient,
			server: func(b string) Server {
				return NewLoginServer(func(_ context.Context, u, p string) error { return checkPass(b, u, p) })
			},
			noIROnly:  true,
			wrongCred: "wrong",
		},
		{
			name:   CramMD5,
			client: NewCramMD5Client,
			server: func(b string) Server {
				return NewCramMD5Server("mx.example.org", func(_ context.Context, u string) (string, error) {
					if b == "down" {
						return "", errBackend
					}
					if u != testUser {
						return "", ErrAuthFailed
					}
					return testPass, nil
				})
			},
			noIROnly:  true,
			wrongCred: "wrong",
		},
		{
			name:   ScramSHA256,
			client: NewScramSHA256Client,
			server: func(b string) Server {
				return NewScramSHA256Server(func(_ context.Context, u string) (Credentials, error) {
					if b == "down" {
						return Credentials{}, errBackend
					}
					if u != testUser {
						return Credentials{}, ErrAuthFailed
					}
					return creds, nil
				})
			},
			wrongCred: "wrong",
		},
		{
			name:   XOAuth2,
			client: NewXOAuth2Client,
			server: func(b string) Server {
				return NewXOAuth2Server(func(_ context.Context, u, tok string) error {
					if b == "down" {
						return errBackend
					}
					if u != testUser || tok != testToken {
						return ErrAuthFailed
					}
					return nil
				})
			},
			wrongCred: "expired.token",
		},
		{
			name: OAuthBearer,
			client: func(u, tok string) Client {
				return NewOAuthBearerClient(u, "mx.example.org", 587, tok)
			},
			server: func(b string) Server {
				return NewOAuthBearerServer(func(_ context.Context, u, tok string) error {
					if b == "down" {
						return errBackend
					}
					if u != testUser || tok != testToken {
						return ErrAuthFailed
					}
					return nil
				})
			},
			wrongCred: "expired.token",
		},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, mc := range mechCases(t) {
		secret := testPass
		if mc.name == XOAuth2 || mc.name == OAuthBearer {
			secret = testToken
		}
		for _, useIR := range []bool{true, false} {
			if mc.noIROnly && !useIR {
				continue
			}
			name := mc.name
			if !useIR {
				name += "/no-initial-response"
			}
			t.Run(name, func(t *testing.T) {
				c := mc.client(testUser, secret)
				assert.Equal(t, mc.name, c.Name())
				assert.NoError(t, exchange(t, c, mc.server("ok"), useIR))
			})
			t.Run(name+"/wrong-credentials", func(t *testing.T) {
				err := exchange(t, mc.client(testUser, mc.wrongCred), mc.server("ok"), useIR)
				var ae *AuthError
				require.ErrorAs(t, err, &ae)
				assert.ErrorIs(t, err, ErrAuthFailed)
				assert.False(t, ae.Temporary())
				assert.Equal(t, mc.name, ae.Mechanism)
				assert.Equal(t, testUser, ae.Username)
				assert.NotContains(t, err.Error(), mc.wrongCred, "error text leaks the secret")
			})
			t.Run(name+"/unknown-user", func(t *testing.T) {
				err := exchange(t, mc.client("mallory", secret), mc.server("ok"), useIR)
				assert.ErrorIs(t, err, ErrAuthFailed)
			})
			t.Run(name+"/backend-down", func(t *testing.T) {
				err := exchange(t, mc.client(testUser, secret), mc.server("down"), useIR)
				var ae *AuthError
				require.ErrorAs(t, err, &ae)
				assert.ErrorIs(t, err, errBackend)
				assert.NotErrorIs(t, err, ErrAuthFailed)
				assert.True(t, ae.Temporary())
			})
		}
	}
}

func TestServerRejectsOversizeMessage(t *testing.T) {
	big := []byte(strings.Repeat("a", MaxMessageSize+1))
	for _, mc := range mechCases(t) {
		t.Run(mc.name, func(t *testing.T) {
			s := mc.server("ok")
			ctx := context.Background()
			msg := big
			if mc.noIROnly {
				// Get past the first challenge.
				_, done, err := s.Next(ctx, nil)
				require.NoError(t, err)
				require.False(t, done)
			}
			_, done, err := s.Next(ctx, msg)
			assert.True(t, done)
			var me *MalformedError
			assert.ErrorAs(t, err, &me)
		})
	}
}

func TestClientRejectsOversizeChallenge(t *testing.T) {
	big := []byte(strings.Repeat("a", MaxMessageSize+1))
	for _, mc := range mechCases(t) {
		t.Run(mc.name, func(t *testing.T) {
			c := mc.client(testUser, testToken)
			_, err := c.Start()
			require.NoError(t, err)
			_, err = c.Next(big)
			var me *MalformedError
			assert.ErrorAs(t, err, &me)
		})
	}
}

func TestStrength(t *testing.T) {
	order := []string{ScramSHA256, OAuthBearer, XOAuth2, CramMD5, Plain, Login}
	for i := 1; i < len(order); i++ {
		assert.Greater(t, Strength(order[i-1]), Strength(order[i]), "%s > %s", order[i-1], order[i])
	}
	assert.Equal(t, Strength(ScramSHA256), Strength("scram-sha-256"), "case-insensitive")
	assert.Zero(t, Strength("GSSAPI"))
	assert.Zero(t, Strength(""))
}

func TestChoose(t *testing.T) {
	tests := []struct {
		name    string
		offered []string
		usable  []string
		want    string
	}{
		{"scram wins", []string{"PLAIN", "LOGIN", "SCRAM-SHA-256", "CRAM-MD5"}, PasswordMechanisms(), ScramSHA256},
		{"cram over plain", []string{"LOGIN", "PLAIN", "CRAM-MD5"}, PasswordMechanisms(), CramMD5},
		{"plain over login", []string{"LOGIN", "PLAIN"}, PasswordMechanisms(), Plain},
		{"login only", []string{"LOGIN"}, PasswordMechanisms(), Login},
		{"case-insensitive offer", []string{"plain", "login"}, PasswordMechanisms(), Plain},
		{"no common", []string{"GSSAPI", "NTLM"}, PasswordMechanisms(), ""},
		{"tokens ignored without token", []string{"XOAUTH2", "OAUTHBEARER", "PLAIN"}, PasswordMechanisms(), Plain},
		{"token prefers oauthbearer", []string{"XOAUTH2", "OAUTHBEARER", "PLAIN"}, TokenMechanisms(), OAuthBearer},
		{"token xoauth2", []string{"XOAUTH2", "PLAIN", "SCRAM-SHA-256"}, TokenMechanisms(), XOAuth2},
		{"token without oauth offer", []string{"PLAIN"}, TokenMechanisms(), ""},
		{"policy filter", []string{"PLAIN", "CRAM-MD5", "SCRAM-SHA-256"}, []string{CramMD5}, CramMD5},
		{"unknown usable ignored", []string{"GSSAPI"}, []string{"GSSAPI"}, ""},
		{"empty", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Choose(tt.offered, tt.usable))
		})
	}
}

func TestMechanismListsAreFresh(t *testing.T) {
	a := PasswordMechanisms()
	a[0] = "MUTATED"
	assert.Equal(t, ScramSHA256, PasswordMechanisms()[0])
	b := TokenMechanisms()
	b[0] = "MUTATED"
	assert.Equal(t, OAuthBearer, TokenMechanisms()[0])
}

func TestErrors(t *testing.T) {
	me := &MalformedError{Mechanism: Plain, Reason: "missing NUL separator"}
	assert.Equal(t, "sasl: PLAIN: malformed message: missing NUL separator", me.Error())

	ae := &AuthError{Mechanism: Login, Username: "bob\r\n", Err: ErrAuthFailed}
	assert.Equal(t, `sasl: LOGIN: authentication of "bob\r\n" failed: sasl: authentication failed`, ae.Error())
	assert.False(t, ae.Temporary())
	assert.ErrorIs(t, ae, ErrAuthFailed)

	wrapped := &AuthError{Mechanism: Plain, Err: errors.Join(errors.New("locked"), ErrAuthFailed)}
	assert.False(t, wrapped.Temporary(), "wrapped ErrAuthFailed is still a credentials failure")

	backend := &AuthError{Mechanism: Plain, Err: errBackend}
	assert.True(t, backend.Temporary())

	_, err := NewPlainClient("", "", "x").Start()
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Contains(t, err.Error(), "PLAIN")
}
