package compose

import (
	"bytes"
	"fmt"
	"mime/quotedprintable"
	"sort"
	"strings"
	"unicode/utf8"
)

// entity is a MIME entity (RFC 2045 2.4): a leaf with its encoded body,
// or a multipart with its parts.
type entity struct {
	// typ is the media type; params its parameters, in order.
	typ    string
	params [][2]string
	// A leaf's transfer encoding, disposition and Content-ID.
	cte         string
	disposition []string // tokens, nil for none
	contentID   string
	body        []byte
	// A multipart's parts; its boundary parameter is set by boundaries.
	parts []*entity
}

// size estimates the written size.
func (e *entity) size() int {
	n := len(e.body) + 200
	for _, p := range e.parts {
		n += p.size() + 80
	}
	return n
}

// writeTo writes e's header fields, the empty line and its body. The
// CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1), so a
// body is written without a line end of its own.
func (e *entity) writeTo(buf *bytes.Buffer) {
	var h header
	h.field("Content-Type", mediaType(e.typ, e.params...)...)
	if e.cte != "" {
		h.field("Content-Transfer-Encoding", e.cte)
	}
	if e.disposition != nil {
		h.field("Content-Disposition", e.disposition...)
	}
	if e.contentID != "" {
		h.field("Content-ID", "<"+e.contentID+">")
	}
	buf.Write(h.b)
	buf.WriteString("\r\n")
	if e.parts == nil {
		buf.Write(e.body)
		return
	}
	b := e.boundary()
	for _, p := range e.parts {
		buf.WriteString("--" + b + "\r\n")
		p.writeTo(buf)
		buf.WriteString("\r\n")
	}
	buf.WriteString("--" + b + "--\r\n")
}

func (e *entity) boundary() string {
	for _, p := range e.params {
		if p[0] == "boundary" {
			return p[1]
		}
	}
	return ""
}

// boundaries gives every multipart of e a boundary that occurs in no
// body (RFC 2046 5.1.1: it must not appear in the encapsulated parts).
// A boundary starts with "=_", which quoted-printable and base64 never
// write, so only 7bit bodies are searched.
func (b *Builder) boundaries(e *entity) error {
	if e.parts == nil {
		return nil
	}
	for _, p := range e.parts {
		if err := b.boundaries(p); err != nil {
			return err
		}
	}
	for {
		r, err := b.random(12)
		if err != nil {
			return err
		}
		bd := "=_" + r
		if !e.contains([]byte("--" + bd)) {
			e.params = append(e.params, [2]string{"boundary", bd})
			return nil
		}
	}
}

// contains reports whether a 7bit body or a boundary of e holds s.
func (e *entity) contains(s []byte) bool {
	if e.parts == nil {
		return e.cte == "7bit" && bytes.Contains(e.body, s)
	}
	if strings.Contains("--"+e.boundary(), string(s)) {
		return true
	}
	for _, p := range e.parts {
		if p.contains(s) {
			return true
		}
	}
	return false
}

func newMultipart(sub string, parts ...*entity) *entity {
	return &entity{typ: "multipart/" + sub, parts: parts}
}

// body returns the MIME structure of m's content: multipart/alternative
// for a text and an HTML body (the plainer first, RFC 2046 5.1.4),
// multipart/related around the HTML and the parts it shows (RFC 2387),
// multipart/mixed for attachments.
func (b *Builder) body(m *Message) (*entity, error) {
	if err := checkBodyText("text", m.Text); err != nil {
		return nil, err
	}
	if err := checkBodyText("html", m.HTML); err != nil {
		return nil, err
	}
	var text, html *entity
	if m.Text != "" {
		text = textEntity("text/plain", m.Text)
	}
	if m.HTML != "" {
		html = textEntity("text/html", m.HTML)
	}
	var inline, attached []*entity
	for i := range m.Attachments {
		a := &m.Attachments[i]
		e, err := attachment(fmt.Sprintf("attachments[%d]", i), a)
		if err != nil {
			return nil, err
		}
		if a.ContentID != "" && html != nil {
			inline = append(inline, e)
		} else {
			attached = append(attached, e)
		}
	}
	if len(inline) > 0 {
		html = newMultipart("related", append([]*entity{html}, inline...)...)
		// RFC 2387 3.1: type names the root part's type.
		html.params = [][2]string{{"type", "text/html"}}
	}
	var body *entity
	switch {
	case text != nil && html != nil:
		body = newMultipart("alternative", text, html)
	case text != nil:
		body = text
	case html != nil:
		body = html
	}
	if len(attached) == 0 {
		if body == nil {
			return nil, fieldError("text", "give text, html or attachments: the message would be empty")
		}
		return body, nil
	}
	if body != nil {
		attached = append([]*entity{body}, attached...)
	}
	return newMultipart("mixed", attached...), nil
}

// checkBodyText refuses a body with a NUL, which no transfer encoding of
// text carries (RFC 2045 2.7, 6.7).
func checkBodyText(field, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fieldError(field, "contains a NUL character")
	}
	if !utf8.ValidString(s) {
		return fieldError(field, "is not valid UTF-8")
	}
	return nil
}

// normalizeNewlines turns CRLF and lone CRs into LF.
func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// textEntity is a text body in UTF-8 (us-ascii when it is ASCII).
func textEntity(typ, s string) *entity {
	s = normalizeNewlines(s)
	cs := "utf-8"
	if isASCII(s) {
		cs = "us-ascii"
	}
	e := &entity{typ: typ, params: [][2]string{{"charset", cs}}}
	e.cte, e.body = encodeText([]byte(s))
	return e
}

// sevenBit reports whether text with LF line ends can be sent as it is:
// ASCII without NUL, lone CR or other controls but the tab, every line at
// most maxLen characters (RFC 2045 2.7 allows 998, RFC 5322 2.1.1 asks for
// 78).
func sevenBit(s []byte, maxLen int) bool {
	line := 0
	for _, c := range s {
		switch {
		case c == '\n':
			line = 0
			continue
		case c >= 0x80 || (c < ' ' && c != '\t') || c == 0x7f:
			return false
		}
		line++
		if line > maxLen {
			return false
		}
	}
	return true
}

// encodeText returns the transfer encoding and the encoded form of text
// with LF line ends: 7bit when it is short-lined ASCII, else
// quoted-printable or base64, whichever is smaller (RFC 2045 6.7, 6.8).
func encodeText(s []byte) (string, []byte) {
	if sevenBit(s, FoldAt+2) {
		return "7bit", bytes.ReplaceAll(s, []byte("\n"), []byte("\r\n"))
	}
	qp := 0
	for _, c := range s {
		if c >= ' ' && c <= '~' && c != '=' || c == '\n' || c == '\t' {
			qp++
		} else {
			qp += 3
		}
	}
	// Quoted-printable keeps mostly-ASCII text readable; it is chosen
	// while it is at most half again as large as base64.
	if qp*2 <= b64.EncodedLen(len(s))*3 {
		var buf bytes.Buffer
		w := quotedprintable.NewWriter(&buf)
		w.Write(s)
		w.Close()
		return "quoted-printable", buf.Bytes()
	}
	// RFC 2045 6.8: text is encoded in its canonical form, CRLF line ends.
	return "base64", base64Lines(bytes.ReplaceAll(s, []byte("\n"), []byte("\r\n")))
}

// base64LineLen is the length of a base64 line (RFC 2045 6.8: at most 76).
const base64LineLen = 76

// base64Lines encodes p in base64, in lines of base64LineLen.
func base64Lines(p []byte) []byte {
	enc := make([]byte, b64.EncodedLen(len(p)))
	b64.Encode(enc, p)
	out := make([]byte, 0, len(enc)+len(enc)/base64LineLen*2+2)
	for len(enc) > base64LineLen {
		out = append(out, enc[:base64LineLen]...)
		out = append(out, "\r\n"...)
		enc = enc[base64LineLen:]
	}
	return append(out, enc...)
}

// attachment makes the entity of an attachment: base64 (a message/rfc822
// in 7bit, the only encoding it may have, RFC 2046 5.2.1), with the file
// name in Content-Disposition and, for older readers, in Content-Type's
// name parameter.
func attachment(field string, a *Attachment) (*entity, error) {
	if err := checkText(field+".filename", a.Filename); err != nil {
		return nil, err
	}
	typ, params, err := typeOf(field+".content_type", a)
	if err != nil {
		return nil, err
	}
	e := &entity{typ: typ}
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "name" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.params = append(e.params, [2]string{k, params[k]})
	}
	switch {
	case strings.HasPrefix(typ, "multipart/"):
		return nil, fieldError(field+".content_type", "a multipart cannot be an attachment; send its parts")
	case typ == "message/rfc822":
		c := bytes.ReplaceAll(bytes.ReplaceAll(a.Content, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
		if !sevenBit(c, MaxLineLength) {
			return nil, fieldError(field+".content", "a message/rfc822 part must be 7-bit with lines of at most 998 characters (RFC 2046 5.2.1); send it as application/octet-stream")
		}
		e.cte = "7bit"
		e.body = bytes.ReplaceAll(c, []byte("\n"), []byte("\r\n"))
	default:
		e.cte = "base64"
		e.body = base64Lines(a.Content)
	}
	disp := "attachment"
	if a.ContentID != "" {
		if !contentID(a.ContentID) {
			return nil, fieldError(field+".content_id", "want printable ASCII without spaces or angle brackets")
		}
		e.contentID = a.ContentID
		disp = "inline"
	}
	if a.Filename != "" {
		e.params = append(e.params, [2]string{"name", a.Filename})
		e.disposition = mediaType(disp, [2]string{"filename", a.Filename})
	} else {
		e.disposition = []string{disp}
	}
	return e, nil
}

// contentID reports whether s can be written as a Content-ID, "<" s ">".
// RFC 2045 7 makes it a msg-id (left@right), but "cid:logo" without an
// "@" is common and understood; anything that would break the field is
// refused.
func contentID(s string) bool {
	if s == "" || len(s) > maxParamLine {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '<' || s[i] == '>' {
			return false
		}
	}
	return true
}
