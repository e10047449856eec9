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
