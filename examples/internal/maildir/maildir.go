package maildir

import (
	"bufio"
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

	"github.com/smtpkit/smtp/examples/internal/durable"
)

// Subdirectories of a Maildir.
const (
	TmpDir = "tmp" // messages being written
	NewDir = "new" // delivered, not yet seen by a reader
	CurDir = "cur" // seen by a reader (the reader moves them)
)

// DefaultBufferSize is the size of the write buffer of a Delivery: large
// enough that a message arriving in small pieces costs few write calls.
const DefaultBufferSize = durable.DefaultBufferSize

// Dir is a Maildir opened for delivery. It is safe for concurrent use: every
// Create gets a name no other delivery (in this process or another) uses.
type Dir struct {
	path string
	host string // hostname with '/' and ':' escaped, for unique names
	pid  int
	seq  atomic.Uint64
	bufs sync.Pool // *bufio.Writer
	// disk writes the files; a test seam, the zero value is the real file
	// system.
	disk durable.Disk
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

// Create starts a delivery: a new file in tmp/. Write the message to it,
// then Commit or Abort it.
func (d *Dir) Create() (*Delivery, error) {
	name := d.uniqueName(time.Now())
	tmp := filepath.Join(d.path, TmpDir, name)
	buf, _ := d.bufs.Get().(*bufio.Writer)
	if buf == nil {
		buf = bufio.NewWriterSize(nil, DefaultBufferSize)
	}
	w, err := d.disk.Create(tmp, buf)
	if err != nil {
		d.bufs.Put(buf)
		return nil, wrap(err)
	}
	return &Delivery{d: d, w: w, buf: buf, name: name}, nil
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
	w    *durable.Writer
	buf  *bufio.Writer // the write buffer, back to d.bufs when the delivery ends
	name string
}

// Write appends p to the message. After the first error every call returns
// it again; the delivery can then only be aborted.
func (m *Delivery) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	return n, wrap(err)
}

// ReadFrom appends everything r yields to the message, through the
// delivery's buffer (no copy buffer is allocated). An error of r is returned
// as it is (a size-limit error of a DATA reader, for example), an error of
// the file as an *Error; either way the delivery can then only be aborted.
func (m *Delivery) ReadFrom(r io.Reader) (int64, error) {
	n, err := m.w.ReadFrom(r)
	return n, wrap(err)
}

// Size returns the number of bytes written so far.
func (m *Delivery) Size() int64 { return m.w.Size() }

// Name returns the file's unique name (the same in tmp/ and new/).
func (m *Delivery) Name() string { return m.name }

// Commit flushes the message to stable storage and moves it into new/:
// fsync of the file, rename from tmp/ to new/, fsync of new/. It returns the
// path of the delivered file. On any error the file is removed and the
// message must be treated as not stored.
func (m *Delivery) Commit() (string, error) {
	final := filepath.Join(m.d.path, NewDir, m.name)
	err := m.w.Commit(final)
	m.release()
	if err != nil {
		return "", wrap(err)
	}
	return final, nil
}

// Abort discards the delivery and removes its file from tmp/. It is a no-op
// after Commit.
func (m *Delivery) Abort() error {
	err := m.w.Abort()
	m.release()
	return wrap(err)
}

func (m *Delivery) release() {
	if m.buf != nil {
		m.d.bufs.Put(m.buf)
		m.buf = nil
	}
}

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

// wrap turns an error of the durable write into an *Error; any other error
// (nil, or one of the reader a message comes from) is returned as it is.
func wrap(err error) error {
	if de, ok := err.(*durable.Error); ok {
		return &Error{Op: de.Op, Path: de.Path, Err: de.Err}
	}
	return err
}

// IsNoSpace reports whether err means the file system is full or the quota
// is exhausted: a condition that may clear, so a server should answer with a
// transient reply (RFC 3463 4.3.1, mail system full).
func IsNoSpace(err error) bool { return durable.IsNoSpace(err) }
