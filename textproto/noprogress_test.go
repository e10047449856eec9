package textproto

import (
	"errors"
	"io"
	"testing"
)

// stallReader returns (0, nil) forever: a broken io.Reader.
type stallReader struct{ calls int }

func (s *stallReader) Read([]byte) (int, error) {
	s.calls++
	return 0, nil
}

// TestNoProgressDoesNotHang: every reading entry point gives up with
// io.ErrNoProgress after maxEmptyReads empty reads instead of spinning.
func TestNoProgressDoesNotHang(t *testing.T) {
	tests := []struct {
		name string
		read func(r *Reader) error
	}{
		{"ReadLine", func(r *Reader) error { _, err := r.ReadLine(0, Policy{}); return err }},
		{"DotReader.Read", func(r *Reader) error {
			_, err := r.DotReader(DataLimits{}).Read(make([]byte, 16))
			return err
		}},
		{"DotReader.Discard", func(r *Reader) error { return r.DotReader(DataLimits{}).Discard() }},
		{"ChunkReader.Read", func(r *Reader) error {
			_, err := r.ChunkReader(10).Read(make([]byte, 16))
			return err
		}},
		{"ChunkReader.Discard", func(r *Reader) error { return r.ChunkReader(10).Discard() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr := &stallReader{}
			err := tt.read(NewReader(sr))
			if !errors.Is(err, io.ErrNoProgress) {
				t.Fatalf("err = %v, want io.ErrNoProgress", err)
			}
			if sr.calls != maxEmptyReads {
				t.Fatalf("%d reads, want %d", sr.calls, maxEmptyReads)
			}
		})
	}
}
