package reply

import (
	"bytes"
	"errors"
	"io"
	"strconv"
)

// Limits bound what a Reader accepts, so that a hostile or broken server
// cannot make the client use unbounded memory. The zero value of each
// field means its default.
type Limits struct {
	// MaxLineLength is the longest reply line accepted, in octets,
	// including the reply code and the line ending. Zero means
	// DefaultMaxLineLength.
	MaxLineLength int
	// MaxLines is the largest number of lines in one reply. Zero means
	// DefaultMaxLines.
	MaxLines int
}

const (
	// MaxReplyLineLength is the RFC limit on a reply line: 512 octets
	// including the reply code and CRLF (RFC 5321 4.5.3.1.5).
	MaxReplyLineLength = 512

	// DefaultMaxLineLength is the default Limits.MaxLineLength: four times
	// MaxReplyLineLength. RFC 5321 4.5.3.1 asks implementations to avoid
	// limits where they can, and real servers do send longer lines (long
	// rejection texts with URLs), so the client is lenient by default
	// while staying bounded.
	DefaultMaxLineLength = 4 * MaxReplyLineLength

	// DefaultMaxLines is the default Limits.MaxLines. An EHLO reply, the
	// longest reply in normal use, has a line per extension: a few dozen
	// at most.
	DefaultMaxLines = 100
)

// maxLineLength returns the effective line length limit.
func (l Limits) maxLineLength() int {
	if l.MaxLineLength <= 0 {
		return DefaultMaxLineLength
	}
	return l.MaxLineLength
}

// maxLines returns the effective line count limit.
func (l Limits) maxLines() int {
	if l.MaxLines <= 0 {
		return DefaultMaxLines
	}
	return l.MaxLines
}

// SyntaxError reports a reply line that does not follow the grammar of
// RFC 5321 4.2.
type SyntaxError struct {
	Line   string // the offending line without its line ending, cut to at most 128 octets
	Reason string // what is wrong
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return "reply: syntax error: " + e.Reason + ": " + strconv.Quote(e.Line)
}

// LimitError reports a reply that exceeds a Limits bound. After it, the
// rest of the reply is unread: the connection is out of step and should
// be closed.
type LimitError struct {
	What  string // "line length" or "line count"
	Limit int    // the bound that was exceeded
}

// Error implements error.
func (e *LimitError) Error() string {
	return "reply: " + e.What + " exceeds limit of " + strconv.Itoa(e.Limit)
}

// minBufferSize is the smallest read buffer a Reader uses.
const minBufferSize = 4096

// maxEmptyReads is how many consecutive (0, nil) reads are tolerated
// before a Reader reports io.ErrNoProgress.
const maxEmptyReads = 100

// Reader reads SMTP replies from a connection. It has its own buffer;
// bytes read beyond the end of a reply (pipelined replies) stay buffered
// for the next ReadReply. It allocates only the returned Reply: its
// struct, its Lines slice and one string holding all the text.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	rd     io.Reader
	limits Limits
	buf    []byte
	r, w   int   // buf[r:w] is unread
	err    error // sticky read error, reported once the buffer is drained
	text   []byte
	ends   []int
}

// NewReader returns a Reader reading from r with the given limits.
func NewReader(r io.Reader, l Limits) *Reader {
	return &Reader{rd: r, limits: l}
}

// Reset discards any buffered data and makes the Reader read from r, for
// example the TLS connection after STARTTLS. The buffer is kept.
func (rd *Reader) Reset(r io.Reader) {
	rd.rd = r
	rd.r, rd.w = 0, 0
	rd.err = nil
}

// Buffered returns the number of bytes read from the connection but not
// yet consumed. After the 220 reply to STARTTLS it must be zero: a server
// that sent more has injected plaintext that must not be trusted (RFC 3207
// 4.2, 6).
func (rd *Reader) Buffered() int { return rd.w - rd.r }

// ReadReply reads one complete reply (RFC 5321 4.2.1): every line has the
// same three-digit code, every line but the last has "-" after the code,
// the last has a space or nothing ("250" alone is accepted). When the
// first line's text starts with an enhanced status code whose class equals
// the reply code's first digit, it is moved to Reply.Enhanced (RFC 2034 4),
// and removed from the following lines where it repeats.
//
// Lines should end with CRLF; a bare LF is accepted as a line end because
// some servers send it, but a CR anywhere else is a syntax error (RFC 5321
// 2.3.8). ReadReply returns io.EOF if the connection ends cleanly before a
// reply starts, io.ErrUnexpectedEOF if it ends inside one, *SyntaxError for
// a malformed reply and *LimitError when Limits are exceeded; after an
// error other than io.EOF the connection is out of step and should be
// closed. Bytes after the reply stay buffered for the next call.
//
// It allocates the Reply only: two allocations for a one-line reply, three
// for a multi-line one. ReadRaw allocates nothing.
func (rd *Reader) ReadReply() (*Reply, error) {
	raw, err := rd.ReadRaw()
	if err != nil {
		return nil, err
	}
	return raw.Reply(), nil
}

// RawReply is a reply read by ReadRaw: a view into the Reader's buffers,
// valid until the next call on the Reader. Call Reply to keep it.
type RawReply struct {
	Code     Code
	Enhanced EnhancedCode // zero: none
	text     []byte       // the text of all lines, concatenated
	ends     []int        // ends[i] is the end of line i in text
}

// NumLines returns the number of lines.
func (r RawReply) NumLines() int { return len(r.ends) }

// Line returns the text of line i (0 <= i < NumLines), without the code,
// the enhanced code or the line ending. The slice aliases the Reader's
// buffer: do not keep or modify it.
func (r RawReply) Line(i int) []byte {
	start := 0
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.text[start:r.ends[i]:r.ends[i]]
}

// Reply returns the reply as a *Reply that owns its memory: one string
// holds the text of all lines, so a one-line reply costs two allocations
// and a multi-line one three.
func (r RawReply) Reply() *Reply {
	s := string(r.text)
	if len(r.ends) <= 1 {
		p := &struct {
			r Reply
			l [1]string
		}{}
		p.l[0] = s
		p.r = Reply{Code: r.Code, Enhanced: r.Enhanced, Lines: p.l[:]}
		return &p.r
	}
	lines := make([]string, len(r.ends))
	start := 0
	for i, end := range r.ends {
		lines[i] = s[start:end]
		start = end
	}
	return &Reply{Code: r.Code, Enhanced: r.Enhanced, Lines: lines}
}

// ReadRaw reads one reply exactly as ReadReply does, with the same limits
// and errors, but returns a view into the Reader's buffers instead of a
// *Reply. It allocates nothing once the Reader's buffers have grown to the
// size of the replies it reads.
func (rd *Reader) ReadRaw() (RawReply, error) {
	maxLines := rd.limits.maxLines()
	rd.text = rd.text[:0]
	rd.ends = rd.ends[:0]
	var code Code
	var enh EnhancedCode
	for n := 0; ; n++ {
		line, err := rd.readLine(n > 0)
		if err != nil {
			return RawReply{}, err
		}
		if n >= maxLines {
			return RawReply{}, &LimitError{What: "line count", Limit: maxLines}
		}
		c, last, text, err := splitLine(line)
		if err != nil {
			return RawReply{}, err
		}
		if n == 0 {
			code = c
			// RFC 2034 4 / RFC 3463 2: the enhanced code follows the
			// reply code, and its class repeats the reply's first digit.
			if e, k := parseEnhancedPrefix(text); k > 0 && e.Class == code.Class() && (k == len(text) || text[k] == ' ') {
				enh = e
			}
		} else if c != code {
			return RawReply{}, &SyntaxError{Line: clip(line), Reason: "reply code differs from the first line's " + code.String()}
		}
		if !enh.IsZero() {
			// RFC 2034 4: the enhanced code is repeated on every line.
			if e, k := parseEnhancedPrefix(text); k > 0 && e == enh && (k == len(text) || text[k] == ' ') {
				text = text[k:]
				if len(text) > 0 {
					text = text[1:]
				}
			}
		}
		rd.text = append(rd.text, text...)
		rd.ends = append(rd.ends, len(rd.text))
		if last {
			return RawReply{Code: code, Enhanced: enh, text: rd.text, ends: rd.ends}, nil
		}
	}
}

// splitLine parses one reply line without its line ending.
func splitLine(line []byte) (code Code, last bool, text []byte, err error) {
	if i := bytes.IndexByte(line, '\r'); i >= 0 {
		return 0, false, nil, &SyntaxError{Line: clip(line), Reason: "bare CR in reply line"}
	}
	// RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39.
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' || line[2] < '0' || line[2] > '9' {
		return 0, false, nil, &SyntaxError{Line: clip(line), Reason: "no valid reply code"}
	}
	code = Code(int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0'))
	if len(line) == 3 {
		return code, true, nil, nil // RFC 5321 4.2: Reply-code [ SP textstring ] CRLF
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], nil
	case '-':
		return code, false, line[4:], nil
	}
	return 0, false, nil, &SyntaxError{Line: clip(line), Reason: "reply code not followed by space or hyphen"}
}

// readLine returns the next line without its line ending (CRLF or bare LF).
// The slice is valid until the next read. inReply tells whether an EOF is
// unexpected.
func (rd *Reader) readLine(inReply bool) ([]byte, error) {
	limit := rd.limits.maxLineLength()
	if rd.buf == nil {
		rd.buf = make([]byte, max(minBufferSize, limit+1))
	}
	scanned := 0 // bytes of buf[r:w] known to hold no LF
	empty := 0
	for {
		if i := bytes.IndexByte(rd.buf[rd.r+scanned:rd.w], '\n'); i >= 0 {
			end := rd.r + scanned + i // index of LF
			if end+1-rd.r > limit {
				return nil, &LimitError{What: "line length", Limit: limit}
			}
			line := rd.buf[rd.r:end]
			rd.r = end + 1
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		}
		scanned = rd.w - rd.r
		if scanned >= limit {
			return nil, &LimitError{What: "line length", Limit: limit}
		}
		if rd.err != nil {
			err := rd.err
			if err == io.EOF && (inReply || rd.w > rd.r) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if rd.w == len(rd.buf) {
			// Make room: the partial line moves to the front.
			copy(rd.buf, rd.buf[rd.r:rd.w])
			rd.w -= rd.r
			rd.r = 0
			if rd.w == len(rd.buf) {
				rd.buf = append(rd.buf, make([]byte, len(rd.buf))...)
			}
		}
		n, err := rd.rd.Read(rd.buf[rd.w:])
		if n < 0 {
			n = 0
			if err == nil {
				err = errors.New("reply: reader returned a negative count")
			}
		}
		rd.w += n
		if err != nil {
			rd.err = err
		} else if n == 0 {
			if empty++; empty >= maxEmptyReads {
				rd.err = io.ErrNoProgress
			}
		} else {
			empty = 0
		}
	}
}

// clip returns line as a string cut to 128 octets, for error messages.
func clip(line []byte) string {
	const n = 128
	if len(line) > n {
		return string(line[:n]) + "..."
	}
	return string(line)
}
