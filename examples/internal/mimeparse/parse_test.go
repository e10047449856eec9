package mimeparse

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// crlf turns the LF line ends of a test message into CRLF.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// att is the expected shape of an attachment or inline part.
type att struct {
	path, typ, name, cid, data string
}

func parts(ps []*Part) []att {
	var out []att
	for _, p := range ps {
		out = append(out, att{p.Path, p.ContentType, p.Filename, p.ContentID, string(p.Data)})
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		msg      []byte
		subject  string
		from     string // Address.String of the first From
		text     string
		html     string
		attach   []att
		inline   []att
		problems []string // substrings of the problems, in order
	}{
		{
			name:    "plain, no MIME",
			msg:     crlf("From: Ann <ann@example.org>\nSubject: hello\n\nline 1\nline 2\n"),
			subject: "hello", from: "Ann <ann@example.org>",
			text: "line 1\nline 2\n",
		},
		{
			name: "LF line ends, folded subject",
			msg:  []byte("Subject: a long\n subject\nFrom: b@example.org\n\nbody\n"),
			// RFC 5322 2.2.3: unfolding removes the line end only.
			subject: "a long subject", from: "b@example.org", text: "body\n",
		},
		{
			name: "alternative",
			msg: crlf(`Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

preamble
--b1
Content-Type: text/plain; charset=utf-8

plain text
--b1
Content-Type: text/html; charset=utf-8

<p>html</p>
--b1--
epilogue
`),
			subject: "alt", text: "plain text", html: "<p>html</p>",
		},
		{
			name: "encoded words in every charset",
			msg: crlf("Subject: =?UTF-8?B?w6l0w6k=?= =?ISO-8859-1?Q?=E9t=E9?= plain =?windows-1252?Q?=80?=\n" +
				"From: =?iso-8859-15?q?=A4uro?= <e@example.org>\n\nx\n"),
			// RFC 2047 6.2: white space between adjacent encoded words
			// goes, the rest stays.
			subject: "étéété plain €", from: "€uro <e@example.org>", text: "x\n",
		},
		{
			name:    "raw UTF-8 and raw Latin-1 header",
			msg:     []byte("Subject: \xc3\xa7a va\r\nFrom: \xe9mile <e@example.org>\r\n\r\nx\r\n"),
			subject: "ça va", from: "émile <e@example.org>", text: "x\n",
		},
		{
			name: "quoted-printable and charsets",
			msg: crlf(`Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

caf=E9 a=3Db soft=
 break  
=XY stays
`),
			text:     "café a=b soft break\n=XY stays\n",
			problems: []string{"invalid quoted-printable"},
		},
		{
			name: "mixed with attachments: RFC 2231 and RFC 2047 names",
			msg: crlf(`Subject: files
Content-Type: multipart/mixed; boundary=XX

--XX
Content-Type: text/plain

see attached
--XX
Content-Type: application/pdf; name="ignored.pdf"
Content-Disposition: attachment; filename*=iso-8859-1''r%E9sum%E9.pdf
Content-Transfer-Encoding: base64

JVBE
Ri0x
--XX
Content-Type: text/plain; name="=?UTF-8?B?w6l0w6kudHh0?="
Content-Disposition: attachment

x
--XX
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=UTF-8''%E2%82%AC; filename*1="-long";
 filename*2=".bin"
Content-Transfer-Encoding: quoted-printable

=00=01
--XX--
`),
			subject: "files", text: "see attached",
			attach: []att{
				{"2", "application/pdf", "résumé.pdf", "", "%PDF-1"},
				{"3", "text/plain", "été.txt", "", "x"},
				{"4", "application/octet-stream", "€-long.bin", "", "\x00\x01"},
			},
		},
		{
			name: "nested: mixed(alternative(text, related(html, image)), attachment)",
			msg: crlf(`Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

caf` + "\xc3\xa9" + `
--alt
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html

<img src="cid:logo@x">
--rel
Content-Type: image/png
Content-ID: <logo@x>
Content-Transfer-Encoding: base64

iVBORw==
--rel--
--alt--
--outer
Content-Type: image/gif; name=a.gif

GIF
--outer--
`),
			text: "café", html: `<img src="cid:logo@x">`,
			inline: []att{{"1.2.2", "image/png", "", "logo@x", "\x89PNG"}},
			attach: []att{{"2", "image/gif", "a.gif", "", "GIF"}},
		},
		{
			name: "mixed: inline text parts add up",
			msg: crlf(`Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

one
--b
Content-Type: image/png
Content-Disposition: inline; filename=p.png

P
--b
Content-Type: text/plain

two
--b--
`),
			text:   "one\ntwo",
			inline: []att{{"2", "image/png", "p.png", "", "P"}},
		},
		{
			name: "multipart without a boundary shows the raw body",
			msg:  crlf("Content-Type: multipart/mixed\n\n--x\nhello\n--x--\n"),
			text: "--x\nhello\n--x--\n", problems: []string{"multipart without a boundary"},
		},
		{
			name: "boundary never occurs",
			msg:  crlf("Content-Type: multipart/mixed; boundary=zz\n\njust text\n"),
			text: "just text\n", problems: []string{`the boundary "zz" does not occur`},
		},
		{
			name: "no closing boundary, broken base64",
			msg: crlf(`Content-Type: multipart/mixed; boundary=zz

--zz

text
--zz
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

QUJD!RA
`),
			text:     "text",
			attach:   []att{{"2", "application/octet-stream", "", "", "ABCD"}},
			problems: []string{"the closing boundary is missing", "2: invalid base64"},
		},
		{
			name:     "no header at all",
			msg:      []byte("just some words\r\nand more\r\n"),
			text:     "just some words\nand more\n",
			problems: []string{"the message has no header"},
		},
		{
			name:     "unknown charset, malformed From, bad Date",
			msg:      crlf("From: <<broken\nDate: yesterday\nContent-Type: text/plain; charset=koi8-r\n\nabc\n"),
			from:     "<<broken",
			text:     "abc\n",
			problems: []string{"From: not a valid address list", "unreadable Date", `unknown charset "koi8-r"`},
		},
		{
			name: "digest parts default to message/rfc822",
			msg: crlf(`Content-Type: multipart/digest; boundary=d

--d

Subject: inner

hi
--d--
`),
			attach: []att{{"1", "message/rfc822", "", "", "Subject: inner\r\n\r\nhi"}},
		},
		{
			name:     "unterminated quoted parameter and a parameter without value",
			msg:      crlf("Content-Type: text/plain; format; charset=\"utf-8\n\nx\n"),
			text:     "x\n",
			problems: []string{"malformed Content-Type"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Parse(tc.msg)
			if m.Subject != tc.subject {
				t.Errorf("Subject %q, want %q", m.Subject, tc.subject)
			}
			from := ""
			if len(m.From) > 0 {
				from = m.From[0].String()
			}
			if from != tc.from {
				t.Errorf("From %q, want %q", from, tc.from)
			}
			if m.Text != tc.text || m.HTML != tc.html {
				t.Errorf("Text %q HTML %q, want %q %q", m.Text, m.HTML, tc.text, tc.html)
			}
			if got := parts(m.Attachments); !slices.Equal(got, tc.attach) {
				t.Errorf("attachments %q, want %q", got, tc.attach)
			}
			if got := parts(m.Inline); !slices.Equal(got, tc.inline) {
				t.Errorf("inline %q, want %q", got, tc.inline)
			}
			if len(m.Problems) != len(tc.problems) {
				t.Fatalf("problems %v, want %q", m.Problems, tc.problems)
			}
			for i, p := range m.Problems {
				if !strings.Contains(p.Error(), tc.problems[i]) {
					t.Errorf("problem %d: %q, want %q", i, p.Error(), tc.problems[i])
				}
			}
		})
	}
}

func TestHeaderFieldsInOrder(t *testing.T) {
	m := Parse(crlf("Received: one\nX-A: =?utf-8?q?d=C3=A9cod=C3=A9?=\nReceived: two\n  folded\nDate: Mon, 02 Jan 2006 15:04:05 -0700\nMessage-ID: <id@x>\nTo: a@x, \"B, b\" <b@x>\nCc: c@x\n\n"))
	var names []string
	for _, f := range m.Header {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "Received,X-A,Received,Date,Message-ID,To,Cc" {
		t.Errorf("fields %s", got)
	}
	if m.Header[1].Raw != "=?utf-8?q?d=C3=A9cod=C3=A9?=" || m.Header[1].Value != "décodé" {
		t.Errorf("X-A raw %q value %q", m.Header[1].Raw, m.Header[1].Value)
	}
	if got := m.Header.Values("received"); len(got) != 2 || got[1] != "two  folded" {
		t.Errorf("Received values %q", got)
	}
	if !m.Date.Equal(time.Date(2006, 1, 2, 22, 4, 5, 0, time.UTC)) || m.MessageID != "id@x" {
		t.Errorf("Date %v Message-ID %q", m.Date, m.MessageID)
	}
	if len(m.To) != 2 || m.To[1].Name != "B, b" || m.To[1].Address != "b@x" || len(m.Cc) != 1 {
		t.Errorf("To %v Cc %v", m.To, m.Cc)
	}
}

func TestLimits(t *testing.T) {
	// Nesting one deeper than the limit: the innermost multipart is shown
	// as text.
	var b bytes.Buffer
	const depth = 4
	for i := range depth {
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + string(rune('0'+i)) + "\r\n\r\n--b" + string(rune('0'+i)) + "\r\n")
	}
	b.WriteString("\r\ninner\r\n")
	m := (&Parser{MaxDepth: depth - 1}).Parse(b.Bytes())
	if n := len(m.Problems); n == 0 || !strings.Contains(m.Problems[n-1].Error(), "part 1.1.1: multiparts nested too deep") {
		t.Errorf("problems %v", m.Problems)
	}
	if !strings.Contains(m.Text, "--b3") {
		t.Errorf("text %q does not show the raw innermost multipart", m.Text)
	}
	// Too many parts: the rest is cut.
	b.Reset()
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 10 {
		b.WriteString("--b\r\nContent-Type: application/x\r\n\r\nx\r\n")
	}
	b.WriteString("--b--\r\n")
	m = (&Parser{MaxParts: 4}).Parse(b.Bytes())
	if len(m.Parts) != 3 || len(m.Problems) != 1 || !strings.Contains(m.Problems[0].Reason, "too many parts") {
		t.Errorf("%d parts, problems %v", len(m.Parts), m.Problems)
	}
	if m := (&Parser{MaxParts: -1}).Parse(b.Bytes()); len(m.Parts) != 10 {
		t.Errorf("no limit: %d parts", len(m.Parts))
	}
}

func TestDecoders(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"QUJD\r\nREVG", "ABCDEF"},
		{"QUI=", "AB"},
		{"QUI", "AB"},
		{"QQ==\r\n", "A"},
		{"Q", ""},
	} {
		if got, _ := decodeBase64([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("base64 %q: %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"a=\r\nb", "ab"},
		{"a= \r\nb", "ab"},
		{"a \t\r\nb", "a\r\nb"},
		{"=41=4a=4A", "AJJ"},
		{"end=", "end"},
		{"x=4", "x=4"},
	} {
		if got, _ := decodeQuotedPrintable([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("qp %q: %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ cs, in, want string }{
		{"windows-1252", "\x80\x93q\x94", "€“q”"},
		{"ISO-8859-15", "\xa4\xbc", "€Œ"},
		{"latin1", "\xa4\xe9", "¤é"},
		{"utf-8", "\xe9", "é"}, // mislabelled Latin-1
	} {
		if got, _ := decodeCharset(tc.cs, []byte(tc.in)); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.cs, tc.in, got, tc.want)
		}
	}
}

func TestSkipAttachmentData(t *testing.T) {
	msg := crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGk=\n--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0x\n--b--\n")
	m := (&Parser{SkipAttachmentData: true}).Parse(msg)
	if m.Text != "hi" || len(m.Attachments) != 1 || m.Attachments[0].Data != nil || m.Attachments[0].Size() != 8 {
		t.Errorf("text %q, attachments %+v", m.Text, m.Attachments)
	}
	if m := Parse(msg); string(m.Attachments[0].Data) != "%PDF-1" || m.Attachments[0].Size() != 6 {
		t.Errorf("decoded %q", m.Attachments[0].Data)
	}
}

func TestCutField(t *testing.T) {
	for _, tc := range []struct{ in, value, rest string }{
		{"Received: from a\r\n\tby b;\r\n date\r\nSubject: x\r\n", "from a\tby b; date", "Subject: x\r\n"},
		{"Received: x\r\n", "x", ""},
	} {
		v, rest, ok := CutField([]byte(tc.in), "Received")
		if !ok || v != tc.value || string(rest) != tc.rest {
			t.Errorf("%q: %v %q %q", tc.in, ok, v, rest)
		}
	}
	for _, in := range []string{"Subject: x\r\n", "Received: no end", "Received:x\r\n"} {
		if _, rest, ok := CutField([]byte(in), "Received"); ok || string(rest) != in {
			t.Errorf("%q taken", in)
		}
	}
}
