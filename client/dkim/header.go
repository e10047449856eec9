package dkim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxHeaderSize bounds the header section a Signer reads (it is
// held in memory while the body streams). RFC 5322 sets no limit; 1 MiB
// is far beyond any real header and small enough to keep.
const DefaultMaxHeaderSize = 1 << 20

// HeaderTooLargeError is returned for a header section over the limit.
type HeaderTooLargeError struct{ Limit int }

func (e *HeaderTooLargeError) Error() string {
	return fmt.Sprintf("dkim: header section larger than %d bytes", e.Limit)
}

// field is one header field: its name and its whole text with line ends
// made CR LF, final CR LF included.
type field struct {
	name string
	raw  []byte
}

// readHeader reads the header section (RFC 5322 2.2) up to and including
// the empty line that ends it, and leaves r at the start of the body.
// Line ends are normalised to CR LF as the client sends them. A line that
// is neither a field nor a continuation is kept as a field without a name,
// so it is never signed but does not stop the reading.
func readHeader(r *bufio.Reader, limit int) ([]field, error) {
	var fields []field
	size := 0
	for {
		line, err := readLine(r, limit-size)
		if err == errLineLimit {
			return nil, &HeaderTooLargeError{Limit: limit}
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(line) == 0 {
			// The empty line before the body, or the end of a message
			// without a body.
			return fields, nil
		}
		size += len(line) + 2
		if isWSP(line[0]) && len(fields) > 0 {
			// RFC 5322 2.2.3: a folded continuation of the last field.
			f := &fields[len(fields)-1]
			f.raw = append(append(f.raw, line...), '\r', '\n')
		} else {
			name := ""
			if i := bytes.IndexByte(line, ':'); i > 0 {
				name = string(bytes.TrimRight(line[:i], " \t"))
			}
			fields = append(fields, field{name: name, raw: append(line, '\r', '\n')})
		}
		if err == io.EOF {
			return fields, nil
		}
	}
}

var errLineLimit = errors.New("dkim: line over the limit")

// readLine returns the next line without its line end (CR LF, LF or a bare
// CR) in a new slice; io.EOF with the last line when it has no line end
// (an empty one at the end of the input). A line longer than max is
// errLineLimit.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return line, err
		}
		switch c {
		case '\n':
			return line, nil
		case '\r':
			if next, err := r.Peek(1); err == nil && next[0] == '\n' {
				r.ReadByte()
			}
			return line, nil
		}
		if len(line)+2 > max {
			return nil, errLineLimit
		}
		line = append(line, c)
	}
}

var errLeadingWSP = errors.New("dkim: the message starts with a continuation line (white space)")

var errNoFrom = errors.New("dkim: the message has no From field (RFC 6376 5.4: From must be signed)")

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 32<<10) }
