package sasl

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 7677 3 example.
const (
	rfc7677ClientNonce = "rOprNGfwEbeRWgbNEkqO"
	rfc7677ServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfc7677Salt        = "W22ZaJ0SNY7soEsUEjb6gQ=="
	rfc7677ClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfc7677ServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfc7677ClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfc7677ServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfc7677Credentials(t testing.TB) Credentials {
	t.Helper()
	salt, err := base64.StdEncoding.DecodeString(rfc7677Salt)
	require.NoError(t, err)
	creds, err := NewScramCredentials("pencil", salt, 4096)
	require.NoError(t, err)
	return creds
}

// newTestScramServer returns a SCRAM server with the RFC 7677 server nonce
// and the given credentials for the single user "user".
func newTestScramServer(creds Credentials) *scramServer {
	s := NewScramSHA256Server(func(_ context.Context, u string) (Credentials, error) {
		if u != "user" {
			return Credentials{}, ErrAuthFailed
		}
		return creds, nil
	}).(*scramServer)
	s.newNonce = func() string { return rfc7677ServerNonce }
	return s
}

func newTestScramClient(user, pass string) *scramClient {
	c := NewScramSHA256Client(user, pass).(*scramClient)
	c.nonce = rfc7677ClientNonce
	return c
}

func TestScramCredentialsVector(t *testing.T) {
	creds := rfc7677Credentials(t)
	assert.Equal(t, 4096, creds.Iterations)
	assert.Equal(t, "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=", base64.StdEncoding.EncodeToString(creds.StoredKey))
	assert.Equal(t, "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", base64.StdEncoding.EncodeToString(creds.ServerKey))
}

func TestScramCredentialsDefaults(t *testing.T) {
	a, err := NewScramCredentials("pw", nil, 0)
	require.NoError(t, err)
	b, err := NewScramCredentials("pw", nil, 0)
	require.NoError(t, err)
	assert.Len(t, a.Salt, DefaultScramSaltSize)
	assert.Equal(t, DefaultScramIterations, a.Iterations)
	assert.NotEqual(t, a.Salt, b.Salt, "random salt")
	assert.NotEqual(t, a.StoredKey, b.StoredKey)

	salt := []byte("salt")
	c, err := NewScramCredentials("pw", salt, 4096)
	require.NoError(t, err)
	salt[0] = 'X'
	assert.Equal(t, "salt", string(c.Salt), "salt is copied")

	for _, bad := range []struct {
		salt []byte
		iter int
	}{{[]byte{}, 4096}, {[]byte("s"), -1}, {[]byte("s"), MaxScramIterations + 1}} {
		_, err := NewScramCredentials("pw", bad.salt, bad.iter)
		assert.ErrorIs(t, err, ErrInvalidArgument)
	}
}

func TestScramClientVector(t *testing.T) {
	c := newTestScramClient("user", "pencil")
	ir, err := c.Start()
	require.NoError(t, err)
	assert.Equal(t, rfc7677ClientFirst, string(ir))
	resp, err := c.Next([]byte(rfc7677ServerFirst))
	require.NoError(t, err)
	assert.Equal(t, rfc7677ClientFinal, string(resp))
	resp, err = c.Next([]byte(rfc7677ServerFinal))
	require.NoError(t, err)
	assert.NotNil(t, resp)
	assert.Empty(t, resp, "empty response acknowledges the server signature")
	_, err = c.Next([]byte("v=x"))
	var me *MalformedError
	assert.ErrorAs(t, err, &me)
}

func TestScramServerVector(t *testing.T) {
	s := newTestScramServer(rfc7677Credentials(t))
	ctx := context.Background()
	ch, done, err := s.Next(ctx, []byte(rfc7677ClientFirst))
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, rfc7677ServerFirst, string(ch))
	ch, done, err = s.Next(ctx, []byte(rfc7677ClientFinal))
	require.NoError(t, err)
	assert.False(t, done, "the server signature goes in a 334 challenge")
	assert.Equal(t, rfc7677ServerFinal, string(ch))
	ch, done, err = s.Next(ctx, []byte{})
	require.NoError(t, err)
	assert.True(t, done)
	assert.Nil(t, ch)
}

func TestScramClientRejectsServer(t *testing.T) {
	tests := []struct {
		name        string
		serverFirst string
		serverFinal string // used when serverFirst is the good one
		wantAuth    bool   // ErrAuthFailed rather than malformed
		wantSig     bool   // ErrServerSignature
	}{
		{name: "mandatory extension", serverFirst: "m=x," + rfc7677ServerFirst},
		{name: "missing nonce", serverFirst: "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"},
		{name: "nonce not extended", serverFirst: "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"},
		{name: "foreign nonce", serverFirst: "r=XXXXNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"},
		{name: "nonce with space", serverFirst: "r=rOprNGfwEbeRWgbNEkqO a,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"},
		{name: "missing salt", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,i=4096"},
		{name: "empty salt", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096"},
		{name: "bad salt", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,s=!!!,i=4096"},
		{name: "salt with CRLF", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7s\r\noEsUEjb6gQ==,i=4096"},
		{name: "missing count", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ=="},
		{name: "zero count", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0"},
		{name: "signed count", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096"},
		{name: "count too low", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1"},
		{name: "count too high", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999"},
		{name: "huge count", serverFirst: "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999"},
		{name: "trailing comma", serverFirst: rfc7677ServerFirst + ","},
		{name: "bad extension", serverFirst: rfc7677ServerFirst + ",1=x"},
		{name: "wrong order", serverFirst: "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096"},
		{name: "empty", serverFirst: ""},
		{name: "server error", serverFirst: rfc7677ServerFirst, serverFinal: "e=invalid-proof", wantAuth: true},
		{name: "wrong signature", serverFirst: rfc7677ServerFirst, serverFinal: "v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", wantSig: true},
		{name: "short signature", serverFirst: rfc7677ServerFirst, serverFinal: "v=AAAA", wantSig: true},
		{name: "missing verifier", serverFirst: rfc7677ServerFirst, serverFinal: "x=1"},
		{name: "bad verifier", serverFirst: rfc7677ServerFirst, serverFinal: "v=***"},
		{name: "empty final", serverFirst: rfc7677ServerFirst, serverFinal: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestScramClient("user", "pencil")
			_, err := c.Start()
			require.NoError(t, err)
			_, err = c.Next([]byte(tt.serverFirst))
			if tt.serverFirst == rfc7677ServerFirst {
				require.NoError(t, err)
				_, err = c.Next([]byte(tt.serverFinal))
			}
			switch {
			case tt.wantAuth:
				assert.ErrorIs(t, err, ErrAuthFailed)
			case tt.wantSig:
				assert.ErrorIs(t, err, ErrServerSignature)
			default:
				var me *MalformedError
				assert.ErrorAs(t, err, &me)
			}
		})
	}
}

func TestScramServerMalformed(t *testing.T) {
	good := rfc7677ClientFinal
	tests := []struct {
		name        string
		clientFirst string
		clientFinal string // sent when clientFirst is accepted
	}{
		{name: "channel binding", clientFirst: "p=tls-unique,,n=user,r=abc"},
		{name: "bad cbind flag", clientFirst: "x,,n=user,r=abc"},
		{name: "no gs2 header", clientFirst: "n=user,r=abc"},
		{name: "unterminated gs2", clientFirst: "n,a=user"},
		{name: "bad authzid", clientFirst: "n,b=user,n=user,r=abc"},
		{name: "empty authzid", clientFirst: "n,a=,n=user,r=abc"},
		{name: "mandatory extension", clientFirst: "n,,m=ext,n=user,r=abc"},
		{name: "missing username", clientFirst: "n,,r=abc"},
		{name: "empty username", clientFirst: "n,,n=,r=abc"},
		{name: "bad saslname escape", clientFirst: "n,,n=us=2Xer,r=abc"},
		{name: "truncated escape", clientFirst: "n,,n=user=2,r=abc"},
		{name: "NUL in username", clientFirst: "n,,n=us\x00er,r=abc"},
		{name: "bad UTF-8 username", clientFirst: "n,,n=\xff,r=abc"},
		{name: "missing nonce", clientFirst: "n,,n=user"},
		{name: "empty nonce", clientFirst: "n,,n=user,r="},
		{name: "nonce with space", clientFirst: "n,,n=user,r=a b"},
		{name: "trailing comma", clientFirst: "n,,n=user,r=abc,"},
		{name: "empty extension", clientFirst: "n,,n=user,r=abc,x="},
		{name: "empty", clientFirst: ""},
		{name: "missing proof", clientFirst: rfc7677ClientFirst, clientFinal: "c=biws,r=" + rfc7677ClientNonce + rfc7677ServerNonce},
		{name: "bad proof base64", clientFirst: rfc7677ClientFirst, clientFinal: strings.Replace(good, "p=dHzb", "p=*Hzb", 1)},
		{name: "short proof", clientFirst: rfc7677ClientFirst, clientFinal: "c=biws,r=" + rfc7677ClientNonce + rfc7677ServerNonce + ",p=AAAA"},
		{name: "wrong channel binding", clientFirst: rfc7677ClientFirst, clientFinal: strings.Replace(good, "c=biws", "c=eSws", 1)},
		{name: "missing channel binding", clientFirst: rfc7677ClientFirst, clientFinal: strings.Replace(good, "c=biws,", "", 1)},
		{name: "wrong nonce", clientFirst: rfc7677ClientFirst, clientFinal: strings.Replace(good, "$k0", "$k1", 1)},
		{name: "missing nonce in final", clientFirst: rfc7677ClientFirst, clientFinal: "c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="},
		{name: "bad extension in final", clientFirst: rfc7677ClientFirst, clientFinal: strings.Replace(good, ",p=", ",9=z,p=", 1)},
		{name: "empty final", clientFirst: rfc7677ClientFirst, clientFinal: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestScramServer(rfc7677Credentials(t))
			ctx := context.Background()
			_, done, err := s.Next(ctx, []byte(tt.clientFirst))
			if tt.clientFirst == rfc7677ClientFirst {
				require.NoError(t, err)
				require.False(t, done)
				_, done, err = s.Next(ctx, []byte(tt.clientFinal))
			}
			assert.True(t, done)
			var me *MalformedError
			assert.ErrorAs(t, err, &me)
		})
	}
}

func TestScramServerWrongProof(t *testing.T) {
	s := newTestScramServer(rfc7677Credentials(t))
	ctx := context.Background()
	_, _, err := s.Next(ctx, []byte(rfc7677ClientFirst))
	require.NoError(t, err)
	_, done, err := s.Next(ctx, []byte(strings.Replace(rfc7677ClientFinal, "p=dHzb", "p=eHzb", 1)))
	assert.True(t, done)
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	assert.ErrorIs(t, err, ErrAuthFailed)
	assert.Equal(t, "user", ae.Username)
}

func TestScramServerNonEmptyAck(t *testing.T) {
	s := newTestScramServer(rfc7677Credentials(t))
	ctx := context.Background()
	_, _, err := s.Next(ctx, []byte(rfc7677ClientFirst))
	require.NoError(t, err)
	_, _, err = s.Next(ctx, []byte(rfc7677ClientFinal))
	require.NoError(t, err)
	_, done, err := s.Next(ctx, []byte("x"))
	assert.True(t, done)
	var me *MalformedError
	assert.ErrorAs(t, err, &me)
}

func TestScramGS2Variants(t *testing.T) {
	creds := rfc7677Credentials(t)
	tests := []struct {
		name     string
		gs2      string
		wantAuth bool
	}{
		{"y flag", "y,,", false},
		{"authzid is username", "n,a=user,", false},
		{"other authzid", "n,a=admin,", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestScramServer(creds)
			ctx := context.Background()
			first := tt.gs2 + "n=user,r=" + rfc7677ClientNonce
			_, done, err := s.Next(ctx, []byte(first))
			if tt.wantAuth {
				assert.True(t, done)
				assert.ErrorIs(t, err, ErrAuthFailed)
				return
			}
			require.NoError(t, err)
			final := scramClientFinalFor(t, tt.gs2, first[len(tt.gs2):], rfc7677ServerFirst, "pencil", creds)
			_, done, err = s.Next(ctx, []byte(final))
			require.NoError(t, err)
			assert.False(t, done)
			_, done, err = s.Next(ctx, []byte{})
			require.NoError(t, err)
			assert.True(t, done)
		})
	}
}

// scramClientFinalFor builds a client-final-message for any GS2 header,
// which the client itself never sends.
func scramClientFinalFor(t *testing.T, gs2, clientFirstBare, serverFirst, password string, creds Credentials) string {
	t.Helper()
	a := scramAttrs{s: serverFirst}
	nonce, ok := a.next('r')
	require.True(t, ok)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2)) + ",r=" + nonce
	clientKey, storedKey, _, err := scramKeys(password, creds.Salt, creds.Iterations)
	require.NoError(t, err)
	proof := hmacSHA256(storedKey, clientFirstBare+","+serverFirst+","+withoutProof)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
}

func TestScramExtensionsIgnored(t *testing.T) {
	// RFC 5802 7: extensions after the nonce are allowed and ignored.
	s := newTestScramServer(rfc7677Credentials(t))
	_, done, err := s.Next(context.Background(), []byte(rfc7677ClientFirst+",x=future"))
	require.NoError(t, err)
	assert.False(t, done)
}

func TestScramServerBadStoredCredentials(t *testing.T) {
	bad := rfc7677Credentials(t)
	bad.StoredKey = bad.StoredKey[:10]
	s := newTestScramServer(bad)
	_, done, err := s.Next(context.Background(), []byte(rfc7677ClientFirst))
	assert.True(t, done)
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.Temporary(), "broken stored credentials are a backend failure")
}

func TestSaslname(t *testing.T) {
	tests := []struct{ raw, enc string }{
		{"user", "user"},
		{"a,b", "a=2Cb"},
		{"a=b", "a=3Db"},
		{"=,=", "=3D=2C=3D"},
		{"üser", "üser"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.enc, encodeSaslname(tt.raw))
		dec, ok := decodeSaslname(tt.enc)
		assert.True(t, ok)
		assert.Equal(t, tt.raw, dec)
	}
	for _, bad := range []string{"a=", "a=2", "a=2c", "a=41", "a,b", "a\x00"} {
		_, ok := decodeSaslname(bad)
		assert.False(t, ok, "%q", bad)
	}
}

func TestScramSpecialUsername(t *testing.T) {
	creds, err := NewScramCredentials("pässword", []byte("salt1234"), 4096)
	require.NoError(t, err)
	s := NewScramSHA256Server(func(_ context.Context, u string) (Credentials, error) {
		if u != "a,b=c" {
			return Credentials{}, ErrAuthFailed
		}
		return creds, nil
	})
	assert.NoError(t, exchange(t, NewScramSHA256Client("a,b=c", "pässword"), s, true))
}

func TestScramClientInvalid(t *testing.T) {
	for _, tt := range []struct{ user, pass string }{{"", "p"}, {"u\x00", "p"}, {"\xff", "p"}, {"u", "\xff"}} {
		_, err := NewScramSHA256Client(tt.user, tt.pass).Start()
		assert.ErrorIs(t, err, ErrInvalidArgument, "%q", tt.user)
	}
}

// TestScramMockUnknownUser: with a mock key, an unknown user gets a
// server-first-message of the same form as a real user's (RFC 5802 5.1,
// 9), the same salt at every attempt and a different one for another key,
// and the exchange fails at the proof with the lookup's error.
func TestScramMockUnknownUser(t *testing.T) {
	real, err := NewScramCredentials("secret", nil, 0)
	require.NoError(t, err)
	lookup := func(_ context.Context, u string) (Credentials, error) {
		if u == "alice" {
			return real, nil
		}
		return Credentials{}, fmt.Errorf("no user %q: %w", u, ErrAuthFailed)
	}
	first := func(key []byte, user string) (string, Server) {
		s := NewScramSHA256ServerWithMock(lookup, key)
		ch, done, err := s.Next(context.Background(), []byte("n,,n="+user+",r=abcdef"))
		require.NoError(t, err)
		require.False(t, done)
		return string(ch), s
	}
	salt := func(msg string) string {
		_, rest, _ := strings.Cut(msg, ",s=")
		s, _, _ := strings.Cut(rest, ",")
		return s
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	known, _ := first(key, "alice")
	mock, _ := first(key, "nobody")
	again, _ := first(key, "nobody")
	otherKey, _ := first([]byte("another key, another server......"), "nobody")
	assert.Regexp(t, `^r=abcdef[!-+--~]+,s=[A-Za-z0-9+/]{22}==,i=4096$`, known)
	assert.Regexp(t, `^r=abcdef[!-+--~]+,s=[A-Za-z0-9+/]{22}==,i=4096$`, mock)
	assert.Equal(t, salt(mock), salt(again), "the mock salt changes between attempts")
	assert.NotEqual(t, salt(mock), salt(otherKey), "the mock salt does not depend on the key")
	assert.NotEqual(t, salt(mock), salt(known))

	// Whatever the password (here the empty one and a real user's), the
	// exchange goes to the proof and fails there with the lookup's error.
	for _, pass := range []string{"", "secret"} {
		s := NewScramSHA256ServerWithMock(lookup, key)
		err := exchange(t, NewScramSHA256Client("nobody", pass), s, true)
		var ae *AuthError
		require.ErrorAs(t, err, &ae)
		assert.ErrorIs(t, err, ErrAuthFailed)
		assert.Contains(t, ae.Err.Error(), `no user "nobody"`)
		assert.False(t, ae.Temporary())
	}
	// Without a key the unknown user fails at once, as documented.
	_, done, err := NewScramSHA256Server(lookup).Next(context.Background(), []byte("n,,n=nobody,r=abcdef"))
	assert.True(t, done)
	assert.ErrorIs(t, err, ErrAuthFailed)
	// A backend failure is not mocked.
	failing := NewScramSHA256ServerWithMock(func(context.Context, string) (Credentials, error) {
		return Credentials{}, errors.New("database down")
	}, key)
	_, done, err = failing.Next(context.Background(), []byte("n,,n=alice,r=abcdef"))
	var ae *AuthError
	assert.True(t, done)
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.Temporary())
}

// TestScramClientFinish: RFC 5802 5: success is acceptable only once the
// server's signature was verified; before client-final, after it without
// server-final, or after a wrong signature, Finish fails.
func TestScramClientFinish(t *testing.T) {
	var _ Finisher = newTestScramClient("user", "pencil")
	steps := func(c *scramClient, n int, final string) error {
		_, err := c.Start()
		require.NoError(t, err)
		if n >= 1 {
			_, err = c.Next([]byte(rfc7677ServerFirst))
			require.NoError(t, err)
		}
		if n >= 2 {
			_, err = c.Next([]byte(final))
		}
		return err
	}
	c := newTestScramClient("user", "pencil")
	require.NoError(t, steps(c, 0, ""))
	assert.ErrorIs(t, c.Finish(), ErrNoServerSignature, "success before the client's proof")

	c = newTestScramClient("user", "pencil")
	require.NoError(t, steps(c, 1, ""))
	assert.ErrorIs(t, c.Finish(), ErrNoServerSignature, "success without server-final")

	c = newTestScramClient("user", "pencil")
	assert.ErrorIs(t, steps(c, 2, "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), ErrServerSignature)
	assert.ErrorIs(t, c.Finish(), ErrNoServerSignature, "success after a wrong signature")

	c = newTestScramClient("user", "pencil")
	assert.ErrorIs(t, steps(c, 2, "e=invalid-proof"), ErrAuthFailed)
	assert.ErrorIs(t, c.Finish(), ErrNoServerSignature, "success after a server error")

	c = newTestScramClient("user", "pencil")
	require.NoError(t, steps(c, 2, rfc7677ServerFinal))
	assert.NoError(t, c.Finish())
}
