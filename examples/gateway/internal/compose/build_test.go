package compose

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBuildFullMessage(t *testing.T) {
	pdf := bytes.Repeat([]byte("%PDF-1.4 \x00\x01\xff"), 300)
	m := &Message{
		From:    addr(t, "René Müller", "rene@example.org"),
		To:      []Address{addr(t, "", "bob@example.net"), addr(t, "Carol, Finance", "carol@example.net")},
		Cc:      []Address{addr(t, "Dora", "dora@bücher.example")},
		ReplyTo: []Address{addr(t, "", "replies@example.org")},
		Subject: "Rechnung für März — 100 € fällig",
		Text:    "Hallo,\nanbei die Rechnung.\n\nGrüße\n",
		HTML:    "<p>Hallo,</p><p>anbei die <b>Rechnung</b>.</p><img src=\"cid:logo\">",
		Attachments: []Attachment{
			{Filename: "rechnung-märz.pdf", ContentType: "application/pdf", Content: pdf},
			{Filename: "logo.png", ContentType: "image/png", Content: []byte("\x89PNG..."), ContentID: "logo"},
			{Filename: "notes.txt", Content: []byte("plain notes\n")},
		},
		Header: []Field{{"X-Campaign", "spring sale"}, {"X-Note", "überall"}},
		Date:   time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	b := build(t, m)
	if b.SMTPUTF8 {
		t.Error("SMTPUTF8 set for a message whose addresses have ASCII local parts")
	}
	p := parseBack(t, b.Data)
	if p.subject != m.Subject {
		t.Errorf("subject %q", p.subject)
	}
	if len(p.from) != 1 || p.from[0].Name != "René Müller" || p.from[0].Address != "rene@example.org" {
		t.Errorf("from %v", p.from)
	}
	if len(p.to) != 2 || p.to[1].Name != "Carol, Finance" || p.to[1].Address != "carol@example.net" {
		t.Errorf("to %v", p.to)
	}
	// The domain in Unicode is written as A-labels: the message stays ASCII.
	if len(p.cc) != 1 || p.cc[0].Address != "dora@xn--bcher-kva.example" {
		t.Errorf("cc %v", p.cc)
	}
	if len(p.replyTo) != 1 || p.replyTo[0].Address != "replies@example.org" {
		t.Errorf("reply-to %v", p.replyTo)
	}
	if p.text != crlf(m.Text) || p.html != crlf(m.HTML) {
		t.Errorf("bodies %q %q", p.text, p.html)
	}
	want := "multipart/mixed(multipart/alternative(text/plain multipart/related(text/html image/png)) application/pdf text/plain)"
	if p.structure != want {
		t.Errorf("structure\n %s\nwant\n %s", p.structure, want)
	}
	if len(p.attachments) != 3 {
		t.Fatalf("attachments %+v", p.attachments)
	}
	logo, inv, notes := p.attachments[0], p.attachments[1], p.attachments[2]
	if logo.contentID != "logo" || logo.disposition != "inline" || logo.filename != "logo.png" {
		t.Errorf("inline part %+v", logo)
	}
	if inv.filename != "rechnung-märz.pdf" || !bytes.Equal(inv.content, pdf) || inv.disposition != "attachment" {
		t.Errorf("pdf: %q, %d bytes, %s", inv.filename, len(inv.content), inv.disposition)
	}
	if notes.contentType != "text/plain" || string(notes.content) != "plain notes\n" {
		t.Errorf("notes %+v", notes)
	}
	if got := p.header.Get("X-Campaign"); got != "spring sale" {
		t.Errorf("X-Campaign %q", got)
	}
	if got, _ := wordDecoder.DecodeHeader(p.header.Get("X-Note")); got != "überall" {
		t.Errorf("X-Note %q", got)
	}
	if p.header.Get("Date") != "Sun, 01 Mar 2026 12:00:00 +0000" || p.header.Get("MIME-Version") != "1.0" {
		t.Errorf("Date %q, MIME-Version %q", p.header.Get("Date"), p.header.Get("MIME-Version"))
	}
	if id := p.header.Get("Message-ID"); id != "<"+b.MessageID+">" || !strings.HasSuffix(b.MessageID, "@gw.example") {
		t.Errorf("Message-ID %q (built %q)", id, b.MessageID)
	}
}

func TestBuildShapes(t *testing.T) {
	from := addr(t, "", "a@example.org")
	to := []Address{addr(t, "", "b@example.net")}
	cases := []struct {
		name string
		m    Message
		want string
	}{
		{"TextOnly", Message{Text: "hi"}, "text/plain"},
		{"HTMLOnly", Message{HTML: "<p>hi</p>"}, "text/html"},
		{"Alternative", Message{Text: "hi", HTML: "<p>hi</p>"}, "multipart/alternative(text/plain text/html)"},
		{"AttachmentOnly", Message{Attachments: []Attachment{{Filename: "a.bin", Content: []byte{1}}}}, "multipart/mixed(application/octet-stream)"},
		// With no HTML to show it in, a part with a Content-ID is an
		// attachment like the others.
		{"InlineWithoutHTML", Message{Text: "x", Attachments: []Attachment{{Filename: "i.png", ContentType: "image/png", ContentID: "i"}}}, "multipart/mixed(text/plain image/png)"},
		{"HTMLWithInline", Message{HTML: "<img src=cid:i>", Attachments: []Attachment{{ContentType: "image/png", ContentID: "i"}}}, "multipart/related(text/html image/png)"},
		{"ForwardedMessage", Message{Text: "fwd", Attachments: []Attachment{{ContentType: "message/rfc822", Content: []byte("Subject: x\n\nbody\n")}}}, "multipart/mixed(text/plain message/rfc822)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			m.From, m.To = from, to
			p := parseBack(t, build(t, &m).Data)
			if p.structure != tc.want {
				t.Errorf("structure %s, want %s", p.structure, tc.want)
			}
		})
	}
}

// TestBodyEncodings: 7bit for short-lined ASCII, quoted-printable for
// mostly ASCII, base64 for mostly not; every form decodes to the text.
func TestBodyEncodings(t *testing.T) {
	cases := []struct{ name, text, cte string }{
		{"ShortASCII", "line one\nline two\n", "7bit"},
		{"LongASCIILine", strings.Repeat("word ", 40) + "\n", "quoted-printable"},
		{"Accents", "Grüße aus Köln, schöne Tage\n", "quoted-printable"},
		{"CJK", strings.Repeat("你好世界", 30), "base64"},
		{"TrailingSpace", "ends with space \nand tab\t\n", "7bit"},
		{"ControlChar", "bell\x07\n", "quoted-printable"},
		{"LoneCR", "a\rb\r\nc", "7bit"},
		{"DotLines", ".\n..\n.x\n", "7bit"},
		{"EqualsSigns", "=?utf-8?q?x?= and =_ not special in bodies, a=b\n", "7bit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &Message{From: addr(t, "", "a@example.org"), Text: tc.text}
			b := build(t, m)
			p := parseBack(t, b.Data)
			if got := p.header.Get("Content-Transfer-Encoding"); got != tc.cte {
				t.Errorf("encoding %s, want %s", got, tc.cte)
			}
			if p.text != crlf(tc.text) && p.text != crlf(tc.text)+"\r\n" {
				t.Errorf("text %q, want %q", p.text, crlf(tc.text))
			}
		})
	}
}

// TestHeaderEncoding: subjects and names that need encoded words get them,
// within the line limits, and decode to what was given.
func TestHeaderEncoding(t *testing.T) {
	long := strings.Repeat("Ünïcödé ", 30)
	cases := []struct {
		name, subject, display string
	}{
		{"ASCII", "Quarterly report", "Alice Smith"},
		{"LongASCIISubject", strings.TrimSpace(strings.Repeat("status ", 40)), "Alice"},
		{"UnbreakableWord", strings.Repeat("x", 200), "A"},
		{"LooksLikeEncodedWord", "=?utf-8?q?not_me?= literally", "=?utf-8?q?Ren=C3=A9?="},
		{"Specials", "a \"quoted\" (subject)", "Smith, John (Sales) \"JS\""},
		{"LongUnicode", long, long},
		{"Emoji", "🎉 launch day 🚀", "🙂"},
		{"Tab", "a\tb", "x\ty"},
		{"MultipleSpaces", "a   b", "Al  Smith"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &Message{From: addr(t, tc.display, "a@example.org"), Subject: tc.subject, Text: "x"}
			p := parseBack(t, build(t, m).Data)
			if p.subject != tc.subject {
				t.Errorf("subject %q, want %q", p.subject, tc.subject)
			}
			if len(p.from) != 1 || p.from[0].Name != tc.display {
				t.Errorf("name %q, want %q", p.from[0].Name, tc.display)
			}
		})
	}
}

func TestUTF8LocalPart(t *testing.T) {
	m := &Message{From: addr(t, "", "a@example.org"), To: []Address{addr(t, "Jürgen", "jürgen@bücher.example")}, Text: "x"}
	b := build(t, m)
	if !b.SMTPUTF8 {
		t.Fatal("SMTPUTF8 not set for a UTF-8 local part")
	}
	if !bytes.Contains(b.Data, []byte("<jürgen@bücher.example>")) {
		t.Errorf("address not in UTF-8 (RFC 6532):\n%s", b.Data)
	}
}

func TestLongFilename(t *testing.T) {
	name := strings.Repeat("Überweisungsbestätigung ", 12) + ".pdf"
	m := &Message{From: addr(t, "", "a@example.org"), Text: "x",
		Attachments: []Attachment{{Filename: name, Content: []byte("x")}, {Filename: `quote" and \ slash.txt`, Content: []byte("y")}}}
	b := build(t, m)
	if !bytes.Contains(b.Data, []byte("filename*0*=utf-8''")) || !bytes.Contains(b.Data, []byte("filename*1*=")) {
		t.Errorf("no RFC 2231 continuations:\n%s", b.Data)
	}
	p := parseBack(t, b.Data)
	if len(p.attachments) != 2 || p.attachments[0].filename != name || p.attachments[1].filename != `quote" and \ slash.txt` {
		t.Errorf("filenames %+v", p.attachments)
	}
}

func TestManyRecipientsFold(t *testing.T) {
	m := &Message{From: addr(t, "", "a@example.org"), Text: "x"}
	for i := range 60 {
		m.To = append(m.To, addr(t, "Recipient Number", "r"+strings.Repeat("x", i%7)+"@example.net"))
	}
	p := parseBack(t, build(t, m).Data)
	if len(p.to) != 60 {
		t.Errorf("%d recipients read back", len(p.to))
	}
}

func TestBuildErrors(t *testing.T) {
	from := addr(t, "", "a@example.org")
	cases := []struct {
		name  string
		m     Message
		field string
	}{
		{"Empty", Message{}, "text"},
		{"SubjectInjection", Message{Subject: "hi\r\nBcc: victim@example.net", Text: "x"}, "subject"},
		{"NameInjection", Message{To: []Address{addr(t, "x\nBcc: v@x", "b@example.net")}, Text: "x"}, "to[0]"},
		{"NoDomain", Message{To: []Address{addr(t, "", "b")}, Text: "x"}, "to[0]"},
		{"BadIDN", Message{Cc: []Address{addr(t, "", "b@ex ample.net")}, Text: "x"}, "cc[0]"},
		{"ReservedHeader", Message{Text: "x", Header: []Field{{"Bcc", "v@example.net"}}}, "headers.Bcc"},
		{"ReservedHeaderCase", Message{Text: "x", Header: []Field{{"content-type", "text/html"}}}, "headers.content-type"},
		{"BadHeaderName", Message{Text: "x", Header: []Field{{"X Bad", "v"}}}, "headers.X Bad"},
		{"HeaderInjection", Message{Text: "x", Header: []Field{{"X-A", "v\r\nBcc: v@x"}}}, "headers.X-A"},
		{"DuplicateHeader", Message{Text: "x", Header: []Field{{"X-A", "1"}, {"x-a", "2"}}}, "headers.x-a"},
		{"NonASCIIStructured", Message{Text: "x", Header: []Field{{"References", "<ü@x>"}}}, "headers.References"},
		{"HugeWord", Message{Text: "x", Header: []Field{{"X-A", strings.Repeat("y", 1000)}}}, "headers.X-A"},
		{"BadMessageID", Message{Text: "x", MessageID: "no-at-sign"}, "headers.Message-ID"},
		{"BadContentType", Message{Attachments: []Attachment{{ContentType: "pdf"}}}, "attachments[0].content_type"},
		{"Multipart", Message{Attachments: []Attachment{{ContentType: "multipart/mixed; boundary=x"}}}, "attachments[0].content_type"},
		{"EightBitRFC822", Message{Attachments: []Attachment{{ContentType: "message/rfc822", Content: []byte("Subject: ü\n\n")}}}, "attachments[0].content"},
		{"FilenameControl", Message{Attachments: []Attachment{{Filename: "a\nb"}}}, "attachments[0].filename"},
		{"ContentIDSpace", Message{HTML: "x", Attachments: []Attachment{{ContentID: "a b"}}}, "attachments[0].content_id"},
		{"NULInText", Message{Text: "a\x00b"}, "text"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			if m.From.Addr.Local == "" {
				m.From = from
			}
			_, err := (&Builder{}).Build(&m)
			wantFieldError(t, err, tc.field)
		})
	}
}

func TestMessageIDHost(t *testing.T) {
	m := &Message{From: addr(t, "", "a@bücher.example"), Text: "x"}
	b, err := (&Builder{Hostname: "not a host"}).Build(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.MessageID, "@xn--bcher-kva.example") {
		t.Errorf("Message-ID %q: want the From domain when the host name is not usable", b.MessageID)
	}
	m.MessageID = "<given@example.org>"
	if b, err = (&Builder{}).Build(m); err != nil || b.MessageID != "given@example.org" {
		t.Errorf("given Message-ID: %q %v", b.MessageID, err)
	}
}
