package queue

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/smtpkit/smtp/examples/internal/durable"
)

func newMsg(rcpts ...string) *Message {
	m := &Message{From: "a@example.org"}
	for _, r := range rcpts {
		m.Recipients = append(m.Recipients, Recipient{Addr: r, State: Pending})
	}
	return m
}

func TestCommitAndReload(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("line\r\n"), 10000)
	w, err := q.Create()
	if err != nil {
		t.Fatal(err)
	}
	// Written one byte at a time, as a slow network would deliver it.
	r := iotest.OneByteReader(bytes.NewReader(body))
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				t.Fatal(err)
			}
		}
		if err != nil {
			break
		}
	}
	m := newMsg("b@example.net", "c@example.com")
	m.EightBit = true
	if err := w.Commit(m); err != nil {
		t.Fatal(err)
	}
	if m.ID == "" || m.Size != int64(len(body)) || m.Created.IsZero() {
		t.Fatalf("Commit did not fill ID/Size/Created: %+v", m)
	}
	q.Close()

	// A new owner (after a restart) sees the same message.
	q2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	msgs, errs := q2.Load()
	if len(errs) != 0 || len(msgs) != 1 {
		t.Fatalf("Load: %d msgs, errs %v", len(msgs), errs)
	}
	got := msgs[0]
	if got.ID != m.ID || got.From != m.From || !got.EightBit || !reflect.DeepEqual(got.Recipients, m.Recipients) {
		t.Errorf("reloaded %+v, want %+v", got, m)
	}
	data, err := q2.ReadData(m.ID)
	if err != nil || !bytes.Equal(data, body) {
		t.Errorf("data differs (err %v)", err)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	q.Close()
	q, err = Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	q.Close()
}

func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A message half written (never committed), a committed one, and data
	// whose state never got written (crash inside Commit).
	w, _ := q.Create()
	w.Write([]byte("partial"))
	good := newMsg("x@example.net")
	if err := q.Add(good, []byte("good")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, dataDir, "orphan"), []byte("o"), 0o600)
	q.Close() // the "crash": nothing is cleaned up by Close

	q, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, sub := range []string{tmpDir, dataDir, stateDir} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		want := 1
		if sub == tmpDir {
			want = 0
		}
		if len(ents) != want {
			t.Errorf("%s/ holds %d files after Open, want %d", sub, len(ents), want)
		}
	}
	msgs, _ := q.Load()
	if len(msgs) != 1 || msgs[0].ID != good.ID {
		t.Errorf("Load after crash: %v", msgs)
	}
}

func TestSaveAtomicAndRemove(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m := newMsg("b@x.test", "c@y.test")
	if err := q.Add(m, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	m.Recipients[0].State = Delivered
	m.Attempts = 1
	m.LastError = "451 4.3.0 try later"
	if err := q.Save(m); err != nil {
		t.Fatal(err)
	}
	got, err := q.Get(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Recipients[0].State != Delivered || got.Recipients[1].State != Pending || got.Attempts != 1 || got.LastError != m.LastError {
		t.Errorf("Get after Save: %+v", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, tmpDir)); len(ents) != 0 {
		t.Errorf("Save left %d temporary files", len(ents))
	}
	if err := q.Remove(m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove: %v", err)
	}
	if _, err := q.OpenData(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenData after Remove: %v", err)
	}
}

// TestListWhileOwned runs List concurrently with an owner that saves and
// removes messages: List never fails and never returns a partial state.
func TestListWhileOwned(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var ids []string
	for range 20 {
		m := newMsg("b@x.test")
		if err := q.Add(m, []byte("x")); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := ids[i%len(ids)]
			m, err := q.Get(id)
			if err != nil {
				continue
			}
			m.Attempts++
			q.Save(m)
			if i%7 == 0 {
				q.Remove(id)
			}
		}
	})
	for range 200 {
		msgs, err := List(dir)
		if err != nil {
			t.Errorf("List: %v", err)
			break
		}
		for _, m := range msgs {
			if len(m.Recipients) != 1 || m.From != "a@example.org" {
				t.Errorf("List returned a damaged message %+v", m)
			}
		}
	}
	close(stop)
	wg.Wait()
}

// TestReadWhileOwned: Read finds a message of a queue another owns, as
// the owner saves it again and again, and then not once it is removed.
func TestReadWhileOwned(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m := newMsg("b@x.test")
	if err := q.Add(m, []byte("x")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c := m.Clone()
			c.Attempts++
			q.Save(c)
		}
	})
	for range 200 {
		got, err := Read(dir, m.ID)
		if err != nil || got.ID != m.ID || len(got.Recipients) != 1 {
			t.Fatalf("Read: %+v %v", got, err)
		}
	}
	close(stop)
	wg.Wait()
	if err := q.Remove(m.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{m.ID, "../x", ""} {
		if _, err := Read(dir, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Read(%q): %v", id, err)
		}
	}
}

func TestListMissingQueue(t *testing.T) {
	if _, err := List(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("List of a missing queue succeeded")
	}
}

func TestListReportsDamage(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	q.Add(newMsg("b@x.test"), []byte("x"))
	os.WriteFile(filepath.Join(dir, stateDir, "bad.json"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, stateDir, "ignored.txt"), []byte("{"), 0o600)
	msgs, err := List(dir)
	var qe *Error
	if len(msgs) != 1 || !errors.As(err, &qe) || qe.Op != "decode" {
		t.Errorf("List: %d msgs, err %v; want 1 and a decode error", len(msgs), err)
	}
}

func TestCommitDirSyncFailure(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, failOn := range []string{dataDir, stateDir} {
		q.disk.SyncDirFunc = func(d string) error {
			if filepath.Base(d) == failOn {
				return syscall.EIO
			}
			return durable.SyncDir(d)
		}
		if err := q.Add(newMsg("b@x.test"), []byte("x")); !errors.Is(err, syscall.EIO) {
			t.Errorf("fsync of %s failing: Add returned %v", failOn, err)
		}
		for _, sub := range []string{dataDir, stateDir, tmpDir} {
			if ents, _ := os.ReadDir(filepath.Join(dir, sub)); len(ents) != 0 {
				t.Errorf("fsync of %s failing: %s/ holds %d files", failOn, sub, len(ents))
			}
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc.1.x": true, "": false, "..": false, "a/b": false, "a\x00": false, strings.Repeat("a", maxIDLen+1): false, strings.Repeat("a", maxIDLen): true,
	} {
		if validID(id) != want {
			t.Errorf("validID(%q) = %v", id, !want)
		}
	}
	q := &Queue{}
	if id := q.newID(time.Now()); !validID(id) {
		t.Errorf("newID %q is not valid", id)
	}
	if err := (&Queue{dir: t.TempDir()}).Save(&Message{ID: "../x"}); err == nil {
		t.Error("Save accepted a path as ID")
	}
}

func TestStates(t *testing.T) {
	m := newMsg("a@x", "b@x", "c@x")
	m.Recipients[1].State = Delivered
	if m.Done() || !reflect.DeepEqual(m.Pending(), []int{0, 2}) {
		t.Errorf("Pending %v Done %v", m.Pending(), m.Done())
	}
	m.Recipients[0].State = Failed
	m.Recipients[2].State = Delivered
	if m.Done() || len(m.Pending()) != 0 {
		t.Error("Done before the failure was reported (its bounce queued)")
	}
	m.Recipients[0].Notified = true
	if !m.Done() {
		t.Error("all final and reported but not Done")
	}
	c := m.Clone()
	c.Recipients[0].State = Pending
	if m.Recipients[0].State != Failed {
		t.Error("Clone shares recipients")
	}
}

func TestWriterReadFrom(t *testing.T) {
	q, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	body := bytes.Repeat([]byte("z"), 100<<10)
	w, _ := q.Create()
	if n, err := w.ReadFrom(iotest.HalfReader(bytes.NewReader(body))); err != nil || n != int64(len(body)) {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	m := newMsg("b@x.test")
	if err := w.Commit(m); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.ReadData(m.ID); !bytes.Equal(got, body) {
		t.Error("data differs")
	}
	boom := errors.New("too large")
	w, _ = q.Create()
	if _, err := w.ReadFrom(iotest.ErrReader(boom)); err != boom {
		t.Errorf("reader error came back as %v", err)
	}
	if err := w.Commit(newMsg("b@x.test")); err != boom {
		t.Errorf("Commit after a failed read: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(q.Dir(), tmpDir)); len(ents) != 0 {
		t.Errorf("%d files left in tmp/", len(ents))
	}
}

// TestRestartWithDamagedState: a state file cut short (a disk fault, an
// operator's edit) is reported by Load after a restart, and neither it nor
// its data is removed, while the intact message loads normally.
func TestRestartWithDamagedState(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	good, bad := newMsg("a@x.test"), newMsg("b@x.test")
	if err := q.Add(good, []byte("good")); err != nil {
		t.Fatal(err)
	}
	if err := q.Add(bad, []byte("bad")); err != nil {
		t.Fatal(err)
	}
	q.Close()
	sp := filepath.Join(dir, stateDir, bad.ID+stateExt)
	b, err := os.ReadFile(sp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sp, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}

	q, err = Open(dir)
	if err != nil {
		t.Fatalf("Open with a damaged state file: %v", err)
	}
	defer q.Close()
	msgs, errs := q.Load()
	if len(msgs) != 1 || msgs[0].ID != good.ID {
		t.Errorf("Load returned %v, want only %s", msgs, good.ID)
	}
	var qe *Error
	if len(errs) != 1 || !errors.As(errs[0], &qe) || qe.Op != "decode" || qe.Path != sp {
		t.Errorf("Load errors %v, want one decode error for %s", errs, sp)
	}
	if data, err := q.ReadData(bad.ID); err != nil || string(data) != "bad" {
		t.Errorf("data of the damaged message: %q, %v; want it kept", data, err)
	}
	if _, err := os.Stat(sp); err != nil {
		t.Errorf("damaged state file was removed: %v", err)
	}
}

// TestOwnerPID: the owner's PID is in the lock file, and Owner reports it
// while the queue is open, and no owner once it is closed.
func TestOwnerPID(t *testing.T) {
	dir := t.TempDir()
	if pid, owned, err := Owner(dir); err != nil || owned || pid != 0 {
		t.Errorf("Owner of a queue never opened: %d %v %v", pid, owned, err)
	}
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, lockFile))
	if string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q", b)
	}
	if pid, owned, err := Owner(dir); err != nil || !owned || pid != os.Getpid() {
		t.Errorf("Owner while open: %d %v %v", pid, owned, err)
	}
	q.Close()
	if _, owned, err := Owner(dir); err != nil || owned {
		t.Errorf("Owner after Close: %v %v", owned, err)
	}
}

// TestActiveMarkers: an attempt marked active and never cleared (the
// process died) is reported by the next owner; a cleared one, or a removed
// message's, is not.
func TestActiveMarkers(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := newMsg("a@x.test"), newMsg("b@x.test"), newMsg("c@x.test")
	for _, m := range []*Message{a, b, c} {
		if err := q.Add(m, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := q.MarkActive(m.ID); err != nil {
			t.Fatal(err)
		}
	}
	q.ClearActive(b.ID)
	q.Remove(c.ID)
	q.Close()
	q, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got := q.Interrupted()
	if _, ok := got[a.ID]; !ok || len(got) != 1 {
		t.Errorf("Interrupted() = %v, want only %s", got, a.ID)
	}
	if err := q.MarkActive("../x"); err == nil {
		t.Error("MarkActive accepted a path")
	}
}
