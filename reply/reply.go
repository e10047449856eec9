package reply

import "strings"

// Reply is one SMTP reply: a code, an optional enhanced status code and one
// or more lines of text (RFC 5321 4.2).
//
// Lines holds the text of each line without the reply code, the enhanced
// code or the line ending. A Reply with no lines is sent as a single line
// with no text. A *Reply implements error.
type Reply struct {
	Code     Code
	Enhanced EnhancedCode // zero: none
	Lines    []string
}

// New returns a reply with the given code, enhanced code and text lines.
// A text containing line breaks (CR, LF or CRLF) is split into several
// lines, so that text taken from a backend cannot end the reply early and
// inject a reply of its own (RFC 5321 4.2: a reply line ends at CRLF).
func New(code Code, enh EnhancedCode, text ...string) *Reply {
	r := &Reply{Code: code, Enhanced: enh}
	for _, t := range text {
		if strings.ContainsAny(t, "\r\n") {
			r.Lines = appendSplitLines(r.Lines, t)
			continue
		}
		r.Lines = append(r.Lines, t)
	}
	return r
}

// appendSplitLines appends the lines of t, split at CRLF, bare CR or bare
// LF. A trailing line break does not add an empty line.
func appendSplitLines(lines []string, t string) []string {
	for t != "" {
		i := strings.IndexAny(t, "\r\n")
		if i < 0 {
			return append(lines, t)
		}
		lines = append(lines, t[:i])
		if t[i] == '\r' && i+1 < len(t) && t[i+1] == '\n' {
			i++
		}
		t = t[i+1:]
	}
	return lines
}

// Text returns the text lines joined with "\n".
func (r *Reply) Text() string {
	if r == nil {
		return ""
	}
	return strings.Join(r.Lines, "\n")
}

// Error returns the reply on one line, for example
// "550 5.1.1 no such user"; the lines of a multi-line reply are joined
// with "; ".
func (r *Reply) Error() string {
	if r == nil {
		return "<nil reply>"
	}
	var b strings.Builder
	b.Grow(16 + len(r.Lines)*32)
	var code [3]byte
	b.Write(appendCode(code[:0], r.Code))
	if !r.Enhanced.IsZero() {
		b.WriteByte(' ')
		var enh [16]byte
		b.Write(r.Enhanced.appendTo(enh[:0]))
	}
	for i, l := range r.Lines {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString("; ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// Temporary reports whether the reply is a transient failure (4xx): the
// same request may succeed later (RFC 5321 4.2.1).
func (r *Reply) Temporary() bool { return r != nil && r.Code.IsTransient() }

// Permanent reports whether the reply is a permanent failure (5xx): the
// same request will fail again (RFC 5321 4.2.1).
func (r *Reply) Permanent() bool { return r != nil && r.Code.IsPermanent() }

// Positive reports whether the reply is a positive completion (2xx).
func (r *Reply) Positive() bool { return r != nil && r.Code.IsPositive() }

// Intermediate reports whether the reply is a positive intermediate
// reply (3xx).
func (r *Reply) Intermediate() bool { return r != nil && r.Code.IsIntermediate() }

// Clone returns a deep copy of r (the Lines slice is copied).
func (r *Reply) Clone() *Reply {
	if r == nil {
		return nil
	}
	c := *r
	if r.Lines != nil {
		c.Lines = append([]string(nil), r.Lines...)
	}
	return &c
}

// Equal reports whether r and o have the same code, enhanced code and
// lines. A nil Lines equals an empty one and also equals a single empty
// line, since all three are sent the same way.
func (r *Reply) Equal(o *Reply) bool {
	if r == nil || o == nil {
		return r == o
	}
	if r.Code != o.Code || r.Enhanced != o.Enhanced {
		return false
	}
	a, b := r.Lines, o.Lines
	if len(a) == 0 {
		a = []string{""}
	}
	if len(b) == 0 {
		b = []string{""}
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// AppendWire appends the reply in its wire form to dst and returns the
// extended buffer, for example "250-first\r\n250 last\r\n" (RFC 5321 4.2:
// every line but the last has "-" after the code, the last has SP).
//
// When withEnhanced is true and the reply has a valid enhanced code whose
// class matches the reply code's first digit, the enhanced code follows the
// reply code on every line (RFC 2034 4); otherwise it is left out. The
// caller passes true once ENHANCEDSTATUSCODES is in effect.
//
// Writing is strict: any CR, LF or other control character other than HT
// in a text line is replaced by a space, so a line can never be ended early
// (RFC 5321 4.2, textstring). The last line always has the space after the
// code, even with no text ("250 "), because some clients require at least
// four characters per reply line. Lines are not wrapped: keep texts short
// enough for MaxReplyLineLength (RFC 5321 4.5.3.1.5). It allocates nothing
// beyond the growth of dst.
func (r *Reply) AppendWire(dst []byte, withEnhanced bool) []byte {
	enh := withEnhanced && r.Enhanced.Valid() && r.Enhanced.Class == r.Code.Class()
	n := len(r.Lines)
	if n == 0 {
		return r.appendLine(dst, enh, "", true)
	}
	for i, l := range r.Lines {
		dst = r.appendLine(dst, enh, l, i == n-1)
	}
	return dst
}

// appendLine appends one reply line.
func (r *Reply) appendLine(dst []byte, enh bool, text string, last bool) []byte {
	lineStart := len(dst)
	dst = appendCode(dst, r.Code)
	if last {
		dst = append(dst, ' ')
	} else {
		dst = append(dst, '-')
	}
	if enh {
		dst = r.Enhanced.appendTo(dst)
		if text != "" {
			dst = append(dst, ' ')
		}
	}
	// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its
	// CRLF. Text that would pass it (a client's long EHLO name echoed,
	// a long parameter named in an error) is cut, at a UTF-8 boundary.
	if room := MaxReplyLineLength - 2 - (len(dst) - lineStart); len(text) > room {
		if room < 0 {
			room = 0
		}
		for room > 0 && room < len(text) && text[room]&0xc0 == 0x80 {
			room--
		}
		text = text[:room]
	}
	start := len(dst)
	dst = append(dst, text...)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; (c < ' ' && c != '\t') || c == 0x7f {
			dst[i] = ' '
		}
	}
	return append(dst, '\r', '\n')
}
