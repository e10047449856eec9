package mimeparse

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes the heap handed out while f ran: a measure
// of work that does not depend on the machine's speed or load.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// maxAllocPerByte bounds the bytes a parse may allocate per byte of the
// message: the parser copies a message a few times over (header values,
// decoded bodies), never once per line.
const maxAllocPerByte = 32

// TestAttackLinearParse: a hostile message cannot make the parser do work
// that grows with the square of its size. A header field folded into
// 40,000 continuation lines (RFC 5322 2.2.3 sets no limit on them) and a
// multipart/mixed of 1,000 text parts (each one added to the body text)
// were both appended to a growing string, copying it once per line or
// part: 1.6 GB allocated for a 160 kB header, a minute for 640 kB, and
// mailsink parses every message it accepts (index) and shows.
func TestAttackLinearParse(t *testing.T) {
	folded := append([]byte("Subject: x\r\n"), bytes.Repeat([]byte(" x\r\n"), 40000)...)
	folded = append(folded, "\r\nbody\r\n"...)
	var mixed bytes.Buffer
	mixed.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 999 {
		mixed.WriteString("--b\r\nContent-Type: text/plain\r\n\r\n")
		mixed.WriteString(strings.Repeat("y", 2000) + "\r\n")
	}
	mixed.WriteString("--b--\r\n")
	for _, tc := range []struct {
		name string
		msg  []byte
		ok   func(m *Message) bool
	}{
		{"folded header", folded, func(m *Message) bool { return len(m.Subject) == 1+2*40000 }},
		{"many text parts", mixed.Bytes(), func(m *Message) bool { return len(m.Text) == 999*2001-1 }},
	} {
		var m *Message
		n := allocated(func() { m = Parse(tc.msg) })
		if !tc.ok(m) {
			t.Errorf("%s: parsed wrong: subject %d bytes, text %d bytes", tc.name, len(m.Subject), len(m.Text))
		}
		if limit := maxAllocPerByte * uint64(len(tc.msg)); n > limit {
			t.Errorf("%s: a %d-byte message allocated %d bytes to parse, more than %d", tc.name, len(tc.msg), n, limit)
		}
	}
}
