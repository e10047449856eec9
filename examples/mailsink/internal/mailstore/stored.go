package mailstore

import (
	"bytes"
	"strings"

	"github.com/smtpkit/smtp/examples/internal/mimeparse"
)

// Envelope is the SMTP envelope mailsink wrote at the top of a file.
type Envelope struct {
	MailFrom string   `json:"mail_from"` // the reverse-path, "" for <>
	RcptTo   []string `json:"rcpt_to"`
}

// split separates a stored file into mailsink's lines (the contract's
// "Return-Path: <from>" and "X-Envelope-To: a, b", then mailsink's own
// Received field) and the message as received. A file without them (put in
// the Maildir by another program) is all message.
func split(b []byte) (env Envelope, trace *Trace, msg []byte, hasEnv bool) {
	env, trace, _, msg, hasEnv = splitFile(b)
	return env, trace, msg, hasEnv
}

// splitFile is split that also returns what follows the envelope lines:
// the Received field and the message.
func splitFile(b []byte) (env Envelope, trace *Trace, forward, msg []byte, hasEnv bool) {
	msg = b
	line, rest, ok := cutCRLF(msg)
	from, okF := bytes.CutPrefix(line, []byte("Return-Path: <"))
	if !ok || !okF || !bytes.HasSuffix(from, []byte(">")) {
		return env, nil, b, b, false
	}
	line, rest2, ok := cutCRLF(rest)
	to, okT := bytes.CutPrefix(line, []byte("X-Envelope-To: "))
	if !ok || !okT {
		return env, nil, b, b, false
	}
	env.MailFrom = string(from[:len(from)-1])
	env.RcptTo = splitRecipients(string(to))
	msg, forward = rest2, rest2
	if v, after, ok := mimeparse.CutField(msg, "Received"); ok {
		if t, ok := ParseReceived(v); ok {
			trace, msg = &t, after
		}
	}
	return env, trace, forward, msg, true
}

// splitRecipients splits the X-Envelope-To list at each ", " outside a
// quoted local part, which may hold ", " itself (RFC 5321 4.1.2).
func splitRecipients(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++ // a quoted-pair
		case s[i] == '"':
			quoted = !quoted
		case !quoted && strings.HasPrefix(s[i:], ", "):
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 2
			i++
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func cutCRLF(b []byte) (line, rest []byte, ok bool) {
	return bytes.Cut(b, []byte("\r\n"))
}

// Message is a stored message read and parsed.
type Message struct {
	Summary
	Envelope Envelope
	Trace    *Trace // nil for a file mailsink did not write
	File     []byte // the file as stored
	Raw      []byte // the message as received: File without mailsink's lines
	// Forward is what a release sends on: mailsink's Received field and
	// the message, without the envelope lines (RFC 5321 4.4: Return-Path
	// is for the final delivery only).
	Forward []byte
	Parsed  *mimeparse.Message
}
