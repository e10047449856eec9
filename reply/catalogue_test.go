package reply

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// catalogue lists every constructor with the code it must produce.
func catalogue() []struct {
	name string
	make func() *Reply
	code Code
	enh  EnhancedCode
} {
	type entry = struct {
		name string
		make func() *Reply
		code Code
		enh  EnhancedCode
	}
	return []entry{
		{"Ready", func() *Reply { return Ready("mx.example") }, 220, EnhancedCode{}},
		{"Greeting", func() *Reply { return Greeting("mx.example", "LMTP ready") }, 220, EnhancedCode{}},
		{"Hello", func() *Reply { return Hello("mx.example", "hi", "PIPELINING", "SIZE 100") }, 250, EnhancedCode{}},
		{"ReadyToStartTLS", ReadyToStartTLS, 220, Enh(2, 0, 0)},
		{"Closing", func() *Reply { return Closing("mx.example") }, 221, Enh(2, 0, 0)},
		{"AuthSucceeded", AuthSucceeded, 235, Enh(2, 7, 0)},
		{"OK", OK, 250, Enh(2, 0, 0)},
		{"OKText", func() *Reply { return OKText("fine") }, 250, Enh(2, 0, 0)},
		{"SenderOK", SenderOK, 250, Enh(2, 1, 0)},
		{"RecipientOK", RecipientOK, 250, Enh(2, 1, 5)},
		{"Queued", func() *Reply { return Queued("ABC123") }, 250, Enh(2, 0, 0)},
		{"QueuedNoID", func() *Reply { return Queued("") }, 250, Enh(2, 0, 0)},
		{"ChunkReceived", func() *Reply { return ChunkReceived(4096) }, 250, Enh(2, 0, 0)},
		{"CannotVRFY", CannotVRFY, 252, Enh(2, 0, 0)},
		{"Help", func() *Reply { return Help() }, 214, Enh(2, 0, 0)},
		{"AuthChallenge", func() *Reply { return AuthChallenge("PDEyMzQ+") }, 334, EnhancedCode{}},
		{"StartMailInput", StartMailInput, 354, EnhancedCode{}},
		{"ServiceNotAvailable", func() *Reply { return ServiceNotAvailable("mx.example") }, 421, Enh(4, 3, 2)},
		{"Timeout", func() *Reply { return Timeout("mx.example") }, 421, Enh(4, 4, 2)},
		{"TooManyErrors", func() *Reply { return TooManyErrors("mx.example") }, 421, Enh(4, 7, 0)},
		{"PasswordTransition", PasswordTransition, 432, Enh(4, 7, 12)},
		{"MailboxBusy", func() *Reply { return MailboxBusy("") }, 450, Enh(4, 2, 0)},
		{"LocalError", LocalError, 451, Enh(4, 3, 0)},
		{"InsufficientStorage", InsufficientStorage, 452, Enh(4, 3, 1)},
		{"TooManyRecipients", TooManyRecipients, 452, Enh(4, 5, 3)},
		{"TLSNotAvailable", TLSNotAvailable, 454, Enh(4, 7, 0)},
		{"TemporaryAuthFailure", TemporaryAuthFailure, 454, Enh(4, 7, 0)},
		{"ParamsNotAccommodated", func() *Reply { return ParamsNotAccommodated("") }, 455, Enh(4, 5, 4)},
		{"BadSyntax", func() *Reply { return BadSyntax("") }, 500, Enh(5, 5, 2)},
		{"CommandUnrecognized", CommandUnrecognized, 500, Enh(5, 5, 2)},
		{"LineTooLong", LineTooLong, 500, Enh(5, 5, 2)},
		{"AuthLineTooLong", AuthLineTooLong, 500, Enh(5, 5, 6)},
		{"ParamSyntax", func() *Reply { return ParamSyntax("") }, 501, Enh(5, 5, 4)},
		{"AuthCancelled", AuthCancelled, 501, Enh(5, 0, 0)},
		{"NotImplemented", func() *Reply { return NotImplemented("") }, 502, Enh(5, 5, 1)},
		{"BadSequence", func() *Reply { return BadSequence("need MAIL before RCPT") }, 503, Enh(5, 5, 1)},
		{"ParamNotImplemented", func() *Reply { return ParamNotImplemented("") }, 504, Enh(5, 5, 4)},
		{"AuthRequired", AuthRequired, 530, Enh(5, 7, 0)},
		{"MustIssueSTARTTLS", MustIssueSTARTTLS, 530, Enh(5, 7, 0)},
		{"AuthTooWeak", AuthTooWeak, 534, Enh(5, 7, 9)},
		{"AuthFailed", AuthFailed, 535, Enh(5, 7, 8)},
		{"EncryptionRequired", EncryptionRequired, 538, Enh(5, 7, 11)},
		{"MailboxUnavailable", func() *Reply { return MailboxUnavailable("") }, 550, Enh(5, 1, 1)},
		{"PolicyRejected", func() *Reply { return PolicyRejected("") }, 550, Enh(5, 7, 1)},
		{"RelayDenied", RelayDenied, 550, Enh(5, 7, 1)},
		{"UserNotLocal", func() *Reply { return UserNotLocal("bob@elsewhere.example") }, 551, Enh(5, 1, 6)},
		{"ExceededStorage", func() *Reply { return ExceededStorage("") }, 552, Enh(5, 2, 2)},
		{"MessageTooBig", func() *Reply { return MessageTooBig(10 << 20) }, 552, Enh(5, 3, 4)},
		{"MailboxNameNotAllowed", func() *Reply { return MailboxNameNotAllowed("") }, 553, Enh(5, 1, 3)},
		{"NonASCIIAddress", NonASCIIAddress, 553, Enh(5, 6, 7)},
		{"TransactionFailed", func() *Reply { return TransactionFailed("") }, 554, Enh(5, 0, 0)},
		{"NoValidRecipients", NoValidRecipients, 554, Enh(5, 5, 1)},
		{"NoService", func() *Reply { return NoService("mx.example") }, 554, EnhancedCode{}},
		{"ParamsNotRecognized", func() *Reply { return ParamsNotRecognized("") }, 555, Enh(5, 5, 4)},
	}
}

func TestCatalogue(t *testing.T) {
	for _, e := range catalogue() {
		t.Run(e.name, func(t *testing.T) {
			r := e.make()
			assert.Equal(t, e.code, r.Code)
			assert.Equal(t, e.enh, r.Enhanced)
			assert.True(t, r.Code.Valid())
			if !r.Enhanced.IsZero() {
				assert.True(t, r.Enhanced.Valid())
				assert.Equal(t, r.Code.Class(), r.Enhanced.Class, "enhanced class must match the code")
			}
			if r.Code != CodeAuthContinue {
				assert.NotEmpty(t, r.Lines)
				for _, l := range r.Lines {
					assert.NotEmpty(t, l, "catalogue replies always have text")
				}
			}
			wire := string(r.AppendWire(nil, true))
			for _, line := range strings.SplitAfter(strings.TrimSuffix(wire, "\r\n"), "\r\n") {
				// RFC 5321 4.5.3.1.5: 512 octets per reply line incl. CRLF.
				assert.LessOrEqual(t, len(line)+2, MaxReplyLineLength)
			}
			// Fresh value each call: changing one does not change the next.
			r.Lines = append(r.Lines[:0], "mutated")
			assert.NotEqual(t, []string{"mutated"}, e.make().Lines)
		})
	}
}

func TestCatalogueTexts(t *testing.T) {
	assert.Equal(t, "220 mx.example ESMTP ready\r\n", string(Ready("mx.example").AppendWire(nil, true)))
	assert.Equal(t, "220 mx.example\r\n", string(Greeting("mx.example", "").AppendWire(nil, true)))
	assert.Equal(t, "250-mx.example hi\r\n250-PIPELINING\r\n250 SIZE 100\r\n",
		string(Hello("mx.example", "hi", "PIPELINING", "SIZE 100").AppendWire(nil, true)))
	assert.Equal(t, "250 mx.example\r\n", string(Hello("mx.example", "").AppendWire(nil, true)))
	assert.Equal(t, "250 2.0.0 OK: queued as ABC\r\n", string(Queued("ABC").AppendWire(nil, true)))
	assert.Equal(t, "250 2.0.0 4096 octets received\r\n", string(ChunkReceived(4096).AppendWire(nil, true)))
	assert.Equal(t, "552 5.3.4 Message size exceeds fixed maximum message size of 1000 octets\r\n",
		string(MessageTooBig(1000).AppendWire(nil, true)))
	assert.Equal(t, "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
		string(MessageTooBig(0).AppendWire(nil, true)))
	assert.Equal(t, "503 5.5.1 need MAIL before RCPT\r\n", string(BadSequence("need MAIL before RCPT").AppendWire(nil, true)))
	assert.Equal(t, "503 5.5.1 Bad sequence of commands\r\n", string(BadSequence("").AppendWire(nil, true)))
	assert.Equal(t, "214-2.0.0 a\r\n214 2.0.0 b\r\n", string(Help("a", "b").AppendWire(nil, true)))
	assert.Equal(t, "334 \r\n", string(AuthChallenge("").AppendWire(nil, true)))
	// A backend text with a line break cannot inject a reply.
	assert.Equal(t, "550-5.1.1 a\r\n550 5.1.1 250 ok\r\n", string(MailboxUnavailable("a\r\n250 ok").AppendWire(nil, true)))
}
