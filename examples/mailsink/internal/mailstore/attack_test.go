package mailstore

import (
	"runtime"
	"strings"
	"testing"
)

// heapInUse returns the bytes of live heap objects after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestAttackIndexMemory: the index keeps an entry for every message for as
// long as mailsink runs, and is documented to keep at most SearchBytes of
// a body's text. It kept the whole text all the same (a substring of it
// shares its memory), and the whole Subject and To list: 16 messages of
// 3 MiB held some 100 MB. An entry must hold its search texts and its
// summary, each within its bound, and no more.
func TestAttackIndexMemory(t *testing.T) {
	dir, s := open(t, Options{SyncInterval: -1})
	const messages = 16
	msg := "Subject: " + strings.Repeat("s", 256<<10) + "\r\nTo: " + strings.TrimSuffix(strings.Repeat("t@y.test,\r\n ", 60000), ",\r\n ") +
		"\r\n\r\n" + strings.Repeat("lower case text ", 2<<20/16) + "\r\n"
	for range messages {
		deliver(t, dir, "a@x.test", "b@y.test", msg)
	}
	before := heapInUse()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	held := heapInUse() - before
	if s.Len() != messages {
		t.Fatalf("%d messages indexed", s.Len())
	}
	perEntry := held / messages
	// Four search texts (sender, recipients, subject, body) and the
	// summary's header fields, each at its bound.
	limit := uint64(4*DefaultSearchBytes + (2*MaxSummaryAddresses+3)*2*MaxSummaryText)
	if perEntry > limit {
		t.Errorf("each entry of the index holds %d bytes of a %d-byte message, more than %d", perEntry, len(msg), limit)
	}
	runtime.KeepAlive(s)
}
