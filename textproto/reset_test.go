package textproto

import (
	"io"
	"reflect"
	"strings"
	"testing"
)

// TestResetForgetsEverything: Reset leaves a used Reader in the state of a
// new one, whatever it went through (an over-long line, violations, a
// message in progress on a big buffer), except for the old bytes of its
// inline buffer, which are never read again; OnViolation is kept. Reset
// no longer zeroes the inline buffer (a pooled Reader is reset after
// every idle wait of a server), so this test guards the fields it does
// reset, including any added later.
func TestResetForgetsEverything(t *testing.T) {
	calls := 0
	r := NewReader(strings.NewReader("x\rx\x00\x80\r\n" + strings.Repeat("y", 3000) + "\r\nDATA\r\nab\r\n.cd"))
	r.OnViolation = func(ViolationKind, Action) { calls++ }
	r.ReadLine(0, Policy{BareCR: Reject})
	r.ReadLine(0, Policy{})
	r.ReadLine(0, Policy{})
	r.DotReader(DataLimits{}).Read(make([]byte, 5)) // on the big buffer now
	r.ChunkReader(3)

	src := strings.NewReader("next")
	r.Reset(src)
	fresh := NewReader(src)
	if len(r.buf) != smallBufSize || &r.buf[0] != &r.small[0] {
		t.Fatalf("buf after Reset is not the inline buffer (len %d)", len(r.buf))
	}
	if r.OnViolation == nil || calls == 0 {
		t.Fatalf("OnViolation lost (or never called: %d)", calls)
	}
	got, want := *r, *fresh
	got.small, want.small = [smallBufSize]byte{}, [smallBufSize]byte{}
	got.buf, want.buf = nil, nil
	got.OnViolation = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Reset left state behind:\n got %+v\nwant %+v", got, want)
	}
	if line, err := r.ReadLine(0, Policy{}); err == nil || len(line) != 0 {
		t.Fatalf("after Reset: %q, %v; want the unterminated %q to fail", line, err, "next")
	}
}

// TestBDATFilterResetForgets: Reset leaves a used BDATFilter as a new one
// under the policy (OnViolation kept, its scratch buffer and the output
// bytes past outN aside, which are never read).
func TestBDATFilterResetForgets(t *testing.T) {
	var f BDATFilter
	f.OnViolation = func(ViolationKind, Action) {}
	r := NewReader(strings.NewReader("a\rb\x00\nc\r"))
	f.Reset(Policy{})
	io.Copy(io.Discard, f.Chunk(r.ChunkReader(7), false))
	p := Policy{BareLF: Reject}
	f.Reset(p)
	got, want := f, BDATFilter{p: p}
	if got.OnViolation == nil {
		t.Fatal("OnViolation lost")
	}
	got.OnViolation, got.scratch, got.out = nil, [scratchSize]byte{}, [2]byte{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Reset left state behind:\n got %+v\nwant %+v", got, want)
	}
}
