package maildir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Subdirectories of a Maildir.
const (
	TmpDir = "tmp" // messages being written
	NewDir = "new" // delivered, not yet seen by a reader
	CurDir = "cur" // seen by a reader (the reader moves them)
)

// DefaultBufferSize is the size of the write buffer of a Delivery: large
// enough that a message arriving in small pieces costs few write calls.
const DefaultBufferSize = 32 << 10

// file is what a Delivery needs of an open file; tests substitute one that
// fails like a full disk.
type file interface {
	io.Writer
	Sync() error
	Close() error
}

// Dir is a Maildir opened for delivery. It is safe for concurrent use: every
// Create gets a name no other delivery (in this process or another) uses.
type Dir struct {
	path string
	host string // hostname with '/' and ':' escaped, for unique names
	pid  int
	seq  atomic.Uint64
	bufs sync.Pool // *bufio.Writer

	// Test seams; nil means the real file system.
	create  func(name string) (file, error)
	syncDir func(dir string) error
}

// Open prepares the Maildir at path, creating it and its tmp, new and cur
// subdirectories (mode 0700) when missing.
func Open(path string) (*Dir, error) {
	for _, sub := range []string{"", TmpDir, NewDir, CurDir} {
		p := filepath.Join(path, sub)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, &Error{Op: "mkdir", Path: p, Err: err}
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	// The format's description: a '/' in the hostname becomes \057 and a
	// ':' becomes \072, since both have a meaning in file names here.
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return &Dir{path: path, host: host, pid: os.Getpid()}, nil
}

// Path returns the Maildir's root directory.
func (d *Dir) Path() string { return d.path }

// uniqueName returns a name following the format's modern convention
// "seconds.MmicrosecondsPpidQsequenceRrandom.host".
func (d *Dir) uniqueName(now time.Time) string {
	b := make([]byte, 0, 64+len(d.host))
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, ".M"...)
	b = strconv.AppendInt(b, int64(now.Nanosecond()/1000), 10)
	b = append(b, 'P')
	b = strconv.AppendInt(b, int64(d.pid), 10)
	b = append(b, 'Q')
	b = strconv.AppendUint(b, d.seq.Add(1), 10)
	b = append(b, 'R')
	b = strconv.AppendUint(b, rand.Uint64(), 16)
	b = append(b, '.')
	b = append(b, d.host...)
	return string(b)
}

func (d *Dir) openFile(name string) (file, error) {
	if d.create != nil {
		return d.create(name)
	}
	// O_EXCL: a name collision is an error, never an overwrite.
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

func (d *Dir) fsyncDir(dir string) error {
	if d.syncDir != nil {
		return d.syncDir(dir)
	}
	return SyncDir(dir)
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

// Create starts a delivery: a new file in tmp/. Write the message to it,
// then Commit or Abort it.
func (d *Dir) Create() (*Delivery, error) {
	name := d.uniqueName(time.Now())
	tmp := filepath.Join(d.path, TmpDir, name)
	f, err := d.openFile(tmp)
	if err != nil {
		return nil, &Error{Op: "create", Path: tmp, Err: err}
	}
	// hidden keeps *os.File's ReadFrom out of sight of bufio.Writer, so
	// that ReadFrom fills the pooled buffer instead of allocating a copy
	// buffer per message.
	w, _ := d.bufs.Get().(*bufio.Writer)
	if w == nil {
		w = bufio.NewWriterSize(hidden{f}, DefaultBufferSize)
	} else {
		w.Reset(hidden{f})
	}
	return &Delivery{d: d, f: f, w: w, name: name, tmp: tmp}, nil
}

// Deliver stores everything r yields as one message and returns the path of
// the file in new/ and its size. Nothing is left in tmp/ on failure.
func (d *Dir) Deliver(r io.Reader) (path string, n int64, err error) {
	w, err := d.Create()
	if err != nil {
		return "", 0, err
	}
	if _, err := w.ReadFrom(r); err != nil {
		w.Abort()
		return "", w.Size(), err
	}
	path, err = w.Commit()
	return path, w.Size(), err
}

// Delivery is one message being written into a Maildir. It is not safe for
// concurrent use.
type Delivery struct {
	d    *Dir
	f    file
	w    *bufio.Writer
	name string
	tmp  string
	n    int64
	err  error // sticky: the first write error
	done bool
}

// Write appends p to the message. After the first error every call returns
// it again; the delivery can then only be aborted.
func (m *Delivery) Write(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if m.done {
		return 0, &Error{Op: "write", Path: m.tmp, Err: os.ErrClosed}
	}
	n, err := m.w.Write(p)
	m.n += int64(n)
	if err != nil {
		m.err = &Error{Op: "write", Path: m.tmp, Err: err}
		return n, m.err
	}
	return n, nil
}

// ReadFrom appends everything r yields to the message, through the
// delivery's buffer (no copy buffer is allocated). An error of r is returned
// as it is (a size-limit error of a DATA reader, for example), an error of
// the file as an *Error; either way the delivery can then only be aborted.
func (m *Delivery) ReadFrom(r io.Reader) (int64, error) {
	if m.err != nil {
		return 0, m.err
	}
	if m.done {
		return 0, &Error{Op: "write", Path: m.tmp, Err: os.ErrClosed}
	}
	tr := trackingReader{r: r}
	n, err := m.w.ReadFrom(&tr)
	m.n += n
	switch {
	case err == nil:
		return n, nil
	case tr.err != nil && err == tr.err:
		m.err = err
	default:
		m.err = &Error{Op: "write", Path: m.tmp, Err: err}
	}
	return n, m.err
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

// Size returns the number of bytes written so far.
func (m *Delivery) Size() int64 { return m.n }

// Name returns the file's unique name (the same in tmp/ and new/).
func (m *Delivery) Name() string { return m.name }

// Commit flushes the message to stable storage and moves it into new/:
// fsync of the file, rename from tmp/ to new/, fsync of new/. It returns the
// path of the delivered file. On any error the file is removed and the
// message must be treated as not stored.
func (m *Delivery) Commit() (string, error) {
	if m.done {
		return "", &Error{Op: "commit", Path: m.tmp, Err: os.ErrClosed}
	}
	if m.err != nil {
		err := m.err
		m.Abort()
		return "", err
	}
	m.done = true
	fail := func(op, path string, err error) (string, error) {
		m.f.Close()
		os.Remove(m.tmp)
		m.release()
		return "", &Error{Op: op, Path: path, Err: err}
	}
	if err := m.w.Flush(); err != nil {
		return fail("write", m.tmp, err)
	}
	if err := m.f.Sync(); err != nil {
		return fail("fsync", m.tmp, err)
	}
	if err := m.f.Close(); err != nil {
		os.Remove(m.tmp)
		m.release()
		return "", &Error{Op: "close", Path: m.tmp, Err: err}
	}
	m.release()
	final := filepath.Join(m.d.path, NewDir, m.name)
	if err := os.Rename(m.tmp, final); err != nil {
		os.Remove(m.tmp)
		return "", &Error{Op: "rename", Path: final, Err: err}
	}
	newDir := filepath.Join(m.d.path, NewDir)
	if err := m.d.fsyncDir(newDir); err != nil {
		// The rename may not be durable: take the message back so that it
		// is not acknowledged and yet present after a crash.
		os.Remove(final)
		return "", &Error{Op: "fsync", Path: newDir, Err: err}
	}
	return final, nil
}

// Abort discards the delivery and removes its file from tmp/. It is a no-op
// after Commit.
func (m *Delivery) Abort() error {
	if m.done {
		return nil
	}
	m.done = true
	m.f.Close()
	m.release()
	if err := os.Remove(m.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &Error{Op: "remove", Path: m.tmp, Err: err}
	}
	return nil
}

func (m *Delivery) release() {
	if m.w != nil {
		m.w.Reset(nil)
		m.d.bufs.Put(m.w)
		m.w = nil
	}
}

// hidden is a file with only the methods of the file interface.
type hidden struct{ file }

// Error reports a failed Maildir operation. Err is the underlying system
// error (for example syscall.ENOSPC).
type Error struct {
	Op   string // "create", "write", "fsync", "close", "rename", "mkdir", "remove", "commit"
	Path string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("maildir: %s %s: %v", e.Op, e.Path, e.Err) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// IsNoSpace reports whether err means the file system is full or the quota
// is exhausted: a condition that may clear, so a server should answer with a
// transient reply (RFC 3463 4.3.1, mail system full).
func IsNoSpace(err error) bool { return isNoSpace(err) }
