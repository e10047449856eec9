package compose

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
)

// parsed is a built message read back with the standard library's
// parsers, which share no code with the builder.
type parsed struct {
	header      mail.Header
	subject     string
	from, to    []*mail.Address
	cc, replyTo []*mail.Address
	text, html  string
	attachments []parsedPart
	// structure is the media types in order, nested multiparts in
	// parentheses: "multipart/mixed(multipart/alternative(text/plain text/html) application/pdf)".
	structure string
}

type parsedPart struct {
	filename, contentType, contentID, disposition string
	content                                       []byte
}

var wordDecoder = &mime.WordDecoder{}

// checkLines checks the line rules of RFC 5322 2.1.1 and 2.3: CRLF only,
// at most MaxLineLength characters; and, for the header, that a line
// longer than FoldAt holds a single unbreakable word.
func checkLines(t testing.TB, data []byte, utf8OK bool) {
	t.Helper()
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		t.Fatalf("message does not end with CRLF")
	}
	inHeader := true
	for i, line := range bytes.Split(data[:len(data)-2], []byte("\r\n")) {
		if bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i+1, line)
		}
		if len(line) > MaxLineLength {
			t.Fatalf("line %d has %d characters", i+1, len(line))
		}
		if len(line) == 0 {
			inHeader = false
		}
		if inHeader && len(line) > FoldAt {
			// Acceptable only for one word too long for any line.
			toks := bytes.Fields(line)
			if line[0] != ' ' && line[0] != '\t' {
				toks = toks[1:]
			}
			if len(toks) != 1 || 1+len(toks[0]) <= FoldAt {
				t.Errorf("header line %d is %d long and could have been folded: %q", i+1, len(line), line)
			}
		}
		// A field folded right after its name reads, to Python's email
		// package, as a value starting with a space: the first word
		// must fit after a name of ordinary length.
		if name, ok := bytes.CutSuffix(line, []byte(":")); inHeader && ok && !bytes.ContainsAny(name, " \t:") &&
			len(name)+2+minFirstWord <= FoldAt {
			t.Errorf("header line %d has the field name alone: %q", i+1, line)
		}
		if inHeader && i > 0 && (line[0] == ' ' || line[0] == '\t') && len(bytes.TrimSpace(line)) == 0 {
			t.Errorf("header line %d is only white space", i+1)
		}
		if !utf8OK {
			for _, c := range line {
				if c >= 0x80 {
					t.Fatalf("line %d is not ASCII: %q", i+1, line)
				}
			}
		}
	}
}

// parseBack reads a built message with net/mail and mime/multipart.
func parseBack(t testing.TB, data []byte) *parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("net/mail: %v\n%s", err, data)
	}
	p := &parsed{header: msg.Header}
	if p.subject, err = wordDecoder.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	list := func(name string) []*mail.Address {
		if msg.Header.Get(name) == "" {
			return nil
		}
		l, err := msg.Header.AddressList(name)
		if err != nil {
			t.Fatalf("%s %q: %v", name, msg.Header.Get(name), err)
		}
		return l
	}
	p.from, p.to, p.cc, p.replyTo = list("From"), list("To"), list("Cc"), list("Reply-To")
	p.structure = p.entity(t, msg.Header, msg.Body)
	return p
}

type mimeHeader interface{ Get(string) string }

func (p *parsed) entity(t testing.TB, h mimeHeader, body io.Reader) string {
	t.Helper()
	typ, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	if strings.HasPrefix(typ, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		var subs []string
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			subs = append(subs, p.entity(t, part.Header, part))
		}
		return typ + "(" + strings.Join(subs, " ") + ")"
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	var content []byte
	switch cte := strings.ToLower(h.Get("Content-Transfer-Encoding")); cte {
	case "base64":
		content, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(raw)))
	case "quoted-printable":
		content, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	case "7bit", "":
		content = raw
	default:
		t.Fatalf("unexpected transfer encoding %q", cte)
	}
	if err != nil {
		t.Fatalf("decoding %s: %v", h.Get("Content-Transfer-Encoding"), err)
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	switch {
	case disp == "" && typ == "text/plain":
		p.text += string(content)
	case disp == "" && typ == "text/html":
		p.html += string(content)
	default:
		p.attachments = append(p.attachments, parsedPart{
			filename: dparams["filename"], contentType: typ, disposition: disp,
			contentID: strings.Trim(h.Get("Content-ID"), "<>"), content: content,
		})
	}
	return typ
}

// crlf is s with its line ends as CRLF, as a text body comes back.
func crlf(s string) string {
	return strings.ReplaceAll(normalizeNewlines(s), "\n", "\r\n")
}

func build(t testing.TB, m *Message) *Built {
	t.Helper()
	b, err := (&Builder{Hostname: "gw.example"}).Build(m)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, b.Data, b.SMTPUTF8)
	return b
}

func addr(t testing.TB, name, a string) Address {
	local, domain, _ := strings.Cut(a, "@")
	ad := Address{Name: name}
	ad.Addr.Local, ad.Addr.Domain = local, domain
	return ad
}

func wantFieldError(t *testing.T, err error, field string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("error %v, want a FieldError for %s", err, field)
	}
}
