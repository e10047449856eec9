package mimeparse

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
)

// Field is one header field.
type Field struct {
	// Name is the field name as written ("Subject").
	Name string
	// Raw is the value as it came, unfolded (RFC 5322 2.2.3), without the
	// space after the colon; 8-bit bytes are as received.
	Raw string
	// Value is Raw decoded for display: encoded words (RFC 2047) decoded,
	// 8-bit bytes read as UTF-8 (RFC 6532) or else Windows-1252, white
	// space trimmed.
	Value string
}

// Header is the fields of a message or part in their order.
type Header []Field

// Get returns the decoded value of the first field named name
// (case-insensitive), or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// raw returns the raw value of the first field named name, or "".
func (h Header) raw(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Raw
		}
	}
	return ""
}

// Values returns the decoded values of every field named name.
func (h Header) Values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// wordDecoder decodes RFC 2047 encoded words in every charset this package
// knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeWords decodes the encoded words of an unstructured value (RFC 2047
// 6.2); a malformed word stays as written.
func decodeWords(s string) string {
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// splitHeader splits a message or part into its header fields and body. The
// header ends at the first empty line (RFC 5322 2.1); a line that is neither
// a field nor a continuation also ends it (the body starts there, and a
// problem is reported). Lines may end in CRLF or a bare LF.
func splitHeader(b []byte) (h Header, body []byte, problem string) {
	// The value of the last field, unfolded as its lines come: a string
	// grown line by line would be copied once per continuation line, and
	// a hostile header folds one field into millions.
	var raw []byte
	flush := func() {
		if len(h) > 0 {
			h[len(h)-1].Raw = string(raw)
		}
	}
	rest := b
	for len(rest) > 0 {
		line, next := cutLine(rest)
		if len(bytes.TrimRight(line, "\r")) == 0 {
			flush()
			return h, next, ""
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) == 0 {
				return h, rest, "the header starts with a continuation line"
			}
			// A continuation line: unfold it into the field before
			// (RFC 5322 2.2.3).
			raw = append(raw, trimCR(line)...)
			rest = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validFieldName(line[:colon]) {
			if len(h) == 0 {
				return nil, b, "the message has no header"
			}
			flush()
			return h, rest, "a header line without a field name ends the header"
		}
		flush()
		h = append(h, Field{Name: string(line[:colon])})
		raw = append(raw[:0], trimCR(line[colon+1:])...)
		rest = next
	}
	// No empty line: everything was header (a message without a body).
	flush()
	return h, nil, ""
}

// CutField splits the header field named name off the start of b, if b
// starts with it ("Name: value" and its continuation lines, CRLF-ended):
// its value unfolded (RFC 5322 2.2.3) without the space after the colon,
// and what follows the field.
func CutField(b []byte, name string) (value string, rest []byte, ok bool) {
	v, ok := bytes.CutPrefix(b, []byte(name+": "))
	if !ok {
		return "", b, false
	}
	// The field ends at the first line end not followed by white space.
	end := 0
	for {
		i := bytes.Index(v[end:], []byte("\r\n"))
		if i < 0 {
			return "", b, false
		}
		end += i + 2
		if end >= len(v) || (v[end] != ' ' && v[end] != '\t') {
			break
		}
	}
	return strings.ReplaceAll(string(v[:end-2]), "\r\n", ""), v[end:], true
}

// cutLine returns the first line of b (with its CR, without its LF) and what
// follows the LF.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func trimCR(b []byte) []byte { return bytes.TrimSuffix(b, []byte("\r")) }

// validFieldName reports whether b is a field name: printable US-ASCII
// except colon (RFC 5322 2.2, ftext).
func validFieldName(b []byte) bool {
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return len(b) > 0
}

// decodeFields fills in the decoded Value of every field.
func (h Header) decodeFields() {
	for i := range h {
		h[i].Raw = strings.TrimLeft(h[i].Raw, " \t")
		h[i].Value = strings.TrimSpace(decodeWords(toUTF8([]byte(h[i].Raw))))
	}
}

// Address is a mailbox of an address field.
type Address struct {
	Name    string `json:"name"`    // display name, decoded; may be ""
	Address string `json:"address"` // addr-spec; may be "" in a malformed field
}

// String returns the address as a person reads it: "Name <addr>" or
// "addr".
func (a Address) String() string {
	switch {
	case a.Name == "":
		return a.Address
	case a.Address == "":
		return a.Name
	}
	return a.Name + " <" + a.Address + ">"
}

// addressParser reads address lists with encoded words in every charset
// this package knows.
var addressParser = &mail.AddressParser{WordDecoder: wordDecoder}

// parseAddressList reads an address field (RFC 5322 3.4). When the field
// does not parse, each comma-separated piece becomes an Address: its <...>
// part as the address and the rest as the name, so a malformed field still
// shows what it holds.
func parseAddressList(raw string) ([]Address, bool) {
	raw = strings.TrimSpace(toUTF8([]byte(raw)))
	if raw == "" {
		return nil, true
	}
	if list, err := addressParser.ParseList(raw); err == nil {
		as := make([]Address, len(list))
		for i, a := range list {
			as[i] = Address{Name: a.Name, Address: a.Address}
		}
		return as, true
	}
	var as []Address
	for piece := range strings.SplitSeq(raw, ",") {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			continue
		}
		a := Address{}
		if lt := strings.LastIndexByte(piece, '<'); lt >= 0 {
			if gt := strings.IndexByte(piece[lt:], '>'); gt > 0 {
				a.Address = strings.TrimSpace(piece[lt+1 : lt+gt])
				piece = piece[:lt] + piece[lt+gt+1:]
			}
		} else if strings.Contains(piece, "@") && !strings.ContainsAny(piece, " \t\"") {
			a.Address, piece = piece, ""
		}
		a.Name = strings.Trim(strings.TrimSpace(decodeWords(piece)), `"`)
		as = append(as, a)
	}
	return as, false
}
