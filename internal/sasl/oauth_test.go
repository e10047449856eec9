package sasl

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 7628 4.1 example token.
const rfc7628Token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="

func TestOAuthBearerClientMessage(t *testing.T) {
	tests := []struct {
		name       string
		user, host string
		port       int
		want       string
	}{
		// RFC 7628 4.1.
		{"RFC 7628 4.1", "user@example.com", "server.example.com", 143,
			"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer " + rfc7628Token + "\x01\x01"},
		{"no user, host or port", "", "", 0, "n,,\x01auth=Bearer " + rfc7628Token + "\x01\x01"},
		{"escaped authzid", "a,b=c", "", 0, "n,a=a=2Cb=3Dc,\x01auth=Bearer " + rfc7628Token + "\x01\x01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ir, err := NewOAuthBearerClient(tt.user, tt.host, tt.port, rfc7628Token).Start()
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(ir))
		})
	}
}

func TestXOAuth2ClientMessage(t *testing.T) {
	c := NewXOAuth2Client("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg")
	ir, err := c.Start()
	require.NoError(t, err)
	assert.Equal(t, "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg\x01\x01", string(ir))
	resp, err := c.Next([]byte(xoauth2ErrorChallenge))
	require.NoError(t, err)
	assert.NotNil(t, resp)
	assert.Empty(t, resp)
	_, err = c.Next([]byte("again"))
	var me *MalformedError
	assert.ErrorAs(t, err, &me)
}

func TestOAuthClientInvalid(t *testing.T) {
	tests := []struct {
		name string
		c    Client
	}{
		{"xoauth2 empty user", NewXOAuth2Client("", "tok")},
		{"xoauth2 control in user", NewXOAuth2Client("u\x01", "tok")},
		{"xoauth2 empty token", NewXOAuth2Client("u", "")},
		{"xoauth2 token with space", NewXOAuth2Client("u", "a b")},
		{"xoauth2 token with separator", NewXOAuth2Client("u", "a\x01")},
		{"oauthbearer NUL user", NewOAuthBearerClient("u\x00", "", 0, "tok")},
		{"oauthbearer control in host", NewOAuthBearerClient("u", "h\x01", 0, "tok")},
		{"oauthbearer port", NewOAuthBearerClient("u", "h", 70000, "tok")},
		{"oauthbearer token", NewOAuthBearerClient("u", "h", 0, "tok=en")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Start()
			assert.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
}

// recordOAuth returns a server that records the callback's arguments and
// refuses every token but "good".
func recordOAuth(mech string, got *[2]string) Server {
	check := func(_ context.Context, u, tok string) error {
		*got = [2]string{u, tok}
		if tok != "good" {
			return ErrAuthFailed
		}
		return nil
	}
	if mech == XOAuth2 {
		return NewXOAuth2Server(check)
	}
	return NewOAuthBearerServer(check)
}

func TestOAuthServerParses(t *testing.T) {
	tests := []struct {
		name, mech, msg string
		user            string
	}{
		{"RFC 7628 4.1", OAuthBearer, "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer good\x01\x01", "user@example.com"},
		{"oauthbearer minimal", OAuthBearer, "n,,\x01auth=Bearer good\x01\x01", ""},
		{"oauthbearer y flag", OAuthBearer, "y,,\x01auth=Bearer good\x01\x01", ""},
		{"oauthbearer escaped authzid", OAuthBearer, "n,a=a=2Cb,\x01auth=Bearer good\x01\x01", "a,b"},
		{"oauthbearer scheme case, extra spaces", OAuthBearer, "n,,\x01auth=bearer   good\x01\x01", ""},
		{"oauthbearer unknown key", OAuthBearer, "n,,\x01future=x y\x01auth=Bearer good\x01\x01", ""},
		{"xoauth2", XOAuth2, "user=someone@example.com\x01auth=Bearer good\x01\x01", "someone@example.com"},
		{"xoauth2 reversed", XOAuth2, "auth=Bearer good\x01user=someone@example.com\x01\x01", "someone@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [2]string
			_, done, err := recordOAuth(tt.mech, &got).Next(context.Background(), []byte(tt.msg))
			require.NoError(t, err)
			assert.True(t, done)
			assert.Equal(t, [2]string{tt.user, "good"}, got)
		})
	}
}

func TestOAuthServerMalformed(t *testing.T) {
	tests := []struct{ name, mech, msg string }{
		{"oauthbearer channel binding", OAuthBearer, "p=tls-unique,,\x01auth=Bearer good\x01\x01"},
		{"oauthbearer bad flag", OAuthBearer, "x,,\x01auth=Bearer good\x01\x01"},
		{"oauthbearer unterminated gs2", OAuthBearer, "n,a=u"},
		{"oauthbearer bad authzid", OAuthBearer, "n,u=x,\x01auth=Bearer good\x01\x01"},
		{"oauthbearer empty authzid", OAuthBearer, "n,a=,\x01auth=Bearer good\x01\x01"},
		{"oauthbearer bad escape", OAuthBearer, "n,a=a=zz,\x01auth=Bearer good\x01\x01"},
		{"oauthbearer no kvsep after gs2", OAuthBearer, "n,,auth=Bearer good\x01\x01"},
		{"oauthbearer missing final kvsep", OAuthBearer, "n,,\x01auth=Bearer good\x01"},
		{"oauthbearer no auth", OAuthBearer, "n,,\x01host=h\x01\x01"},
		{"oauthbearer dummy alone", OAuthBearer, "\x01"},
		{"oauthbearer repeated auth", OAuthBearer, "n,,\x01auth=Bearer good\x01auth=Bearer good\x01\x01"},
		{"oauthbearer bad key", OAuthBearer, "n,,\x01h0st=h\x01auth=Bearer good\x01\x01"},
		{"oauthbearer empty key", OAuthBearer, "n,,\x01=h\x01auth=Bearer good\x01\x01"},
		{"oauthbearer no equals", OAuthBearer, "n,,\x01host\x01auth=Bearer good\x01\x01"},
		{"oauthbearer control in value", OAuthBearer, "n,,\x01host=\x02\x01auth=Bearer good\x01\x01"},
		{"oauthbearer other scheme", OAuthBearer, "n,,\x01auth=Basic Zm9vOmJhcg==\x01\x01"},
		{"oauthbearer scheme only", OAuthBearer, "n,,\x01auth=Bearer\x01\x01"},
		{"oauthbearer no space", OAuthBearer, "n,,\x01auth=Bearergood\x01\x01"},
		{"oauthbearer bad token", OAuthBearer, "n,,\x01auth=Bearer go=od\x01\x01"},
		{"oauthbearer empty token", OAuthBearer, "n,,\x01auth=Bearer  \x01\x01"},
		{"oauthbearer empty", OAuthBearer, ""},
		{"xoauth2 missing user", XOAuth2, "auth=Bearer good\x01\x01"},
		{"xoauth2 empty user", XOAuth2, "user=\x01auth=Bearer good\x01\x01"},
		{"xoauth2 bad UTF-8 user", XOAuth2, "user=\xff\x01auth=Bearer good\x01\x01"},
		{"xoauth2 repeated user", XOAuth2, "user=a\x01user=b\x01auth=Bearer good\x01\x01"},
		{"xoauth2 missing auth", XOAuth2, "user=a\x01\x01"},
		{"xoauth2 no terminator", XOAuth2, "user=a\x01auth=Bearer good"},
		{"xoauth2 empty", XOAuth2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := recordOAuth(tt.mech, new([2]string))
			ch, done, err := s.Next(context.Background(), []byte(tt.msg))
			var me *MalformedError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.mech, me.Mechanism)
			assert.True(t, done)
			assert.Nil(t, ch)
		})
	}
}

func TestOAuthServerErrorChallenge(t *testing.T) {
	tests := []struct {
		mech, msg  string
		dummy      string
		wantStatus string
	}{
		// RFC 7628 4.3: the failure example.
		{OAuthBearer, "n,a=user@example.com,\x01auth=Bearer bad\x01\x01", "\x01", "invalid_token"},
		{XOAuth2, "user=someone@example.com\x01auth=Bearer bad\x01\x01", "", "401"},
	}
	for _, tt := range tests {
		t.Run(tt.mech, func(t *testing.T) {
			s := recordOAuth(tt.mech, new([2]string))
			ctx := context.Background()
			ch, done, err := s.Next(ctx, []byte(tt.msg))
			require.NoError(t, err)
			assert.False(t, done)
			var body map[string]string
			require.NoError(t, json.Unmarshal(ch, &body), "RFC 7628 3.2.2: JSON error")
			assert.Equal(t, tt.wantStatus, body["status"])

			_, done, err = s.Next(ctx, []byte(tt.dummy))
			assert.True(t, done)
			var ae *AuthError
			require.ErrorAs(t, err, &ae)
			assert.ErrorIs(t, err, ErrAuthFailed)
			assert.False(t, ae.Temporary())
		})
	}
}

func TestOAuthBearerClientDummyResponse(t *testing.T) {
	c := NewOAuthBearerClient("u", "h", 25, "tok")
	_, err := c.Start()
	require.NoError(t, err)
	resp, err := c.Next([]byte(oauthBearerErrorChallenge))
	require.NoError(t, err)
	assert.Equal(t, "\x01", string(resp), "RFC 7628 3.2.3")
	_, err = c.Next([]byte(oauthBearerErrorChallenge))
	var me *MalformedError
	assert.ErrorAs(t, err, &me)
}

func TestIsB64Token(t *testing.T) {
	for _, ok := range []string{"a", "A-._~+/9", "abc==", rfc7628Token} {
		assert.True(t, isB64Token(ok), "%q", ok)
	}
	for _, bad := range []string{"", "=", "==abc", "a=b", "a b", "a\x01", "é"} {
		assert.False(t, isB64Token(bad), "%q", bad)
	}
}

// TestOAuthClientFinish: RFC 7628 3.2.3: once the server sent its error
// challenge, a success is not believed.
func TestOAuthClientFinish(t *testing.T) {
	for _, c := range []Client{NewOAuthBearerClient("u", "h", 25, "tok"), NewXOAuth2Client("u", "tok")} {
		f := c.(Finisher)
		_, err := c.Start()
		require.NoError(t, err)
		assert.NoError(t, f.Finish(), c.Name())
		_, err = c.Next([]byte(`{"status":"invalid_token"}`))
		require.NoError(t, err)
		assert.ErrorIs(t, f.Finish(), ErrSuccessAfterFailure, c.Name())
	}
}
