package api

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/gateway/internal/compose"
	"github.com/smtpkit/smtp/examples/internal/mimeparse"
)

// FuzzJSONRequest feeds arbitrary bodies to the JSON request decoder and
// the message builder behind it: every body is either refused with a
// BadRequest or FieldError, or becomes a message with CRLF lines of at
// most 998 characters, 7-bit unless SMTPUTF8 was required, without a Bcc
// field, whose subject and text read back as given.
func FuzzJSONRequest(f *testing.F) {
	f.Add([]byte(`{"from":"Ops <ops@example.org>","to":["b@example.net"],"cc":"c@example.net, D <d@bücher.example>","bcc":["x@example.org"],"subject":"Grüße","text":"hi\n","html":"<p>hi</p>","attachments":[{"filename":"a.txt","content":"YQ=="}],"headers":{"X-A":"b"}}`))
	f.Add([]byte(`{"from":"a@example.org","to":"用户@例え.jp","text":"x"}`))
	f.Add([]byte(`{"from":"a@example.org","to":"team: b@x.org, c@x.org;","subject":"=?utf-8?q?x?=","text":"."}`))
	f.Add([]byte(`{"from":"a@example.org","to":["b@example.net"],"attachments":[{"content":"AAEC","content_type":"message/rfc822","content_id":"x"}],"html":"<img src=cid:x>"}`))
	f.Add([]byte(`{"from":5}`))
	b := &compose.Builder{Hostname: "gw.example", Now: func() time.Time { return time.Unix(0, 0) }}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeJSON(body)
		if err != nil {
			var br *BadRequest
			if !errors.As(err, &br) {
				t.Fatalf("decode error %T %v", err, err)
			}
			return
		}
		m, env, err := req.message()
		if err == nil {
			var built *compose.Built
			built, err = b.Build(m)
			if err == nil {
				check(t, req, env, built)
				return
			}
		}
		var br *BadRequest
		var fe *compose.FieldError
		if !errors.As(err, &br) && !errors.As(err, &fe) {
			t.Fatalf("error %T %v", err, err)
		}
	})
}

func check(t *testing.T, req *request, env *Envelope, built *compose.Built) {
	data := built.Data
	checkWire(t, env, data)
	if !built.SMTPUTF8 && !isASCII(data) {
		t.Fatal("8-bit message without SMTPUTF8")
	}
	p := mimeparse.Parse(data)
	if len(p.Header.Values("Bcc")) > 0 {
		t.Fatal("Bcc field written")
	}
	if got, want := strings.Join(strings.Fields(p.Subject), " "), strings.Join(strings.Fields(req.Subject), " "); got != want {
		t.Fatalf("subject %q, want %q", got, want)
	}
	if want := strings.ReplaceAll(strings.ReplaceAll(req.Text, "\r\n", "\n"), "\r", "\n"); req.HTML == "" && len(req.Attachments) == 0 &&
		strings.TrimSuffix(p.Text, "\n") != strings.TrimSuffix(want, "\n") {
		t.Fatalf("text %q, want %q", p.Text, want)
	}
}

// FuzzRawMessage feeds arbitrary raw messages (message/rfc822 bodies) to
// their checks: each is refused with a BadRequest, or comes out with CRLF
// lines of at most 998 characters, a Date, a Message-ID, no Bcc field,
// and an envelope with a sender and recipients.
func FuzzRawMessage(f *testing.F) {
	f.Add([]byte("From: a@example.org\nTo: b@example.net\nBcc: c@example.net,\n d@example.net\nSubject: x\n\nbody\n"), "", "")
	f.Add([]byte("From: a@example.org\r\nSender: s@example.org\r\nTo: g: b@x.org;\r\n\r\n"), "", "")
	f.Add([]byte("Subject: no from\r\n\r\n"), "q@example.org", "r@example.net")
	f.Add([]byte("From: a@example.org\r\n\r\n\x00"), "", "")
	f.Add([]byte("From: =?utf-8?q?Ren=C3=A9?= <rene@bücher.example>\rTo: 用户@例え.jp\r\rGrüße"), "", "")
	b := &compose.Builder{Hostname: "gw.example"}
	f.Fuzz(func(t *testing.T, raw []byte, from, to string) {
		var tos []string
		if to != "" {
			tos = []string{to}
		}
		msg, env, err := rawMessage(raw, from, tos, b, time.Unix(0, 0), DefaultMaxRecipients)
		if err != nil {
			var br *BadRequest
			if !errors.As(err, &br) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		checkWire(t, env, msg)
		hdr, _ := splitHeader(msg)
		for _, line := range bytes.Split(hdr, []byte("\r\n")) {
			name, _, _ := bytes.Cut(line, []byte(":"))
			if n := strings.ToLower(strings.TrimSpace(string(name))); n == "bcc" || n == "resent-bcc" {
				t.Fatalf("%s field kept: %q", name, hdr)
			}
		}
		p := mimeparse.Parse(msg)
		if p.Header.Get("Date") == "" || p.Header.Get("Message-ID") == "" {
			t.Fatalf("no Date or Message-ID:\n%q", hdr)
		}
	})
}

// checkWire checks what goes to SMTP: an envelope with a sender and
// recipients, a message of CRLF lines of at most 998 characters (RFC 5322
// 2.1.1, 2.3) ending with CRLF.
func checkWire(t *testing.T, env *Envelope, msg []byte) {
	t.Helper()
	if env.From == "" || len(env.To) == 0 {
		t.Fatalf("envelope %+v", env)
	}
	if !bytes.HasSuffix(msg, []byte("\r\n")) {
		t.Fatal("no final CRLF")
	}
	for i, line := range bytes.Split(msg[:len(msg)-2], []byte("\r\n")) {
		if len(line) > 998 || bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("line %d: %q", i+1, line)
		}
	}
}
