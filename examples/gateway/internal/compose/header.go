package compose

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/smtpkit/smtp/envelope"
)

// Line limits.
const (
	// MaxLineLength is the limit of every line, before its CRLF (RFC 5322
	// 2.1.1: "MUST be no more than 998 characters").
	MaxLineLength = 998
	// FoldAt is the length header fields are folded to: RFC 5322 2.1.1
	// asks for at most 78 characters, RFC 2047 2 for at most 76 on a line
	// that holds an encoded word.
	FoldAt = 76
	// maxWordLen is the longest encoded word (RFC 2047 2).
	maxWordLen = 75
)

// FieldError reports a value that cannot go into the message. Field names
// it as the gateway's API does: "from", "to[2]", "subject",
// "headers.X-Tag", "attachments[0].content_type".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldError(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// errLineBreak is the reason a value with a line break is refused: in a
// header field it would start a field of its own (header injection).
var errLineBreak = errors.New("contains a line break or another control character")

// checkText refuses the control characters of s that cannot appear in a
// header field's value: every C0 control but the tab, and DEL (RFC 5322
// 2.2: field bodies are printable characters and white space). CR and LF
// would end the field and let the value inject fields of its own.
func checkText(field, s string) error {
	for _, r := range s {
		if (r < ' ' && r != '\t') || r == 0x7f {
			return &FieldError{Field: field, Err: errLineBreak}
		}
	}
	if !utf8.ValidString(s) {
		return fieldError(field, "is not valid UTF-8")
	}
	return nil
}

// header accumulates header fields, folded.
type header struct {
	b []byte
}

// field writes "Name: t1 t2 ...\r\n", folding before a token where the
// line would pass FoldAt (RFC 5322 2.2.3: a CRLF may be inserted before any
// white space). Tokens are written separated by one space; an empty token
// stands for one more space, and is never put at the start of a line,
// which must not be only white space (RFC 5322 3.2.2).
func (h *header) field(name string, tokens ...string) error {
	h.b = append(h.b, name...)
	h.b = append(h.b, ':')
	line := len(name) + 1
	for i, t := range tokens {
		// A token that does not fit goes on a line of its own; even the
		// first, leaving "Name:" alone on its line, which RFC 5322 2.2.3
		// allows (only a line of white space alone is not allowed); the
		// callers size first tokens to avoid it, since some parsers then
		// read a value starting with a space.
		if t != "" && line+1+len(t) > FoldAt && (i > 0 || 1+len(t) <= FoldAt) {
			h.b = append(h.b, "\r\n"...)
			line = 0
		}
		h.b = append(h.b, ' ')
		h.b = append(h.b, t...)
		line += 1 + len(t)
		if line > MaxLineLength {
			return fieldError(name, "has a word of %d characters, longer than a line may be (RFC 5322 2.1.1)", len(t))
		}
	}
	h.b = append(h.b, "\r\n"...)
	return nil
}

// qSafe reports whether c stands for itself in a Q-encoded word in any
// position, phrases included (RFC 2047 5(3)).
func qSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '!' || c == '*' || c == '+' || c == '-' || c == '/'
}

const upperHex = "0123456789ABCDEF"

// Prefixes of the encoded words written here (RFC 2047 2): UTF-8, with
// the Q or the B encoding.
const (
	qPrefix = "=?utf-8?q?"
	bPrefix = "=?utf-8?b?"
	suffix  = "?="
)

// minFirstWord is the shortest first encoded word sized to the room left
// on a field's first line; with less room the first word has the full
// length and goes on the next line.
const minFirstWord = 24

// encodeWords writes s as RFC 2047 encoded words, each at most maxWordLen
// characters and holding whole characters (RFC 2047 5: a word must not
// split a multi-octet character); the first at most first characters, so
// that it fits after the field name (a field folded right after its name
// reads, to some parsers, as a value starting with a space). The Q
// encoding keeps only the characters allowed in a phrase (RFC 2047 5(3)),
// so the words may stand in a display name as well as in unstructured
// text; B is used when it is shorter. Space between the words is not part
// of the text (RFC 2047 6.2), so spaces of s are inside the words.
func encodeWords(s string, first int) []string {
	if first < minFirstWord || first > maxWordLen {
		first = maxWordLen
	}
	qLen := 0
	for i := 0; i < len(s); i++ {
		if qSafe(s[i]) || s[i] == ' ' {
			qLen++
		} else {
			qLen += 3
		}
	}
	useB := (len(s)+2)/3*4 < qLen
	var words []string
	var w []byte
	// room is the encoded text a word may hold: the first word's, then
	// the others'.
	room := first - len(qPrefix) - len(suffix)
	flush := func() {
		if len(w) > 0 {
			words = append(words, string(w)+suffix)
			w = w[:0]
			room = maxWordLen - len(qPrefix) - len(suffix)
		}
	}
	if useB {
		start := 0
		n := 0
		for i, r := range s {
			l := utf8.RuneLen(r)
			if l < 0 {
				l = 1
			}
			// room/4*3 octets fill room characters of base64.
			if n+l > room/4*3 && n > 0 {
				words = append(words, bPrefix+b64.EncodeToString([]byte(s[start:i]))+suffix)
				start, n = i, 0
				room = maxWordLen - len(bPrefix) - len(suffix)
			}
			n += l
		}
		if start < len(s) {
			words = append(words, bPrefix+b64.EncodeToString([]byte(s[start:]))+suffix)
		}
		return words
	}
	var enc [utf8.UTFMax * 3]byte
	for i, r := range s {
		l := utf8.RuneLen(r)
		if l < 0 {
			l = 1
		}
		e := enc[:0]
		for _, c := range []byte(s[i : i+l]) {
			switch {
			case c == ' ':
				e = append(e, '_')
			case qSafe(c):
				e = append(e, c)
			default:
				e = append(e, '=', upperHex[c>>4], upperHex[c&15])
			}
		}
		if len(w) > 0 && len(w)+len(e) > len(qPrefix)+room {
			flush()
		}
		if len(w) == 0 {
			w = append(w, qPrefix...)
		}
		w = append(w, e...)
	}
	flush()
	return words
}

// maxPlainWord is the longest word of a subject or display name written
// as it is: with "Subject: " before it, it still fits in FoldAt.
const maxPlainWord = FoldAt - len("Subject: ")

// unstructured returns the tokens of an unstructured value (RFC 5322
// 3.2.5) such as Subject: its words as they are when it is ASCII, each
// word fits on a line and none looks like an encoded word (which a reader
// would decode); else encoded words for the whole value.
func unstructured(s string, first int) []string {
	if s == "" {
		return nil
	}
	words := strings.Split(s, " ")
	for _, w := range words {
		if len(w) > maxPlainWord || strings.Contains(w, "=?") || !printableASCII(w) {
			return encodeWords(s, first)
		}
	}
	return words
}

// printableASCII reports whether s is printable ASCII, tab included.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < ' ' && s[i] != '\t') || s[i] > '~' {
			return false
		}
	}
	return true
}

// isAtext reports whether c is an atext character (RFC 5322 3.2.3).
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// phrase returns the tokens of a display name (RFC 5322 3.2.5 phrase):
// its words as atoms when they are; a quoted-string when it is printable
// ASCII and short; else encoded words (RFC 2047 5(3)).
func phrase(name string, first int) []string {
	if name == "" {
		return nil
	}
	if !strings.Contains(name, "=?") && printableASCII(name) && !strings.Contains(name, "\t") {
		words := strings.Split(name, " ")
		atoms := true
		for _, w := range words {
			if w == "" || len(w) > maxPlainWord {
				atoms = false
				break
			}
			for i := 0; i < len(w); i++ {
				if !isAtext(w[i]) {
					atoms = false
					break
				}
			}
		}
		if atoms {
			return words
		}
		if len(name) <= maxPlainWord-2 {
			return []string{quote(name)}
		}
	}
	return encodeWords(name, first)
}

// quote returns s as a quoted-string (RFC 5322 3.2.4).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// Address is a mailbox of a header field: an optional display name (any
// Unicode text) and an address.
type Address struct {
	Name string
	Addr envelope.Address
}

// addrSpec returns the address as written in a header field, and whether
// it needs UTF-8 (RFC 6532 3.2): with an ASCII local part the domain is
// written as A-labels and the message stays ASCII; a local part in UTF-8
// has no ASCII form.
func addrSpec(a envelope.Address) (string, bool, error) {
	if a.Domain == "" {
		return "", false, errors.New("the address has no domain")
	}
	var err error
	utf := !isASCII(a.Local)
	if utf {
		a, err = a.Unicode()
	} else {
		a, err = a.ASCII()
	}
	if err != nil {
		return "", false, err
	}
	// What is written must be an address: parse it back (RFC 5321
	// 4.1.2 syntax and length limits, IDNA2008 for U-labels).
	s := a.String()
	if _, err := envelope.ParseAddress(s, envelope.ParseOptions{SMTPUTF8: true}); err != nil {
		return "", false, err
	}
	return s, utf, nil
}

// addressList returns the tokens of an address list (RFC 5322 3.4), and
// whether it needs UTF-8; field names the list for errors ("to"), whose
// items are field[i] (or field alone when single). first is the room on
// the field's first line.
func addressList(field string, list []Address, single bool, first int) ([]string, bool, error) {
	var toks []string
	utf := false
	for i, a := range list {
		name := field
		if !single {
			name = fmt.Sprintf("%s[%d]", field, i)
		}
		if err := checkText(name, a.Name); err != nil {
			return nil, false, err
		}
		spec, u, err := addrSpec(a.Addr)
		if err != nil {
			return nil, false, &FieldError{Field: name, Err: err}
		}
		utf = utf || u
		if i > 0 {
			toks[len(toks)-1] += ","
		}
		if a.Name == "" {
			toks = append(toks, spec)
			continue
		}
		if i > 0 {
			first = maxWordLen
		}
		toks = append(toks, phrase(a.Name, first)...)
		toks = append(toks, "<"+spec+">")
	}
	return toks, utf, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isTSpecial reports whether c must be quoted in a MIME parameter value
// (RFC 2045 5.1 tspecials).
func isTSpecial(c byte) bool { return strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 }

// isToken reports whether s is a MIME token (RFC 2045 5.1).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || isTSpecial(s[i]) {
			return false
		}
	}
	return true
}

// maxParamLine bounds the length of a parameter's token, so that it fits
// on a folded line with its indentation and separator.
const maxParamLine = FoldAt - 2

// param returns the tokens of the MIME parameter name=value, each but the
// last to be followed by ";" by the caller: a token or quoted-string when
// the value is printable ASCII and fits on a line; else the RFC 2231
// form, percent-encoded UTF-8 (section 4) split into numbered
// continuations (section 3), each short enough for a line and holding
// whole characters.
func param(name, value string) []string {
	if isToken(value) && len(name)+1+len(value) <= maxParamLine {
		return []string{name + "=" + value}
	}
	if printableASCII(value) && !strings.Contains(value, "\t") && len(name)+1+len(quote(value)) <= maxParamLine {
		return []string{name + "=" + quote(value)}
	}
	var toks []string
	cur := []byte("utf-8''")
	n := 0
	flush := func() {
		toks = append(toks, fmt.Sprintf("%s*%d*=%s", name, n, cur))
		n++
		cur = cur[:0]
	}
	head := func() int { return len(name) + len(fmt.Sprintf("*%d*=", n)) }
	for i, r := range value {
		l := utf8.RuneLen(r)
		if l < 0 {
			l = 1
		}
		var e []byte
		for _, c := range []byte(value[i : i+l]) {
			if isAttrChar(c) {
				e = append(e, c)
			} else {
				e = append(e, '%', upperHex[c>>4], upperHex[c&15])
			}
		}
		if len(cur) > 0 && head()+len(cur)+len(e) > maxParamLine {
			flush()
		}
		cur = append(cur, e...)
	}
	flush()
	if len(toks) == 1 {
		// One segment needs no number: name*=utf-8''...
		toks[0] = name + "*=" + strings.SplitN(toks[0], "=", 2)[1]
	}
	return toks
}

// isAttrChar reports whether c may appear unencoded in an RFC 2231
// extended value (attribute-char: a token character other than the
// asterisk, the apostrophe and the percent sign).
func isAttrChar(c byte) bool {
	return c > ' ' && c <= '~' && !isTSpecial(c) && c != '*' && c != '\'' && c != '%'
}

// mediaType returns the tokens of a Content-Type or Content-Disposition
// value: the type and its parameters, in the order given.
func mediaType(typ string, params ...[2]string) []string {
	toks := []string{typ}
	for _, p := range params {
		// Continuations are parameters of their own (RFC 2231 3).
		for _, t := range param(p[0], p[1]) {
			toks[len(toks)-1] += ";"
			toks = append(toks, t)
		}
	}
	return toks
}
