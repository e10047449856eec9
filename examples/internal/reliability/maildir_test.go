package reliability

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// message returns a distinct message for id: a Message-ID header naming
// id, then seeded lines that include what a store must keep exactly:
// leading dots (stuffed on the wire), a lone dot, empty lines, trailing
// white space and, with eightBit, bytes above 127. Its size is about size
// bytes; it ends with CRLF.
func message(id string, seed uint64, size int, eightBit bool) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, 0, size+200)
	b = append(b, "Message-ID: <"+id+">\r\nSubject: reliability "+id+"\r\nFrom: <a@rel.test>\r\n\r\n"...)
	const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,;:-_=+/"
	for len(b) < size {
		switch rng.IntN(12) {
		case 0:
			b = append(b, '.')
		case 1:
			b = append(b, "..."...)
		case 2:
			b = append(b, ".\r\n"...)
			continue
		case 3:
			b = append(b, "\r\n"...)
			continue
		}
		n := rng.IntN(200)
		for range n {
			b = append(b, alpha[rng.IntN(len(alpha))])
		}
		if eightBit && rng.IntN(4) == 0 {
			b = append(b, "\xc3\xa9t\xc3\xa9 \xff"...)
		}
		if rng.IntN(8) == 0 {
			b = append(b, " \t"...)
		}
		b = append(b, "\r\n"...)
	}
	return b
}

// idOf returns the Message-ID of a stored file, or "".
func idOf(file []byte) string {
	_, rest, ok := bytes.Cut(file, []byte("\r\nMessage-ID: <"))
	if !ok {
		return ""
	}
	id, _, ok := bytes.Cut(rest, []byte(">"))
	if !ok {
		return ""
	}
	return string(id)
}

// scanMaildir returns the files in dir/new by Message-ID: one entry per
// file, so a message stored twice has two.
func scanMaildir(t testing.TB, dir string) map[string][][]byte {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	m := make(map[string][][]byte, len(ents))
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b = e2e.WithoutReceived(b)
		id := idOf(b)
		m[id] = append(m[id], b)
	}
	return m
}

// countFiles returns the number of files in dir/sub.
func countFiles(t testing.TB, dir, sub string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}

// checkStored compares the Maildir with what was sent: every message in
// acked (id to the expected file) must be there once, byte-exact; every id
// in unacked must be there at most once (its outcome was unknown to the
// client) and, if there, exact; no other message may be there. It returns
// the number of acknowledged messages missing, duplicated and wrong.
func checkStored(t testing.TB, dir string, acked, unacked map[string][]byte) (lost, dup, wrong int) {
	t.Helper()
	files := scanMaildir(t, dir)
	for id, want := range acked {
		got := files[id]
		switch {
		case len(got) == 0:
			lost++
			if lost <= 5 {
				t.Errorf("message %s got 250 but is not in the Maildir", id)
			}
			continue
		case len(got) > 1:
			dup++
			t.Errorf("message %s stored %d times", id, len(got))
		}
		if !bytes.Equal(got[0], want) {
			wrong++
			if wrong <= 5 {
				t.Errorf("message %s stored with %d bytes, differs from the %d sent at byte %d", id, len(got[0]), len(want), firstDiff(got[0], want))
			}
		}
	}
	for id, got := range files {
		if _, ok := acked[id]; ok {
			continue
		}
		want, ok := unacked[id]
		switch {
		case !ok:
			t.Errorf("%d unexpected file(s) with Message-ID %q", len(got), id)
		case len(got) > 1:
			dup++
			t.Errorf("unacknowledged message %s stored %d times", id, len(got))
		case !bytes.Equal(got[0], want):
			wrong++
			t.Errorf("unacknowledged message %s stored with %d bytes, differs from the %d sent at byte %d", id, len(got[0]), len(want), firstDiff(got[0], want))
		}
	}
	if n := countFiles(t, dir, "tmp"); n != 0 {
		t.Errorf("%d files left in tmp/", n)
	}
	return lost, dup, wrong
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// itoa is strconv.Itoa, short.
func itoa(i int) string { return strconv.Itoa(i) }
