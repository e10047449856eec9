package webhook

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func testMessage(big []byte) []byte {
	return []byte("Received: from mx.example.net ([192.0.2.7]) by gw.example with ESMTP id Q1;\r\n" +
		"\tThu, 01 Jan 2026 00:00:00 +0000\r\n" +
		"From: =?utf-8?q?Ren=C3=A9?= <rene@example.net>\r\n" +
		"To: hooks@in.example, Other <other@in.example>\r\n" +
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
		"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n" +
		"Message-ID: <m1@example.net>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n" +
		"\r\n" +
		"--b\r\n" +
		"Content-Type: multipart/alternative; boundary=c\r\n" +
		"\r\n" +
		"--c\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hello <world> & all\r\n" +
		"--c\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n" +
		"\r\n" +
		"<p>Hello</p><img src=\"cid:logo\">\r\n" +
		"--c--\r\n" +
		"--b\r\n" +
		"Content-Type: image/png\r\n" +
		"Content-ID: <logo>\r\n" +
		"Content-Disposition: inline\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"iVBORw0K\r\n" +
		"--b\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Disposition: attachment; filename=\"big.bin\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		base64.StdEncoding.EncodeToString(big) + "\r\n" +
		"--b\r\n" +
		"Content-Type: text/csv\r\n" +
		"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.csv\r\n" +
		"\r\n" +
		"a,b\r\n" +
		"--b--\r\n")
}

func TestNewPayload(t *testing.T) {
	big := bytes.Repeat([]byte{0xAB}, 2000)
	raw := testMessage(big)
	env := Envelope{MailFrom: "rene@example.net", RcptTo: []string{"hooks@in.example"}, RemoteAddr: "192.0.2.7:4321"}
	received := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	p := NewPayload("Q1", received, env, raw, 1000)
	body, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// What a receiver decodes.
	var got Payload
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "Q1" || !got.ReceivedAt.Equal(received) || got.Envelope.MailFrom != "rene@example.net" ||
		len(got.Envelope.RcptTo) != 1 || got.Envelope.RemoteAddr != "192.0.2.7:4321" {
		t.Errorf("id/envelope %+v", got)
	}
	if got.Subject != "Grüße" || got.MessageID != "m1@example.net" || !got.Date.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("subject %q message-id %q date %v", got.Subject, got.MessageID, got.Date)
	}
	if len(got.From) != 1 || got.From[0] != (Address{"René", "rene@example.net"}) || len(got.To) != 2 || got.To[1].Name != "Other" {
		t.Errorf("addresses from %v to %v", got.From, got.To)
	}
	if got.Headers[0].Name != "Received" || len(got.Headers) != 8 {
		t.Errorf("headers %v", got.Headers)
	}
	if got.Text != "Hello <world> & all" || !strings.Contains(got.HTML, "cid:logo") {
		t.Errorf("text %q html %q", got.Text, got.HTML)
	}
	if !bytes.Equal(got.Raw, raw) {
		t.Error("raw message differs")
	}
	if len(got.Attachments) != 3 {
		t.Fatalf("attachments %+v", got.Attachments)
	}
	logo, bigA, csv := got.Attachments[0], got.Attachments[1], got.Attachments[2]
	if logo.ContentID != "logo" || logo.Disposition != "inline" || string(logo.Content) != "\x89PNG\r\n" || logo.Part != "2" {
		t.Errorf("inline part %+v", logo)
	}
	// Over the cap: listed, not inlined, found in raw by its part number.
	if !bigA.Omitted || bigA.Content != nil || bigA.Size != 2000 || bigA.Part != "3" || bigA.Filename != "big.bin" {
		t.Errorf("big attachment %+v", bigA)
	}
	if csv.Filename != "résumé.csv" || string(csv.Content) != "a,b" || csv.Omitted || csv.ContentType != "text/csv" {
		t.Errorf("csv %+v", csv)
	}
	if bytes.Contains(body, []byte(`\u003c`)) {
		t.Error("HTML escaping in the JSON body")
	}
	if len(got.Problems) != 0 {
		t.Errorf("problems %v", got.Problems)
	}
}

// TestNewPayloadMalformed: a message that is not MIME still gets a
// payload, with its problems listed.
func TestNewPayloadMalformed(t *testing.T) {
	raw := []byte("no header here\r\n")
	p := NewPayload("Q2", time.Now(), Envelope{}, raw, 0)
	body, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"from", "to", "cc", "reply_to", "attachments", "headers"} {
		if _, isList := got[k].([]any); !isList {
			t.Errorf("%s is %v, want a list (empty rather than null)", k, got[k])
		}
	}
	if rcpts, _ := got["envelope"].(map[string]any)["rcpt_to"].([]any); rcpts == nil {
		t.Error("envelope.rcpt_to is not a list")
	}
	if len(p.Problems) == 0 {
		t.Error("no problem reported")
	}
}
