package textproto

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readerKinds feed the same input in different ways: whole, one byte at a
// time, and half of each request.
var readerKinds = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
}

// errKind describes an expected error for table tests.
type errKind int

const (
	errNone errKind = iota
	errEOF
	errUnexpectedEOF
	errTooLong
	errTooLarge
	errViolation
)

// checkErr reports whether err matches the expected kind (and violation
// kind v for errViolation).
func checkErr(t *testing.T, err error, want errKind, v ViolationKind) {
	t.Helper()
	var ve *ViolationError
	var lt *LineTooLongError
	var mt *MessageTooLargeError
	switch want {
	case errNone:
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
	case errEOF:
		if err != io.EOF {
			t.Fatalf("err = %v, want io.EOF", err)
		}
	case errUnexpectedEOF:
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
	case errTooLong:
		if !errors.As(err, &lt) {
			t.Fatalf("err = %v, want *LineTooLongError", err)
		}
	case errTooLarge:
		if !errors.As(err, &mt) {
			t.Fatalf("err = %v, want *MessageTooLargeError", err)
		}
	case errViolation:
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v, want *ViolationError", err)
		}
		if ve.Kind != v {
			t.Fatalf("violation = %v, want %v", ve.Kind, v)
		}
	}
}

// readRest returns everything left in r and its source.
func readRest(t *testing.T, r *Reader) string {
	t.Helper()
	var sb strings.Builder
	buf := make([]byte, 7)
	for {
		c := r.ChunkReader(int64(len(buf)))
		n, err := io.ReadFull(c, buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

// readSizes records the length of the buffer of every Read, to tell which
// of the Reader's buffers a read went into.
type readSizes struct {
	r     io.Reader
	sizes []int
}

func (s *readSizes) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	return s.r.Read(p)
}

// last is the buffer length of the latest Read.
func (s *readSizes) last() int { return s.sizes[len(s.sizes)-1] }

// checkSmallAtRead reads the line after what r has buffered, which must be
// the end of the input, and fails unless the Reader gave its big buffer
// back before that read: a Reader that waits for a line holds only its
// inline buffer.
func checkSmallAtRead(t *testing.T, name string, r *Reader, src *readSizes) {
	t.Helper()
	if _, err := r.ReadLine(0, Policy{}); err != io.EOF {
		t.Fatalf("%s: at the end: %v", name, err)
	}
	if len(r.buf) != smallBufSize || r.pooled != nil {
		t.Fatalf("%s: buffer %d kept while reading for a line", name, len(r.buf))
	}
	if n := src.last(); n > smallBufSize {
		t.Fatalf("%s: read for a line into %d bytes", name, n)
	}
}
