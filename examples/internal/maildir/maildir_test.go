package maildir

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/smtpkit/smtp/examples/internal/durable"
	"github.com/smtpkit/smtp/examples/internal/durable/durabletest"
)

func TestDeliverByteExact(t *testing.T) {
	msgs := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"short", []byte("Subject: hi\r\n\r\nbody\r\n")},
		{"binary", []byte("a\x00b\xff\r\n.\r\n..x\r\n")},
		{"large", bytes.Repeat([]byte("0123456789abcdef\r\n"), 20000)},
	}
	for _, m := range msgs {
		for _, oneByte := range []bool{false, true} {
			t.Run(m.name, func(t *testing.T) {
				root := filepath.Join(t.TempDir(), "md")
				d, err := Open(root)
				if err != nil {
					t.Fatal(err)
				}
				var r io.Reader = bytes.NewReader(m.body)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				path, n, err := d.Deliver(r)
				if err != nil {
					t.Fatal(err)
				}
				if n != int64(len(m.body)) {
					t.Errorf("size %d, want %d", n, len(m.body))
				}
				if filepath.Dir(path) != filepath.Join(root, NewDir) {
					t.Errorf("delivered to %s, want in new/", path)
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, m.body) {
					t.Errorf("stored %d bytes differ from the %d sent", len(got), len(m.body))
				}
				if left := durabletest.Names(t, filepath.Join(root, TmpDir)); len(left) != 0 {
					t.Errorf("tmp/ not empty: %v", left)
				}
				for _, sub := range []string{CurDir, NewDir, TmpDir} {
					if fi, err := os.Stat(filepath.Join(root, sub)); err != nil || !fi.IsDir() {
						t.Errorf("%s/ missing: %v", sub, err)
					}
				}
			})
		}
	}
}

func TestUniqueNamesConcurrent(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	paths := make([]string, n)
	for i := range n {
		wg.Go(func() {
			p, _, err := d.Deliver(strings.NewReader("x\r\n"))
			if err != nil {
				t.Error(err)
			}
			paths[i] = p
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			t.Fatalf("name used twice: %s", p)
		}
		seen[p] = true
	}
	if got := len(durabletest.Names(t, filepath.Join(d.Path(), NewDir))); got != n {
		t.Errorf("%d files in new/, want %d", got, n)
	}
}

func TestHostnameEscaped(t *testing.T) {
	d := &Dir{host: `a\057b\072c`, pid: 7}
	name := d.uniqueName(time.Unix(1700000000, 123456000))
	if strings.ContainsAny(name, "/:") {
		t.Errorf("name %q contains / or :", name)
	}
	if !strings.Contains(name, "P7Q1R") || !strings.HasSuffix(name, `.a\057b\072c`) {
		t.Errorf("name %q does not follow sec.MusecPpidQseqRrand.host", name)
	}
}

// TestCommitOrder checks the durability protocol: data written, file fsynced
// and closed, then renamed into new/, then new/ fsynced.
func TestCommitOrder(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	d.disk = durabletest.Disk(&events, "", nil)
	d.disk.SyncDirFunc = func(dir string) error {
		if filepath.Base(dir) != NewDir {
			t.Errorf("fsync of %s, want new/", dir)
		}
		// The rename must already have happened.
		n := len(durabletest.Names(t, dir))
		events = append(events, "syncdir:"+string(rune('0'+n)))
		return durable.SyncDir(dir)
	}
	w, err := d.Create()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "hello\r\n")
	if len(durabletest.Names(t, filepath.Join(d.Path(), TmpDir))) != 1 {
		t.Error("message not in tmp/ while written")
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	want := "write,sync,close,syncdir:1"
	if got := strings.Join(events, ","); got != want {
		t.Errorf("events %s, want %s", got, want)
	}
	if _, err := w.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
}

func TestDiskFull(t *testing.T) {
	for _, tc := range []struct {
		failOn string
		err    error
	}{
		{durabletest.Write, syscall.ENOSPC},
		{durabletest.Sync, syscall.ENOSPC},
		{durabletest.Write, syscall.EDQUOT},
		{durabletest.Sync, syscall.EIO},
	} {
		t.Run(tc.failOn+"-"+tc.err.Error(), func(t *testing.T) {
			d, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var events []string
			d.disk = durabletest.Disk(&events, tc.failOn, tc.err)
			// Bigger than the buffer so that Write reaches the file.
			big := bytes.Repeat([]byte("x"), 3*DefaultBufferSize)
			_, _, err = d.Deliver(bytes.NewReader(big))
			if err == nil {
				t.Fatal("Deliver succeeded on a failing disk")
			}
			var me *Error
			if !errors.As(err, &me) || !errors.Is(err, tc.err) {
				t.Errorf("error %v (%T) does not wrap %v as *Error", err, err, tc.err)
			}
			wantNoSpace := tc.err != syscall.EIO
			if IsNoSpace(err) != wantNoSpace {
				t.Errorf("IsNoSpace(%v) = %v, want %v", err, !wantNoSpace, wantNoSpace)
			}
			for _, sub := range []string{TmpDir, NewDir} {
				if left := durabletest.Names(t, filepath.Join(d.Path(), sub)); len(left) != 0 {
					t.Errorf("%s/ holds %v after a failed delivery", sub, left)
				}
			}
		})
	}
}

func TestDirSyncFailureTakesMessageBack(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d.disk.SyncDirFunc = func(string) error { return syscall.EIO }
	if _, _, err := d.Deliver(strings.NewReader("x")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("err %v, want EIO", err)
	}
	if left := durabletest.Names(t, filepath.Join(d.Path(), NewDir)); len(left) != 0 {
		t.Errorf("new/ holds %v although the delivery failed", left)
	}
}

func TestAbort(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := d.Create()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "partial")
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Error("Write after Abort succeeded")
	}
	for _, sub := range []string{TmpDir, NewDir} {
		if left := durabletest.Names(t, filepath.Join(d.Path(), sub)); len(left) != 0 {
			t.Errorf("%s/ holds %v after Abort", sub, left)
		}
	}
}

func TestOpenFailsOnFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, nil, 0o600)
	_, err := Open(p)
	var me *Error
	if !errors.As(err, &me) || me.Op != "mkdir" {
		t.Errorf("Open on a file: %v, want *Error mkdir", err)
	}
}

func BenchmarkDeliver1K(b *testing.B) {
	d, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	d.disk.SyncDirFunc = func(string) error { return nil }
	msg := bytes.Repeat([]byte("x"), 1024)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		w, err := d.Create()
		if err != nil {
			b.Fatal(err)
		}
		w.Write(msg)
		w.Abort()
	}
}

func TestReadFromErrors(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// An error of the reader comes back as it is, not as a disk error.
	tooBig := errors.New("message too large")
	w, _ := d.Create()
	_, err = w.ReadFrom(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(tooBig)))
	var me *Error
	if err != tooBig || errors.As(err, &me) {
		t.Errorf("reader error came back as %v", err)
	}
	if _, err := w.Commit(); err == nil {
		t.Error("Commit after a failed ReadFrom succeeded")
	}
	// An error of the disk comes back as *Error.
	var ev []string
	d.disk = durabletest.Disk(&ev, durabletest.Write, syscall.ENOSPC)
	w, _ = d.Create()
	w.Write([]byte("header\r\n"))
	_, err = w.ReadFrom(bytes.NewReader(bytes.Repeat([]byte("x"), 4*DefaultBufferSize)))
	if !errors.As(err, &me) || !IsNoSpace(err) {
		t.Errorf("disk error came back as %v", err)
	}
	w.Abort()
}

func TestReadFromNoAllocs(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, _ := d.Create()
	defer w.Abort()
	src := bytes.NewReader(bytes.Repeat([]byte("y"), 256<<10))
	allocs := testing.AllocsPerRun(20, func() {
		src.Seek(0, io.SeekStart)
		w.ReadFrom(struct{ io.Reader }{src})
	})
	// No copy buffer: at most the test's own conversion of the reader.
	if allocs > 2 {
		t.Errorf("%v allocations per ReadFrom", allocs)
	}
}
