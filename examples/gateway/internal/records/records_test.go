package records

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

type rec struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

func TestPutGetDelete(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(map[bool]string{false: "Sync", true: "NoSync"}[noSync], func(t *testing.T) { testPutGetDelete(t, noSync) })
	}
}

func testPutGetDelete(t *testing.T, noSync bool) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.NoSync = noSync
	if err := d.Get("a", &rec{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing record: %v", err)
	}
	if err := d.Put("a", rec{"1", "pending"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Put("a", rec{"1", "committed"}); err != nil {
		t.Fatal(err)
	}
	// A second Dir on the same directory (a restart) reads what was put.
	d2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var r rec
	if err := d2.Get("a", &r); err != nil || r != (rec{"1", "committed"}) {
		t.Fatalf("Get: %+v %v", r, err)
	}
	if names, _ := d2.Names(); !slices.Equal(names, []string{"a"}) {
		t.Errorf("Names: %v", names)
	}
	if err := d2.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if err := d2.Get("a", &r); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
	if err := d2.Delete("a"); err != nil {
		t.Errorf("Delete of a missing record: %v", err)
	}
}

func TestInvalidNames(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"", "../x", "a/b", ".hidden", string(make([]byte, 201))} {
		if err := d.Put(n, rec{}); err == nil {
			t.Errorf("Put(%q) accepted", n)
		}
		if err := d.Get(n, &rec{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v", n, err)
		}
	}
}

func TestOpenRemovesTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, tmpDir, "a.7")
	if err := os.WriteFile(left, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"old", "new"} {
		if err := d.Put(n, rec{ID: n}); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "old.json"), past, past); err != nil {
		t.Fatal(err)
	}
	n, err := d.Prune(time.Now().Add(-24 * time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Prune: %d %v", n, err)
	}
	if names, _ := d.Names(); !slices.Equal(names, []string{"new"}) {
		t.Errorf("left %v", names)
	}
}

func TestFilesPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "r")
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put("a", rec{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "a.json")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %04o", p, fi.Mode().Perm())
		}
	}
}
