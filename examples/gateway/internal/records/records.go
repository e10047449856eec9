// Package records keeps small JSON records in a directory, one file each,
// durably: a record is written to a temporary file, fsynced, renamed into
// place and its directory fsynced (package durable) before Put returns, so
// it survives a crash once stored. The gateway keeps its Idempotency-Key
// records and the final state of the messages it has sent this way.
package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smtpkit/smtp/examples/internal/durable"
)

// ErrNotFound is returned for a name without a record.
var ErrNotFound = errors.New("records: not found")

// MaxRecordSize bounds a record read back, so that a damaged file cannot
// exhaust memory.
const MaxRecordSize = 4 << 20

const (
	ext    = ".json"
	tmpDir = "tmp"
)

// Dir is a directory of records.
type Dir struct {
	dir  string
	disk durable.Disk
	seq  atomic.Uint64
	// NoSync writes records without fsync: a record survives the end of
	// the process (it is in the page cache, renamed into place whole), not
	// a power cut. For records whose loss costs little, written often.
	NoSync bool
}

// Open opens (creating it if missing) the record directory dir, and
// removes the temporary files a crash may have left.
func Open(dir string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o700); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		os.Remove(filepath.Join(dir, tmpDir, e.Name()))
	}
	return &Dir{dir: dir}, nil
}

// validName reports whether name can name a record file: letters, digits,
// '.', '-' and '_', not starting with '.', at most 200 bytes.
func validName(name string) bool {
	if name == "" || name[0] == '.' || len(name) > 200 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (d *Dir) path(name string) string { return filepath.Join(d.dir, name+ext) }

// Put stores v (as JSON) under name, replacing any record of that name
// atomically: a reader sees the old record or the new one.
func (d *Dir) Put(name string, v any) error {
	if !validName(name) {
		return fmt.Errorf("records: invalid name %q", name)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := filepath.Join(d.dir, tmpDir, name+"."+strconv.FormatUint(d.seq.Add(1), 36))
	if d.NoSync {
		if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
			os.Remove(tmp)
			return err
		}
		return os.Rename(tmp, d.path(name))
	}
	return d.disk.WriteFile(tmp, d.path(name), append(b, '\n'))
}

// Get reads the record name into v; ErrNotFound when there is none.
func (d *Dir) Get(name string, v any) error {
	if !validName(name) {
		return ErrNotFound
	}
	f, err := os.Open(d.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxRecordSize))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("records: %s: %w", d.path(name), err)
	}
	return nil
}

// Delete removes the record name, durably; no record is not an error.
func (d *Dir) Delete(name string) error {
	if !validName(name) {
		return nil
	}
	if err := os.Remove(d.path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if d.NoSync {
		return nil
	}
	return d.disk.SyncDir(d.dir)
}

// Names returns the names of the records.
func (d *Dir) Names() ([]string, error) {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ext); ok && validName(n) && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	return names, nil
}

// Prune removes the records last written before cutoff and returns how
// many it removed.
func (d *Dir) Prune(cutoff time.Time) (int, error) {
	names, err := d.Names()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		fi, err := os.Stat(d.path(name))
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(d.path(name)); err == nil {
			n++
		}
	}
	if n > 0 && !d.NoSync {
		return n, d.disk.SyncDir(d.dir)
	}
	return n, nil
}
