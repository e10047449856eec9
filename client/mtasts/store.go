package mtasts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// FileStore keeps each domain's policy in a file of its own in Dir
// ("<domain>.json"), written atomically (a temporary file, fsync, rename),
// so that a crash leaves the old entry or the new one. The directory is
// created when missing.
type FileStore struct {
	Dir string
}

type fileEntry struct {
	Domain  string    `json:"domain"`
	ID      string    `json:"id"`
	Fetched time.Time `json:"fetched"`
	Policy  string    `json:"policy"`
}

// path returns the entry's file, refusing a name that is not a plain
// domain (it becomes a file name).
func (s *FileStore) path(domain string) (string, error) {
	if !validPattern(domain) || domain[0] == '*' || domain != lower(domain) {
		return "", fmt.Errorf("mtasts: %q is not a domain name", domain)
	}
	return filepath.Join(s.Dir, domain+".json"), nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Load reads domain's entry; a missing file is no entry.
func (s *FileStore) Load(_ context.Context, domain string) (*Entry, error) {
	p, err := s.path(domain)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var fe fileEntry
	if err := json.Unmarshal(data, &fe); err != nil {
		return nil, fmt.Errorf("mtasts: %s: %w", p, err)
	}
	if fe.Domain != domain {
		return nil, fmt.Errorf("mtasts: %s holds the policy of %q", p, fe.Domain)
	}
	pol, err := ParsePolicy([]byte(fe.Policy))
	if err != nil {
		return nil, fmt.Errorf("mtasts: %s: %w", p, err)
	}
	return &Entry{Domain: fe.Domain, ID: fe.ID, Policy: pol, Fetched: fe.Fetched}, nil
}

// Save writes e durably.
func (s *FileStore) Save(_ context.Context, e *Entry) error {
	p, err := s.path(e.Domain)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	text := e.Policy.Text
	if text == "" {
		text = e.Policy.String()
	}
	data, err := json.MarshalIndent(fileEntry{Domain: e.Domain, ID: e.ID, Fetched: e.Fetched.UTC(), Policy: text}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	// The rename is durable once the directory is synced.
	if d, err := os.Open(s.Dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
