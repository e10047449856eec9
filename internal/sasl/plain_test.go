package sasl

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordPlain returns a PLAIN server that records what its callback saw.
func recordPlain(got *[3]string) Server {
	return NewPlainServer(func(_ context.Context, id, u, p string) error {
		*got = [3]string{id, u, p}
		return nil
	})
}

func TestPlainVectors(t *testing.T) {
	tests := []struct {
		name          string
		wire          string // base64 as sent on the AUTH line
		id, user, pwd string
	}{
		// RFC 4616 4, first example: no authorization identity.
		{"RFC 4616 tim", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "", "tim", "tanstaaftanstaaf"},
		// RFC 4954 8 example: "test\0test\01234".
		{"RFC 4954 test", "dGVzdAB0ZXN0ADEyMzQ=", "test", "test", "1234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := base64.StdEncoding.DecodeString(tt.wire)
			require.NoError(t, err)
			var got [3]string
			_, done, err := recordPlain(&got).Next(context.Background(), msg)
			require.NoError(t, err)
			assert.True(t, done)
			assert.Equal(t, [3]string{tt.id, tt.user, tt.pwd}, got)

			ir, err := NewPlainClient(tt.id, tt.user, tt.pwd).Start()
			require.NoError(t, err)
			assert.Equal(t, tt.wire, base64.StdEncoding.EncodeToString(ir))
		})
	}
}

func TestPlainAuthzid(t *testing.T) {
	// RFC 4616 4, second example: "Ursel" authorizes as "Kurt".
	var got [3]string
	err := exchange(t, NewPlainClient("Ursel", "Kurt", "xipj3plmq"), recordPlain(&got), true)
	require.NoError(t, err)
	assert.Equal(t, [3]string{"Ursel", "Kurt", "xipj3plmq"}, got)
}

func TestPlainServerMalformed(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
	}{
		{"empty initial response", []byte{}},
		{"no NUL", []byte("timtanstaaf")},
		{"one NUL", []byte("tim\x00tanstaaf")},
		{"three NULs", []byte("\x00tim\x00tan\x00staaf")},
		{"empty username", []byte("\x00\x00secret")},
		{"empty password", []byte("\x00tim\x00")},
		{"invalid UTF-8", []byte("\x00tim\x00\xff\xfe")},
		{"invalid UTF-8 authzid", []byte("\xc3\x00tim\x00pw")},
		{"too long", []byte("\x00tim\x00" + strings.Repeat("p", MaxMessageSize))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			s := NewPlainServer(func(context.Context, string, string, string) error {
				called = true
				return nil
			})
			ch, done, err := s.Next(context.Background(), tt.msg)
			var me *MalformedError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, Plain, me.Mechanism)
			assert.True(t, done)
			assert.Nil(t, ch)
			assert.False(t, called, "callback called on malformed input")
		})
	}
}

func TestPlainServerNoInitialResponse(t *testing.T) {
	var got [3]string
	s := recordPlain(&got)
	ctx := context.Background()
	ch, done, err := s.Next(ctx, nil)
	require.NoError(t, err)
	assert.False(t, done)
	assert.NotNil(t, ch)
	assert.Empty(t, ch, "RFC 4422 5: empty challenge asks for the message")

	_, done, err = s.Next(ctx, []byte("\x00u\x00p"))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, [3]string{"", "u", "p"}, got)
}

func TestPlainServerNilAfterChallenge(t *testing.T) {
	// A second nil (no data at all) is an empty message, not a loop.
	s := recordPlain(new([3]string))
	_, _, err := s.Next(context.Background(), nil)
	require.NoError(t, err)
	_, done, err := s.Next(context.Background(), nil)
	assert.True(t, done)
	var me *MalformedError
	assert.ErrorAs(t, err, &me)
}

func TestPlainClientInvalid(t *testing.T) {
	tests := []struct{ name, id, user, pass string }{
		{"empty user", "", "", "p"},
		{"empty password", "", "u", ""},
		{"NUL in user", "", "u\x00v", "p"},
		{"NUL in password", "", "u", "p\x00"},
		{"NUL in identity", "a\x00", "u", "p"},
		{"bad UTF-8", "", "u", "\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlainClient(tt.id, tt.user, tt.pass).Start()
			assert.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
}

func TestPlainClientUnexpectedChallenge(t *testing.T) {
	c := NewPlainClient("", "u", "p")
	_, err := c.Start()
	require.NoError(t, err)
	_, err = c.Next([]byte("more?"))
	var me *MalformedError
	assert.ErrorAs(t, err, &me)
}
