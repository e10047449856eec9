package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/examples/gateway/internal/api"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/internal/mimeparse"
)

// outboundJSON is a request with everything the API takes.
const outboundJSON = `{
	"from": "Shop <noreply@shop.test>",
	"to": ["Jürgen Groß <juergen@example.net>"],
	"cc": "ops@example.net",
	"bcc": ["archive@example.org"],
	"subject": "Ihre Bestellung — Nr. 7",
	"text": "Danke für Ihre Bestellung.\n",
	"html": "<p>Danke für Ihre <b>Bestellung</b>.</p><img src=\"cid:logo\">",
	"attachments": [
		{"filename": "rechnung.pdf", "content_type": "application/pdf", "content": "JVBERi0xLjcKJeLjz9MK"},
		{"filename": "logo.png", "content_type": "image/png", "content": "iVBORw0KGgo=", "content_id": "logo"}
	],
	"headers": {"X-Order": "7"}
}`

// TestOutbound: a POST becomes a MIME message delivered by SMTP (here to
// a smart host, a mailsink) to every recipient, Bcc in the envelope only;
// its status goes from queued to delivered.
func TestOutbound(t *testing.T) {
	sinkAddr := e2e.FreeAddr(t)
	_, md := startSink(t, t.TempDir(), sinkAddr)
	rc := newReceiver(t)
	g := startGateway(t, t.TempDir(), "-route", "shop.test="+rc.srv.URL, "-smarthost", sinkAddr)
	code, hdr, body := g.api(t, "POST", "/v1/messages", "application/json", []byte(outboundJSON))
	if code != 202 {
		t.Fatalf("POST: %d %s", code, body)
	}
	var acc api.Accepted
	if err := json.Unmarshal(body, &acc); err != nil || acc.ID == "" || hdr.Get("Location") != "/v1/messages/"+acc.ID {
		t.Fatalf("202 %s %v", body, err)
	}
	// One transaction per recipient domain (two here), Bcc in the
	// envelope only.
	files := e2e.Maildir(t, md, 2, wait)
	if len(files) != 2 {
		t.Fatalf("%d messages at the sink", len(files))
	}
	var rcpts []string
	for _, f := range files {
		st := e2e.ReadStored(t, f)
		if st.From != "noreply@shop.test" {
			t.Errorf("reverse-path <%s>", st.From)
		}
		rcpts = append(rcpts, st.To...)
		if strings.Contains(strings.ToLower(string(st.Body)), "archive@") {
			t.Error("the Bcc recipient shows in the message")
		}
	}
	slices.Sort(rcpts)
	if want := []string{"archive@example.org", "juergen@example.net", "ops@example.net"}; !slices.Equal(rcpts, want) {
		t.Errorf("recipients %v, want %v", rcpts, want)
	}
	st := e2e.ReadStored(t, files[0])
	// The gateway's trace field (RFC 5321 4.4), first.
	if !strings.HasPrefix(string(st.Body), "Received: from [127.0.0.1]\r\n\tby gw.test with HTTP id "+acc.ID+";\r\n\t") {
		t.Errorf("no Received field of the gateway:\n%.600s", st.Body)
	}
	m := mimeparse.Parse(st.Body)
	if m.Subject != "Ihre Bestellung — Nr. 7" || len(m.To) != 1 || m.To[0].Name != "Jürgen Groß" ||
		m.Text != "Danke für Ihre Bestellung.\n" || len(m.Attachments) != 1 || len(m.Inline) != 1 ||
		m.Header.Get("X-Order") != "7" || "<"+m.MessageID+">" != acc.MessageID || len(m.Problems) > 0 {
		t.Errorf("parsed: %q %v %q %d/%d attachments, Message-ID %q (accepted %q), problems %v",
			m.Subject, m.To, m.Text, len(m.Attachments), len(m.Inline), m.MessageID, acc.MessageID, m.Problems)
	}
	// The status: delivered once the queue is done with it, kept after.
	waitFor(t, "the delivered status", func() bool {
		code, _, body := g.api(t, "GET", "/v1/messages/"+acc.ID, "", nil)
		var s api.Status
		json.Unmarshal(body, &s)
		if code != 200 || s.State != "delivered" {
			return false
		}
		for _, r := range s.Recipients {
			if r.State != "delivered" || !strings.HasPrefix(r.Diagnostic, "250 ") {
				t.Fatalf("status %s", body)
			}
		}
		return len(s.Recipients) == 3
	})
}

// TestOutboundIdempotencyRestart: a POST retried with the same
// Idempotency-Key, even after the gateway was killed, queues nothing
// twice.
func TestOutboundIdempotencyRestart(t *testing.T) {
	sinkAddr := e2e.FreeAddr(t) // down: the message stays queued
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "shop.test=http://127.0.0.1:1/", "-smarthost", sinkAddr, "-outbound-retry", "100ms")
	body := []byte(`{"from":"a@shop.test","to":"b@example.net","subject":"once","text":"x"}`)
	code, _, first := g.api(t, "POST", "/v1/messages", "application/json", body, "Idempotency-Key", "order-7-mail")
	if code != 202 {
		t.Fatalf("POST: %d %s", code, first)
	}
	g.Kill()
	g.restart(t)
	code, hdr, again := g.api(t, "POST", "/v1/messages", "application/json", body, "Idempotency-Key", "order-7-mail")
	if code != 202 || string(again) != string(first) || hdr.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry after restart: %d %s %v, want %s", code, again, hdr, first)
	}
	code, _, _ = g.api(t, "POST", "/v1/messages", "application/json", []byte(strings.Replace(string(body), "once", "twice", 1)),
		"Idempotency-Key", "order-7-mail")
	if code != 422 {
		t.Errorf("key reused for another message: %d", code)
	}
	_, md := startSink(t, t.TempDir(), sinkAddr)
	e2e.Maildir(t, md, 1, wait)
	waitFor(t, "an empty queue", func() bool { return queueEmpty(t, filepath.Join(dir, "queue")) })
	if files := e2e.Maildir(t, md, 2, 0); len(files) != 1 {
		t.Errorf("%d messages delivered, want 1", len(files))
	}
}

// TestOutboundBounce: a recipient the server refuses (550) is failed at
// once and the sender gets a notification; the status says which
// recipient failed and why.
func TestOutboundBounce(t *testing.T) {
	sinkAddr := e2e.FreeAddr(t)
	_, md := startSink(t, t.TempDir(), sinkAddr, "-reject", "gone@example.net")
	g := startGateway(t, t.TempDir(), "-route", "shop.test=http://127.0.0.1:1/", "-smarthost", sinkAddr)
	code, _, body := g.api(t, "POST", "/v1/messages", "application/json",
		[]byte(`{"from":"app@shop.test","to":["ok@example.net","gone@example.net"],"subject":"hi","text":"x"}`))
	if code != 202 {
		t.Fatalf("POST: %d %s", code, body)
	}
	var acc api.Accepted
	json.Unmarshal(body, &acc)
	files := e2e.Maildir(t, md, 2, wait)
	if len(files) != 2 {
		t.Fatalf("%d messages at the sink", len(files))
	}
	var bounce *e2e.Stored
	for _, f := range files {
		if st := e2e.ReadStored(t, f); st.From == "" {
			bounce = &st
		}
	}
	if bounce == nil || len(bounce.To) != 1 || bounce.To[0] != "app@shop.test" ||
		!strings.Contains(string(bounce.Body), "Final-Recipient: rfc822; gone@example.net") ||
		!strings.Contains(string(bounce.Body), "Diagnostic-Code: smtp; 550") {
		t.Fatalf("no bounce to the sender: %+v", bounce)
	}
	waitFor(t, "the partial status", func() bool {
		_, _, body := g.api(t, "GET", "/v1/messages/"+acc.ID, "", nil)
		var s api.Status
		json.Unmarshal(body, &s)
		return s.State == "partial" && s.Recipients[1].State == "failed" && strings.HasPrefix(s.Recipients[1].Diagnostic, "550")
	})
}

// TestOutboundRaw: a raw message (curl --data-binary @mail.eml) goes out
// with its Bcc removed and Date and Message-ID added.
func TestOutboundRaw(t *testing.T) {
	sinkAddr := e2e.FreeAddr(t)
	_, md := startSink(t, t.TempDir(), sinkAddr)
	g := startGateway(t, t.TempDir(), "-route", "shop.test=http://127.0.0.1:1/", "-smarthost", sinkAddr)
	raw := "From: App <app@shop.test>\nTo: a@example.net\nBcc: hidden@example.net\nSubject: raw\n\nhello\n"
	if code, _, body := g.api(t, "POST", "/v1/messages", "message/rfc822", []byte(raw)); code != 202 {
		t.Fatalf("POST: %d %s", code, body)
	}
	st := e2e.ReadStored(t, e2e.Maildir(t, md, 1, wait)[0])
	b := string(st.Body)
	if strings.Join(st.To, ",") != "a@example.net,hidden@example.net" || strings.Contains(b, "hidden") ||
		!strings.Contains(b, "\r\nDate: ") && !strings.HasPrefix(b, "Date: ") || !strings.Contains(b, "Message-ID: <") ||
		!strings.HasSuffix(b, "\r\n\r\nhello\r\n") {
		t.Errorf("envelope %v, message:\n%s", st.To, b)
	}
}

// TestAPIAuthOverTheWire: the running API refuses a request without the
// token, or with another.
func TestAPIAuthOverTheWire(t *testing.T) {
	g := startGateway(t, t.TempDir(), "-route", "shop.test=http://127.0.0.1:1/")
	for _, auth := range []string{"", "Bearer wrong-token-0123456789"} {
		code, hdr, body := g.api(t, "POST", "/v1/messages", "application/json", []byte(`{}`), "Authorization", auth)
		if code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("auth %q: %d %v %s", auth, code, hdr, body)
		}
	}
}

// TestOperatorCommands: the gateway's queues are the relay's: the relay's
// operator commands list them and flush them while the gateway runs, the
// dead-destination backoff included.
func TestOperatorCommands(t *testing.T) {
	sinkAddr := e2e.FreeAddr(t) // down at first
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "shop.test=http://127.0.0.1:1/", "-smarthost", sinkAddr, "-outbound-retry", "1h")
	code, _, body := g.api(t, "POST", "/v1/messages", "application/json", []byte(`{"from":"a@shop.test","to":"b@example.net","text":"x"}`))
	if code != 202 {
		t.Fatalf("POST: %d %s", code, body)
	}
	var acc api.Accepted
	json.Unmarshal(body, &acc)
	out := filepath.Join(dir, "queue", outboundDir)
	waitFor(t, "the first attempt", func() bool {
		_, stdout, _ := e2e.Run(t, wait, nil, relayBin, "-queue", out, "-list")
		return strings.Contains(stdout, acc.ID+" <a@shop.test> b@example.net(pending)") && strings.Contains(stdout, "attempts=1")
	})
	_, md := startSink(t, t.TempDir(), sinkAddr)
	if code, stdout, stderr := e2e.Run(t, wait, nil, relayBin, "-queue", out, "-flush"); code != 0 || !strings.Contains(stdout, "1 message") {
		t.Fatalf("flush: %d %s %s", code, stdout, stderr)
	}
	// Without the flush the next attempt would be in an hour.
	if files := e2e.Maildir(t, md, 1, wait); len(files) != 1 {
		t.Fatal("not delivered after the flush")
	}
}
