package reply

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewSplitsLineBreaks(t *testing.T) {
	tests := []struct {
		name string
		text []string
		want []string
	}{
		{"none", nil, nil},
		{"one", []string{"OK"}, []string{"OK"}},
		{"empty", []string{""}, []string{""}},
		{"two args", []string{"a", "b"}, []string{"a", "b"}},
		{"CRLF", []string{"a\r\nb"}, []string{"a", "b"}},
		{"bare LF", []string{"a\nb"}, []string{"a", "b"}},
		{"bare CR", []string{"a\rb"}, []string{"a", "b"}},
		{"trailing CRLF", []string{"a\r\n"}, []string{"a"}},
		{"injection", []string{"ok\r\n250 fake"}, []string{"ok", "250 fake"}},
		{"blank middle", []string{"a\n\nb"}, []string{"a", "", "b"}},
		{"only break", []string{"\r\n"}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(CodeOK, EnhOK(), tt.text...)
			assert.Equal(t, tt.want, r.Lines)
		})
	}
}

func TestAppendWire(t *testing.T) {
	tests := []struct {
		name    string
		r       *Reply
		withEnh bool
		want    string
	}{
		{"single", New(CodeOK, EnhOK(), "OK"), true, "250 2.0.0 OK\r\n"},
		{"single no enh", New(CodeOK, EnhOK(), "OK"), false, "250 OK\r\n"},
		{"zero enh", New(CodeOK, EnhancedCode{}, "OK"), true, "250 OK\r\n"},
		{"multi", New(CodeOK, EnhancedCode{}, "mx.example", "PIPELINING", "8BITMIME"), true,
			"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"},
		// RFC 2034 4: the enhanced code on every line.
		{"multi enh", New(CodeMailboxUnavailable, EnhBadMailbox(), "no such user", "see docs"), true,
			"550-5.1.1 no such user\r\n550 5.1.1 see docs\r\n"},
		{"no lines", &Reply{Code: CodeOK}, true, "250 \r\n"},
		{"no lines enh", &Reply{Code: CodeOK, Enhanced: EnhOK()}, true, "250 2.0.0\r\n"},
		{"empty text", New(CodeAuthContinue, EnhancedCode{}, ""), true, "334 \r\n"},
		{"empty continuation", New(CodeOK, EnhancedCode{}, "", "x"), true, "250-\r\n250 x\r\n"},
		{"class mismatch dropped", New(CodeOK, EnhBadMailbox(), "x"), true, "250 x\r\n"},
		{"3xx never enh", &Reply{Code: CodeStartMailInput, Enhanced: EnhOK(), Lines: []string{"go"}}, true, "354 go\r\n"},
		{"invalid enh dropped", &Reply{Code: CodeOK, Enhanced: EnhancedCode{2, 1000, 0}, Lines: []string{"x"}}, true, "250 x\r\n"},
		{"CR LF sanitised", &Reply{Code: CodeOK, Lines: []string{"a\r\n250 b"}}, true, "250 a  250 b\r\n"},
		{"controls sanitised", &Reply{Code: CodeOK, Lines: []string{"a\x00b\x7fc\td"}}, true, "250 a b c\td\r\n"},
		{"utf8 kept", &Reply{Code: CodeOK, Lines: []string{"héllo"}}, true, "250 héllo\r\n"},
		{"odd code", &Reply{Code: 7, Lines: []string{"x"}}, true, "007 x\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.AppendWire([]byte("prefix:"), tt.withEnh)
			assert.Equal(t, "prefix:"+tt.want, string(got))
		})
	}
}

func TestAppendWireNoAlloc(t *testing.T) {
	r := New(CodeOK, EnhOK(), "mx.example greets you", "PIPELINING", "SIZE 10240000", "8BITMIME")
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		buf = r.AppendWire(buf[:0], true)
	})
	assert.Zero(t, allocs)
}

func TestReplyError(t *testing.T) {
	var err error = New(CodeMailboxUnavailable, EnhBadMailbox(), "no such user", "really")
	assert.Equal(t, "550 5.1.1 no such user; really", err.Error())
	assert.Equal(t, "250", (&Reply{Code: CodeOK}).Error())
	assert.Equal(t, "250 x", New(CodeOK, EnhancedCode{}, "x").Error())

	wrapped := fmt.Errorf("send: %w", err)
	var r *Reply
	require.True(t, errors.As(wrapped, &r))
	assert.Equal(t, CodeMailboxUnavailable, r.Code)
	assert.True(t, r.Permanent())
	assert.False(t, r.Temporary())

	var nilReply *Reply
	assert.Equal(t, "<nil reply>", nilReply.Error())
	assert.Equal(t, "", nilReply.Text())
	assert.False(t, nilReply.Temporary())
	assert.False(t, nilReply.Permanent())
}

func TestReplyClassHelpers(t *testing.T) {
	tests := []struct {
		r                      *Reply
		pos, inter, temp, perm bool
	}{
		{OK(), true, false, false, false},
		{StartMailInput(), false, true, false, false},
		{LocalError(), false, false, true, false},
		{BadSequence(""), false, false, false, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.pos, tt.r.Positive(), tt.r.Error())
		assert.Equal(t, tt.inter, tt.r.Intermediate(), tt.r.Error())
		assert.Equal(t, tt.temp, tt.r.Temporary(), tt.r.Error())
		assert.Equal(t, tt.perm, tt.r.Permanent(), tt.r.Error())
	}
}

func TestTextCloneEqual(t *testing.T) {
	r := New(CodeOK, EnhOK(), "a", "b")
	assert.Equal(t, "a\nb", r.Text())

	c := r.Clone()
	require.True(t, r.Equal(c))
	c.Lines[0] = "changed"
	assert.Equal(t, "a", r.Lines[0], "Clone must copy Lines")
	assert.False(t, r.Equal(c))
	assert.Nil(t, (*Reply)(nil).Clone())

	assert.True(t, (&Reply{Code: CodeOK}).Equal(&Reply{Code: CodeOK, Lines: []string{""}}))
	assert.False(t, (&Reply{Code: CodeOK}).Equal(&Reply{Code: CodeOK, Lines: []string{"", ""}}))
	assert.False(t, OK().Equal(nil))
	assert.True(t, (*Reply)(nil).Equal(nil))
	assert.False(t, OK().Equal(New(CodeOK, EnhSenderOK(), "OK")))
	assert.False(t, OK().Equal(New(CodeReady, EnhOK(), "OK")))
}

// TestAppendWireLineLimit: no line AppendWire writes passes RFC 5321
// 4.5.3.1.5's 512 octets, whatever the text (a client's EHLO name echoed in
// the greeting can be that long), and a cut never splits a UTF-8 sequence.
func TestAppendWireLineLimit(t *testing.T) {
	long := strings.Repeat("a", 600)
	utf := strings.Repeat("é", 300) // 2 octets each
	for _, r := range []*Reply{
		New(CodeOK, EnhancedCode{}, "mx greets "+long),
		New(CodeOK, EnhOK(), long, "short"),
		New(CodeParamSyntax, Enh(5, 5, 4), "Duplicate parameter "+utf),
		New(CodeOK, EnhancedCode{}, strings.Repeat("b", 508)), // exactly 512
	} {
		for _, enh := range []bool{false, true} {
			wire := r.AppendWire(nil, enh)
			for _, line := range strings.SplitAfter(string(wire), "\r\n") {
				if len(line) > MaxReplyLineLength {
					t.Errorf("line of %d octets: %.40q...", len(line), line)
				}
				if !utf8.ValidString(line) {
					t.Errorf("cut inside a UTF-8 sequence: %q", line[len(line)-6:])
				}
			}
			if got, err := NewReader(strings.NewReader(string(wire)), Limits{}).ReadReply(); err != nil || got.Code != r.Code {
				t.Errorf("reparse: %v, %v", got, err)
			}
		}
	}
	if got := New(CodeOK, EnhancedCode{}, strings.Repeat("b", 508)).AppendWire(nil, false); len(got) != 512 {
		t.Errorf("a line of exactly 512 octets was cut to %d", len(got))
	}
}
