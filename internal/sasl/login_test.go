package sasl

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func recordLogin(got *[2]string) Server {
	return NewLoginServer(func(_ context.Context, u, p string) error {
		*got = [2]string{u, p}
		return nil
	})
}

func TestLoginServerPrompts(t *testing.T) {
	ctx := context.Background()
	var got [2]string
	s := recordLogin(&got)

	ch, done, err := s.Next(ctx, nil)
	require.NoError(t, err)
	assert.False(t, done)
	// Base64 of these is the well-known "VXNlcm5hbWU6" / "UGFzc3dvcmQ6".
	assert.Equal(t, "Username:", string(ch))

	ch, done, err = s.Next(ctx, []byte("tim"))
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, "Password:", string(ch))

	ch, done, err = s.Next(ctx, []byte("tanstaaf"))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Nil(t, ch)
	assert.Equal(t, [2]string{"tim", "tanstaaf"}, got)
}

func TestLoginServerInitialResponse(t *testing.T) {
	// "AUTH LOGIN dGlt": the initial response is the user name.
	ctx := context.Background()
	var got [2]string
	s := recordLogin(&got)
	ch, done, err := s.Next(ctx, []byte("tim"))
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, "Password:", string(ch))
	_, done, err = s.Next(ctx, []byte(""))
	require.NoError(t, err, "an empty password is the callback's business")
	assert.True(t, done)
	assert.Equal(t, [2]string{"tim", ""}, got)
}

func TestLoginServerMalformed(t *testing.T) {
	tests := []struct {
		name  string
		steps [][]byte
	}{
		{"empty initial response", [][]byte{{}}},
		{"empty user name", [][]byte{nil, {}}},
		{"NUL in user name", [][]byte{nil, []byte("a\x00b")}},
		{"bad UTF-8 user name", [][]byte{[]byte("\xff")}},
		{"NUL in password", [][]byte{[]byte("tim"), []byte("p\x00")}},
		{"bad UTF-8 password", [][]byte{[]byte("tim"), []byte("\xc3")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewLoginServer(func(context.Context, string, string) error {
				t.Error("callback called on malformed input")
				return nil
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

func TestLoginClient(t *testing.T) {
	tests := []struct {
		name       string
		challenges []string
		want       []string
	}{
		{"standard prompts", []string{"Username:", "Password:"}, []string{"u", "p"}},
		{"other prompt text", []string{"User Name\x00", "Password\x00"}, []string{"u", "p"}},
		{"password first", []string{"Password:"}, []string{"p"}},
		{"case-insensitive", []string{"PASSWORD:"}, []string{"p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewLoginClient("u", "p")
			ir, err := c.Start()
			require.NoError(t, err)
			assert.Nil(t, ir, "LOGIN sends no initial response")
			for i, ch := range tt.challenges {
				resp, err := c.Next([]byte(ch))
				require.NoError(t, err)
				assert.Equal(t, tt.want[i], string(resp))
			}
			_, err = c.Next([]byte("Again:"))
			var me *MalformedError
			assert.ErrorAs(t, err, &me, "one challenge too many")
		})
	}
}

func TestLoginClientEmptyUser(t *testing.T) {
	_, err := NewLoginClient("", "p").Start()
	assert.ErrorIs(t, err, ErrInvalidArgument)
}
