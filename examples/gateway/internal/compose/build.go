package compose

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/smtpkit/smtp/envelope"
)

var b64 = base64.StdEncoding

// Message is what a message is built from.
type Message struct {
	From    Address
	To      []Address
	Cc      []Address
	ReplyTo []Address
	// Subject is any Unicode text without line breaks.
	Subject string
	// Text and HTML are the bodies, with any line ends (written as CRLF).
	Text string
	HTML string
	// Attachments are written after the body, in order; those with a
	// ContentID go next to the HTML body, which shows them.
	Attachments []Attachment
	// Header holds more fields, written after the standard ones in their
	// order. A field the builder writes itself (Reserved) is refused.
	Header []Field
	// MessageID is the Message-ID without angle brackets; empty means a
	// new one.
	MessageID string
	// Date is the origination date; zero means now.
	Date time.Time
}

// Field is a header field.
type Field struct {
	Name  string
	Value string
}

// Attachment is a file sent with the message.
type Attachment struct {
	// Filename is the name the recipient sees, any Unicode text.
	Filename string
	// ContentType is the media type with its parameters ("text/csv;
	// charset=utf-8"); empty means the type of Filename's extension, or
	// application/octet-stream.
	ContentType string
	Content     []byte
	// ContentID makes the attachment a part shown inside the HTML body,
	// which refers to it as "cid:" + ContentID (RFC 2392).
	ContentID string
}

// Built is a built message.
type Built struct {
	// Data is the message, CRLF line ends, ending with CRLF.
	Data []byte
	// MessageID is the Message-ID, without angle brackets.
	MessageID string
	// SMTPUTF8 says that an address is written in UTF-8 (RFC 6532): the
	// message must be sent with SMTPUTF8 (RFC 6531).
	SMTPUTF8 bool
}

// Builder builds messages. The zero value works.
type Builder struct {
	// Hostname is the right side of new Message-IDs (RFC 5322 3.6.4);
	// empty means the domain of the From address.
	Hostname string
	// Rand is the source of Message-IDs and boundaries; nil means
	// crypto/rand.
	Rand io.Reader
	// Now is the clock for Date; nil means time.Now.
	Now func() time.Time
}

// reserved holds the fields the builder writes itself (lower case), and
// those that have no place in a message being submitted (Bcc, RFC 5322
// 3.6.3: blind recipients are in the envelope only; the trace fields,
// which the transport adds, RFC 5321 4.4).
var reserved = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "reply-to": true, "sender": true,
	"subject": true, "date": true, "message-id": true, "mime-version": true,
	"content-type": true, "content-transfer-encoding": true, "content-disposition": true,
	"content-id": true, "return-path": true, "received": true,
}

// Reserved reports whether a Message.Header field named name is refused:
// the builder writes it from the Message's other fields, or it is not
// for a message being submitted (Bcc, Received, Return-Path).
func Reserved(name string) bool { return reserved[strings.ToLower(name)] }

// structured reports whether a field's value has a syntax of its own that
// encoded words would break (RFC 2047 5 allows them only in unstructured
// text, comments and phrases): such a value must be ASCII.
func structured(name string) bool {
	n := strings.ToLower(name)
	return n == "in-reply-to" || n == "references" || strings.HasPrefix(n, "list-") ||
		strings.HasPrefix(n, "resent-") || strings.HasPrefix(n, "dkim-") || n == "autocrypt"
}

// Build builds m.
func (b *Builder) Build(m *Message) (*Built, error) {
	out := &Built{}
	var h header
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	date := m.Date
	if date.IsZero() {
		date = now()
	}
	// RFC 5322 3.3 date-time.
	h.field("Date", date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	if err := b.addresses(&h, out, "From", "from", []Address{m.From}, true); err != nil {
		return nil, err
	}
	if err := b.addresses(&h, out, "Reply-To", "reply_to", m.ReplyTo, false); err != nil {
		return nil, err
	}
	if err := b.addresses(&h, out, "To", "to", m.To, false); err != nil {
		return nil, err
	}
	if err := b.addresses(&h, out, "Cc", "cc", m.Cc, false); err != nil {
		return nil, err
	}
	if err := checkText("subject", m.Subject); err != nil {
		return nil, err
	}
	if m.Subject != "" {
		if err := h.field("Subject", unstructured(m.Subject, firstRoom("Subject"))...); err != nil {
			return nil, &FieldError{Field: "subject", Err: err}
		}
	}
	id, err := b.messageID(m)
	if err != nil {
		return nil, err
	}
	out.MessageID = id
	h.field("Message-ID", "<"+id+">")
	if err := extraFields(&h, m.Header); err != nil {
		return nil, err
	}
	h.field("MIME-Version", "1.0")

	body, err := b.body(m)
	if err != nil {
		return nil, err
	}
	if err := b.boundaries(body); err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, len(h.b)+body.size()+256))
	buf.Write(h.b)
	body.writeTo(buf)
	if !bytes.HasSuffix(buf.Bytes(), []byte("\r\n")) {
		buf.WriteString("\r\n")
	}
	out.Data = buf.Bytes()
	return out, nil
}

// addresses writes an address field, if the list is not empty.
func (b *Builder) addresses(h *header, out *Built, name, field string, list []Address, single bool) error {
	if len(list) == 0 {
		return nil
	}
	toks, utf, err := addressList(field, list, single, firstRoom(name))
	if err != nil {
		return err
	}
	out.SMTPUTF8 = out.SMTPUTF8 || utf
	if err := h.field(name, toks...); err != nil {
		return &FieldError{Field: field, Err: err}
	}
	return nil
}

// extraFields writes the caller's header fields: the name as given (RFC
// 5322 2.2: printable ASCII but ':'), the value folded at its spaces when
// it is ASCII, else as encoded words.
func extraFields(h *header, fs []Field) error {
	seen := map[string]bool{}
	for _, f := range fs {
		field := "headers." + f.Name
		if !validFieldName(f.Name) {
			return fieldError(field, "is not a valid field name (RFC 5322 2.2: letters, digits and punctuation but ':')")
		}
		if Reserved(f.Name) {
			return fieldError(field, "is set by the gateway from the request's own fields, or not allowed in a message being submitted")
		}
		if seen[strings.ToLower(f.Name)] {
			return fieldError(field, "is given twice")
		}
		seen[strings.ToLower(f.Name)] = true
		if err := checkText(field, f.Value); err != nil {
			return err
		}
		v := strings.TrimSpace(f.Value)
		var toks []string
		switch {
		case printableASCII(v):
			toks = strings.Split(v, " ")
		case structured(f.Name):
			return fieldError(field, "must be ASCII (a structured field, RFC 2047 5)")
		default:
			toks = encodeWords(v, firstRoom(f.Name))
		}
		if err := h.field(f.Name, toks...); err != nil {
			return &FieldError{Field: field, Err: err}
		}
	}
	return nil
}

// firstRoom is the room for the first token after "Name: ".
func firstRoom(name string) int { return FoldAt - len(name) - 2 }

// maxFieldName keeps a field name with its colon and a space within a
// folded line.
const maxFieldName = FoldAt - 2

func validFieldName(s string) bool {
	if s == "" || len(s) > maxFieldName {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == ':' {
			return false
		}
	}
	return true
}

// random returns n random bytes in hexadecimal.
func (b *Builder) random(n int) (string, error) {
	r := b.Rand
	if r == nil {
		r = rand.Reader
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return "", err
	}
	return hex.EncodeToString(p), nil
}

// messageID returns m's Message-ID, or a new one.
func (b *Builder) messageID(m *Message) (string, error) {
	if m.MessageID != "" {
		id := strings.TrimSuffix(strings.TrimPrefix(m.MessageID, "<"), ">")
		left, right, ok := strings.Cut(id, "@")
		if !ok || !dotAtom(left) || !(dotAtom(right) || domainLiteral(right)) {
			return "", fieldError("headers.Message-ID", "want <left@right> (RFC 5322 3.6.4 msg-id)")
		}
		return id, nil
	}
	return b.NewMessageID(m.From.Addr)
}

// NewMessageID returns a new Message-ID, without angle brackets: random,
// at the Builder's host name, or else at the domain of from (RFC 5322
// 3.6.4: unique, the right side a domain).
func (b *Builder) NewMessageID(from envelope.Address) (string, error) {
	host := b.Hostname
	if !dotAtom(host) {
		host = ""
		if asc, err := from.ASCII(); err == nil && dotAtom(asc.Domain) {
			host = asc.Domain
		}
	}
	if host == "" {
		host = "localhost"
	}
	r, err := b.random(16)
	if err != nil {
		return "", err
	}
	return r + "@" + host, nil
}

// dotAtom reports whether s is an RFC 5322 3.2.3 dot-atom-text.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && !isAtext(s[i]) {
			return false
		}
	}
	return true
}

// domainLiteral reports whether s is a no-fold-literal (RFC 5322 3.6.4):
// "[" printable ASCII but "[", "]" and "\" "]".
func domainLiteral(s string) bool {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '[' || s[i] == ']' || s[i] == '\\' {
			return false
		}
	}
	return true
}

// typeOf returns the media type of an attachment: the one given, checked
// (RFC 2045 5.1), else the type of the file name's extension, else
// application/octet-stream.
func typeOf(field string, a *Attachment) (string, map[string]string, error) {
	ct := a.ContentType
	if ct == "" {
		if i := strings.LastIndexByte(a.Filename, '.'); i >= 0 {
			ct = mime.TypeByExtension(a.Filename[i:])
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
	}
	typ, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(typ, "/") {
		return "", nil, fieldError(field, "want a media type such as application/pdf (RFC 2045 5.1)")
	}
	return typ, params, nil
}
