package durable

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// DefaultBufferSize is the size of a Writer's buffer when the caller gives
// none: large enough that a message arriving in small pieces costs few
// write calls.
const DefaultBufferSize = 32 << 10

// File is what a Writer needs of an open file. *os.File is one; tests
// substitute one that fails like a full disk.
type File interface {
	io.Writer
	Sync() error
	Close() error
}

// Error reports a failed step of a durable write. Err is the underlying
// system error (for example syscall.ENOSPC).
type Error struct {
	Op   string // "create", "write", "fsync", "close", "rename", "remove", "commit"
	Path string
	Err  error
}

func (e *Error) Error() string { return "durable: " + e.Op + " " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Disk is the file system durable writes go to. Its zero value is the real
// one; the fields are seams for tests that make it fail.
type Disk struct {
	// CreateFunc opens a new file for writing; nil means os.OpenFile with
	// O_CREATE|O_EXCL and mode 0600.
	CreateFunc func(name string) (File, error)
	// SyncDirFunc flushes a directory's entries; nil means SyncDir.
	SyncDirFunc func(dir string) error
}

// SyncDir flushes a directory's entries (creations, renames, removals) to
// stable storage.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir flushes dir with the Disk's SyncDirFunc, or SyncDir.
func (d *Disk) SyncDir(dir string) error {
	if d.SyncDirFunc != nil {
		return d.SyncDirFunc(dir)
	}
	return SyncDir(dir)
}

func (d *Disk) create(name string) (File, error) {
	if d.CreateFunc != nil {
		return d.CreateFunc(name)
	}
	// O_EXCL: a name collision is an error, never an overwrite.
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// Create starts a new file at the temporary path tmp, which must not exist.
// Write to the Writer, then Commit or Abort it. buf is the write buffer to
// use, or nil for a new one of DefaultBufferSize; the Writer resets it to
// write to nothing when it ends, so that the caller may pool it.
func (d *Disk) Create(tmp string, buf *bufio.Writer) (*Writer, error) {
	f, err := d.create(tmp)
	if err != nil {
		return nil, &Error{Op: "create", Path: tmp, Err: err}
	}
	// writerOnly keeps File's own ReadFrom (*os.File has one) out of
	// sight of bufio.Writer, so that ReadFrom fills the buffer instead of
	// allocating a copy buffer per file.
	if buf == nil {
		buf = bufio.NewWriterSize(writerOnly{f}, DefaultBufferSize)
	} else {
		buf.Reset(writerOnly{f})
	}
	return &Writer{disk: d, f: f, buf: buf, tmp: tmp}, nil
}

// WriteFile replaces final with data atomically: it writes data to the
// temporary path tmp (which must not exist), fsyncs and closes it, renames
// it to final and fsyncs final's directory. A reader sees the old or the
// new content of final, never a mix. When only the fsync of the directory
// fails, final already holds the new content but may lose it in a crash:
// it is left in place, since removing it would lose the old content too.
func (d *Disk) WriteFile(tmp, final string, data []byte) error {
	f, err := d.create(tmp)
	if err != nil {
		return &Error{Op: "create", Path: tmp, Err: err}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return &Error{Op: "write", Path: tmp, Err: err}
	}
	_, err = d.publish(f, tmp, final)
	return err
}

// publish makes the written file f at tmp durable under the name final:
// fsync, close, rename, fsync of final's directory. On a failure before the
// rename it removes tmp; renamed reports whether final now holds the file.
func (d *Disk) publish(f File, tmp, final string) (renamed bool, err error) {
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return false, &Error{Op: "fsync", Path: tmp, Err: err}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return false, &Error{Op: "close", Path: tmp, Err: err}
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return false, &Error{Op: "rename", Path: final, Err: err}
	}
	dir := filepath.Dir(final)
	if err := d.SyncDir(dir); err != nil {
		return true, &Error{Op: "fsync", Path: dir, Err: err}
	}
	return true, nil
}

// Writer is a new file being written under its temporary name. It is not
// safe for concurrent use.
type Writer struct {
	disk *Disk
	f    File
	buf  *bufio.Writer
	tr   trackingReader // ReadFrom's, kept here so that it is not allocated per call
	tmp  string
	n    int64
	err  error // sticky: the first error of a write or of ReadFrom's reader
	done bool
}

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Write appends p to the file. After the first error every call returns it
// again; the Writer can then only be aborted.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, &Error{Op: "write", Path: w.tmp, Err: os.ErrClosed}
	}
	n, err := w.buf.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = &Error{Op: "write", Path: w.tmp, Err: err}
		return n, w.err
	}
	return n, nil
}

// ReadFrom appends everything r yields to the file, through the Writer's
// buffer (no copy buffer is allocated). An error of r is returned as it is
// (a size-limit error of a DATA reader, for example), an error of the file
// as an *Error; either way the Writer can then only be aborted.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, &Error{Op: "write", Path: w.tmp, Err: os.ErrClosed}
	}
	w.tr = trackingReader{r: r}
	n, err := w.buf.ReadFrom(&w.tr)
	rerr := w.tr.err
	w.tr = trackingReader{}
	w.n += n
	switch {
	case err == nil:
		return n, nil
	case rerr != nil && err == rerr:
		w.err = err
	default:
		w.err = &Error{Op: "write", Path: w.tmp, Err: err}
	}
	return n, w.err
}

// trackingReader remembers the error of its reader, so that ReadFrom can
// tell it from a write error.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// Commit flushes the file to stable storage and gives it its final name:
// fsync of the file, rename to final, fsync of final's directory. When
// Commit returns nil the file survives a crash; on any error (the sticky
// error of an earlier write included) nothing of it is left, neither at
// the temporary name nor at final.
func (w *Writer) Commit(final string) error {
	if w.done {
		return &Error{Op: "commit", Path: w.tmp, Err: os.ErrClosed}
	}
	if w.err != nil {
		err := w.err
		w.Abort()
		return err
	}
	w.done = true
	err := w.buf.Flush()
	w.release()
	if err != nil {
		w.f.Close()
		os.Remove(w.tmp)
		return &Error{Op: "write", Path: w.tmp, Err: err}
	}
	renamed, err := w.disk.publish(w.f, w.tmp, final)
	if renamed && err != nil {
		// The rename may not be durable: take the file back, so that a
		// file reported as not stored cannot turn up after a crash.
		os.Remove(final)
	}
	return err
}

// Abort discards the file. It is a no-op after Commit or Abort.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	w.release()
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &Error{Op: "remove", Path: w.tmp, Err: err}
	}
	return nil
}

// release lets go of the buffer, which the caller may reuse from now on.
func (w *Writer) release() {
	if w.buf != nil {
		w.buf.Reset(nil)
		w.buf = nil
	}
}

// writerOnly is a File with only the methods of io.Writer.
type writerOnly struct{ io.Writer }
