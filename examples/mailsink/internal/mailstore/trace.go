package mailstore

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Trace is what mailsink knows of how a message arrived. It is written
// into the message as its Received field (RFC 5321 4.4) and read back from
// it, so it survives restarts and is there for any mail reader.
type Trace struct {
	ClientIP string `json:"client_ip"` // the client's IP address ("127.0.0.1", "::1")
	Helo     string `json:"helo"`      // the name it gave with HELO, EHLO or LHLO
	// Protocol is the "with" keyword of RFC 3848 and RFC 6531 3.7.3:
	// SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTPS..., LMTP...
	Protocol   string    `json:"protocol"`
	TLSVersion string    `json:"tls_version,omitempty"` // "TLS 1.3"; "" without TLS
	TLSCipher  string    `json:"tls_cipher,omitempty"`  // "TLS_AES_128_GCM_SHA256"
	AuthUser   string    `json:"auth_user,omitempty"`   // the identity it authenticated as
	ConnID     string    `json:"conn_id"`               // the server's connection id
	Hostname   string    `json:"hostname"`              // mailsink's own name ("by")
	For        string    `json:"for,omitempty"`         // the recipient, when there was exactly one
	Time       time.Time `json:"time"`
}

// Protocol returns the "with" keyword for a session: base is "SMTP" (after
// HELO), "ESMTP" (after EHLO) or "LMTP"; utf8 is set when the message was
// sent with SMTPUTF8 (RFC 6531 3.7.3 prefixes "UTF8"); tls and auth add the
// "S" and "A" of RFC 3848 (which registers them for ESMTP and LMTP only).
func Protocol(base string, utf8, tls, auth bool) string {
	p := base
	if utf8 && base != "SMTP" {
		// RFC 6531 3.7.3: UTF8SMTP for ESMTP, UTF8LMTP for LMTP.
		p = "UTF8" + strings.TrimPrefix(base, "E")
	}
	if base == "SMTP" {
		return p
	}
	if tls {
		p += "S"
	}
	if auth {
		p += "A"
	}
	return p
}

// receivedMarker is the comment after the "by" name that tells mailsink's
// own Received field from others.
const receivedMarker = " (mailsink) "

// AppendReceived appends the trace as a Received field (RFC 5321 4.4):
//
//	Received: from HELO ([IP])
//		(using TLS 1.3 with cipher TLS_AES_128_GCM_SHA256)
//		(authenticated as alice)
//		by HOSTNAME (mailsink) with ESMTPSA id CONNID
//		for <rcpt>; DATE
//
// Names from the network are cleaned: the HELO name keeps only characters
// of a domain or address literal, the user name is written as a comment
// with "(", ")" and "\" quoted (RFC 5322 3.2.2) and controls dropped.
func (t *Trace) AppendReceived(b []byte) []byte {
	helo := cleanName(t.Helo)
	if helo == "" {
		helo = "unknown"
	}
	b = append(b, "Received: from "...)
	b = append(b, helo...)
	b = append(b, " ("...)
	b = appendAddressLiteral(b, t.ClientIP)
	b = append(b, ')')
	if t.TLSVersion != "" {
		b = append(b, "\r\n\t(using "...)
		b = appendComment(b, t.TLSVersion)
		b = append(b, " with cipher "...)
		b = appendComment(b, t.TLSCipher)
		b = append(b, ')')
	}
	if t.AuthUser != "" {
		b = append(b, "\r\n\t(authenticated as "...)
		b = appendComment(b, t.AuthUser)
		b = append(b, ')')
	}
	b = append(b, "\r\n\tby "...)
	b = append(b, cleanName(t.Hostname)...)
	b = append(b, receivedMarker...)
	b = append(b, "with "...)
	b = append(b, t.Protocol...)
	if id := cleanName(t.ConnID); id != "" {
		b = append(b, " id "...)
		b = append(b, id...)
	}
	if t.For != "" {
		b = append(b, "\r\n\tfor <"...)
		b = append(b, t.For...)
		b = append(b, '>')
	}
	b = append(b, ";\r\n\t"...)
	b = t.Time.AppendFormat(b, time.RFC1123Z)
	return append(b, "\r\n"...)
}

// appendAddressLiteral appends an IP as an address literal (RFC 5321
// 4.1.3): [192.0.2.1] or [IPv6:2001:db8::1].
func appendAddressLiteral(b []byte, ip string) []byte {
	b = append(b, '[')
	if strings.Contains(ip, ":") {
		b = append(b, "IPv6:"...)
	}
	b = append(b, cleanName(ip)...)
	return append(b, ']')
}

// maxTraceName bounds a name from the network in the trace: a domain's
// limit (RFC 1035 2.3.4).
const maxTraceName = 255

// cleanName keeps the characters of a domain, address literal or atom
// (letters, digits, "-._:[]", and UTF-8 letters for RFC 6531 names), at
// most maxTraceName bytes.
func cleanName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxTraceName {
			break
		}
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._:[]", r)):
		case r >= utf8.RuneSelf && unicode.IsLetter(r):
		default:
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// appendComment appends s as comment text (RFC 5322 3.2.2): "(", ")" and
// "\" are quoted with a backslash, controls and invalid UTF-8 dropped, at
// most maxTraceName bytes.
func appendComment(b []byte, s string) []byte {
	n := 0
	for _, r := range s {
		if n >= maxTraceName {
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			continue
		}
		if r == '(' || r == ')' || r == '\\' {
			b = append(b, '\\')
		}
		b = utf8.AppendRune(b, r)
		n += utf8.RuneLen(r)
	}
	return b
}

// ParseReceived reads back a Received field value written by
// AppendReceived (unfolded, without the field name); ok is false for any
// other Received field.
func ParseReceived(v string) (t Trace, ok bool) {
	if !strings.Contains(v, receivedMarker) {
		return Trace{}, false
	}
	rest, ok := strings.CutPrefix(v, "from ")
	if !ok {
		return Trace{}, false
	}
	t.Helo, rest, _ = strings.Cut(rest, " ")
	if lit, after, ok := strings.Cut(rest, ")"); ok {
		lit = strings.Trim(lit, " ([]")
		t.ClientIP = strings.TrimPrefix(lit, "IPv6:")
		rest = after
	}
	for {
		rest = strings.TrimLeft(rest, " \t")
		if !strings.HasPrefix(rest, "(") {
			break
		}
		var c string
		c, rest = readComment(rest[1:])
		switch {
		case strings.HasPrefix(c, "using "):
			t.TLSVersion, t.TLSCipher, _ = strings.Cut(strings.TrimPrefix(c, "using "), " with cipher ")
		case strings.HasPrefix(c, "authenticated as "):
			t.AuthUser = strings.TrimPrefix(c, "authenticated as ")
		}
	}
	by, rest, _ := strings.Cut(strings.TrimPrefix(rest, "by "), receivedMarker)
	t.Hostname = by
	// The recipient of "for" may hold spaces and semicolons (a quoted
	// local part, RFC 5321 4.1.2): the date is after the last ";", the
	// address from "for <" to the last ">", and only what precedes it has
	// "with" and "id" (which are mailsink's own, without spaces).
	fields, date := rest, ""
	if i := strings.LastIndexByte(rest, ';'); i >= 0 {
		fields, date = rest[:i], rest[i+1:]
	}
	if before, rcpt, ok := strings.Cut(fields, "for <"); ok {
		fields = before
		t.For = strings.TrimSuffix(strings.TrimSpace(rcpt), ">")
	}
	words := strings.Fields(fields)
	for i := 0; i+1 < len(words); i++ {
		switch words[i] {
		case "with":
			t.Protocol = words[i+1]
		case "id":
			t.ConnID = words[i+1]
		}
	}
	t.Time, _ = time.Parse(time.RFC1123Z, strings.TrimSpace(date))
	return t, true
}

// readComment reads a comment's text after its "(" and returns it
// unquoted, and what follows its ")".
func readComment(s string) (text, rest string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case ')':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}
