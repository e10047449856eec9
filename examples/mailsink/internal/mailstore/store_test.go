package mailstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/maildir"
	"github.com/smtpkit/smtp/examples/internal/mimeparse"
)

func TestTraceRoundTrip(t *testing.T) {
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))
	for _, tc := range []struct {
		name string
		tr   Trace
		want string // the field as written
	}{
		{"plain", Trace{ClientIP: "127.0.0.1", Helo: "client.test", Protocol: "ESMTP", ConnID: "a1-7", Hostname: "sink.test", For: "b@y.test", Time: when},
			"Received: from client.test ([127.0.0.1])\r\n\tby sink.test (mailsink) with ESMTP id a1-7\r\n\tfor <b@y.test>;\r\n\tWed, 04 Mar 2026 05:06:07 +0100\r\n"},
		{"TLS and AUTH over IPv6", Trace{ClientIP: "::1", Helo: "[IPv6:::1]", Protocol: "ESMTPSA", TLSVersion: "TLS 1.3", TLSCipher: "TLS_AES_128_GCM_SHA256",
			AuthUser: `al(i)ce\`, ConnID: "x-1", Hostname: "sink.test", Time: when},
			"Received: from [IPv6:::1] ([IPv6:::1])\r\n\t(using TLS 1.3 with cipher TLS_AES_128_GCM_SHA256)\r\n\t(authenticated as al\\(i\\)ce\\\\)\r\n\tby sink.test (mailsink) with ESMTPSA id x-1;\r\n\tWed, 04 Mar 2026 05:06:07 +0100\r\n"},
		{"hostile names", Trace{ClientIP: "10.0.0.1", Helo: "evil (x)\r\nX-Injected: 1", Protocol: "SMTP", AuthUser: "u\r\nX: y", ConnID: "c", Hostname: "h", Time: when},
			"Received: from evilxX-Injected:1 ([10.0.0.1])\r\n\t(authenticated as uX: y)\r\n\tby h (mailsink) with SMTP id c;\r\n\tWed, 04 Mar 2026 05:06:07 +0100\r\n"},
		{"quoted recipient", Trace{ClientIP: "10.0.0.1", Helo: "c", Protocol: "ESMTP", ConnID: "c", Hostname: "h", For: `"x with ESMTPSA id z; y"@y.test`, Time: when},
			"Received: from c ([10.0.0.1])\r\n\tby h (mailsink) with ESMTP id c\r\n\tfor <\"x with ESMTPSA id z; y\"@y.test>;\r\n\tWed, 04 Mar 2026 05:06:07 +0100\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.tr.AppendReceived(nil)
			if string(b) != tc.want {
				t.Fatalf("wrote\n%q\nwant\n%q", b, tc.want)
			}
			v, rest, ok := mimeparse.CutField(append(b, "Subject: x\r\n"...), "Received")
			if !ok || string(rest) != "Subject: x\r\n" {
				t.Fatalf("cutReceived: %v %q", ok, rest)
			}
			got, ok := ParseReceived(v)
			want := tc.tr
			want.Helo = cleanName(want.Helo)
			want.AuthUser = strings.NewReplacer("\r", "", "\n", "").Replace(want.AuthUser)
			if !ok || got != want {
				t.Errorf("read back\n%+v\nwant\n%+v", got, want)
			}
		})
	}
	if _, ok := ParseReceived("from x by y with ESMTP; date"); ok {
		t.Error("a foreign Received field was taken for mailsink's")
	}
}

func TestSplitRecipients(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"b@y.test", []string{"b@y.test"}},
		{"b@y.test, c@z.test", []string{"b@y.test", "c@z.test"}},
		{`"v, w"@y.test, c@z.test`, []string{`"v, w"@y.test`, "c@z.test"}},
		{`"a\", b"@y.test, c@z.test`, []string{`"a\", b"@y.test`, "c@z.test"}},
	} {
		if got := splitRecipients(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitRecipients(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestProtocol(t *testing.T) {
	for _, tc := range []struct {
		base            string
		utf8, tls, auth bool
		want            string
	}{
		{"SMTP", false, false, false, "SMTP"},
		{"ESMTP", false, false, false, "ESMTP"},
		{"ESMTP", false, true, true, "ESMTPSA"},
		{"ESMTP", false, false, true, "ESMTPA"},
		{"ESMTP", true, true, false, "UTF8SMTPS"},
		{"LMTP", false, true, true, "LMTPSA"},
		{"LMTP", true, false, false, "UTF8LMTP"},
	} {
		if got := Protocol(tc.base, tc.utf8, tc.tls, tc.auth); got != tc.want {
			t.Errorf("%+v: %s", tc, got)
		}
	}
}

// deliver writes a message as mailsink does and returns its path.
func deliver(t testing.TB, dir *maildir.Dir, from, to, msg string) string {
	t.Helper()
	head := "Return-Path: <" + from + ">\r\nX-Envelope-To: " + to + "\r\n"
	tr := Trace{ClientIP: "127.0.0.1", Helo: "c.test", Protocol: "ESMTP", ConnID: "c-1", Hostname: "h", Time: time.Now()}
	path, _, err := dir.Deliver(strings.NewReader(string(tr.AppendReceived([]byte(head))) + msg))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func open(t *testing.T, opts Options) (*maildir.Dir, *Store) {
	t.Helper()
	dir, err := maildir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir.Path(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return dir, s
}

func ids(ss []Summary) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Subject)
	}
	return strings.Join(out, ",")
}

func TestStoreListSearchDelete(t *testing.T) {
	dir, s := open(t, Options{SyncInterval: -1})
	deliver(t, dir, "ann@x.test", "bob@y.test", "From: Ann <ann@x.test>\r\nTo: Bob <bob@y.test>\r\nSubject: first\r\n\r\nhello world\r\n")
	p2 := deliver(t, dir, "", "carl@y.test, dora@z.test", "From: noreply@x.test\r\nSubject: second\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Order <b>42</b> &amp; more</p>\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nPDF\r\n--b--\r\n")
	for _, p := range []string{p2} {
		if _, err := s.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	// The first was not added by Add: a listing syncs it in.
	total, page := s.List(Query{}, 0, 10)
	if total != 2 || ids(page) != "second,first" {
		t.Fatalf("list: %d %s", total, ids(page))
	}
	sec := page[0]
	if sec.Attachments != 1 || sec.MailFrom != "" || strings.Join(sec.RcptTo, ",") != "carl@y.test,dora@z.test" || sec.Snippet != "Order 42 & more" {
		t.Errorf("summary %+v", sec)
	}
	if want := int64(len("From: noreply@x.test\r\n")); sec.Size < want {
		t.Errorf("size %d", sec.Size)
	}
	for q, want := range map[string]string{
		"hello":                "first",
		"HELLO WORLD":          "first", // two words, both in the body
		"hello ann":            "first", // body and sender
		"hello second":         "",
		`"hello world"`:        "first",
		"from:ann":             "first",
		"to:dora@z.test":       "second", // an envelope recipient only
		"to:bob subject:first": "first",
		"subject:hello":        "",
		"body:42":              "second",
		"is:attachment":        "second",
		"-is:attachment":       "first",
		"":                     "second,first",
	} {
		if _, got := s.List(ParseQuery(q), 0, 10); ids(got) != want {
			t.Errorf("search %q: %q, want %q", q, ids(got), want)
		}
	}
	if _, got := s.List(Query{}, 1, 10); ids(got) != "first" {
		t.Errorf("page 2: %s", ids(got))
	}
	m, err := s.Get(sec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Trace == nil || m.Trace.Helo != "c.test" || len(m.Parsed.Attachments) != 1 || !strings.HasPrefix(string(m.Raw), "From: noreply") {
		t.Errorf("get: trace %+v raw %q", m.Trace, m.Raw[:20])
	}
	if err := s.Delete(sec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	if _, err := s.Get(sec.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := s.Delete("../../etc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete of a path: %v", err)
	}
	n, err := s.DeleteAll()
	if err != nil || n != 1 || s.Len() != 0 {
		t.Errorf("delete all: %d %v, %d left", n, err, s.Len())
	}
}

// TestStoreFollowsOtherPrograms: a reader moving a file to cur/ with flags,
// a program deleting one, a restart.
func TestStoreFollowsOtherPrograms(t *testing.T) {
	dir, s := open(t, Options{SyncInterval: -1})
	p1 := deliver(t, dir, "a@x.test", "b@y.test", "Subject: one\r\n\r\n1\r\n")
	p2 := deliver(t, dir, "a@x.test", "b@y.test", "Subject: two\r\n\r\n2\r\n")
	s.Add(p1)
	s.Add(p2)
	id1 := idOf(filepath.Base(p1))
	moved := filepath.Join(dir.Path(), "cur", filepath.Base(p1)+":2,S")
	if err := os.Rename(p1, moved); err != nil {
		t.Fatal(err)
	}
	// Get finds it where it went, under the same id.
	if m, err := s.Get(id1); err != nil || m.Subject != "one" {
		t.Fatalf("get after the move: %v", err)
	}
	os.Remove(p2)
	if total, page := s.List(Query{}, 0, 10); total != 1 || page[0].ID != id1 {
		t.Errorf("after removal: %d %s", total, ids(page))
	}
	// A restart rebuilds the same index.
	s2, err := Open(dir.Path(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if total, page := s2.List(Query{}, 0, 10); total != 1 || page[0].ID != id1 || page[0].Subject != "one" {
		t.Errorf("rebuilt: %d %s", total, ids(page))
	}
	if err := s2.Delete(id1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(moved); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("moved file not deleted: %v", err)
	}
}

func TestStorePrune(t *testing.T) {
	dir, s := open(t, Options{MaxMessages: 2})
	var paths []string
	for i := range 4 {
		p := deliver(t, dir, "a@x.test", "b@y.test", fmt.Sprintf("Subject: m%d\r\n\r\nx\r\n", i))
		paths = append(paths, p)
		if _, err := s.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, page := s.List(Query{}, 0, 10); ids(page) != "m3,m2" {
		t.Errorf("kept %s", ids(page))
	}
	for i, p := range paths {
		_, err := os.Stat(p)
		if gone := errors.Is(err, os.ErrNotExist); gone != (i < 2) {
			t.Errorf("file %d: %v", i, err)
		}
	}
	// At start too: a Maildir of 4 opened with a limit of 1.
	for range 2 {
		deliver(t, dir, "a@x.test", "b@y.test", "Subject: more\r\n\r\nx\r\n")
	}
	s2, err := Open(dir.Path(), Options{MaxMessages: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir.Path(), "new")); s2.Len() != 1 || len(ents) != 1 {
		t.Errorf("%d indexed, %d files", s2.Len(), len(ents))
	}
}

func TestStoreWait(t *testing.T) {
	dir, s := open(t, Options{})
	old := deliver(t, dir, "a@x.test", "bob@y.test", "Subject: old\r\n\r\nx\r\n")
	s.Add(old)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// A match already there is returned at once.
	if got, err := s.Wait(ctx, ParseQuery("to:bob"), ""); err != nil || got.Subject != "old" {
		t.Fatalf("existing: %+v %v", got, err)
	}
	// since= the old one: wait for a newer one.
	done := make(chan Summary, 1)
	go func() {
		got, err := s.Wait(ctx, ParseQuery("").Field("to", "bob@y.test"), idOf(filepath.Base(old)))
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	s.Add(deliver(t, dir, "a@x.test", "carl@y.test", "Subject: other\r\n\r\nx\r\n"))
	s.Add(deliver(t, dir, "a@x.test", "bob@y.test", "Subject: new\r\n\r\nx\r\n"))
	if got := <-done; got.Subject != "new" {
		t.Errorf("waited for %q", got.Subject)
	}
	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := s.Wait(short, ParseQuery("to:nobody"), ""); !errors.Is(err, context.Canceled) {
		t.Errorf("no match: %v", err)
	}
}

func TestSince(t *testing.T) {
	dir, s := open(t, Options{})
	_, seq := s.Since(0)
	s.Add(deliver(t, dir, "a@x.test", "b@y.test", "Subject: n1\r\n\r\nx\r\n"))
	s.Add(deliver(t, dir, "a@x.test", "b@y.test", "Subject: n2\r\n\r\nx\r\n"))
	got, seq2 := s.Since(seq)
	if ids(got) != "n1,n2" || seq2 != seq+2 {
		t.Errorf("since: %s %d", ids(got), seq2)
	}
	if got, _ := s.Since(seq2); len(got) != 0 {
		t.Errorf("nothing new: %s", ids(got))
	}
}

// TestSyncKeepsMessageAddedDuringScan: a message mailsink delivers and
// adds while a Sync is reading the directories (a listing by the UI or a
// test) is not in what that Sync read; it must stay in the index, or a
// wait that just returned its id gets 404 from the GET that follows.
func TestSyncKeepsMessageAddedDuringScan(t *testing.T) {
	dir, s := open(t, Options{SyncInterval: time.Hour})
	var id string
	s.scanned = func() {
		s.scanned = nil // only in the Sync below
		path := deliver(t, dir, "a@x.test", "b@y.test", "Subject: during\r\n\r\n1\r\n")
		sum, err := s.Add(path)
		if err != nil {
			t.Fatal(err)
		}
		id = sum.ID
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Get(id); err != nil || m.Subject != "during" {
		t.Fatalf("the message added during the scan: %v", err)
	}
	if n := s.Len(); n != 1 {
		t.Errorf("%d messages in the index, want 1", n)
	}
}

// TestDeleteMovedFileNamedLikePattern: Delete finds a message a reader
// moved to cur/ by its name, not as a glob pattern: deleting a file whose
// name holds "*" (put there by another program) leaves the others alone.
func TestDeleteMovedFileNamedLikePattern(t *testing.T) {
	dir, s := open(t, Options{SyncInterval: time.Hour})
	star := filepath.Join(dir.Path(), "new", "1.x*")
	if err := os.WriteFile(star, []byte("Subject: star\r\n\r\n1\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir.Path(), "cur", "1.xy:2,S")
	if err := os.WriteFile(other, []byte("Subject: other\r\n\r\n2\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	// A reader moves it to cur/ after the index saw it in new/.
	moved := filepath.Join(dir.Path(), "cur", "1.x*:2,S")
	if err := os.Rename(star, moved); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("1.x*"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(moved); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the message deleted is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another message went with it: %v", err)
	}
}

// TestStoreWaitSinceDeleted: since= a message deleted meanwhile (a test
// that checks each message and deletes it) still means "newer than it":
// the older messages that match are not returned, the wait goes on for a
// new one.
func TestStoreWaitSinceDeleted(t *testing.T) {
	dir, s := open(t, Options{})
	s.Add(deliver(t, dir, "a@x.test", "bob@y.test", "Subject: older\r\n\r\nx\r\n"))
	seen := deliver(t, dir, "a@x.test", "bob@y.test", "Subject: seen\r\n\r\nx\r\n")
	s.Add(seen)
	seenID := idOf(filepath.Base(seen))
	if err := s.Delete(seenID); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := s.Wait(short, ParseQuery("to:bob"), seenID); !errors.Is(err, context.Canceled) {
		t.Errorf("since a deleted message: got %q (%v), want nothing newer", got.Subject, err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	s.Add(deliver(t, dir, "a@x.test", "bob@y.test", "Subject: newer\r\n\r\nx\r\n"))
	if got, err := s.Wait(ctx, ParseQuery("to:bob"), seenID); err != nil || got.Subject != "newer" {
		t.Errorf("since a deleted message, after a newer one: got %q (%v)", got.Subject, err)
	}
}

// TestDeleteAllKeepsMessageAddedDuringIt: a message delivered while
// DeleteAll runs, after it read the directories, is on disk when it ends:
// it must stay in the index, or a wait for it (the CI pattern: delete
// all, send, wait) waits in vain.
func TestDeleteAllKeepsMessageAddedDuringIt(t *testing.T) {
	dir, s := open(t, Options{SyncInterval: time.Hour})
	s.Add(deliver(t, dir, "a@x.test", "b@y.test", "Subject: old\r\n\r\n1\r\n"))
	var id string
	s.scanned = func() {
		s.scanned = nil
		sum, err := s.Add(deliver(t, dir, "a@x.test", "b@y.test", "Subject: during\r\n\r\n2\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		id = sum.ID
	}
	if n, err := s.DeleteAll(); err != nil || n != 1 {
		t.Fatalf("DeleteAll = %d, %v; want 1 deleted", n, err)
	}
	if m, err := s.Get(id); err != nil || m.Subject != "during" {
		t.Fatalf("the message added during DeleteAll: %v", err)
	}
	if total, page := s.List(Query{}, 0, 10); total != 1 || page[0].ID != id {
		t.Errorf("after DeleteAll: %d %s", total, ids(page))
	}
}
