package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smtpkit/smtp/examples/internal/durable"
)

// Subdirectories and files of a queue directory.
const (
	tmpDir   = "tmp"   // files being written; emptied by Open
	dataDir  = "data"  // message bytes, one file per message named by its ID
	stateDir = "state" // envelopes and delivery state, ID.json
	lockFile = "lock"  // held by the owning process, which writes its PID into it
	// activeDir holds an empty marker per message whose delivery attempt
	// is in progress (MarkActive); a marker left by a process that died
	// names an attempt whose outcome is unknown.
	activeDir = "active"
	stateExt  = ".json"
)

// ErrLocked is returned by Open when another process owns the queue.
var ErrLocked = errors.New("queue: locked by another process")

// ErrNotFound is returned for an ID that is not in the queue.
var ErrNotFound = errors.New("queue: no such message")

// Error reports a failed queue operation on a file.
type Error struct {
	Op   string // "create", "write", "fsync", "close", "rename", "remove", "commit", "read", "decode", "encode", "save", "lock", "mkdir"
	Path string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("queue: %s %s: %v", e.Op, e.Path, e.Err) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// wrap turns an error of a durable write into an *Error; any other error
// (nil, or one of the reader a message comes from) is returned as it is.
func wrap(err error) error {
	if de, ok := err.(*durable.Error); ok {
		return &Error{Op: de.Op, Path: de.Path, Err: de.Err}
	}
	return err
}

// Queue is a queue directory owned by this process. Its methods are safe for
// concurrent use as long as no two goroutines work on the same message at
// the same time (the relay's scheduler hands each message to one worker).
type Queue struct {
	dir  string
	lock *os.File
	seq  atomic.Uint64
	// disk writes the files; a test seam, the zero value is the real file
	// system.
	disk durable.Disk
}

// Open takes ownership of the queue in dir, creating it if missing: it
// locks dir/lock (flock, released by the kernel when the process ends, even
// by SIGKILL) and writes its PID into it. It removes what a crash may have
// left: files in tmp/ and message data with no state file (a message whose
// Commit never finished, hence never acknowledged).
//
// The directory and its subdirectories must belong to the user the
// program runs as and be writable by it alone (checkPrivateDir); Open
// refuses them otherwise, before it writes anything.
func Open(dir string) (*Queue, error) {
	for _, sub := range []string{"", tmpDir, dataDir, stateDir, activeDir} {
		p := filepath.Join(dir, sub)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, &Error{Op: "mkdir", Path: p, Err: err}
		}
		if err := checkPrivateDir(p); err != nil {
			return nil, err
		}
	}
	lock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, err
	}
	q := &Queue{dir: dir, lock: lock}
	if err := writePID(lock); err != nil {
		lock.Close()
		return nil, &Error{Op: "lock", Path: filepath.Join(dir, lockFile), Err: err}
	}
	if err := q.cleanup(); err != nil {
		lock.Close()
		return nil, err
	}
	return q, nil
}

// writePID replaces the lock file's content with this process's PID, for
// operators and for the relay's control commands.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// Owner reports whether a process owns the queue in dir (holds its lock),
// and its PID as written in the lock file (0 if unreadable). It takes the
// lock for a moment when nobody holds it.
func Owner(dir string) (pid int, owned bool, err error) {
	path := filepath.Join(dir, lockFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	f, err := lockDir(path)
	if errors.Is(err, ErrLocked) {
		b, _ := os.ReadFile(path)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	f.Close()
	return 0, false, nil
}

// Dir returns the queue directory.
func (q *Queue) Dir() string { return q.dir }

// Close releases the queue's lock.
func (q *Queue) Close() error { return q.lock.Close() }

func (q *Queue) cleanup() error {
	tmp := filepath.Join(q.dir, tmpDir)
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return &Error{Op: "read", Path: tmp, Err: err}
	}
	for _, e := range ents {
		os.Remove(filepath.Join(tmp, e.Name()))
	}
	data := filepath.Join(q.dir, dataDir)
	ents, err = os.ReadDir(data)
	if err != nil {
		return &Error{Op: "read", Path: data, Err: err}
	}
	for _, e := range ents {
		if _, err := os.Stat(q.statePath(e.Name())); errors.Is(err, os.ErrNotExist) {
			os.Remove(filepath.Join(data, e.Name()))
		}
	}
	return nil
}

func (q *Queue) statePath(id string) string {
	return filepath.Join(q.dir, stateDir, id+stateExt)
}

func (q *Queue) dataPath(id string) string { return filepath.Join(q.dir, dataDir, id) }

// newID returns a queue ID for this queue (FormatID with its sequence).
func (q *Queue) newID(now time.Time) string { return FormatID(now, q.seq.Add(1)) }

// FormatID returns a queue ID: the time in base 36 (so IDs sort by
// arrival), the caller's sequence number and randomness, so that IDs made
// by several processes at once do not collide.
func FormatID(now time.Time, seq uint64) string {
	b := make([]byte, 0, 32)
	b = strconv.AppendInt(b, now.UnixMicro(), 36)
	b = append(b, '.')
	b = strconv.AppendUint(b, seq, 36)
	b = append(b, '.')
	b = strconv.AppendUint(b, rand.Uint64()&0xffffffffff, 36)
	return string(b)
}

// CheckPrivateDir refuses a directory that another user could change:
// owned by another user than this program's, or writable by group or
// others; Open checks its queue directory so. For a program that keeps
// its queues and other records under one directory of its own.
func CheckPrivateDir(path string) error { return checkPrivateDir(path) }

// ValidID reports whether id can be a queue ID (and name queue files).
func ValidID(id string) bool { return validID(id) }

// maxIDLen bounds a message ID, so that ID.json and the tmp names built
// from it stay well below the 255-byte file name limit of common file
// systems; IDs made by newID are about 30 bytes.
const maxIDLen = 200

// validID reports whether id can name queue files (no path separators).
func validID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Writer receives the bytes of a new message. Write the message, then Commit
// with its envelope (or Abort).
type Writer struct {
	q  *Queue
	id string
	w  *durable.Writer
}

// Create starts a new message with a fresh ID.
func (q *Queue) Create() (*Writer, error) {
	return q.create(q.newID(time.Now()))
}

func (q *Queue) create(id string) (*Writer, error) {
	w, err := q.disk.Create(filepath.Join(q.dir, tmpDir, id+".data"), nil)
	if err != nil {
		return nil, wrap(err)
	}
	return &Writer{q: q, id: id, w: w}, nil
}

// ID returns the ID the message will have.
func (w *Writer) ID() string { return w.id }

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.w.Size() }

// Write appends p to the message; errors are sticky.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	return n, wrap(err)
}

// ReadFrom appends everything r yields to the message. An error of r (a
// size-limit error of a DATA reader, say) is returned as it is, an error of
// the file as an *Error; either way the message can then only be aborted.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.w.ReadFrom(r)
	return n, wrap(err)
}

// Commit makes the message durable with the envelope m (whose ID and Size
// it sets): the data file is fsynced and renamed into data/, then the state
// file is written the same way, each directory fsynced after its rename.
// When Commit returns nil the message survives any crash; on an error
// nothing of it stays in the queue.
func (w *Writer) Commit(m *Message) error {
	final := w.q.dataPath(w.id)
	if err := w.w.Commit(final); err != nil {
		return wrap(err)
	}
	m.ID = w.id
	m.Size = w.w.Size()
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	if err := w.q.Save(m); err != nil {
		// The state may have been renamed into place before the failure:
		// take both back, the message was not accepted.
		os.Remove(w.q.statePath(w.id))
		os.Remove(final)
		return err
	}
	return nil
}

// Abort discards the message. It is a no-op after Commit.
func (w *Writer) Abort() { w.w.Abort() }

// Add queues a complete message held in memory (a bounce, for example) in
// one step.
func (q *Queue) Add(m *Message, data []byte) error {
	w, err := q.Create()
	if err != nil {
		return err
	}
	w.Write(data)
	return w.Commit(m)
}

// Save replaces the state file of m atomically and durably: it writes a
// temporary file, fsyncs it, renames it over state/ID.json and fsyncs the
// directory. A reader sees either the old or the new state, never a mix.
func (q *Queue) Save(m *Message) error {
	if !validID(m.ID) {
		return &Error{Op: "save", Path: m.ID, Err: errors.New("invalid message ID")}
	}
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return &Error{Op: "encode", Path: m.ID, Err: err}
	}
	b = append(b, '\n')
	tmp := filepath.Join(q.dir, tmpDir, m.ID+".state."+strconv.FormatUint(q.seq.Add(1), 36))
	return wrap(q.disk.WriteFile(tmp, q.statePath(m.ID), b))
}

// OpenData opens the bytes of message id for reading.
func (q *Queue) OpenData(id string) (*os.File, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	f, err := os.Open(q.dataPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// ReadData returns the bytes of message id.
func (q *Queue) ReadData(id string) ([]byte, error) {
	f, err := q.OpenData(id)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Remove deletes message id: first its state file (made durable, so the
// message is gone for good), then its data. A crash in between leaves only
// data, which Open removes.
func (q *Queue) Remove(id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	sp := q.statePath(id)
	if err := os.Remove(sp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &Error{Op: "remove", Path: sp, Err: err}
	}
	if err := q.disk.SyncDir(filepath.Dir(sp)); err != nil {
		return &Error{Op: "fsync", Path: filepath.Dir(sp), Err: err}
	}
	if err := os.Remove(q.dataPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &Error{Op: "remove", Path: q.dataPath(id), Err: err}
	}
	q.ClearActive(id)
	return nil
}

// MarkActive records that a delivery attempt of message id begins. The
// marker is not fsynced: it is there to tell, after a crash of the process
// (which the page cache survives), which attempts were cut short.
func (q *Queue) MarkActive(id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	p := filepath.Join(q.dir, activeDir, id)
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return &Error{Op: "create", Path: p, Err: err}
	}
	return nil
}

// ClearActive removes the marker of MarkActive once the attempt's outcome
// is saved.
func (q *Queue) ClearActive(id string) {
	if validID(id) {
		os.Remove(filepath.Join(q.dir, activeDir, id))
	}
}

// Interrupted returns the messages whose attempt markers are in the queue,
// with the time each attempt began: attempts of an owner that died before
// it saved their outcome (called before this owner marks any).
func (q *Queue) Interrupted() map[string]time.Time {
	out := map[string]time.Time{}
	ents, _ := os.ReadDir(filepath.Join(q.dir, activeDir))
	for _, e := range ents {
		if !validID(e.Name()) {
			continue
		}
		if fi, err := e.Info(); err == nil {
			out[e.Name()] = fi.ModTime()
		}
	}
	return out
}

// Get reads the state of message id.
func (q *Queue) Get(id string) (*Message, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	return readState(q.statePath(id))
}

// Load reads the state of every queued message, sorted by ID (arrival
// order). A state file that cannot be read or decoded is reported in errs
// and left in place; the others are returned.
func (q *Queue) Load() (msgs []*Message, errs []error) {
	return list(q.dir)
}

// List reads the queue in dir without owning it: it takes no lock and
// changes nothing, so it works while a relay runs on the same queue. A
// message delivered (removed) while List runs is simply left out; since
// state files are replaced by rename, List never sees a partial one.
func List(dir string) ([]*Message, error) {
	if _, err := os.Stat(filepath.Join(dir, stateDir)); err != nil {
		return nil, &Error{Op: "read", Path: filepath.Join(dir, stateDir), Err: err}
	}
	msgs, errs := list(dir)
	return msgs, errors.Join(errs...)
}

// Read reads the state of message id of the queue in dir without owning
// it, as List does: for a program that looks a message up while the
// queue's owner works on it (state files are replaced by rename, so the
// state read is a whole one). ErrNotFound when it is not queued.
func Read(dir, id string) (*Message, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	return readState(filepath.Join(dir, stateDir, id+stateExt))
}

func list(dir string) (msgs []*Message, errs []error) {
	sd := filepath.Join(dir, stateDir)
	ents, err := os.ReadDir(sd)
	if err != nil {
		return nil, []error{&Error{Op: "read", Path: sd, Err: err}}
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, stateExt) || !validID(strings.TrimSuffix(name, stateExt)) {
			continue
		}
		m, err := readState(filepath.Join(sd, name))
		if errors.Is(err, ErrNotFound) {
			continue // removed since ReadDir
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		msgs = append(msgs, m)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].ID < msgs[j].ID })
	return msgs, errs
}

// maxStateSize bounds a state file read, so a damaged file cannot exhaust
// memory.
const maxStateSize = 16 << 20

func readState(path string) (*Message, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, &Error{Op: "read", Path: path, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize))
	if err != nil {
		return nil, &Error{Op: "read", Path: path, Err: err}
	}
	m := new(Message)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, &Error{Op: "decode", Path: path, Err: err}
	}
	want := strings.TrimSuffix(filepath.Base(path), stateExt)
	if m.ID != want {
		return nil, &Error{Op: "decode", Path: path, Err: fmt.Errorf("ID %q in file named %q", m.ID, want)}
	}
	return m, nil
}
