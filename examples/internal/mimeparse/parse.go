package mimeparse

import (
	"bytes"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// Limits of a Parser.
const (
	// DefaultMaxDepth bounds the nesting of multiparts. RFC 2046 sets no
	// limit; real mail nests three or four deep, and a bound keeps a
	// hostile message from costing a deep recursion.
	DefaultMaxDepth = 32
	// DefaultMaxParts bounds the parts of a message (leaves and
	// multiparts); past it the rest of the message is not split.
	DefaultMaxParts = 1000
)

// Parser reads messages. The zero value uses the default limits.
type Parser struct {
	// MaxDepth bounds the nesting of multiparts (DefaultMaxDepth);
	// negative means no limit. A multipart nested deeper is shown as one
	// part holding its raw body.
	MaxDepth int
	// MaxParts bounds the number of parts (DefaultMaxParts); negative
	// means no limit.
	MaxParts int
	// SkipAttachmentData leaves the content of the parts that are not
	// body text undecoded: their Data is nil and Size their encoded size.
	// For an index that only lists and counts attachments.
	SkipAttachmentData bool
}

// Message is a parsed message.
type Message struct {
	Header Header
	// The common fields, decoded. An address field that does not parse
	// yields what it could (see Address) and a Problem.
	Subject   string
	From      []Address
	To        []Address
	Cc        []Address
	ReplyTo   []Address
	Date      time.Time // zero when absent or unreadable
	MessageID string    // without the angle brackets

	// Text and HTML are the bodies a reader shows, decoded to UTF-8 with
	// line ends as LF: of a multipart/alternative the first text/plain and
	// the first text/html, of a multipart/mixed every inline text part of
	// each kind, one after the other.
	Text string
	HTML string

	// Attachments are the parts meant to be saved: a disposition of
	// "attachment", or a part that is neither body text nor inline.
	Attachments []*Part
	// Inline are the parts shown inside the body, mostly images an HTML
	// body refers to as "cid:" (RFC 2392): a Content-ID or an inline
	// disposition.
	Inline []*Part
	// Parts is every leaf part in the order of the message, the body text
	// parts included.
	Parts []*Part

	// Problems says what did not follow the format; the fields above are
	// the best reading of such a message. Empty for a well-formed one.
	Problems []*Problem
}

// Part is a leaf part of a message (not a multipart).
type Part struct {
	// Path is the part's number as IMAP gives it (RFC 3501 6.4.5): "1"
	// for the body of a message that is not multipart, "1", "2", "2.1"...
	// in a multipart.
	Path        string
	Header      Header
	ContentType string            // media type, lower case ("image/png")
	Params      map[string]string // its parameters, keys lower case, RFC 2231 applied
	Charset     string            // the charset parameter, as given
	Encoding    string            // Content-Transfer-Encoding, lower case
	Disposition string            // "attachment", "inline" or "" (RFC 2183)
	// Filename is the file name from Content-Disposition's filename or
	// else Content-Type's name parameter, decoded; as the sender wrote it,
	// so it may hold "/", ".." or control characters: sanitise before
	// using it as a path or header value.
	Filename  string
	ContentID string // without the angle brackets (RFC 2392)
	Data      []byte // the content with its transfer encoding undone
	// skipped is the encoded size of content left undecoded
	// (Parser.SkipAttachmentData).
	skipped int
}

// Size returns the size of the decoded content in bytes (with
// Parser.SkipAttachmentData, of the encoded content for an attachment).
func (p *Part) Size() int {
	if p.Data == nil {
		return p.skipped
	}
	return len(p.Data)
}

// Problem is one way a message does not follow the format.
type Problem struct {
	Part   string // the part's Path, "" for the message's header
	Reason string
}

func (p *Problem) Error() string {
	if p.Part == "" {
		return "mimeparse: " + p.Reason
	}
	return "mimeparse: part " + p.Part + ": " + p.Reason
}

// Parse reads a message with the default limits.
func Parse(raw []byte) *Message { return (&Parser{}).Parse(raw) }

// Parse reads a message. It never fails: a malformed message yields its
// best reading and Problems.
func (p *Parser) Parse(raw []byte) *Message {
	w := &walker{p: p, m: &Message{}}
	h, body, prob := splitHeader(raw)
	if prob != "" {
		w.problem("", prob)
	}
	h.decodeFields()
	m := w.m
	m.Header = h
	m.Subject = h.Get("Subject")
	m.From = w.addresses(h, "From")
	m.To = w.addresses(h, "To")
	m.Cc = w.addresses(h, "Cc")
	m.ReplyTo = w.addresses(h, "Reply-To")
	if d := h.Get("Date"); d != "" {
		t, err := mail.ParseDate(d)
		if err != nil {
			w.problem("", "unreadable Date: "+strconv.Quote(d))
		}
		m.Date = t
	}
	m.MessageID = strings.Trim(h.Get("Message-ID"), "<> \t")
	w.entity(h, body, "", 0, "")
	m.Text, m.HTML = w.text.String(), w.html.String()
	return m
}

// walker holds the state of one Parse.
type walker struct {
	p     *Parser
	m     *Message
	parts int
	// The message's Text and HTML as the parts add to them.
	text, html strings.Builder
}

func (w *walker) problem(part, reason string) {
	w.m.Problems = append(w.m.Problems, &Problem{Part: part, Reason: reason})
}

func (w *walker) addresses(h Header, name string) []Address {
	raw := h.raw(name)
	as, ok := parseAddressList(raw)
	if !ok {
		w.problem("", name+": not a valid address list")
	}
	return as
}

func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return int(^uint(0) >> 1)
	}
	return v
}

// entity reads one entity (the message or a part) with header h and body
// body. parent is the subtype of the enclosing multipart ("" at the top).
func (w *walker) entity(h Header, body []byte, path string, depth int, parent string) {
	w.parts++
	typ, params, clean := parseMediaType(toUTF8([]byte(h.raw("Content-Type"))))
	if !clean {
		w.problem(path, "malformed Content-Type parameters")
	}
	if typ == "" || strings.Count(typ, "/") != 1 {
		if typ != "" {
			w.problem(path, "invalid Content-Type "+strconv.Quote(typ))
		}
		// RFC 2045 5.2: the default; RFC 2046 5.1.5: in a digest,
		// message/rfc822.
		typ, params = "text/plain", map[string]string{}
		if parent == "digest" {
			typ = "message/rfc822"
		}
	}
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	if sub, ok := strings.CutPrefix(typ, "multipart/"); ok {
		if w.multipart(h, body, path, depth, sub, params, enc) {
			return
		}
		// Not splittable: shown as text holding the raw body.
		typ, params = "text/plain", map[string]string{}
	}
	if path == "" {
		path = "1"
	}
	w.leaf(h, body, path, parent, typ, params, enc)
}

// multipart splits a multipart body and reads its parts; false means it
// could not be split (a problem says why).
func (w *walker) multipart(h Header, body []byte, path string, depth int, sub string, params map[string]string, enc string) bool {
	if depth >= limit(w.p.MaxDepth, DefaultMaxDepth) {
		w.problem(path, "multiparts nested too deep")
		return false
	}
	boundary := params["boundary"]
	if boundary == "" {
		w.problem(path, "multipart without a boundary")
		return false
	}
	if enc == "base64" || enc == "quoted-printable" {
		// RFC 2045 6.4 forbids it; some programs do it anyway.
		w.problem(path, "multipart with a "+enc+" encoding")
		body, _ = decode(enc, body)
	}
	parts, closed := splitMultipart(body, boundary)
	if len(parts) == 0 {
		w.problem(path, "the boundary "+strconv.Quote(boundary)+" does not occur")
		return false
	}
	if !closed {
		w.problem(path, "the closing boundary is missing")
	}
	for i, pb := range parts {
		if w.parts >= limit(w.p.MaxParts, DefaultMaxParts) {
			w.problem(path, "too many parts; the rest is not shown")
			break
		}
		child := strconv.Itoa(i + 1)
		if path != "" {
			child = path + "." + child
		}
		ph, pbody, prob := splitHeader(pb)
		if prob == "the message has no header" && len(bytes.TrimSpace(pb)) > 0 {
			// A part must start with its header or the empty line that
			// stands for none (RFC 2046 5.1.1).
			w.problem(child, "the part has no header and no empty line before its body")
		} else if prob != "" && prob != "the message has no header" {
			w.problem(child, prob)
		}
		ph.decodeFields()
		w.entity(ph, pbody, child, depth+1, sub)
	}
	return true
}

// splitMultipart returns the bodies of the parts between the boundary
// delimiters (RFC 2046 5.1.1: "--" boundary at the start of a line, white
// space allowed after it; the line end before it belongs to it) and whether
// the close delimiter ("--" boundary "--") was found. Preamble and epilogue
// are dropped.
func splitMultipart(body []byte, boundary string) (parts [][]byte, closed bool) {
	delim := []byte("--" + boundary)
	start := -1
	for i := 0; i < len(body); {
		next := len(body)
		line := body[i:]
		if end := bytes.IndexByte(line, '\n'); end >= 0 {
			line, next = line[:end], i+end+1
		}
		if bytes.HasPrefix(line, delim) {
			after := trimCR(line[len(delim):])
			isClose := bytes.HasPrefix(after, []byte("--"))
			if isClose {
				after = after[2:]
			}
			if len(bytes.Trim(after, " \t")) == 0 {
				if start >= 0 {
					e := i
					if e > start && body[e-1] == '\n' {
						e--
						if e > start && body[e-1] == '\r' {
							e--
						}
					}
					parts = append(parts, body[start:e])
				}
				if isClose {
					return parts, true
				}
				start = next
			}
		}
		i = next
	}
	if start >= 0 {
		parts = append(parts, body[start:])
	}
	return parts, false
}

// decode undoes a Content-Transfer-Encoding (RFC 2045 6); 7bit, 8bit,
// binary and unknown ones are identity. clean is false when the content
// was not valid in its encoding.
func decode(enc string, b []byte) ([]byte, bool) {
	switch enc {
	case "base64":
		return decodeBase64(b)
	case "quoted-printable":
		return decodeQuotedPrintable(b)
	}
	return b, true
}

// leaf reads a part that is not a multipart and files it.
func (w *walker) leaf(h Header, body []byte, path, parent, typ string, params map[string]string, enc string) {
	switch enc {
	case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
	default:
		w.problem(path, "unknown Content-Transfer-Encoding "+strconv.Quote(enc))
	}
	disp, dparams, dclean := parseMediaType(toUTF8([]byte(h.raw("Content-Disposition"))))
	if !dclean {
		w.problem(path, "malformed Content-Disposition parameters")
	}
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	isText := typ == "text/plain" || typ == "text/html"
	isBody := isText && disp != "attachment" && filename == ""
	var data []byte
	if isBody || !w.p.SkipAttachmentData {
		var clean bool
		if data, clean = decode(enc, body); !clean {
			w.problem(path, "invalid "+enc+" content")
		}
	}
	p := &Part{
		Path:        path,
		Header:      h,
		ContentType: typ,
		Params:      params,
		Charset:     params["charset"],
		Encoding:    enc,
		Disposition: disp,
		Filename:    filename,
		ContentID:   strings.Trim(h.Get("Content-ID"), "<> \t"),
		Data:        data,
		skipped:     len(body),
	}
	m := w.m
	m.Parts = append(m.Parts, p)
	switch {
	case isBody:
		w.bodyText(p, parent == "alternative")
	case disp == "attachment":
		m.Attachments = append(m.Attachments, p)
	case p.ContentID != "" || disp == "inline":
		m.Inline = append(m.Inline, p)
	default:
		m.Attachments = append(m.Attachments, p)
	}
}

// bodyText adds a text part to the message's Text or HTML. Of alternatives
// the first of each kind is kept; in other multiparts each adds to the body.
// The bodies grow in the walker's builders (a string grown part by part
// would be copied once per part) and are set when the walk ends.
func (w *walker) bodyText(p *Part, alternative bool) {
	s, ok := decodeCharset(p.Charset, p.Data)
	if !ok {
		if lookupCharset(p.Charset) == csUnknown {
			w.problem(p.Path, fmt.Sprintf("unknown charset %q", p.Charset))
		} else {
			w.problem(p.Path, fmt.Sprintf("text is not valid %s", charsetName(p.Charset)))
		}
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	dst := &w.text
	if p.ContentType == "text/html" {
		dst = &w.html
	}
	switch {
	case dst.Len() == 0:
		dst.WriteString(s)
	case !alternative:
		if !strings.HasSuffix(dst.String(), "\n") {
			dst.WriteByte('\n')
		}
		dst.WriteString(s)
	}
}

func charsetName(cs string) string {
	if cs == "" {
		return "US-ASCII (no charset given)"
	}
	return cs
}
