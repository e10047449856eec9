package reply

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// hasControl reports whether any line holds a byte AppendWire rewrites.
func hasControl(r *Reply) bool {
	for _, l := range r.Lines {
		for i := 0; i < len(l); i++ {
			if c := l[i]; (c < ' ' && c != '\t') || c == 0x7f {
				return true
			}
		}
	}
	return false
}

// readAll reads replies until an error, at most 16.
func readAll(r io.Reader) ([]*Reply, error) {
	rd := NewReader(r, Limits{MaxLineLength: 256, MaxLines: 8})
	var out []*Reply
	for range 16 {
		rep, err := rd.ReadReply()
		if err != nil {
			return out, err
		}
		out = append(out, rep)
	}
	return out, nil
}

// FuzzReadReply parses arbitrary server output. Each reply parsed is
// formatted with AppendWire and parsed again: the result must be the same
// reply (after AppendWire's sanitising of control characters), and the
// formatting must be a fixed point. Reading the input one byte at a time
// must give the same replies and the same kind of error as reading it
// whole.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"250 OK\r\n",
		"250 2.0.0 OK\r\n",
		"250\r\n",
		"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
		"550-5.1.1 no\r\n550 5.1.1 user\r\n",
		"550-5.1.1 no\r\n550 5.7.1 user\r\n",
		"550 2.0.0 x\r\n",
		"250 2.0.0x\r\n",
		"354 go ahead\n",
		"334 \r\n",
		"250-\r\n250\r\n",
		"250 a\rb\r\n",
		"250-a\r\n251 b\r\n",
		"2500 x\r\n",
		"250 2.00.0  x\r\n250 OK\r\n",
		"250 OK\r\n354 Go\r\n221 bye\r\n",
		"250 \x00\x01\x7f\r\n",
		"250 2.0.0\x01y\r\n",
		"250-2.0.0 a\r\n250 2.0.0\x01\r\n",
		"",
		"250-a",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, werr := readAll(bytes.NewReader(data))
		byOne, oerr := readAll(iotest.OneByteReader(bytes.NewReader(data)))
		if len(whole) != len(byOne) {
			t.Fatalf("whole read %d replies, one-byte read %d", len(whole), len(byOne))
		}
		for i := range whole {
			if !whole[i].Equal(byOne[i]) {
				t.Fatalf("reply %d differs: %#v vs %#v", i, whole[i], byOne[i])
			}
		}
		if errKind(werr) != errKind(oerr) {
			t.Fatalf("errors differ: %v vs %v", werr, oerr)
		}

		for _, r1 := range whole {
			if !r1.Code.Valid() {
				t.Fatalf("parsed invalid code %d", r1.Code)
			}
			if !r1.Enhanced.IsZero() && (!r1.Enhanced.Valid() || r1.Enhanced.Class != r1.Code.Class()) {
				t.Fatalf("parsed bad enhanced code %v for %d", r1.Enhanced, r1.Code)
			}
			wire := r1.AppendWire(nil, true)
			big := Limits{MaxLineLength: 1 << 20, MaxLines: 1 << 10}
			rd := NewReader(bytes.NewReader(wire), big)
			r2, err := rd.ReadReply()
			if err != nil {
				t.Fatalf("cannot reparse %q: %v", wire, err)
			}
			if rd.Buffered() != 0 {
				t.Fatalf("AppendWire wrote more than one reply: %q", wire)
			}
			for _, line := range bytes.SplitAfter(wire, []byte("\r\n")) {
				if len(line) > MaxReplyLineLength {
					t.Fatalf("AppendWire wrote a line of %d octets: %q", len(line), line)
				}
			}
			if !hasControl(r1) && !cut(r1) && !r1.Equal(r2) {
				t.Fatalf("round trip changed the reply:\n%#v\n%q\n%#v", r1, wire, r2)
			}
			wire2 := r2.AppendWire(nil, true)
			r3, err := NewReader(bytes.NewReader(wire2), big).ReadReply()
			if err != nil || !r2.Equal(r3) || !bytes.Equal(wire2, r3.AppendWire(nil, true)) {
				t.Fatalf("formatting is not a fixed point: %q -> %q (%v)", wire, wire2, err)
			}
		}
	})
}

// cut reports whether AppendWire shortens a line of r to keep it within
// RFC 5321 4.5.3.1.5's 512 octets.
func cut(r *Reply) bool {
	prefix := 4 // code and separator
	if r.Enhanced.Valid() && r.Enhanced.Class == r.Code.Class() {
		prefix += len(r.Enhanced.String()) + 1
	}
	for _, l := range r.Lines {
		if prefix+len(l)+2 > MaxReplyLineLength {
			return true
		}
	}
	return false
}

// errKind classifies an error for comparison.
func errKind(err error) string {
	var se *SyntaxError
	var le *LimitError
	switch {
	case err == nil:
		return "nil"
	case errors.As(err, &se):
		return "syntax"
	case errors.As(err, &le):
		return "limit " + le.What
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	return err.Error()
}
