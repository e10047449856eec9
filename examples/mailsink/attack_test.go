package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// hostileDeadline bounds what a hostile message may cost mailsink: its 250
// and its view come in milliseconds when the work is linear in the size,
// and after hours when it is quadratic.
const hostileDeadline = 90 * time.Second

// lines joins n copies of unit into lines of at most 800 bytes, within
// SMTP's line limit (RFC 5321 4.5.3.1.6).
func lines(unit string, n int) string {
	var b strings.Builder
	per := 800 / len(unit)
	for i := 0; i < n; i += per {
		b.WriteString(strings.Repeat(unit, min(per, n-i)))
		b.WriteString("\r\n")
	}
	return b.String()
}

// TestAttackHostileMessagesIndexed: messages built to make the parser and
// the index work quadratically are accepted, listed and shown like any
// other. Before the fix each one held its session (and a CPU) for hours
// before the 250, and again at every start of mailsink (the index is
// rebuilt from the files): a 4 MiB header folded into a million lines, an
// HTML body of half a million unclosed <script> tags (the index's
// tag-stripping regular expression scanned to the end for each), and 999
// text parts each appended to a growing body.
func TestAttackHostileMessagesIndexed(t *testing.T) {
	dir := t.TempDir()
	addr, base, _ := startWithUI(t, dir, "-maildir", filepath.Join(dir, "md"))
	var parts strings.Builder
	parts.WriteString("Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 999 {
		parts.WriteString("--b\r\nContent-Type: text/plain\r\n\r\n" + lines("y", 30000))
	}
	parts.WriteString("--b--\r\n")
	msgs := map[string]string{
		"folded": "Subject: folded\r\nX-Long: x\r\n" + strings.Repeat(" x\r\n", 1<<20) + "\r\nbody\r\n",
		"script": "Subject: script\r\nContent-Type: text/html\r\n\r\n" + lines("<script>", 1<<19),
		"parts":  parts.String(),
	}
	ctx, c := dialHostile(t, addr)
	for _, name := range []string{"folded", "script", "parts"} {
		if _, err := c.Send(ctx, env("a@x.test", "b@y.test"), strings.NewReader(msgs[name])); err != nil {
			t.Fatalf("%s (%d bytes): %v", name, len(msgs[name]), err)
		}
		var l apiList
		getJSON(t, ctx, base+"/api/v1/messages?q=subject:"+name, &l)
		if l.Total != 1 {
			t.Fatalf("%s: listed %+v", name, l)
		}
		var m apiMessage
		getJSON(t, ctx, base+"/api/v1/messages/"+url.PathEscape(l.Messages[0].ID), &m)
		if m.Subject != name {
			t.Errorf("%s: shown as %q", name, m.Subject)
		}
	}
}

// dialHostile connects to the mailsink at addr for a test that sends what
// must not cost it more than hostileDeadline; the connection and the
// context end with the test.
func dialHostile(t *testing.T, addr string) (context.Context, *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hostileDeadline)
	t.Cleanup(cancel)
	c, err := client.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ctx, c
}

// getJSON gets u within ctx and decodes its JSON answer into v.
func getJSON(t *testing.T, ctx context.Context, u string, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %d: %v", u, resp.StatusCode, err)
	}
}

// quoted returns a path whose local part needs quoting (RFC 5321 4.1.2).
func quoted(local, domain string) envelope.Recipient {
	return envelope.Recipient{Path: envelope.Path{Address: envelope.Address{Local: local, Domain: domain}}}
}

// TestAttackSpoofedTrace: a recipient's quoted local part may hold spaces,
// commas and semicolons (RFC 5321 4.1.2). An unauthenticated client in
// clear text wrote one into the Received field's "for" clause and the
// X-Envelope-To line, and the Envelope tab and the API read them back as
// "with ESMTPSA" (TLS and AUTH, RFC 3848), a connection id of its choice,
// a time that did not parse, and recipients that were never given.
func TestAttackSpoofedTrace(t *testing.T) {
	dir := t.TempDir()
	addr, base, _ := startWithUI(t, dir, "-maildir", filepath.Join(dir, "md"))
	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, local := range []string{"x with ESMTPSA id spoofed", "v, victim@bank.test, w", "a;b"} {
		e := env("a@x.test")
		e.To = []envelope.Recipient{quoted(local, "y.test")}
		msg := "Subject: " + local + "\r\n\r\nx\r\n"
		if _, err := c.Send(ctx(t), e, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		var m apiMessage
		apiDo(t, "GET", base+"/api/v1/messages/wait?timeout=10s&subject="+url.QueryEscape(local), nil, &m)
		var tr struct {
			Trace struct {
				Protocol, For string
				ConnID        string `json:"conn_id"`
				Time          time.Time
			}
		}
		apiDo(t, "GET", base+"/api/v1/messages/"+url.PathEscape(m.ID), nil, &tr)
		want := e.To[0].Path.Address.String()
		if tr.Trace.Protocol != "ESMTP" || strings.Contains(tr.Trace.ConnID, "spoofed") || tr.Trace.For != want || tr.Trace.Time.IsZero() {
			t.Errorf("%s: trace %+v, want protocol ESMTP, for %s and the time", want, tr.Trace, want)
		}
		if got := m.Envelope.RcptTo; len(got) != 1 || got[0] != want {
			t.Errorf("%s: envelope recipients %q", want, got)
		}
	}
}

// TestAttackReleaseUnverifiedTLSWithPassword: the release form's default,
// "STARTTLS if offered", skipped certificate verification even with a
// password to send and "Do not verify the certificate" unchecked, so a man
// in the middle offering STARTTLS with a certificate of his own got the
// login. With a password the certificate must verify (or insecure be
// asked for); without one, opportunistic TLS stays unauthenticated (RFC
// 7435) as an MTA's.
func TestAttackReleaseUnverifiedTLSWithPassword(t *testing.T) {
	dir := t.TempDir()
	addr, base, _ := startWithUI(t, dir, "-maildir", filepath.Join(dir, "one"))
	cert, key := e2e.WriteCert(t, dir) // not trusted by the system roots
	mitm, mitmBase, _ := startWithUI(t, dir, "-maildir", filepath.Join(dir, "two"),
		"-tls-cert", cert, "-tls-key", key, "-auth", "relay:secret")
	m := sendWebMsg(t, addr, base)
	release := base + "/api/v1/messages/" + url.PathEscape(m.ID) + "/release"

	var res struct {
		Error      string
		Recipients []struct{ OK bool }
	}
	resp := apiDo(t, "POST", release, map[string]any{"server": mitm, "username": "relay", "password": "secret"}, &res)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(res.Error, "certificate") {
		t.Errorf("release with a password to an unverified server: %d %+v, want 502 and a certificate error", resp.StatusCode, res)
	}
	var l apiList
	apiDo(t, "GET", mitmBase+"/api/v1/messages", nil, &l)
	if l.Total != 0 {
		t.Errorf("the unverified server got the login and the message: %+v", l)
	}
	// Asked for: insecure, or no password (opportunistic as RFC 7435).
	for _, body := range []map[string]any{
		{"server": mitm, "username": "relay", "password": "secret", "insecure": true},
	} {
		if resp := apiDo(t, "POST", release, body, &res); resp.StatusCode != 200 || len(res.Recipients) != 1 || !res.Recipients[0].OK {
			t.Errorf("%v: %d %+v", body, resp.StatusCode, res)
		}
	}
}

// TestAttackBoundedSummary: the index keeps every message's summary in
// memory and sends it in every list and event, so its size must not grow
// with the message: a 3 MiB To field of 300,000 addresses and a 256 kB
// Subject made a summary of tens of megabytes, kept for as long as the
// message, with no limit on the number of messages. The message view
// still has them all.
func TestAttackBoundedSummary(t *testing.T) {
	dir := t.TempDir()
	addr, base, _ := startWithUI(t, dir, "-maildir", filepath.Join(dir, "md"))
	const n, words = 300000, 128 << 10
	// Folded (RFC 5322 2.2.3): every line after the first starts with a
	// space.
	msg := "Subject:" + lines(" s", words) + "From: =?utf-8?q?" + strings.Repeat("n", 60) + "?= <a@x.test>\r\n" +
		"To:" + lines(" t@y.test,", n-1) + " t@y.test\r\n\r\nbody\r\n"
	ctx, c := dialHostile(t, addr)
	if _, err := c.Send(ctx, env("a@x.test", "b@y.test"), strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	const maxSummary = 256 << 10
	if len(list) > maxSummary {
		t.Errorf("the list of one message is %d bytes, more than %d", len(list), maxSummary)
	}
	var l apiList
	if err := json.Unmarshal(list, &l); err != nil || l.Total != 1 {
		t.Fatalf("list: %v %d", err, l.Total)
	}
	var full struct {
		Subject string
		To      []json.RawMessage
		Headers []struct{ Name, Value string }
	}
	getJSON(t, ctx, base+"/api/v1/messages/"+url.PathEscape(l.Messages[0].ID), &full)
	if len(full.Subject) != 2*words-1 || len(full.To) != n {
		t.Errorf("the message view has a %d-byte subject and %d addresses, want %d and %d", len(full.Subject), len(full.To), 2*words-1, n)
	}
	if !bytes.Contains(list, []byte(`"mail_from": "a@x.test"`)) {
		t.Errorf("the summary lost the envelope: %.300s", list)
	}
}
