package reply

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCodeClasses(t *testing.T) {
	tests := []struct {
		code                               Code
		class                              int
		valid, pos, inter, transient, perm bool
		str                                string
	}{
		{CodeOK, 2, true, true, false, false, false, "250"},
		{CodeStartMailInput, 3, true, false, true, false, false, "354"},
		{CodeAuthContinue, 3, true, false, true, false, false, "334"},
		{CodeServiceNotAvailable, 4, true, false, false, true, false, "421"},
		{CodeBadSequence, 5, true, false, false, false, true, "503"},
		{CodeDomainNoMail, 5, true, false, false, false, true, "556"},
		{199, 1, false, false, false, false, false, "199"},
		{260, 2, false, true, false, false, false, "260"}, // second digit > 5
		{600, 6, false, false, false, false, false, "600"},
		{0, 0, false, false, false, false, false, "000"},
		{5, 0, false, false, false, false, false, "005"},
	}
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			assert.Equal(t, tt.class, tt.code.Class())
			assert.Equal(t, tt.valid, tt.code.Valid())
			assert.Equal(t, tt.pos, tt.code.IsPositive())
			assert.Equal(t, tt.inter, tt.code.IsIntermediate())
			assert.Equal(t, tt.transient, tt.code.IsTransient())
			assert.Equal(t, tt.perm, tt.code.IsPermanent())
			assert.Equal(t, tt.str, tt.code.String())
		})
	}
}

func TestNamedCodesValid(t *testing.T) {
	codes := []Code{
		CodeSystemStatus, CodeHelp, CodeReady, CodeClosing, CodeAuthSucceeded, CodeOK,
		CodeWillForward, CodeCannotVerify, CodeAuthContinue, CodeStartMailInput,
		CodeServiceNotAvailable, CodePasswordTransition, CodeMailboxBusy, CodeLocalError,
		CodeInsufficientStorage, CodeTemporaryFailure, CodeParamsNotAccommodated,
		CodeSyntaxError, CodeParamSyntax, CodeNotImplemented, CodeBadSequence,
		CodeParamNotImplemented, CodeNoMail, CodeAuthRequired, CodeAuthTooWeak,
		CodeAuthInvalid, CodeEncryptionRequired, CodeMailboxUnavailable, CodeUserNotLocal,
		CodeExceededStorage, CodeMailboxNameNotAllowed, CodeTransactionFailed,
		CodeParamsNotRecognized, CodeDomainNoMail,
	}
	seen := map[Code]bool{}
	for _, c := range codes {
		assert.True(t, c.Valid(), "%d", c)
		assert.False(t, seen[c], "duplicate %d", c)
		seen[c] = true
	}
}
