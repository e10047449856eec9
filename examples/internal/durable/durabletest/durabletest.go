// Package durabletest makes durable.Disk values for tests: on the real file
// system, they record every step of a durable write and fail at a chosen
// one, like a full or broken disk.
package durabletest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/smtpkit/smtp/examples/internal/durable"
)

// Steps of a durable write, as Disk records them and as failure points.
const (
	Write   = "write"   // a write to the file
	Sync    = "sync"    // the fsync of the file
	Close   = "close"   // the file's close (which closes it even when it fails)
	SyncDir = "syncdir" // the fsync of the final directory, recorded as "syncdir:NAME"
)

// Disk returns a durable.Disk that appends each step to *events (the
// directory's fsync as "syncdir:" and the directory's base name) and makes
// step failOn fail with err; failOn "" fails nothing.
func Disk(events *[]string, failOn string, err error) durable.Disk {
	return durable.Disk{
		CreateFunc: func(name string) (durable.File, error) {
			f, ferr := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if ferr != nil {
				return nil, ferr
			}
			return &file{f: f, events: events, failOn: failOn, err: err}, nil
		},
		SyncDirFunc: func(dir string) error {
			*events = append(*events, SyncDir+":"+filepath.Base(dir))
			if failOn == SyncDir {
				return err
			}
			return durable.SyncDir(dir)
		},
	}
}

// file is a real file whose calls are recorded and which fails where told.
type file struct {
	f      *os.File
	events *[]string
	failOn string
	err    error
}

func (r *file) Write(p []byte) (int, error) {
	*r.events = append(*r.events, Write)
	if r.failOn == Write {
		return 0, r.err
	}
	return r.f.Write(p)
}

func (r *file) Sync() error {
	*r.events = append(*r.events, Sync)
	if r.failOn == Sync {
		return r.err
	}
	return r.f.Sync()
}

func (r *file) Close() error {
	*r.events = append(*r.events, Close)
	err := r.f.Close()
	if r.failOn == Close {
		return r.err
	}
	return err
}

// Names returns the names of the entries of dir, failing the test if dir
// cannot be read: to check what a durable write left where.
func Names(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
