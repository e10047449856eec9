package durable_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/smtpkit/smtp/examples/internal/durable"
	"github.com/smtpkit/smtp/examples/internal/durable/durabletest"
)

// noneLeft fails the test if one of dirs holds a file.
func noneLeft(t *testing.T, when string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		if left := durabletest.Names(t, dir); len(left) != 0 {
			t.Errorf("%s/ holds %v %s", filepath.Base(dir), left, when)
		}
	}
}

// dirs makes a temporary directory with tmp/ and out/ in it.
func dirs(t *testing.T) (tmp, out string) {
	t.Helper()
	root := t.TempDir()
	tmp, out = filepath.Join(root, "tmp"), filepath.Join(root, "out")
	for _, d := range []string{tmp, out} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return tmp, out
}

// TestCommit writes files of several sizes through Write and through
// ReadFrom (whole and one byte at a time) and checks the bytes, the order
// of the durability steps, and that nothing stays in tmp/.
func TestCommit(t *testing.T) {
	bodies := map[string][]byte{
		"empty":  nil,
		"short":  []byte("Subject: hi\r\n\r\nbody\r\n"),
		"binary": []byte("a\x00b\xff\r\n.\r\n"),
		"large":  bytes.Repeat([]byte("0123456789abcdef\r\n"), 20000), // several buffers
	}
	for name, body := range bodies {
		for _, how := range []string{"write", "readfrom", "onebyte"} {
			t.Run(name+"/"+how, func(t *testing.T) {
				tmpDir, outDir := dirs(t)
				var events []string
				d := durabletest.Disk(&events, "", nil)
				tmp, final := filepath.Join(tmpDir, "f"), filepath.Join(outDir, "f")
				w, err := d.Create(tmp, nil)
				if err != nil {
					t.Fatal(err)
				}
				switch how {
				case "write":
					_, err = w.Write(body)
				case "readfrom":
					_, err = w.ReadFrom(bytes.NewReader(body))
				case "onebyte":
					_, err = w.ReadFrom(iotest.OneByteReader(bytes.NewReader(body)))
				}
				if err != nil {
					t.Fatal(err)
				}
				if w.Size() != int64(len(body)) {
					t.Errorf("Size %d, want %d", w.Size(), len(body))
				}
				if got := durabletest.Names(t, tmpDir); len(got) != 1 {
					t.Errorf("tmp/ holds %v while writing, want the file", got)
				}
				if err := w.Commit(final); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(final)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, body) {
					t.Errorf("stored %d bytes differ from the %d written", len(got), len(body))
				}
				noneLeft(t, "after Commit", tmpDir)
				// Writes reach the file only through the buffer; then the
				// file is fsynced, closed, renamed, and out/ is fsynced.
				var steps []string
				for i, e := range events {
					if e != "write" {
						steps = events[i:]
						break
					}
				}
				if got, want := strings.Join(steps, ","), "sync,close,syncdir:out"; got != want {
					t.Errorf("events %v, want writes then %s", events, want)
				}
				if len(body) > 0 && events[0] != "write" {
					t.Errorf("events %v, want the bytes written first", events)
				}
			})
		}
	}
}

// TestCommitFailures makes each step fail and checks the error (its step,
// its path, the system error, IsNoSpace) and that nothing is left, neither
// in tmp/ nor at the final name.
func TestCommitFailures(t *testing.T) {
	for _, tc := range []struct {
		failOn string
		err    error
		op     string
		inTmp  bool // the error's path is the temporary file, else out/
	}{
		{"write", syscall.ENOSPC, "write", true},
		{"write", syscall.EDQUOT, "write", true},
		{"sync", syscall.ENOSPC, "fsync", true},
		{"sync", syscall.EIO, "fsync", true},
		{"close", syscall.EIO, "close", true},
		{"syncdir", syscall.EIO, "fsync", false},
	} {
		t.Run(tc.failOn+"-"+tc.err.Error(), func(t *testing.T) {
			tmpDir, outDir := dirs(t)
			var events []string
			d := durabletest.Disk(&events, tc.failOn, tc.err)
			tmp, final := filepath.Join(tmpDir, "f"), filepath.Join(outDir, "f")
			w, err := d.Create(tmp, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Bigger than the buffer, so that a write reaches the file
			// before Commit.
			_, werr := w.Write(bytes.Repeat([]byte("x"), 3*durable.DefaultBufferSize))
			err = w.Commit(final)
			if tc.failOn == "write" && werr == nil {
				t.Error("Write succeeded on a failing disk")
			}
			var de *durable.Error
			if !errors.As(err, &de) || !errors.Is(err, tc.err) {
				t.Fatalf("Commit: %v (%T), want a *durable.Error wrapping %v", err, err, tc.err)
			}
			wantPath := tmp
			if !tc.inTmp {
				wantPath = outDir
			}
			if de.Op != tc.op || de.Path != wantPath {
				t.Errorf("error %s %s, want %s %s", de.Op, de.Path, tc.op, wantPath)
			}
			if durable.IsNoSpace(err) != (tc.err != syscall.EIO) {
				t.Errorf("IsNoSpace(%v) = %v", err, durable.IsNoSpace(err))
			}
			noneLeft(t, "after a failed Commit", tmpDir, outDir)
		})
	}
}

func TestCreateAndRenameFailures(t *testing.T) {
	tmpDir, outDir := dirs(t)
	var d durable.Disk
	tmp := filepath.Join(tmpDir, "f")
	if err := os.WriteFile(tmp, []byte("older"), 0o600); err != nil {
		t.Fatal(err)
	}
	// O_EXCL: an existing temporary name is an error, never an overwrite.
	_, err := d.Create(tmp, nil)
	var de *durable.Error
	if !errors.As(err, &de) || de.Op != "create" || !errors.Is(err, os.ErrExist) {
		t.Errorf("Create over an existing file: %v, want *durable.Error create wrapping ErrExist", err)
	}
	if err := d.WriteFile(tmp, filepath.Join(outDir, "f"), []byte("x")); !errors.As(err, &de) || de.Op != "create" {
		t.Errorf("WriteFile over an existing temporary file: %v", err)
	}
	if b, _ := os.ReadFile(tmp); string(b) != "older" {
		t.Errorf("existing file now holds %q", b)
	}
	os.Remove(tmp)

	// A rename into a missing directory fails and takes the file back.
	final := filepath.Join(outDir, "missing", "f")
	w, err := d.Create(tmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "x")
	if err := w.Commit(final); !errors.As(err, &de) || de.Op != "rename" || de.Path != final || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Commit into a missing directory: %v", err)
	}
	if err := d.WriteFile(tmp, final, []byte("x")); !errors.As(err, &de) || de.Op != "rename" {
		t.Errorf("WriteFile into a missing directory: %v", err)
	}
	noneLeft(t, "after failed renames", tmpDir)
}

// TestWriteFileReplacesAtomically replaces a file again and again while
// readers read it: every read sees one whole version, never a mix or a
// missing file.
func TestWriteFileReplacesAtomically(t *testing.T) {
	tmpDir, outDir := dirs(t)
	var d durable.Disk
	final := filepath.Join(outDir, "state")
	version := func(i int) []byte {
		// Versions of different lengths and contents.
		return bytes.Repeat([]byte(fmt.Sprintf("v%03d;", i)), 1+i*37%500)
	}
	if err := d.WriteFile(filepath.Join(tmpDir, "s.0"), final, version(0)); err != nil {
		t.Fatal(err)
	}
	const n = 200
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, bad int
	var mu sync.Mutex
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := os.ReadFile(final)
				mu.Lock()
				reads++
				ok := false
				if err == nil && len(b) >= 5 {
					var i int
					if _, serr := fmt.Sscanf(string(b[:5]), "v%03d;", &i); serr == nil {
						ok = bytes.Equal(b, version(i))
					}
				}
				if !ok {
					bad++
					if bad == 1 {
						t.Errorf("read %d bytes (%v) that are no whole version", len(b), err)
					}
				}
				mu.Unlock()
			}
		})
	}
	for i := 1; i <= n; i++ {
		if err := d.WriteFile(filepath.Join(tmpDir, fmt.Sprintf("s.%d", i)), final, version(i)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if b, _ := os.ReadFile(final); !bytes.Equal(b, version(n)) {
		t.Error("final content is not the last version")
	}
	noneLeft(t, "after the replacements", tmpDir)
	t.Logf("%d reads during %d replacements", reads, n)
}

// TestDirSyncFailure: a new file whose directory cannot be fsynced is taken
// back (Commit), while a replaced one keeps its new content (WriteFile),
// since removing it would lose the old one too.
func TestDirSyncFailure(t *testing.T) {
	tmpDir, outDir := dirs(t)
	var events []string
	d := durabletest.Disk(&events, durabletest.SyncDir, syscall.EIO)
	final := filepath.Join(outDir, "f")
	w, err := d.Create(filepath.Join(tmpDir, "f"), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "new file")
	if err := w.Commit(final); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Commit: %v, want EIO", err)
	}
	if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Commit left the file in place: %v", err)
	}

	os.WriteFile(final, []byte("old"), 0o600)
	var de *durable.Error
	if err := d.WriteFile(filepath.Join(tmpDir, "g"), final, []byte("new")); !errors.As(err, &de) || de.Op != "fsync" || de.Path != outDir {
		t.Fatalf("WriteFile: %v, want *durable.Error fsync %s", err, outDir)
	}
	if b, _ := os.ReadFile(final); string(b) != "new" {
		t.Errorf("after WriteFile final holds %q, want the new content", b)
	}
	noneLeft(t, "after the failed fsyncs", tmpDir)
}

func TestWriteFileWriteFailure(t *testing.T) {
	tmpDir, outDir := dirs(t)
	var events []string
	d := durabletest.Disk(&events, durabletest.Write, syscall.ENOSPC)
	final := filepath.Join(outDir, "f")
	os.WriteFile(final, []byte("old"), 0o600)
	err := d.WriteFile(filepath.Join(tmpDir, "f"), final, []byte("new"))
	var de *durable.Error
	if !errors.As(err, &de) || de.Op != "write" || !durable.IsNoSpace(err) {
		t.Errorf("WriteFile on a full disk: %v", err)
	}
	if b, _ := os.ReadFile(final); string(b) != "old" {
		t.Errorf("final holds %q, want the old content", b)
	}
	noneLeft(t, "after a failed WriteFile", tmpDir)
}

// TestStickyErrors: after a failure every call returns the error again,
// Commit takes the file back; after the end, calls fail with ErrClosed.
func TestStickyErrors(t *testing.T) {
	tmpDir, outDir := dirs(t)
	var events []string
	d := durabletest.Disk(&events, durabletest.Write, syscall.ENOSPC)
	w, err := d.Create(filepath.Join(tmpDir, "f"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := w.Write(make([]byte, 2*durable.DefaultBufferSize))
	if err1 == nil {
		t.Fatal("Write succeeded on a full disk")
	}
	if _, err := w.Write([]byte("x")); err != err1 {
		t.Errorf("second Write: %v, want the first error %v", err, err1)
	}
	if _, err := w.ReadFrom(strings.NewReader("x")); err != err1 {
		t.Errorf("ReadFrom after the error: %v", err)
	}
	if err := w.Commit(filepath.Join(outDir, "f")); err != err1 {
		t.Errorf("Commit: %v, want the first error", err)
	}
	noneLeft(t, "after a failed Commit", tmpDir)

	var real durable.Disk
	w, err = real.Create(filepath.Join(tmpDir, "g"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(filepath.Join(outDir, "g")); err != nil {
		t.Fatal(err)
	}
	var de *durable.Error
	if err := w.Commit(filepath.Join(outDir, "g")); !errors.As(err, &de) || de.Op != "commit" || !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Commit: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Commit: %v", err)
	}
	if _, err := w.ReadFrom(strings.NewReader("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadFrom after Commit: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outDir, "g")); err != nil {
		t.Errorf("Abort after Commit removed the file: %v", err)
	}
}

func TestAbort(t *testing.T) {
	tmpDir, outDir := dirs(t)
	var d durable.Disk
	w, err := d.Create(filepath.Join(tmpDir, "f"), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "partial")
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if err := w.Commit(filepath.Join(outDir, "f")); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	noneLeft(t, "after Abort", tmpDir, outDir)
}

// TestReadFromErrors: an error of the reader comes back as it is (the
// caller knows its reply), an error of the disk as an *Error.
func TestReadFromErrors(t *testing.T) {
	tmpDir, outDir := dirs(t)
	var d durable.Disk
	tooBig := errors.New("message too large")
	w, err := d.Create(filepath.Join(tmpDir, "f"), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := w.ReadFrom(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(tooBig)))
	var de *durable.Error
	if err != tooBig || errors.As(err, &de) || n != 3 {
		t.Errorf("ReadFrom = %d, %v; want 3, the reader's error as it is", n, err)
	}
	if err := w.Commit(filepath.Join(outDir, "f")); err != tooBig {
		t.Errorf("Commit after the reader failed: %v", err)
	}

	var events []string
	full := durabletest.Disk(&events, durabletest.Write, syscall.ENOSPC)
	w, err = full.Create(filepath.Join(tmpDir, "g"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.ReadFrom(bytes.NewReader(make([]byte, 4*durable.DefaultBufferSize)))
	if !errors.As(err, &de) || de.Op != "write" || !durable.IsNoSpace(err) {
		t.Errorf("disk error came back as %v", err)
	}
	w.Abort()
	noneLeft(t, "after Abort", tmpDir)
}

// TestBufferReuse: the caller's buffer is used, and released (writing to
// nothing) when the Writer ends, so that a pool can hand it out again.
func TestBufferReuse(t *testing.T) {
	tmpDir, outDir := dirs(t)
	var d durable.Disk
	buf := bufio.NewWriterSize(nil, 64)
	for i, end := range []string{"commit", "abort", "commit"} {
		w, err := d.Create(filepath.Join(tmpDir, fmt.Sprint(i)), buf)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "ab")
		if buf.Buffered() != 2 {
			t.Errorf("the caller's buffer holds %d bytes, want 2", buf.Buffered())
		}
		if end == "commit" {
			err = w.Commit(filepath.Join(outDir, fmt.Sprint(i)))
		} else {
			err = w.Abort()
		}
		if err != nil {
			t.Fatal(err)
		}
		if buf.Buffered() != 0 || buf.Size() != 64 {
			t.Errorf("buffer after %s: %d buffered, size %d", end, buf.Buffered(), buf.Size())
		}
	}
	if got := durabletest.Names(t, outDir); len(got) != 2 {
		t.Errorf("out/ holds %v, want 2 files", got)
	}
}

func TestReadFromNoAllocs(t *testing.T) {
	tmpDir, _ := dirs(t)
	var d durable.Disk
	w, err := d.Create(filepath.Join(tmpDir, "f"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	src := bytes.NewReader(bytes.Repeat([]byte("y"), 256<<10))
	var r io.Reader = struct{ io.Reader }{src} // no WriteTo: ReadFrom's own loop runs
	allocs := testing.AllocsPerRun(20, func() {
		src.Seek(0, io.SeekStart)
		w.ReadFrom(r)
	})
	if allocs > 0 {
		t.Errorf("%v allocations per ReadFrom, want none (no copy buffer)", allocs)
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := durable.SyncDir(dir); err != nil {
		t.Errorf("SyncDir(%s): %v", dir, err)
	}
	if err := durable.SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SyncDir of a missing directory: %v", err)
	}
	var d durable.Disk
	if err := d.SyncDir(dir); err != nil {
		t.Errorf("Disk.SyncDir: %v", err)
	}
}

func TestIsNoSpace(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{syscall.ENOSPC, true},
		{&durable.Error{Op: "write", Path: "x", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("saving: %w", &durable.Error{Op: "fsync", Path: "x", Err: syscall.EDQUOT}), true},
		{&durable.Error{Op: "fsync", Path: "x", Err: syscall.EIO}, false},
		{errors.New("no space left on device"), false}, // only the errno counts
	} {
		if got := durable.IsNoSpace(tc.err); got != tc.want {
			t.Errorf("IsNoSpace(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	err := &durable.Error{Op: "fsync", Path: "/q/data", Err: syscall.EIO}
	if got, want := err.Error(), "durable: fsync /q/data: "+syscall.EIO.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
