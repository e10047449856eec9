package dsn

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// DefaultMaxOriginal is the largest original message returned whole; a
// larger one is returned as its header section only (RFC 3462 / RFC 6522
// text/rfc822-headers), so that a bounce of a big message stays small.
const DefaultMaxOriginal = 1 << 20

// maxLine is the line length limit of RFC 5322 2.1.1 (998 octets before
// CRLF); foldAt is the recommended one (78).
const (
	maxLine = 998
	foldAt  = 78
)

// Action values of RFC 3464 2.3.3 used here.
const (
	ActionFailed  = "failed"
	ActionDelayed = "delayed"
)

// Recipient is the per-recipient part of a report (RFC 3464 2.3).
type Recipient struct {
	// FinalRecipient is the address the relay tried (Final-Recipient,
	// type rfc822, or utf-8 when it is not ASCII, RFC 6533 3).
	FinalRecipient string
	// OriginalRecipient is the ORCPT parameter as received, "type;value"
	// (Original-Recipient, RFC 3464 2.3.1); empty when absent.
	OriginalRecipient string
	// Action is ActionFailed (the default) or ActionDelayed.
	Action string
	// Status is the RFC 3463 status code, e.g. "5.1.1"; empty means
	// 5.0.0 for a failure and 4.0.0 for a delay.
	Status string
	// RemoteMTA is the host whose reply Diagnostic is (Remote-MTA, type
	// dns); empty when no remote server replied.
	RemoteMTA string
	// Diagnostic is either the remote server's reply, "550 5.1.1 text"
	// (with RemoteMTA), written as Diagnostic-Code of type smtp and as
	// "host X said: ..." in the text, or, when no server replied (a
	// connection that failed, a refusal of the relay itself), a local
	// explanation such as "connection to mx.example.net failed: ...",
	// written in the text only: RFC 3464 2.3.5 and 2.3.6 give Remote-MTA
	// and Diagnostic-Code to what the remote MTA reported, and Status
	// says the rest.
	Diagnostic string
	// LastAttempt is the time of the last attempt (Last-Attempt-Date).
	LastAttempt time.Time
}

// Report is a delivery status notification to build.
type Report struct {
	// ReportingMTA is the relay's host name (Reporting-MTA: dns; NAME).
	ReportingMTA string
	// To is the reverse-path of the original message: the recipient of
	// the notification. It must not be empty (see ShouldNotify).
	To string
	// EnvID is the original ENVID parameter (Original-Envelope-Id).
	EnvID string
	// Arrival is when the relay received the message (Arrival-Date).
	Arrival time.Time
	// Recipients are the failed (or delayed) recipients; at least one.
	Recipients []Recipient
	// Original is the original message.
	Original []byte
	// HeadersOnly returns only the original's header section (RET=HDRS,
	// RFC 3461 4.3).
	HeadersOnly bool
	// MaxOriginal is the largest original returned whole; zero means
	// DefaultMaxOriginal.
	MaxOriginal int
	// Redacted leaves out the original entirely, its header section too
	// (the third part is optional, RFC 6522 3): for a message sent with
	// REQUIRETLS, whose report may not be protected as the original was
	// (RFC 8689 5: a report that is not redacted must itself require
	// TLS). Whatever RET asked for is disregarded.
	Redacted bool
	// UTF8 makes an internationalized notification (RFC 6533):
	// message/global-delivery-status and message/global parts. Build sets
	// it by itself when an address or the original is not ASCII.
	UTF8 bool
	// Date is the notification's date; zero means now.
	Date time.Time
}

// ErrNoRecipient is returned by Build for a report without recipients, and
// ErrNullSender for one addressed to the null reverse-path.
var (
	ErrNoRecipient = errors.New("dsn: report has no recipient")
	ErrNullSender  = errors.New("dsn: never notify the null reverse-path")
)

// ShouldNotify reports whether a failure of a message with reverse-path from
// may be reported with a notification. RFC 5321 4.5.5 and RFC 3464 2: a
// message with the null reverse-path (a notification itself) is never
// answered with another one, which would risk an endless loop.
func ShouldNotify(from string) bool { return from != "" }

// NotifyOnFailure reports whether an RFC 3461 NOTIFY parameter value asks
// for a notification on failure: absent (the default) or listing FAILURE;
// NEVER or a list without FAILURE does not (RFC 3461 4.1).
func NotifyOnFailure(notify string) bool {
	if notify == "" {
		return true
	}
	for v := range strings.SplitSeq(notify, ",") {
		if strings.EqualFold(strings.TrimSpace(v), "FAILURE") {
			return true
		}
	}
	return false
}

// Build returns the notification message with CRLF line ends, and whether it
// contains 8-bit octets (then it must be sent with BODY=8BITMIME, RFC 6152,
// or SMTPUTF8 when r.UTF8).
func (r *Report) Build() (msg []byte, eightBit bool, err error) {
	if len(r.Recipients) == 0 {
		return nil, false, ErrNoRecipient
	}
	if !ShouldNotify(r.To) {
		return nil, false, ErrNullSender
	}
	original, headersOnly := r.original()
	if r.Redacted {
		original = nil
	}
	utf8 := r.UTF8 || !isASCII(r.To)
	for _, rc := range r.Recipients {
		utf8 = utf8 || !isASCII(rc.FinalRecipient)
	}
	date := r.Date
	if date.IsZero() {
		date = time.Now()
	}
	host := r.ReportingMTA
	if host == "" {
		host = "localhost"
	}
	boundary := newBoundary(original)

	var b bytes.Buffer
	// The header section. RFC 3834 5: Auto-Submitted marks an automatic
	// reply; the From is the conventional MAILER-DAEMON of the host.
	field(&b, "From", "Mail Delivery System <MAILER-DAEMON@"+host+">")
	field(&b, "To", "<"+r.To+">")
	field(&b, "Subject", subject(r.Recipients))
	field(&b, "Date", date.Format(time.RFC1123Z))
	field(&b, "Message-ID", "<"+randomHex(12)+"@"+host+">")
	field(&b, "Auto-Submitted", "auto-replied")
	field(&b, "MIME-Version", "1.0")
	// RFC 6522 3 and RFC 3464 2: multipart/report with report-type
	// delivery-status.
	field(&b, "Content-Type", `multipart/report; report-type=delivery-status; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	b.WriteString("This is a MIME-encapsulated delivery status notification.\r\n")

	// Part 1: the human-readable explanation.
	part(&b, boundary)
	if utf8 {
		field(&b, "Content-Type", "text/plain; charset=utf-8")
	} else {
		field(&b, "Content-Type", "text/plain; charset=us-ascii")
	}
	b.WriteString("\r\n")
	r.writeText(&b, host)

	// Part 2: the machine-readable status, RFC 3464 2.1.
	part(&b, boundary)
	if utf8 {
		field(&b, "Content-Type", "message/global-delivery-status") // RFC 6533 6.2
	} else {
		field(&b, "Content-Type", "message/delivery-status")
	}
	b.WriteString("\r\n")
	r.writeStatus(&b, host)

	if r.Redacted {
		b.WriteString("\r\n--" + boundary + "--\r\n")
		return b.Bytes(), !isASCII(b.String()), nil
	}
	// Part 3: the original message or its header section (RFC 3464 2,
	// RFC 6522 4; RFC 6533 6.3 and 6.4 for the global variants).
	part(&b, boundary)
	switch {
	case headersOnly && utf8:
		field(&b, "Content-Type", "message/global-headers")
	case headersOnly:
		field(&b, "Content-Type", "text/rfc822-headers")
	case utf8:
		field(&b, "Content-Type", "message/global")
	default:
		field(&b, "Content-Type", "message/rfc822")
	}
	eightBit = !isASCII(string(original))
	if eightBit {
		// RFC 2046 5.2.1: message/rfc822 allows 7bit, 8bit or binary only.
		field(&b, "Content-Transfer-Encoding", "8bit")
	}
	b.WriteString("\r\n")
	b.Write(original)
	if len(original) > 0 && !bytes.HasSuffix(original, []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	// The CRLF before a boundary belongs to the delimiter (RFC 2046
	// 5.1.1): one more keeps the original's last line end.
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), eightBit || !isASCII(b.String()), nil
}

// original returns what part 3 carries and whether it is headers only.
func (r *Report) original() ([]byte, bool) {
	limit := r.MaxOriginal
	if limit <= 0 {
		limit = DefaultMaxOriginal
	}
	if !r.HeadersOnly && len(r.Original) <= limit {
		return r.Original, false
	}
	return HeaderSection(r.Original), true
}

// HeaderSection returns the header section of msg, up to and including the
// empty line that ends it (RFC 5322 2.1), or all of msg when it has no body.
func HeaderSection(msg []byte) []byte {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return msg[:2]
	}
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+4]
	}
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		return msg[:i+2]
	}
	return msg
}

func subject(rs []Recipient) string {
	for _, rc := range rs {
		if rc.Action != "" && rc.Action != ActionFailed {
			return "Delivery Status Notification (Delay)"
		}
	}
	return "Undelivered Mail Returned to Sender"
}

func (r *Report) writeText(b *bytes.Buffer, host string) {
	b.WriteString("This is the mail system at host " + clean(host) + ".\r\n\r\n")
	failed, delayed := 0, 0
	for _, rc := range r.Recipients {
		if rc.Action == ActionDelayed {
			delayed++
		} else {
			failed++
		}
	}
	if failed > 0 {
		b.WriteString("Your message could not be delivered to one or more recipients.\r\n")
		if r.Redacted {
			b.WriteString("No further attempts will be made.\r\n")
		} else {
			b.WriteString("It is attached below. No further attempts will be made.\r\n")
		}
	}
	if delayed > 0 {
		b.WriteString("Delivery of your message to some recipients is delayed.\r\n")
		b.WriteString("Further attempts will be made; you need not resend it.\r\n")
	}
	if r.Redacted {
		b.WriteString("It was sent with REQUIRETLS (RFC 8689): this report, which need\r\n")
		b.WriteString("not travel over TLS, leaves out its header and content.\r\n")
	}
	b.WriteString("\r\n")
	for _, rc := range r.Recipients {
		line := "<" + clean(rc.FinalRecipient) + ">: "
		switch {
		case hasReply(rc):
			line += "host " + clean(rc.RemoteMTA) + " said: " + clean(rc.Diagnostic)
		case rc.Diagnostic != "":
			line += clean(rc.Diagnostic)
		default:
			line += statusOf(rc)
		}
		foldText(b, line)
	}
}

func (r *Report) writeStatus(b *bytes.Buffer, host string) {
	// Per-message fields, RFC 3464 2.2.
	field(b, "Reporting-MTA", "dns; "+host)
	if r.EnvID != "" {
		field(b, "Original-Envelope-Id", r.EnvID)
	}
	if !r.Arrival.IsZero() {
		field(b, "Arrival-Date", r.Arrival.Format(time.RFC1123Z))
	}
	// Per-recipient fields, RFC 3464 2.3, each group after an empty line.
	for _, rc := range r.Recipients {
		b.WriteString("\r\n")
		if rc.OriginalRecipient != "" {
			field(b, "Original-Recipient", rc.OriginalRecipient)
		}
		addrType := "rfc822"
		if !isASCII(rc.FinalRecipient) {
			addrType = "utf-8" // RFC 6533 3
		}
		field(b, "Final-Recipient", addrType+"; "+rc.FinalRecipient)
		action := rc.Action
		if action == "" {
			action = ActionFailed
		}
		field(b, "Action", action)
		field(b, "Status", statusOf(rc))
		if hasReply(rc) {
			// RFC 3464 2.3.5: the MTA that reported the status; 2.3.6:
			// its diagnostic, of type "smtp" for an SMTP reply. Without
			// a reply there is neither: a failed connection is not
			// something a host said.
			field(b, "Remote-MTA", "dns; "+rc.RemoteMTA)
			field(b, "Diagnostic-Code", "smtp; "+rc.Diagnostic)
		}
		if !rc.LastAttempt.IsZero() {
			field(b, "Last-Attempt-Date", rc.LastAttempt.Format(time.RFC1123Z))
		}
	}
}

// hasReply reports whether rc's Diagnostic is a remote server's reply:
// a host is named and the text is an SMTP reply. (A queue written by an
// older relay may name the host with a local explanation.)
func hasReply(rc Recipient) bool { return rc.RemoteMTA != "" && isSMTPReply(rc.Diagnostic) }

// statusOf returns a valid RFC 3463 status for rc: its Status when well
// formed, else one taken from its SMTP reply, else the generic code of its
// action.
func statusOf(rc Recipient) string {
	if validStatus(rc.Status) {
		return rc.Status
	}
	if isSMTPReply(rc.Diagnostic) {
		rest := rc.Diagnostic[4:]
		if i := strings.IndexByte(rest, ' '); i > 0 && validStatus(rest[:i]) && rest[0] == rc.Diagnostic[0] {
			return rest[:i]
		}
		if rc.Diagnostic[0] == '4' || rc.Diagnostic[0] == '5' {
			return rc.Diagnostic[:1] + ".0.0"
		}
	}
	if rc.Action == ActionDelayed {
		return "4.0.0"
	}
	return "5.0.0"
}

// validStatus checks the syntax of RFC 3463 2: class "." subject "." detail,
// class 2, 4 or 5, subject 1 to 3 digits, detail 1 to 3 digits.
func validStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.ContainsAny(parts[0], "245") {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// isSMTPReply reports whether s starts like an SMTP reply: three digits
// and a space (RFC 5321 4.2).
func isSMTPReply(s string) bool {
	return len(s) >= 4 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' &&
		s[2] >= '0' && s[2] <= '9' && (s[3] == ' ' || s[3] == '-')
}

// field writes "Name: value" CRLF, the value cleaned of line breaks and
// control characters and folded at spaces to keep lines short (RFC 5322
// 2.2.3), hard-wrapped only if a single word exceeds the 998-octet limit.
func field(b *bytes.Buffer, name, value string) {
	writeFolded(b, name+": "+clean(value), " ")
}

func foldText(b *bytes.Buffer, line string) { writeFolded(b, line, "    ") }

func writeFolded(b *bytes.Buffer, s, indent string) {
	first := true
	for len(s) > 0 {
		limit := foldAt
		if !first {
			limit -= len(indent)
		}
		if len(s) <= limit {
			if !first {
				b.WriteString(indent)
			}
			b.WriteString(s)
			break
		}
		// Break at the last space within the limit, or the first after it.
		cut := strings.LastIndexByte(s[:limit], ' ')
		if cut <= 0 {
			cut = strings.IndexByte(s, ' ')
			if cut <= 0 || cut > maxLine-len(indent) {
				cut = min(len(s), maxLine-len(indent))
			}
		}
		if !first {
			b.WriteString(indent)
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n")
		s = strings.TrimLeft(s[cut:], " ")
		first = false
		if len(s) == 0 {
			return
		}
	}
	b.WriteString("\r\n")
}

// clean replaces CR, LF and other control characters (which could end a
// field or inject new ones) with spaces and trims the result.
func clean(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func part(b *bytes.Buffer, boundary string) {
	b.WriteString("\r\n--" + boundary + "\r\n")
}

// newBoundary returns a random MIME boundary that does not occur in body
// (RFC 2046 5.1.1).
func newBoundary(body []byte) string {
	for {
		bd := "dsn-" + randomHex(16)
		if !bytes.Contains(body, []byte(bd)) {
			return bd
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
