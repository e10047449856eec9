package webhook

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/smtpkit/smtp/examples/internal/mimeparse"
)

// DefaultMaxAttachment is the largest attachment whose content is put in
// the payload; a larger one is listed with Omitted set, and the receiver
// reads it from the raw message by its part number.
const DefaultMaxAttachment = 5 << 20

// Payload is the JSON body POSTed to a webhook for one message.
type Payload struct {
	// ID is the gateway's queue ID (the X-Smtpkit-Id header). A message
	// for recipients of several routed domains comes in one request per
	// domain, each with this ID: it names the message, not the request.
	ID string `json:"id"`
	// DeliveryID names this delivery: the message and the recipient
	// domain it is for, "ID/domain". It is the same in every attempt and
	// differs between the requests of one message, so a receiver drops a
	// request whose DeliveryID it has already taken (a retry after a lost
	// response, or a replay within the signature's tolerance) and nothing
	// else. It is in the signed body; the headers are not signed.
	DeliveryID string `json:"delivery_id"`
	// ReceivedAt is when the gateway accepted the message.
	ReceivedAt time.Time `json:"received_at"`
	Envelope   Envelope  `json:"envelope"`

	// The common header fields, decoded (RFC 2047 words, RFC 6532 UTF-8).
	MessageID string    `json:"message_id"`
	Date      time.Time `json:"date,omitzero"`
	Subject   string    `json:"subject"`
	From      []Address `json:"from"`
	To        []Address `json:"to"`
	Cc        []Address `json:"cc"`
	ReplyTo   []Address `json:"reply_to"`
	// Headers is every header field in order, the gateway's Received
	// field first, values decoded.
	Headers []Header `json:"headers"`

	// Text and HTML are the bodies a mail reader shows, in UTF-8 with LF
	// line ends.
	Text string `json:"text"`
	HTML string `json:"html"`
	// Attachments are the attachments and the inline parts (images an
	// HTML body shows), in the order of the message.
	Attachments []Attachment `json:"attachments"`

	// Raw is the message as received (base64 in JSON), the gateway's
	// Received field first.
	Raw []byte `json:"raw"`
	// Problems says where the message does not follow the format; the
	// fields above are then the best reading of it.
	Problems []string `json:"problems,omitempty"`
}

// Envelope is the SMTP envelope of a message.
type Envelope struct {
	// MailFrom is the reverse-path, "" for the null one (a bounce).
	MailFrom string `json:"mail_from"`
	// RcptTo are the recipients this webhook gets the message for.
	RcptTo []string `json:"rcpt_to"`
	// RemoteAddr is the SMTP client's address.
	RemoteAddr string `json:"remote_addr,omitempty"`
	// SMTPUTF8 and EightBitMIME are the MAIL parameters given (RFC 6531,
	// RFC 6152).
	SMTPUTF8     bool `json:"smtputf8"`
	EightBitMIME bool `json:"8bitmime"`
}

// Address is a mailbox of an address field.
type Address struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Header is a header field.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Attachment is an attachment or an inline part.
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	// Disposition is "attachment", "inline" or "" (RFC 2183).
	Disposition string `json:"disposition"`
	// ContentID is the Content-ID without angle brackets: an HTML body
	// refers to the part as "cid:" + ContentID (RFC 2392).
	ContentID string `json:"content_id,omitempty"`
	// Size is the size of the decoded content in bytes.
	Size int `json:"size"`
	// Part is the part's number in the raw message, as IMAP numbers them
	// (RFC 3501 6.4.5): "2", "1.2"...
	Part string `json:"part"`
	// Content is the decoded content (base64 in JSON), unless Omitted.
	Content []byte `json:"content,omitempty"`
	// Omitted says that the content is larger than the gateway puts in a
	// payload: read the part from Raw.
	Omitted bool `json:"omitted,omitempty"`
}

// NewPayload builds the payload of message raw (Received field included),
// queued as id at received, for the envelope env. Attachments larger than
// maxAttachment bytes (DefaultMaxAttachment when zero; negative: none is
// inlined) are listed without their content.
func NewPayload(id string, received time.Time, env Envelope, raw []byte, maxAttachment int) *Payload {
	if maxAttachment == 0 {
		maxAttachment = DefaultMaxAttachment
	}
	m := mimeparse.Parse(raw)
	p := &Payload{
		ID: id, ReceivedAt: received, Envelope: env,
		MessageID: m.MessageID, Date: m.Date, Subject: m.Subject,
		From: addresses(m.From), To: addresses(m.To), Cc: addresses(m.Cc), ReplyTo: addresses(m.ReplyTo),
		Headers: make([]Header, len(m.Header)),
		Text:    m.Text, HTML: m.HTML,
		Attachments: []Attachment{},
		Raw:         raw,
	}
	if p.Envelope.RcptTo == nil {
		p.Envelope.RcptTo = []string{}
	}
	for i, f := range m.Header {
		p.Headers[i] = Header{Name: f.Name, Value: f.Value}
	}
	shown := map[*mimeparse.Part]bool{}
	for _, a := range m.Attachments {
		shown[a] = true
	}
	for _, a := range m.Inline {
		shown[a] = true
	}
	for _, part := range m.Parts {
		if !shown[part] {
			continue
		}
		a := Attachment{
			Filename: part.Filename, ContentType: part.ContentType, Disposition: part.Disposition,
			ContentID: part.ContentID, Size: part.Size(), Part: part.Path,
		}
		if maxAttachment >= 0 && part.Size() <= maxAttachment {
			a.Content = part.Data
			if a.Content == nil {
				a.Content = []byte{}
			}
		} else {
			a.Omitted = true
		}
		p.Attachments = append(p.Attachments, a)
	}
	for _, pr := range m.Problems {
		p.Problems = append(p.Problems, pr.Error())
	}
	return p
}

func addresses(as []mimeparse.Address) []Address {
	out := make([]Address, len(as))
	for i, a := range as {
		out[i] = Address{Name: a.Name, Address: a.Address}
	}
	return out
}

// Marshal returns the JSON body, without the escaping of '<', '>' and '&'
// that json.Marshal does for HTML pages (the body is not one).
func (p *Payload) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
