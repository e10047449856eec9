package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"sort"
	"strings"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/gateway/internal/compose"
)

// Envelope is the SMTP envelope of a submitted message.
type Envelope struct {
	// From is the reverse-path, local@domain.
	From string
	// To are the recipients, each once, in the order given.
	To []string
	// SMTPUTF8: an address or the header is in UTF-8 (RFC 6531).
	SMTPUTF8 bool
	// EightBit: the body has 8-bit octets (BODY=8BITMIME, RFC 6152).
	EightBit bool
	// Client is the HTTP client's address, and TLS says whether the
	// request came over HTTPS: for the Received field.
	Client string
	TLS    bool
}

// BadRequest is a request refused with 400 (or 413, 415), naming the field
// at fault in the API's terms: "to[1]", "attachments[0].content",
// "headers.X-Tag", "message" for a raw message.
type BadRequest struct {
	Status int
	Field  string
	Reason string
}

func (e *BadRequest) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func badRequest(field, format string, args ...any) *BadRequest {
	return &BadRequest{Status: 400, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// request is the JSON body of POST /v1/messages. The address fields are
// kept raw: each is a string (an address list, "A <a@x>, b@y") or a list
// of strings (one address each), decoded by addressField so that an error
// names the item at fault.
type request struct {
	From        json.RawMessage `json:"from"`
	To          json.RawMessage `json:"to"`
	Cc          json.RawMessage `json:"cc"`
	Bcc         json.RawMessage `json:"bcc"`
	ReplyTo     json.RawMessage `json:"reply_to"`
	Subject     string          `json:"subject"`
	Text        string          `json:"text"`
	HTML        string          `json:"html"`
	Attachments []attachment    `json:"attachments"`
	// Headers are decoded one by one, so that an error names the field.
	Headers map[string]json.RawMessage `json:"headers"`

	// limits bound the counts (not from the JSON; zero: the defaults).
	limits limits
}

// limits bound the counts of a request, checked before the work each
// item causes (Config.MaxRecipients, MaxHeaderFields, MaxAttachments).
type limits struct {
	recipients, headerFields, attachments int
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

type attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	// Content is base64 (RFC 4648 4, padding optional, line breaks
	// ignored).
	Content   string `json:"content"`
	ContentID string `json:"content_id"`
}

// decodeJSON decodes a request body strictly: one object, no unknown
// field (a misspelt "attachment" must not send mail without its file).
func decodeJSON(body []byte) (*request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req request
	if err := dec.Decode(&req); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("", "invalid JSON: more after the object")
	}
	return &req, nil
}

// jsonError turns a decoding error into a BadRequest naming the field.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("", "invalid JSON at offset %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return badRequest("", "the body must be a JSON object")
		}
		return badRequest(field, "want %s, not a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "invalid JSON: the body ends early")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badRequest(strings.Trim(name, `"`), "unknown field")
	}
	return badRequest("", "invalid JSON: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice":
		return "a list"
	case "map", "struct":
		return "an object"
	}
	return k
}

// maxAddressString bounds an address field's string before it is parsed.
const maxAddressString = 64 << 10

// addressField decodes an address field: absent or null (none), a string
// holding an address list (RFC 5322 3.4, groups allowed), or a list of
// strings holding one address each. Errors name the item: "to[2]". It
// stops with an error past max addresses.
func addressField(field string, raw json.RawMessage, single bool, max int) ([]compose.Address, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var items []string
	var listed bool
	if raw[0] == '[' {
		if single {
			return nil, badRequest(field, "want one address, a string")
		}
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, badRequest(field, "want a string or a list of strings")
		}
		listed = true
	} else {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badRequest(field, "want a string or a list of strings")
		}
		items = []string{s}
	}
	var out []compose.Address
	for i, s := range items {
		if len(out) > max {
			break
		}
		name := field
		if listed {
			name = fmt.Sprintf("%s[%d]", field, i)
		}
		if len(s) > maxAddressString {
			return nil, badRequest(name, "too long")
		}
		var parsed []*mail.Address
		var err error
		if listed || single {
			var a *mail.Address
			a, err = mail.ParseAddress(s)
			parsed = []*mail.Address{a}
		} else {
			parsed, err = mail.ParseAddressList(s)
		}
		if err != nil {
			return nil, badRequest(name, "not an address: %v", err)
		}
		for j, a := range parsed {
			itemName := name
			if !listed && !single {
				itemName = fmt.Sprintf("%s[%d]", field, j)
			}
			ca, err := mailbox(itemName, a)
			if err != nil {
				return nil, err
			}
			out = append(out, ca)
		}
	}
	if len(out) > max {
		return nil, badRequest(field, tooManyAddresses)
	}
	return out, nil
}

// tooManyAddresses is the reason addressField gives past its max; the
// caller says which limit that is.
const tooManyAddresses = "too many addresses"

// mailbox checks an address as SMTP will carry it (RFC 5321 4.1.2 and
// its length limits, IDNA2008 for a Unicode domain, RFC 6531 for a UTF-8
// local part).
func mailbox(field string, a *mail.Address) (compose.Address, error) {
	i := strings.LastIndexByte(a.Address, '@')
	if i <= 0 || i == len(a.Address)-1 {
		return compose.Address{}, badRequest(field, "want local@domain")
	}
	ea := envelope.Address{Local: a.Address[:i], Domain: a.Address[i+1:]}
	if _, err := envelope.ParseAddress(ea.String(), envelope.ParseOptions{SMTPUTF8: true}); err != nil {
		return compose.Address{}, badRequest(field, "not an address SMTP can carry: %v", err)
	}
	return compose.Address{Name: a.Name, Addr: ea}, nil
}

// envelopeAddress returns the form of a in the SMTP envelope (A-labels
// when the local part is ASCII) and whether it needs SMTPUTF8.
func envelopeAddress(a envelope.Address) (string, bool) {
	for i := 0; i < len(a.Local); i++ {
		if a.Local[i] >= 0x80 {
			if u, err := a.Unicode(); err == nil {
				a = u
			}
			return a.String(), true
		}
	}
	if asc, err := a.ASCII(); err == nil {
		a = asc
	}
	return a.String(), false
}

// recipients adds to env.To each address of lists not yet in it (the same
// address in To and Bcc gets the message once), domains compared without
// case (RFC 5321 2.4), local parts as they are.
func (env *Envelope) addRecipients(lists ...[]compose.Address) {
	seen := map[string]bool{}
	for _, r := range env.To {
		seen[lowerDomain(r)] = true
	}
	for _, l := range lists {
		for _, a := range l {
			s, utf := envelopeAddress(a.Addr)
			env.SMTPUTF8 = env.SMTPUTF8 || utf
			if k := lowerDomain(s); !seen[k] {
				seen[k] = true
				env.To = append(env.To, s)
			}
		}
	}
}

func lowerDomain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	return addr[:i+1] + strings.ToLower(addr[i+1:])
}

// decodeBase64 decodes an attachment's content: standard base64 with or
// without padding, white space ignored (clients wrap it in lines).
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// message turns a JSON request into the message to build and its
// envelope.
func (req *request) message() (*compose.Message, *Envelope, error) {
	m := &compose.Message{Subject: req.Subject, Text: req.Text, HTML: req.HTML}
	maxRcpts := orDefault(req.limits.recipients, DefaultMaxRecipients)
	if n, max := len(req.Headers), orDefault(req.limits.headerFields, DefaultMaxHeaderFields); n > max {
		return nil, nil, badRequest("headers", "%d fields; the limit is %d", n, max)
	}
	if n, max := len(req.Attachments), orDefault(req.limits.attachments, DefaultMaxAttachments); n > max {
		return nil, nil, badRequest("attachments", "%d attachments; the limit is %d", n, max)
	}
	from, err := addressField("from", req.From, true, 1)
	if err != nil {
		return nil, nil, err
	}
	if len(from) == 0 {
		return nil, nil, badRequest("from", "required")
	}
	m.From = from[0]
	env := &Envelope{}
	env.From, env.SMTPUTF8 = envelopeAddress(m.From.Addr)
	var bcc []compose.Address
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *[]compose.Address
	}{{"to", req.To, &m.To}, {"cc", req.Cc, &m.Cc}, {"bcc", req.Bcc, &bcc}, {"reply_to", req.ReplyTo, &m.ReplyTo}} {
		// Recipients are counted as they are parsed (to, cc and bcc
		// together), reply_to on its own.
		max := maxRcpts
		if f.name != "reply_to" {
			max = maxRcpts - len(m.To) - len(m.Cc) - len(bcc)
		}
		if *f.dst, err = addressField(f.name, f.raw, false, max); err != nil {
			if br, ok := err.(*BadRequest); ok && br.Reason == tooManyAddresses {
				br.Reason = fmt.Sprintf("more than %d recipients (to, cc and bcc together); the limit is %d", maxRcpts, maxRcpts)
			}
			return nil, nil, err
		}
	}
	// Bcc recipients are in the envelope only (RFC 5322 3.6.3).
	env.addRecipients(m.To, m.Cc, bcc)
	if len(env.To) == 0 {
		return nil, nil, badRequest("to", "no recipient: give to, cc or bcc")
	}
	for i, a := range req.Attachments {
		field := fmt.Sprintf("attachments[%d]", i)
		data, err := decodeBase64(a.Content)
		if err != nil {
			return nil, nil, badRequest(field+".content", "not base64 (RFC 4648 4)")
		}
		m.Attachments = append(m.Attachments, compose.Attachment{
			Filename: a.Filename, ContentType: a.ContentType, Content: data, ContentID: a.ContentID,
		})
	}
	names := make([]string, 0, len(req.Headers))
	for k := range req.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var v string
		if err := json.Unmarshal(req.Headers[k], &v); err != nil {
			return nil, nil, badRequest("headers."+k, "want a string")
		}
		if strings.EqualFold(k, "Message-ID") {
			m.MessageID = v
			continue
		}
		m.Header = append(m.Header, compose.Field{Name: k, Value: v})
	}
	return m, env, nil
}

// rawMessage checks and prepares a raw message (message/rfc822) for
// submission: line ends made CRLF, Bcc and Resent-Bcc fields removed (RFC
// 5322 3.6.3: blind recipients are in the envelope only), Date and
// Message-ID added when missing (RFC 5322 3.6: Date is required,
// Message-ID should be there), as Postfix's cleanup does. The envelope is
// from and to when given, else the From (or Sender) field and the
// To, Cc and Bcc fields, as sendmail -t reads them.
//
// The recipients are counted as they are read: more than maxRcpts is an
// error at once.
func rawMessage(raw []byte, from string, to []string, b *compose.Builder, now time.Time, maxRcpts int) ([]byte, *Envelope, error) {
	raw = crlf(raw)
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		raw = append(raw, "\r\n"...)
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return nil, nil, badRequest("message", "contains a NUL octet")
	}
	if n := longLine(raw); n > 0 {
		return nil, nil, badRequest("message", "line %d is longer than 998 characters (RFC 5322 2.1.1)", n)
	}
	hdr, body := splitHeader(raw)
	msg, err := mail.ReadMessage(bytes.NewReader(append(append([]byte{}, hdr...), "\r\n"...)))
	if err != nil || len(hdr) == 0 {
		return nil, nil, badRequest("message", "no readable header section (RFC 5322 2.2)")
	}
	h := msg.Header
	counted := 0 // addresses of the To, Cc and Bcc fields read so far
	list := func(name string) ([]compose.Address, error) {
		var out []compose.Address
		for _, v := range h[textprotoKey(name)] {
			if counted > maxRcpts {
				return nil, badRequest("message", "more than %d recipients in the To, Cc and Bcc fields; the limit is %d", maxRcpts, maxRcpts)
			}
			l, err := mail.ParseAddressList(v)
			if err != nil {
				return nil, badRequest("message", "%s field: %v", name, err)
			}
			for _, a := range l {
				ca, err := mailbox(name, a)
				if err != nil {
					return nil, badRequest("message", "%s field: %s", name, err.(*BadRequest).Reason)
				}
				out = append(out, ca)
			}
			if name == "To" || name == "Cc" || name == "Bcc" {
				counted += len(l)
			}
		}
		return out, nil
	}
	fromField, err := list("From")
	if err != nil {
		return nil, nil, err
	}
	if len(fromField) == 0 {
		return nil, nil, badRequest("message", "no From field (RFC 5322 3.6.2 requires one)")
	}
	env := &Envelope{}
	if from != "" {
		a, err := mail.ParseAddress(from)
		if err != nil {
			return nil, nil, badRequest("from", "not an address: %v", err)
		}
		ca, err := mailbox("from", a)
		if err != nil {
			return nil, nil, err
		}
		env.From, env.SMTPUTF8 = envelopeAddress(ca.Addr)
	} else {
		sender := fromField[0]
		if s, err := list("Sender"); err == nil && len(s) > 0 {
			sender = s[0]
		}
		env.From, env.SMTPUTF8 = envelopeAddress(sender.Addr)
	}
	if len(to) > maxRcpts {
		return nil, nil, badRequest("to", "%d recipients; the limit is %d", len(to), maxRcpts)
	}
	if len(to) > 0 {
		for i, s := range to {
			a, err := mail.ParseAddress(s)
			if err != nil {
				return nil, nil, badRequest(fmt.Sprintf("to[%d]", i), "not an address: %v", err)
			}
			ca, err := mailbox(fmt.Sprintf("to[%d]", i), a)
			if err != nil {
				return nil, nil, err
			}
			env.addRecipients([]compose.Address{ca})
		}
	} else {
		for _, name := range []string{"To", "Cc", "Bcc"} {
			l, err := list(name)
			if err != nil {
				return nil, nil, err
			}
			env.addRecipients(l)
		}
	}
	if len(env.To) == 0 {
		return nil, nil, badRequest("to", "no recipient: give to=ADDRESS in the query, or To, Cc or Bcc fields")
	}
	hdr = dropFields(hdr, "Bcc", "Resent-Bcc")
	var add []byte
	if h.Get("Date") == "" {
		add = append(add, "Date: "+now.Format("Mon, 02 Jan 2006 15:04:05 -0700")+"\r\n"...)
	}
	if h.Get("Message-ID") == "" {
		id, err := b.NewMessageID(fromField[0].Addr)
		if err != nil {
			return nil, nil, err
		}
		add = append(add, "Message-ID: <"+id+">\r\n"...)
	}
	out := make([]byte, 0, len(add)+len(hdr)+2+len(body))
	out = append(append(append(append(out, add...), hdr...), "\r\n"...), body...)
	env.SMTPUTF8 = env.SMTPUTF8 || !isASCII(hdr)
	env.EightBit = !isASCII(body)
	return out, env, nil
}

// textprotoKey is the canonical form of a header name in mail.Header.
func textprotoKey(name string) string {
	return strings.ToUpper(name[:1]) + strings.ToLower(name[1:])
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// crlf makes every line end CRLF: a message written on Unix (curl
// --data-binary @mail.eml) has LF ends, which SMTP does not carry (RFC
// 5321 2.3.8).
func crlf(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) && !bytes.Contains(b, []byte("\r")) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/40)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

// longLine returns the number of the first line longer than
// compose.MaxLineLength, or 0.
func longLine(b []byte) int {
	for n := 1; len(b) > 0; n++ {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			i = len(b)
		}
		if i > compose.MaxLineLength {
			return n
		}
		b = b[min(i+2, len(b)):]
	}
	return 0
}

// splitHeader splits a CRLF message after the header section: hdr ends
// with its last field's CRLF, body follows the empty line.
func splitHeader(b []byte) (hdr, body []byte) {
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return nil, b[2:]
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return b[:i+2], b[i+4:]
	}
	return b, nil
}

// dropFields removes the fields named names (and their continuation
// lines) from a header section.
func dropFields(hdr []byte, names ...string) []byte {
	out := make([]byte, 0, len(hdr))
	drop := false
	for len(hdr) > 0 {
		i := bytes.Index(hdr, []byte("\r\n"))
		line := hdr[:i+2]
		hdr = hdr[i+2:]
		if line[0] != ' ' && line[0] != '\t' {
			drop = false
			if name, _, ok := bytes.Cut(line, []byte(":")); ok {
				for _, n := range names {
					if strings.EqualFold(strings.TrimSpace(string(name)), n) {
						drop = true
					}
				}
			}
		}
		if !drop {
			out = append(out, line...)
		}
	}
	return out
}
