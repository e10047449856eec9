package reply

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEnhancedCode(t *testing.T) {
	tests := []struct {
		in   string
		want EnhancedCode
		ok   bool
	}{
		{"2.0.0", EnhancedCode{2, 0, 0}, true},
		{"4.7.12", EnhancedCode{4, 7, 12}, true},
		{"5.1.10", EnhancedCode{5, 1, 10}, true},
		{"5.999.999", EnhancedCode{5, 999, 999}, true},
		{"5.01.001", EnhancedCode{5, 1, 1}, true}, // 1*3digit allows leading zeros
		{"", EnhancedCode{}, false},
		{"3.0.0", EnhancedCode{}, false}, // class is 2, 4 or 5 only
		{"1.0.0", EnhancedCode{}, false},
		{"2.0", EnhancedCode{}, false},
		{"2.0.", EnhancedCode{}, false},
		{"2..0", EnhancedCode{}, false},
		{"2.0.0.", EnhancedCode{}, false},
		{"2.0.0 ", EnhancedCode{}, false},
		{" 2.0.0", EnhancedCode{}, false},
		{"2.1000.0", EnhancedCode{}, false},
		{"2.0.1000", EnhancedCode{}, false},
		{"22.0.0", EnhancedCode{}, false},
		{"a.b.c", EnhancedCode{}, false},
		{"2-0-0", EnhancedCode{}, false},
		{"2.x.0", EnhancedCode{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEnhancedCode(tt.in)
			if !tt.ok {
				var ee *EnhancedCodeError
				require.True(t, errors.As(err, &ee), "want *EnhancedCodeError, got %v", err)
				assert.Equal(t, tt.in, ee.Input)
				assert.True(t, got.IsZero())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.True(t, got.Valid())
		})
	}
}

func TestEnhancedCodeString(t *testing.T) {
	assert.Equal(t, "", EnhancedCode{}.String())
	assert.Equal(t, "2.0.0", EnhOK().String())
	assert.Equal(t, "5.7.30", EnhRequireTLS().String())
	assert.Equal(t, "4.2.2", EnhMailboxFull().WithClass(4).String())
	assert.Equal(t, "5.1.1", Enh(5, 1, 1).String())
	assert.True(t, EnhancedCode{}.IsZero())
	assert.False(t, EnhOK().IsZero())
	assert.False(t, EnhancedCode{}.Valid())
	assert.False(t, Enh(3, 0, 0).Valid())
	assert.False(t, Enh(2, -1, 0).Valid())
	assert.False(t, Enh(2, 0, 1000).Valid())
}

func TestNamedEnhancedCodesValid(t *testing.T) {
	for _, f := range []func() EnhancedCode{
		EnhOK, EnhSenderOK, EnhRecipientOK, EnhAuthOK, EnhOther, EnhAddressOther,
		EnhBadMailbox, EnhBadDestSystem, EnhBadDestSyntax, EnhMailboxMoved,
		EnhBadSenderSyntax, EnhBadSenderSystem, EnhNullMX, EnhMailboxDisabled,
		EnhMailboxFull, EnhMessageTooBigForMailbox, EnhSystemError, EnhSystemFull,
		EnhSystemNotAccepting, EnhMessageTooBig, EnhNetworkError, EnhBadConnection,
		EnhCongestion, EnhProtocolError, EnhInvalidCommand, EnhSyntaxError,
		EnhTooManyRecipients, EnhInvalidArguments, EnhWrongProtocolVersion,
		EnhAuthLineTooLong, EnhMediaError, EnhNonASCIIAddress, EnhUTF8ReplyRequired,
		EnhUTF8HeaderNotTransferable, EnhSecurityError, EnhNotAuthorized, EnhAuthInvalid,
		EnhAuthTooWeak, EnhEncryptionNeeded, EnhEncryptionRequired, EnhPasswordTransition,
		EnhRequireTLS,
	} {
		e := f()
		assert.True(t, e.Valid(), "%v", e)
		back, err := ParseEnhancedCode(e.String())
		assert.NoError(t, err)
		assert.Equal(t, e, back)
	}
}
