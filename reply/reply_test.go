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
		{"class follows the code", &Reply{Code: CodeOK, Enhanced: EnhBadMailbox(), Lines: []string{"x"}}, true, "250 2.1.1 x\r\n"},
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

// TestEnhancedClassFollowsCode: the enhanced code's class is the reply
// code's, the same in the Enhanced field New sets, in Error and on the
// wire (issue 14.12: New(452, EnhMailboxFull()) said "452 5.2.2" in Error
// while a server sent "452 4.0.0").
func TestEnhancedClassFollowsCode(t *testing.T) {
	tests := []struct {
		name      string
		r         *Reply
		err, wire string
	}{
		{"New 452 with 5.2.2", New(CodeInsufficientStorage, EnhMailboxFull(), "full"), "452 4.2.2 full", "452 4.2.2 full\r\n"},
		{"literal 452 with 5.2.2", &Reply{Code: CodeInsufficientStorage, Enhanced: EnhMailboxFull(), Lines: []string{"full"}},
			"452 4.2.2 full", "452 4.2.2 full\r\n"},
		{"550 with 4.3.1", New(CodeMailboxUnavailable, EnhSystemFull(), "x"), "550 5.3.1 x", "550 5.3.1 x\r\n"},
		{"250 with 5.1.1", New(CodeOK, EnhBadMailbox(), "x"), "250 2.1.1 x", "250 2.1.1 x\r\n"},
		{"multi-line", New(CodeLocalError, EnhSystemError().WithClass(5), "a", "b"), "451 4.3.0 a; b", "451-4.3.0 a\r\n451 4.3.0 b\r\n"},
		// RFC 2034 4: 3xx replies carry no enhanced code.
		{"354 has none", &Reply{Code: CodeStartMailInput, Enhanced: EnhOK(), Lines: []string{"go"}}, "354 go", "354 go\r\n"},
		{"invalid enhanced code", &Reply{Code: CodeOK, Enhanced: EnhancedCode{2, 1000, 0}, Lines: []string{"x"}}, "250 x", "250 x\r\n"},
		{"odd code", &Reply{Code: 7, Enhanced: EnhOK(), Lines: []string{"x"}}, "007 x", "007 x\r\n"},
		{"no lines", &Reply{Code: CodeOK, Enhanced: EnhOK()}, "250 2.0.0", "250 2.0.0\r\n"},
		{"one empty line", &Reply{Code: CodeOK, Lines: []string{""}}, "250", "250 \r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.err, tt.r.Error())
			assert.Equal(t, tt.wire, string(tt.r.AppendWire(nil, true)))
		})
	}
	// New stores the code that is sent, so r.Enhanced says the same.
	assert.Equal(t, Enh(4, 2, 2), New(CodeInsufficientStorage, EnhMailboxFull()).Enhanced)
	assert.Equal(t, EnhancedCode{}, New(CodeStartMailInput, EnhOK()).Enhanced)
	assert.Equal(t, Enh(4, 2, 2), (&Reply{Code: CodeInsufficientStorage, Enhanced: EnhMailboxFull()}).WireEnhanced())
	// Two replies that are sent the same way are Equal.
	assert.True(t, New(CodeInsufficientStorage, EnhMailboxFull()).Equal(
		&Reply{Code: CodeInsufficientStorage, Enhanced: EnhMailboxFull()}))
}

// TestErrorAgreesWithWire: Error says what AppendWire sends, for every
// combination of code class, enhanced code and text (control characters
// included, which neither may pass on), the lines joined with "; ".
func TestErrorAgreesWithWire(t *testing.T) {
	codes := []Code{CodeOK, CodeStartMailInput, CodeLocalError, CodeMailboxUnavailable, 7, 999}
	enhs := []EnhancedCode{{}, EnhOK(), EnhMailboxFull(), EnhSystemFull(), {3, 1, 1}, {5, 1000, 1}}
	texts := [][]string{nil, {""}, {"ok"}, {"a", "b"}, {"", "x"}, {"a\x00b\x7fc\td"}, {"a\r\n250 fake"}, {"é"}}
	for _, code := range codes {
		for _, enh := range enhs {
			for _, lines := range texts {
				r := &Reply{Code: code, Enhanced: enh, Lines: lines}
				wire := string(r.AppendWire(nil, true))
				if got, want := r.Error(), wireAsError(wire); got != want {
					t.Errorf("%d %v %q: Error %q, wire %q", code, enh, lines, got, wire)
				}
			}
		}
	}
}

// wireAsError turns a reply's wire form into the one-line form Error
// promises: "code [enhanced] text; text...".
func wireAsError(wire string) string {
	lines := strings.Split(strings.TrimSuffix(wire, "\r\n"), "\r\n")
	head := lines[0][:3]
	var texts []string
	enh := ""
	for _, l := range lines {
		text := l[4:]
		if e, n := parseEnhancedPrefix(text); n > 0 && e.Class == Code(int(head[0]-'0')*100).Class() {
			enh = text[:n]
			text = strings.TrimPrefix(text[n:], " ")
		}
		texts = append(texts, text)
	}
	if enh != "" {
		head += " " + enh
	}
	if len(texts) == 1 && texts[0] == "" {
		return head
	}
	return head + " " + strings.Join(texts, "; ")
}
