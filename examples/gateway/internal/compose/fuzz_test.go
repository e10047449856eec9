package compose

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/envelope"
)

// FuzzBuildRoundTrip builds messages from arbitrary values and reads them
// back with the standard library's parsers: a build either fails with a
// FieldError or gives a message within the line limits whose subject,
// names, addresses, bodies, file names and attachment bytes read back as
// given.
func FuzzBuildRoundTrip(f *testing.F) {
	f.Add("Grüße", "René Müller", "rene", "example.org", "Hallo\nWelt", "<p>hi</p>", "résumé.pdf", []byte("%PDF\x00"), "x-tag value")
	f.Add("=?utf-8?q?x?=", "Smith, John", "a.b", "bücher.example", ".\r\n..\r", "", "", []byte{}, "")
	f.Add(strings.Repeat("long ", 50), strings.Repeat("名", 40), "用户", "例え.jp", strings.Repeat("x", 2000), "<b>", "a\"b\\c", []byte("y"), strings.Repeat("ü", 100))
	f.Fuzz(func(t *testing.T, subject, name, local, domain, text, html, filename string, content []byte, xval string) {
		m := &Message{
			From:    Address{Name: name},
			To:      []Address{{Name: name}, {}},
			Subject: subject,
			Text:    text,
			HTML:    html,
			Header:  []Field{{"X-Fuzz", xval}},
		}
		m.From.Addr.Local, m.From.Addr.Domain = local, domain
		if _, err := envelope.ParseAddress(local+"@"+domain, envelope.ParseOptions{SMTPUTF8: true}); err != nil {
			// Most random addresses are not addresses: exercise the
			// other values with one that is.
			m.From.Addr.Local, m.From.Addr.Domain = "from", "example.org"
		}
		m.To[0].Addr = m.From.Addr
		m.To[1].Addr.Local, m.To[1].Addr.Domain = "plain", "example.net"
		if filename != "" || len(content) > 0 {
			m.Attachments = []Attachment{{Filename: filename, ContentType: "application/octet-stream", Content: content}}
		}
		b, err := (&Builder{Hostname: "gw.example"}).Build(m)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FieldError", err)
			}
			return
		}
		checkLines(t, b.Data, b.SMTPUTF8)
		p := parseBack(t, b.Data)
		if got, want := strings.TrimSpace(p.subject), strings.TrimSpace(subject); got != want {
			t.Errorf("subject %q, want %q", got, want)
		}
		if len(p.from) != 1 || len(p.to) != 2 {
			t.Fatalf("from %v to %v", p.from, p.to)
		}
		if got, want := strings.Join(strings.Fields(p.from[0].Name), " "), strings.Join(strings.Fields(name), " "); got != want {
			t.Errorf("name %q, want %q", got, want)
		}
		if p.to[1].Address != "plain@example.net" {
			t.Errorf("second recipient %q", p.to[1].Address)
		}
		want := crlf(text)
		if p.text != want && p.text != want+"\r\n" {
			t.Errorf("text %q, want %q", p.text, want)
		}
		if want := crlf(html); p.html != want && p.html != want+"\r\n" {
			t.Errorf("html %q, want %q", p.html, want)
		}
		if m.Attachments != nil {
			if len(p.attachments) != 1 {
				t.Fatalf("attachments %+v", p.attachments)
			}
			a := p.attachments[0]
			if a.filename != filename || !bytes.Equal(a.content, content) {
				t.Errorf("attachment %q (%d bytes), want %q (%d bytes)", a.filename, len(a.content), filename, len(content))
			}
		}
		if got, _ := wordDecoder.DecodeHeader(p.header.Get("X-Fuzz")); strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(xval), " ") {
			t.Errorf("X-Fuzz %q, want %q", got, xval)
		}
	})
}
