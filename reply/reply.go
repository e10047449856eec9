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
// The enhanced code is stored as it will be sent (see WireEnhanced): its
// class becomes the reply code's, so New(452, EnhMailboxFull()) holds
// 4.2.2, and a 3xx reply holds none. A text containing line breaks (CR, LF
// or CRLF) is split into several lines, so that text taken from a backend
// cannot end the reply early and inject a reply of its own (RFC 5321 4.2:
// a reply line ends at CRLF).
func New(code Code, enh EnhancedCode, text ...string) *Reply {
	r := &Reply{Code: code, Enhanced: wireEnhanced(code, enh)}
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

// Error returns the reply on one line as AppendWire sends it with
// enhanced codes on, for example "550 5.1.1 no such user": the same
// enhanced code (WireEnhanced) and the same text, control characters
// replaced by spaces; the lines of a multi-line reply are joined with
// "; ". Only the cut of over-long lines (MaxReplyLineLength), a limit of
// the wire, is not applied.
func (r *Reply) Error() string {
	if r == nil {
		return "<nil reply>"
	}
	n := 16
	for _, l := range r.Lines {
		n += len(l) + 2
	}
	b := make([]byte, 0, n)
	b = appendCode(b, r.Code)
	if enh := r.WireEnhanced(); !enh.IsZero() {
		b = append(b, ' ')
		b = enh.appendTo(b)
	}
	lines := r.Lines
	if len(lines) == 1 && lines[0] == "" {
		lines = nil // sent as no text at all
	}
	for i, l := range lines {
		if i == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, "; "...)
		}
		b = appendText(b, l)
	}
	return string(b)
}

// WireEnhanced returns the enhanced status code of r as AppendWire (with
// enhanced codes on) and Error write it: Enhanced with its class replaced
// by the reply code's, since both say the same thing, success, transient
// or permanent failure (RFC 3463 3.1; RFC 5321 4.2.1), so that 452 with
// EnhMailboxFull() (5.2.2) is sent as 4.2.2 and a backend's mismatch
// cannot make the two disagree. It is the zero value (none is sent) when
// Enhanced is zero or malformed, or when the reply is not 2xx, 4xx or 5xx
// (RFC 2034 4: 3xx replies carry none).
func (r *Reply) WireEnhanced() EnhancedCode { return wireEnhanced(r.Code, r.Enhanced) }

func wireEnhanced(code Code, e EnhancedCode) EnhancedCode {
	class := code.Class()
	if e.IsZero() || (class != 2 && class != 4 && class != 5) {
		return EnhancedCode{}
	}
	e.Class = class
	if !e.Valid() {
		return EnhancedCode{}
	}
	return e
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

// Equal reports whether r and o have the same code, enhanced code as sent
// (WireEnhanced) and lines. A nil Lines equals an empty one and also
// equals a single empty line, since all three are sent the same way.
func (r *Reply) Equal(o *Reply) bool {
	if r == nil || o == nil {
		return r == o
	}
	if r.Code != o.Code || r.WireEnhanced() != o.WireEnhanced() {
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
// When withEnhanced is true and the reply has an enhanced code, it
// follows the reply code on every line (RFC 2034 4), with its class set to
// the reply code's (see WireEnhanced); otherwise it is left out. The
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
	var enh EnhancedCode
	if withEnhanced {
		enh = r.WireEnhanced()
	}
	n := len(r.Lines)
	if n == 0 {
		return r.appendLine(dst, enh, "", true)
	}
	for i, l := range r.Lines {
		dst = r.appendLine(dst, enh, l, i == n-1)
	}
	return dst
}

// appendLine appends one reply line, with the enhanced code enh unless it
// is zero.
func (r *Reply) appendLine(dst []byte, enh EnhancedCode, text string, last bool) []byte {
	lineStart := len(dst)
	dst = appendCode(dst, r.Code)
	if last {
		dst = append(dst, ' ')
	} else {
		dst = append(dst, '-')
	}
	if !enh.IsZero() {
		dst = enh.appendTo(dst)
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
	dst = appendText(dst, text)
	return append(dst, '\r', '\n')
}

// appendText appends a reply text with every control character but HT
// replaced by a space (RFC 5321 4.2: textstring is HT, SP and printable
// characters), so that it can never end a line early.
func appendText(dst []byte, text string) []byte {
	start := len(dst)
	dst = append(dst, text...)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; (c < ' ' && c != '\t') || c == 0x7f {
			dst[i] = ' '
		}
	}
	return dst
}
