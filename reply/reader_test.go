package reply

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readerKinds wraps the input in each of the ways a network can deliver it.
var readerKinds = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
}

func TestReadReply(t *testing.T) {
	type want struct {
		code  Code
		enh   EnhancedCode
		lines []string
	}
	tests := []struct {
		name string
		in   string
		want want
	}{
		{"simple", "250 OK\r\n", want{250, EnhancedCode{}, []string{"OK"}}},
		{"enhanced", "250 2.0.0 OK\r\n", want{250, EnhOK(), []string{"OK"}}},
		{"code only", "250\r\n", want{250, EnhancedCode{}, []string{""}}},
		{"code space", "250 \r\n", want{250, EnhancedCode{}, []string{""}}},
		{"enh only", "250 2.0.0\r\n", want{250, EnhOK(), []string{""}}},
		{"multi", "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n", want{250, EnhancedCode{}, []string{"mx", "PIPELINING", "8BITMIME"}}},
		{"multi enh every line", "550-5.1.1 no\r\n550 5.1.1 user\r\n", want{550, EnhBadMailbox(), []string{"no", "user"}}},
		{"multi enh first line only", "550-5.1.1 no\r\n550 user\r\n", want{550, EnhBadMailbox(), []string{"no", "user"}}},
		{"multi enh differs later", "550-5.1.1 no\r\n550 5.7.1 user\r\n", want{550, EnhBadMailbox(), []string{"no", "5.7.1 user"}}},
		{"enh class mismatch", "550 2.0.0 x\r\n", want{550, EnhancedCode{}, []string{"2.0.0 x"}}},
		{"enh not followed by space", "250 2.0.0x\r\n", want{250, EnhancedCode{}, []string{"2.0.0x"}}},
		{"enh too many digits", "250 2.0.0000 x\r\n", want{250, EnhancedCode{}, []string{"2.0.0000 x"}}},
		{"3xx no enh", "354 2.0.0 go\r\n", want{354, EnhancedCode{}, []string{"2.0.0 go"}}},
		{"empty challenge", "334 \r\n", want{334, EnhancedCode{}, []string{""}}},
		{"empty continuation", "250-\r\n250 x\r\n", want{250, EnhancedCode{}, []string{"", "x"}}},
		{"continuation no text", "250-\r\n250\r\n", want{250, EnhancedCode{}, []string{"", ""}}},
		{"bare LF accepted", "250-a\n250 b\n", want{250, EnhancedCode{}, []string{"a", "b"}}},
		{"mixed endings", "220-mx\r\n220 ready\n", want{220, EnhancedCode{}, []string{"mx", "ready"}}},
		{"tab and utf8", "250 a\tb héllo\r\n", want{250, EnhancedCode{}, []string{"a\tb héllo"}}},
		{"two spaces after enh", "250 2.0.0  x\r\n", want{250, EnhOK(), []string{" x"}}},
		{"dash in text", "250 a-b c\r\n", want{250, EnhancedCode{}, []string{"a-b c"}}},
		{"transient", "421 4.3.2 bye\r\n", want{421, EnhSystemNotAccepting(), []string{"bye"}}},
		{"leading zeros enh", "250 2.00.0 x\r\n", want{250, EnhOK(), []string{"x"}}},
	}
	for _, tt := range tests {
		for _, k := range readerKinds {
			t.Run(tt.name+"/"+k.name, func(t *testing.T) {
				rd := NewReader(k.wrap(strings.NewReader(tt.in)), Limits{})
				r, err := rd.ReadReply()
				require.NoError(t, err)
				assert.Equal(t, tt.want.code, r.Code)
				assert.Equal(t, tt.want.enh, r.Enhanced)
				assert.Equal(t, tt.want.lines, r.Lines)
				_, err = rd.ReadReply()
				assert.ErrorIs(t, err, io.EOF)
			})
		}
	}
}

func TestReadReplyErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		limits Limits
		check  func(t *testing.T, err error)
	}{
		{"empty input", "", Limits{}, isErr(io.EOF)},
		{"no line end", "250 OK", Limits{}, isErr(io.ErrUnexpectedEOF)},
		{"missing last line", "250-a\r\n", Limits{}, isErr(io.ErrUnexpectedEOF)},
		{"partial last line", "250-a\r\n250 b", Limits{}, isErr(io.ErrUnexpectedEOF)},
		{"short", "25\r\n", Limits{}, isSyntax("no valid reply code")},
		{"empty line", "\r\n", Limits{}, isSyntax("no valid reply code")},
		{"letters", "abc OK\r\n", Limits{}, isSyntax("no valid reply code")},
		{"class 1", "150 x\r\n", Limits{}, isSyntax("no valid reply code")},
		{"class 6", "650 x\r\n", Limits{}, isSyntax("no valid reply code")},
		{"second digit 6", "260 x\r\n", Limits{}, isSyntax("no valid reply code")},
		{"bad separator", "250x\r\n", Limits{}, isSyntax("not followed by space or hyphen")},
		{"tab separator", "250\tx\r\n", Limits{}, isSyntax("not followed by space or hyphen")},
		{"code mismatch", "250-a\r\n251 b\r\n", Limits{}, isSyntax("differs")},
		{"bare CR inside", "250 a\rb\r\n", Limits{}, isSyntax("bare CR")},
		{"CR CR LF", "250 a\r\r\n", Limits{}, isSyntax("bare CR")},
		{"four digits", "2500 x\r\n", Limits{}, isSyntax("not followed")},
		{"line too long", "250 " + strings.Repeat("x", 20) + "\r\n", Limits{MaxLineLength: 16}, isLimit("line length", 16)},
		{"line too long no end", "250 " + strings.Repeat("x", 20), Limits{MaxLineLength: 16}, isLimit("line length", 16)},
		{"line too long default", "250 " + strings.Repeat("x", DefaultMaxLineLength) + "\r\n", Limits{}, isLimit("line length", DefaultMaxLineLength)},
		{"too many lines", strings.Repeat("250-x\r\n", 3) + "250 x\r\n", Limits{MaxLines: 3}, isLimit("line count", 3)},
		{"too many lines default", strings.Repeat("250-x\r\n", DefaultMaxLines) + "250 x\r\n", Limits{}, isLimit("line count", DefaultMaxLines)},
	}
	for _, tt := range tests {
		for _, k := range readerKinds {
			t.Run(tt.name+"/"+k.name, func(t *testing.T) {
				rd := NewReader(k.wrap(strings.NewReader(tt.in)), tt.limits)
				r, err := rd.ReadReply()
				assert.Nil(t, r)
				tt.check(t, err)
			})
		}
	}
}

func isErr(want error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		assert.ErrorIs(t, err, want)
	}
}

func isSyntax(reason string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *SyntaxError
		require.True(t, errors.As(err, &se), "want *SyntaxError, got %v", err)
		assert.Contains(t, se.Reason, reason)
		assert.Contains(t, se.Error(), "syntax error")
		assert.LessOrEqual(t, len(se.Line), 131)
	}
}

func isLimit(what string, limit int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var le *LimitError
		require.True(t, errors.As(err, &le), "want *LimitError, got %v", err)
		assert.Equal(t, what, le.What)
		assert.Equal(t, limit, le.Limit)
		assert.Contains(t, le.Error(), what)
	}
}

func TestReadReplyLimitBoundary(t *testing.T) {
	const limit = 32
	for _, k := range readerKinds {
		t.Run(k.name, func(t *testing.T) {
			// Exactly limit octets including CRLF is accepted.
			line := "250 " + strings.Repeat("x", limit-6) + "\r\n"
			require.Len(t, line, limit)
			rd := NewReader(k.wrap(strings.NewReader(line+line)), Limits{MaxLineLength: limit})
			r, err := rd.ReadReply()
			require.NoError(t, err)
			assert.Equal(t, strings.Repeat("x", limit-6), r.Lines[0])
			// Exactly limit octets with a bare LF too.
			lf := "250 " + strings.Repeat("y", limit-5) + "\n"
			rd = NewReader(k.wrap(strings.NewReader(lf)), Limits{MaxLineLength: limit})
			_, err = rd.ReadReply()
			require.NoError(t, err)
			// One more octet is refused.
			long := "250 " + strings.Repeat("x", limit-5) + "\r\n"
			rd = NewReader(k.wrap(strings.NewReader(long)), Limits{MaxLineLength: limit})
			_, err = rd.ReadReply()
			isLimit("line length", limit)(t, err)
			// MaxLines lines exactly are accepted.
			rd = NewReader(k.wrap(strings.NewReader("250-a\r\n250-b\r\n250 c\r\n")), Limits{MaxLines: 3})
			r, err = rd.ReadReply()
			require.NoError(t, err)
			assert.Len(t, r.Lines, 3)
		})
	}
}

func TestReadReplyLongLimit(t *testing.T) {
	// A limit larger than the initial buffer works.
	text := strings.Repeat("z", 10000)
	rd := NewReader(strings.NewReader("250 "+text+"\r\n"), Limits{MaxLineLength: 20000})
	r, err := rd.ReadReply()
	require.NoError(t, err)
	assert.Equal(t, text, r.Lines[0])
}

func TestReadReplyPipelined(t *testing.T) {
	in := "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n550 5.1.1 No such user\r\n354 Go ahead\r\n"
	for _, k := range readerKinds {
		t.Run(k.name, func(t *testing.T) {
			rd := NewReader(k.wrap(strings.NewReader(in)), Limits{})
			want := []struct {
				code Code
				enh  EnhancedCode
				text string
			}{
				{250, EnhSenderOK(), "Sender OK"},
				{250, EnhRecipientOK(), "Recipient OK"},
				{550, EnhBadMailbox(), "No such user"},
				{354, EnhancedCode{}, "Go ahead"},
			}
			for _, w := range want {
				r, err := rd.ReadReply()
				require.NoError(t, err)
				assert.Equal(t, w.code, r.Code)
				assert.Equal(t, w.enh, r.Enhanced)
				assert.Equal(t, []string{w.text}, r.Lines)
			}
			assert.Zero(t, rd.Buffered())
			_, err := rd.ReadReply()
			assert.ErrorIs(t, err, io.EOF)
		})
	}
}

func TestReaderBufferedAndReset(t *testing.T) {
	// RFC 3207 4.2 injection check: data after the 220 is visible.
	rd := NewReader(strings.NewReader("220 2.0.0 Ready\r\n250 injected\r\n"), Limits{})
	r, err := rd.ReadReply()
	require.NoError(t, err)
	assert.Equal(t, CodeReady, r.Code)
	assert.Equal(t, len("250 injected\r\n"), rd.Buffered())

	rd.Reset(strings.NewReader("250 fresh\r\n"))
	assert.Zero(t, rd.Buffered())
	r, err = rd.ReadReply()
	require.NoError(t, err)
	assert.Equal(t, []string{"fresh"}, r.Lines)

	// Reset also clears a sticky error.
	rd.Reset(strings.NewReader(""))
	_, err = rd.ReadReply()
	assert.ErrorIs(t, err, io.EOF)
	rd.Reset(strings.NewReader("221 bye\r\n"))
	r, err = rd.ReadReply()
	require.NoError(t, err)
	assert.Equal(t, CodeClosing, r.Code)
}

// errAfter returns data and then err.
type errAfter struct {
	data []byte
	err  error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReadReplyReadError(t *testing.T) {
	boom := errors.New("boom")
	rd := NewReader(&errAfter{data: []byte("250 OK\r\n250-a\r\n"), err: boom}, Limits{})
	r, err := rd.ReadReply()
	require.NoError(t, err)
	assert.Equal(t, CodeOK, r.Code)
	_, err = rd.ReadReply()
	assert.ErrorIs(t, err, boom)
	_, err = rd.ReadReply()
	assert.ErrorIs(t, err, boom, "error is sticky")

	rd = NewReader(iotest.TimeoutReader(strings.NewReader("250 OK\r\n")), Limits{})
	r, err = rd.ReadReply()
	require.NoError(t, err)
	assert.Equal(t, CodeOK, r.Code)
	_, err = rd.ReadReply()
	assert.ErrorIs(t, err, iotest.ErrTimeout)
}

// stuck returns (0, nil) for ever.
type stuck struct{}

func (stuck) Read([]byte) (int, error) { return 0, nil }

func TestReadReplyNoProgress(t *testing.T) {
	_, err := NewReader(stuck{}, Limits{}).ReadReply()
	assert.ErrorIs(t, err, io.ErrNoProgress)
}

// loop serves the same bytes for ever.
type loop struct {
	data []byte
	off  int
}

func (l *loop) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.off:])
		n += c
		l.off = (l.off + c) % len(l.data)
	}
	return n, nil
}

func TestReadRaw(t *testing.T) {
	rd := NewReader(strings.NewReader("250-2.0.0 mx.example\r\n250-2.0.0 PIPELINING\r\n250 2.0.0 SIZE 100\r\n"), Limits{})
	raw, err := rd.ReadRaw()
	require.NoError(t, err)
	assert.Equal(t, CodeOK, raw.Code)
	assert.Equal(t, EnhOK(), raw.Enhanced)
	require.Equal(t, 3, raw.NumLines())
	assert.Equal(t, "mx.example", string(raw.Line(0)))
	assert.Equal(t, "PIPELINING", string(raw.Line(1)))
	assert.Equal(t, "SIZE 100", string(raw.Line(2)))
	r := raw.Reply()
	assert.Equal(t, []string{"mx.example", "PIPELINING", "SIZE 100"}, r.Lines)
	// Appending to a returned line cannot overwrite the next one.
	l0 := raw.Line(0)
	assert.Equal(t, len(l0), cap(l0))

	_, err = rd.ReadRaw()
	assert.ErrorIs(t, err, io.EOF)
	assert.Zero(t, RawReply{}.NumLines())
}

func TestReadAllocs(t *testing.T) {
	single := NewReader(&loop{data: []byte("250 2.1.5 Recipient OK\r\n")}, Limits{})
	multi := NewReader(&loop{data: []byte("250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n")}, Limits{})
	for range 3 { // warm up the buffers
		_, _ = single.ReadRaw()
		_, _ = multi.ReadRaw()
	}
	assert.Zero(t, testing.AllocsPerRun(200, func() {
		if _, err := single.ReadRaw(); err != nil {
			t.Fatal(err)
		}
	}), "ReadRaw single")
	assert.Zero(t, testing.AllocsPerRun(200, func() {
		if _, err := multi.ReadRaw(); err != nil {
			t.Fatal(err)
		}
	}), "ReadRaw multi")
	assert.LessOrEqual(t, testing.AllocsPerRun(200, func() {
		if _, err := single.ReadReply(); err != nil {
			t.Fatal(err)
		}
	}), 2.0, "ReadReply single")
	assert.LessOrEqual(t, testing.AllocsPerRun(200, func() {
		if _, err := multi.ReadReply(); err != nil {
			t.Fatal(err)
		}
	}), 3.0, "ReadReply multi")
}

func TestReadWriteRoundTrip(t *testing.T) {
	for _, e := range catalogue() {
		r := e.make()
		wire := r.AppendWire(nil, true)
		got, err := NewReader(bytes.NewReader(wire), Limits{}).ReadReply()
		require.NoError(t, err, e.name)
		assert.True(t, r.Equal(got), "%s: %q -> %#v", e.name, wire, got)
	}
}
