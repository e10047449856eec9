package sasl

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 2195 2 example.
const (
	rfc2195Challenge = "<1896.697170952@postoffice.reston.mci.net>"
	rfc2195Response  = "tim b913a602c7eda7a495b4e6e7334d3890"
)

// newTestCramServer returns a CRAM-MD5 server with a fixed challenge whose
// only user is tim.
func newTestCramServer(challenge string) Server {
	s := NewCramMD5Server("postoffice.reston.mci.net", func(_ context.Context, u string) (string, error) {
		if u != "tim" {
			return "", ErrAuthFailed
		}
		return testSecret, nil
	}).(*cramServer)
	s.newChal = func() string { return challenge }
	return s
}

func TestCramMD5Vector(t *testing.T) {
	// Client side.
	c := NewCramMD5Client("tim", testSecret)
	ir, err := c.Start()
	require.NoError(t, err)
	assert.Nil(t, ir)
	resp, err := c.Next([]byte(rfc2195Challenge))
	require.NoError(t, err)
	assert.Equal(t, rfc2195Response, string(resp))
	// The wire forms of RFC 2195 2.
	assert.Equal(t, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", base64.StdEncoding.EncodeToString(resp))

	// Server side.
	s := newTestCramServer(rfc2195Challenge)
	ch, done, err := s.Next(context.Background(), nil)
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", base64.StdEncoding.EncodeToString(ch))
	_, done, err = s.Next(context.Background(), []byte(rfc2195Response))
	require.NoError(t, err)
	assert.True(t, done)
}

func TestCramMD5UppercaseDigest(t *testing.T) {
	s := newTestCramServer(rfc2195Challenge)
	_, _, err := s.Next(context.Background(), nil)
	require.NoError(t, err)
	_, _, err = s.Next(context.Background(), []byte(strings.ToUpper(rfc2195Response[:4])+strings.ToUpper(rfc2195Response[4:])))
	assert.ErrorIs(t, err, ErrAuthFailed, "user names are case-sensitive")

	s = newTestCramServer(rfc2195Challenge)
	_, _, err = s.Next(context.Background(), nil)
	require.NoError(t, err)
	_, _, err = s.Next(context.Background(), []byte("tim "+strings.ToUpper(rfc2195Response[4:])))
	assert.NoError(t, err, "hex digits are accepted in either case")
}

func TestCramMD5Challenge(t *testing.T) {
	s := NewCramMD5Server("mx.example.org", nil)
	ch1, _, err := s.Next(context.Background(), nil)
	require.NoError(t, err)
	ch2, _, err := NewCramMD5Server("mx.example.org", nil).Next(context.Background(), nil)
	require.NoError(t, err)
	re := regexp.MustCompile(`^<[0-9]+\.[0-9]+@mx\.example\.org>$`)
	assert.Regexp(t, re, string(ch1))
	assert.NotEqual(t, string(ch1), string(ch2), "challenges must be unique")

	ch, _, err := NewCramMD5Server("", nil).Next(context.Background(), nil)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(ch), "@localhost>"))
}

func TestCramMD5ServerMalformed(t *testing.T) {
	tests := []struct {
		name  string
		steps [][]byte
	}{
		{"initial response", [][]byte{[]byte("tim")}},
		{"empty initial response", [][]byte{{}}},
		{"no space", [][]byte{nil, []byte("timb913a602c7eda7a495b4e6e7334d3890")}},
		{"no user", [][]byte{nil, []byte(" b913a602c7eda7a495b4e6e7334d3890")}},
		{"short digest", [][]byte{nil, []byte("tim b913a602")}},
		{"long digest", [][]byte{nil, []byte("tim b913a602c7eda7a495b4e6e7334d389000")}},
		{"not hex", [][]byte{nil, []byte("tim z913a602c7eda7a495b4e6e7334d3890")}},
		{"bad UTF-8 user", [][]byte{nil, []byte("\xff b913a602c7eda7a495b4e6e7334d3890")}},
		{"NUL in user", [][]byte{nil, []byte("t\x00m b913a602c7eda7a495b4e6e7334d3890")}},
		{"empty", [][]byte{nil, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewCramMD5Server("h", func(context.Context, string) (string, error) {
				t.Error("lookup called on malformed input")
				return "", nil
			})
			var err error
			var done bool
			for _, msg := range tt.steps {
				require.False(t, done)
				_, done, err = s.Next(context.Background(), msg)
			}
			assert.True(t, done)
			var me *MalformedError
			assert.ErrorAs(t, err, &me)
		})
	}
}

func TestCramMD5UserWithSpace(t *testing.T) {
	s := NewCramMD5Server("h", func(_ context.Context, u string) (string, error) {
		if u != "tim smith" {
			return "", ErrAuthFailed
		}
		return "s3cret", nil
	})
	assert.NoError(t, exchange(t, NewCramMD5Client("tim smith", "s3cret"), s, true))
}

func TestCramMD5ClientErrors(t *testing.T) {
	_, err := NewCramMD5Client("", "x").Start()
	assert.ErrorIs(t, err, ErrInvalidArgument)

	c := NewCramMD5Client("tim", "x")
	_, err = c.Start()
	require.NoError(t, err)
	_, err = c.Next(nil)
	var me *MalformedError
	assert.ErrorAs(t, err, &me, "empty challenge")

	c = NewCramMD5Client("tim", "x")
	_, err = c.Next([]byte(rfc2195Challenge))
	require.NoError(t, err)
	_, err = c.Next([]byte(rfc2195Challenge))
	assert.ErrorAs(t, err, &me, "second challenge")
}

// TestCramMD5UnknownUser: an unknown user fails after the same digest as
// a wrong password, with the lookup's error, even with the empty secret
// the lookup returned alongside it.
func TestCramMD5UnknownUser(t *testing.T) {
	calls := 0
	s := NewCramMD5Server("h", func(_ context.Context, u string) (string, error) {
		calls++
		return "", fmt.Errorf("no user %q: %w", u, ErrAuthFailed)
	})
	err := exchange(t, NewCramMD5Client("nobody", ""), s, true)
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	assert.ErrorIs(t, err, ErrAuthFailed)
	assert.False(t, ae.Temporary())
	assert.Equal(t, 1, calls)
}
