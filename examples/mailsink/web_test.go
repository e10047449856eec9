package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// startWithUI runs mailsink with its web UI on a free port and returns the
// SMTP address and the UI's base URL.
func startWithUI(t *testing.T, dir string, args ...string) (string, string, *e2e.Proc) {
	t.Helper()
	web := e2e.FreeAddr(t)
	addr, p := start(t, dir, append([]string{"-http", web}, args...)...)
	p.WaitListen(web, 10*time.Second)
	return addr, "http://" + web, p
}

// apiDo makes a request and decodes a JSON answer into v (when not nil).
func apiDo(t *testing.T, method, u string, body any, v any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, u, resp.StatusCode, b, err)
		}
	}
	return resp
}

type apiMessage struct {
	ID          string `json:"id"`
	Subject     string `json:"subject"`
	Size        int64  `json:"size"`
	Attachments int    `json:"attachment_count"`
	MessageID   string `json:"message_id"`
	Text        string `json:"text"`
	HTML        string `json:"html"`
	Raw         string `json:"raw"`
	Envelope    struct {
		MailFrom string   `json:"mail_from"`
		RcptTo   []string `json:"rcpt_to"`
	} `json:"envelope"`
	Trace *struct {
		ClientIP       string `json:"client_ip"`
		Helo, Protocol string
		TLSVersion     string `json:"tls_version"`
		AuthUser       string `json:"auth_user"`
		ConnID         string `json:"conn_id"`
	} `json:"trace"`
}

type apiList struct {
	Total    int          `json:"total"`
	Messages []apiMessage `json:"messages"`
}

// The message the web tests send: text and HTML alternatives and a PDF.
const webMsg = "From: Shop <shop@x.test>\r\nTo: Bob <bob@y.test>\r\nSubject: =?utf-8?q?Order_shipped_=E2=9C=93?=\r\nMessage-ID: <order-42@x.test>\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n" +
	"--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n" +
	"--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour order 42 shipped.\r\n" +
	"--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Your order <b>42</b> shipped.</p>\r\n--a--\r\n" +
	"--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice 42.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--m--\r\n"

// TestWebAPI drives the JSON API of a running mailsink: a wait that is
// answered by a message sent after it started, the parsed message with
// its trace, search and paging, the attachment, deletion, and the index
// rebuilt by a restart.
func TestWebAPI(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "md")
	addr, base, p := startWithUI(t, dir, "-maildir", md, "-auth-accept-any")

	waited := make(chan apiMessage, 1)
	go func() {
		var m apiMessage
		resp := apiDo(t, "GET", base+"/api/v1/messages/wait?to=bob@y.test&timeout=20s", nil, &m)
		if resp.StatusCode != 200 {
			t.Errorf("wait: %d", resp.StatusCode)
		}
		waited <- m
	}()
	// The event stream sees it too.
	events, err := http.Get(base + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer events.Body.Close()
	evr := bufio.NewReader(events.Body)
	if line, _ := evr.ReadString('\n'); line != "retry: 2000\n" {
		t.Fatalf("event stream starts with %q", line)
	}

	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(ctx(t), client.PlainAuth("", "app-user", "any password")); err != nil {
		t.Fatalf("AUTH with -auth-accept-any: %v", err)
	}
	if _, err := c.Send(ctx(t), env("shop@x.test", "bob@y.test", "carl@y.test"), strings.NewReader(webMsg)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx(t), env("news@x.test", "dora@y.test"), strings.NewReader("Subject: newsletter\r\n\r\nweekly news\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx(t))

	var m apiMessage
	select {
	case m = <-waited:
	case <-time.After(30 * time.Second):
		t.Fatal("the wait did not return")
	}
	if m.Subject != "Order shipped ✓" || m.MessageID != "order-42@x.test" || m.Text != "Your order 42 shipped." ||
		m.HTML != "<p>Your order <b>42</b> shipped.</p>" || m.Attachments != 1 || m.Size != int64(len(webMsg)) {
		t.Errorf("waited for %+v", m)
	}
	if m.Envelope.MailFrom != "shop@x.test" || strings.Join(m.Envelope.RcptTo, ",") != "bob@y.test,carl@y.test" {
		t.Errorf("envelope %+v", m.Envelope)
	}
	if tr := m.Trace; tr == nil || tr.ClientIP != "127.0.0.1" || tr.Protocol != "ESMTPA" || tr.AuthUser != "app-user" || tr.ConnID == "" || tr.Helo == "" {
		t.Errorf("trace %+v", m.Trace)
	}
	line, err := evr.ReadString('\n')
	for err == nil && !strings.HasPrefix(line, "event: new") {
		line, err = evr.ReadString('\n')
	}
	data, _ := evr.ReadString('\n')
	if !strings.Contains(data, `"subject":"Order shipped ✓"`) {
		t.Errorf("event: %q %q", line, data)
	}

	var l apiList
	apiDo(t, "GET", base+"/api/v1/messages", nil, &l)
	if l.Total != 2 || l.Messages[0].Subject != "newsletter" {
		t.Errorf("list: %+v", l)
	}
	for q, want := range map[string]string{"subject:order": "Order shipped ✓", "weekly": "newsletter", "to:dora": "newsletter", "is:attachment": "Order shipped ✓"} {
		apiDo(t, "GET", base+"/api/v1/messages?q="+url.QueryEscape(q), nil, &l)
		if l.Total != 1 || l.Messages[0].Subject != want {
			t.Errorf("search %q: %+v", q, l)
		}
	}
	apiDo(t, "GET", base+"/api/v1/messages?start=1&limit=1", nil, &l)
	if l.Total != 2 || len(l.Messages) != 1 || l.Messages[0].Subject != "Order shipped ✓" {
		t.Errorf("page 2: %+v", l)
	}

	// The attachment, as a download; the raw message, exact.
	var full struct {
		Attachments []struct {
			Filename, URL string
		} `json:"attachments"`
		Raw string `json:"raw"`
	}
	apiDo(t, "GET", base+"/api/v1/messages/"+url.PathEscape(m.ID)+"?raw=1", nil, &full)
	if len(full.Attachments) != 1 || full.Attachments[0].Filename != "invoice 42.pdf" || full.Raw != webMsg {
		t.Fatalf("attachments %+v, raw %q", full.Attachments, full.Raw)
	}
	resp, err := http.Get(base + full.Attachments[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(pdf) != "%PDF-1.4\n" || resp.Header.Get("Content-Disposition") != `attachment; filename="invoice 42.pdf"` || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("download %q %v", pdf, resp.Header)
	}
	resp, err = http.Get(base + "/api/v1/messages/" + url.PathEscape(m.ID) + "/raw")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.HasPrefix(raw, []byte("Return-Path: <shop@x.test>\r\nX-Envelope-To: bob@y.test, carl@y.test\r\nReceived: from ")) || !bytes.HasSuffix(raw, []byte(webMsg)) {
		t.Errorf("raw %q", raw)
	}

	// A wait that nothing answers: 404 when the timeout ends.
	var e struct{ Error string }
	if resp := apiDo(t, "GET", base+"/api/v1/messages/wait?to=nobody@y.test&timeout=100ms", nil, &e); resp.StatusCode != 404 || e.Error == "" {
		t.Errorf("wait without a match: %d %+v", resp.StatusCode, e)
	}

	// Delete one; a restart rebuilds the index from the Maildir.
	if resp := apiDo(t, "DELETE", base+"/api/v1/messages/"+url.PathEscape(l.Messages[0].ID), nil, nil); resp.StatusCode != 200 {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	if resp := apiDo(t, "GET", base+"/api/v1/messages/"+url.PathEscape(l.Messages[0].ID), nil, nil); resp.StatusCode != 404 {
		t.Errorf("get after delete: %d", resp.StatusCode)
	}
	p.Stop()
	_, base, _ = startWithUI(t, dir, "-maildir", md)
	apiDo(t, "GET", base+"/api/v1/messages", nil, &l)
	if l.Total != 1 || l.Messages[0].Subject != "newsletter" {
		t.Errorf("after restart: %+v", l)
	}
	var del struct{ Deleted int }
	apiDo(t, "DELETE", base+"/api/v1/messages", nil, &del)
	if files := e2e.Maildir(t, md, 0, 0); del.Deleted != 1 || len(files) != 0 {
		t.Errorf("delete all: %+v, %d files left", del, len(files))
	}
}

// sendWebMsg sends webMsg from shop@x.test to bob@y.test through the
// mailsink at addr and returns it as its API at base has it.
func sendWebMsg(t *testing.T, addr, base string) apiMessage {
	t.Helper()
	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send(ctx(t), env("shop@x.test", "bob@y.test"), strings.NewReader(webMsg)); err != nil {
		t.Fatal(err)
	}
	var m apiMessage
	apiDo(t, "GET", base+"/api/v1/messages/wait?timeout=10s", nil, &m)
	return m
}

// TestRelease: a message released to a second mailsink arrives there with
// the first one's Received field; each recipient's outcome is reported.
func TestRelease(t *testing.T) {
	dir := t.TempDir()
	addr, base, _ := startWithUI(t, dir, "-maildir", filepath.Join(dir, "one"))
	cert, key := e2e.WriteCert(t, dir)
	addr2, base2, _ := startWithUI(t, dir, "-maildir", filepath.Join(dir, "two"), "-reject", "gone@y.test",
		"-tls-cert", cert, "-tls-key", key, "-auth", "relay:secret")
	m := sendWebMsg(t, addr, base)

	type result struct {
		TLS        string
		Error      string
		Recipients []struct {
			Address string
			OK      bool
			Code    int
			Error   string
		}
	}
	var res result
	resp := apiDo(t, "POST", base+"/api/v1/messages/"+url.PathEscape(m.ID)+"/release", map[string]any{
		"server": addr2, "security": "starttls", "insecure": true, "username": "relay", "password": "secret",
		"to": []string{"bob@y.test", "gone@y.test"},
	}, &res)
	if resp.StatusCode != 200 || res.Error != "" || res.TLS == "" || len(res.Recipients) != 2 ||
		!res.Recipients[0].OK || res.Recipients[0].Code != 250 || res.Recipients[1].OK || res.Recipients[1].Code != 550 {
		t.Fatalf("release: %d %+v", resp.StatusCode, res)
	}
	var got apiMessage
	apiDo(t, "GET", base2+"/api/v1/messages/wait?to=bob@y.test&timeout=10s&raw=1", nil, &got)
	if got.Envelope.MailFrom != "shop@x.test" || strings.Join(got.Envelope.RcptTo, ",") != "bob@y.test" || got.Trace.Protocol != "ESMTPSA" {
		t.Errorf("released message: %+v %+v", got.Envelope, got.Trace)
	}
	// The second sink stored: its Received, then the first one's, then
	// the message as sent.
	var full struct{ Raw string }
	apiDo(t, "GET", base2+"/api/v1/messages/"+url.PathEscape(got.ID)+"?raw=1", nil, &full)
	if !strings.HasPrefix(full.Raw, "Received: from ") || !strings.Contains(full.Raw, " (mailsink) with ESMTP id ") || !strings.HasSuffix(full.Raw, webMsg) {
		t.Errorf("released raw %q", full.Raw)
	}

	// A server that refuses the login: the error, no recipients, 502.
	resp = apiDo(t, "POST", base+"/api/v1/messages/"+url.PathEscape(m.ID)+"/release", map[string]any{
		"server": addr2, "security": "starttls", "insecure": true, "username": "relay", "password": "wrong",
	}, &res)
	if resp.StatusCode != 502 || !strings.Contains(res.Error, "535") || len(res.Recipients) != 0 {
		t.Errorf("bad login: %d %+v", resp.StatusCode, res)
	}
	// A certificate that does not verify, when verification is on.
	resp = apiDo(t, "POST", base+"/api/v1/messages/"+url.PathEscape(m.ID)+"/release", map[string]any{"server": addr2, "security": "starttls"}, &res)
	if resp.StatusCode != 502 || !strings.Contains(res.Error, "certificate") {
		t.Errorf("unverified certificate: %d %+v", resp.StatusCode, res)
	}
	// Bad requests.
	for _, body := range []map[string]any{{"server": "nowhere"}, {"server": addr2, "security": "rot13"}, {"server": addr2, "to": []string{"not an address"}}, {"server": addr2, "bogus": 1}} {
		if resp := apiDo(t, "POST", base+"/api/v1/messages/"+url.PathEscape(m.ID)+"/release", body, &res); resp.StatusCode != 400 {
			t.Errorf("%v: %d", body, resp.StatusCode)
		}
	}
}

// TestReceivedAndLine: the Received field says how the message came
// (client, HELO, TLS, AUTH user: ESMTPSA, RFC 3848) and the printed line
// has the time, connection, client and Message-ID.
func TestReceivedAndLine(t *testing.T) {
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	md := filepath.Join(dir, "md")
	addr, p := start(t, dir, "-maildir", md, "-tls-cert", cert, "-tls-key", key, "-auth-accept-any", "-http", "")
	opts := &client.Options{LocalName: "app.example", TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	c, err := client.DialStartTLS(ctx(t), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(ctx(t), client.LoginAuth("someone", "whatever")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("Message-ID: <m1@x.test>\r\nSubject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx(t))
	files := e2e.Maildir(t, md, 1, 5*time.Second)
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	s := e2e.ReadStored(t, files[0])
	for _, want := range []string{"from app.example ([127.0.0.1])", "(using TLS 1.3 with cipher TLS_", "(authenticated as someone)", " (mailsink) with ESMTPSA id ", "for <b@y.test>;"} {
		if !strings.Contains(s.Received, want) {
			t.Errorf("Received %q lacks %q", s.Received, want)
		}
	}
	p.Stop()
	out := p.Stdout.String()
	// 2026-12-07T03:16:42.574Z conn=ID client=127.0.0.1 msgid=<m1@x.test> from=<a@x.test> ...
	f := strings.Fields(out)
	if len(f) < 7 || len(f[0]) < 23 || f[0][10] != 'T' || !strings.HasPrefix(f[1], "conn=") || f[2] != "client=127.0.0.1" || f[3] != "msgid=<m1@x.test>" || f[4] != "from=<a@x.test>" {
		t.Errorf("line %q", out)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", f[0]); err != nil {
		t.Errorf("time %q: %v", f[0], err)
	}
}

// TestAuthAcceptAny: any credentials pass with PLAIN and LOGIN; mechanisms
// that need the password (CRAM-MD5) are not offered; mail without AUTH is
// still taken.
func TestAuthAcceptAny(t *testing.T) {
	dir := t.TempDir()
	addr, _ := start(t, dir, "-maildir", filepath.Join(dir, "md"), "-auth-accept-any", "-http", "")
	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Hello(ctx(t), "")
	if got := strings.Join(c.Extensions().Auth, " "); got != "PLAIN LOGIN" {
		t.Errorf("AUTH %q, want PLAIN LOGIN (no TLS needed on loopback)", got)
	}
	if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("x\r\n")); err != nil {
		t.Errorf("without AUTH: %v", err)
	}
	if _, err := parseFlags([]string{"-auth-accept-any", "-auth", "a:b"}, io.Discard); err == nil {
		t.Error("-auth-accept-any with -auth accepted")
	}
	if _, err := parseFlags([]string{"-auth-accept-any", "-auth-file", "/nonexistent"}, io.Discard); err == nil {
		t.Error("-auth-accept-any with -auth-file accepted")
	}
}

// TestAcceptAnyWarning: -auth-accept-any on an address other than loopback
// is announced on stderr.
func TestAcceptAnyWarning(t *testing.T) {
	dir := t.TempDir()
	port, p := startWildcard(t, dir, "-maildir", filepath.Join(dir, "md"), "-auth-accept-any", "-http", "")
	p.Stop()
	if !strings.Contains(p.Stderr.String(), "warning: -auth-accept-any on [::]:"+port+", which is not a loopback address") {
		t.Errorf("stderr %q", p.Stderr.String())
	}
	_, p = start(t, dir, "-maildir", filepath.Join(dir, "md"), "-auth-accept-any", "-http", "")
	p.Stop()
	if strings.Contains(p.Stderr.String(), "warning") {
		t.Errorf("warning on loopback: %q", p.Stderr.String())
	}
}

// TestHTTPAddressTaken: when the UI's port is in use mailsink says so and
// serves SMTP all the same; -http "" and -discard start no UI.
func TestHTTPAddressTaken(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	md := filepath.Join(dir, "md")
	addr, p := start(t, dir, "-maildir", md, "-http", busy.Addr().String())
	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx(t))
	p.Stop()
	if !strings.Contains(p.Stderr.String(), "mailsink: web UI not started: listen tcp "+busy.Addr().String()+": bind: address already in use (SMTP goes on)") {
		t.Errorf("stderr %q", p.Stderr.String())
	}
	for _, args := range [][]string{{"-maildir", md, "-http", ""}, {"-discard"}} {
		_, p := start(t, dir, args...)
		p.Stop()
		if strings.Contains(p.Stderr.String(), "web UI") {
			t.Errorf("%v: %q", args, p.Stderr.String())
		}
	}
}

// TestMaxMessages: past -max-messages the oldest files are deleted.
func TestMaxMessages(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "md")
	addr, base, _ := startWithUI(t, dir, "-maildir", md, "-max-messages", "2")
	c, err := client.Dial(ctx(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, s := range []string{"one", "two", "three"} {
		if _, err := c.Send(ctx(t), env("a@x.test", "b@y.test"), strings.NewReader("Subject: "+s+"\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	var l apiList
	apiDo(t, "GET", base+"/api/v1/messages", nil, &l)
	ents, _ := os.ReadDir(filepath.Join(md, "new"))
	if l.Total != 2 || l.Messages[0].Subject != "three" || l.Messages[1].Subject != "two" || len(ents) != 2 {
		t.Errorf("%d files, list %+v", len(ents), l)
	}
}

// TestClearAuthWarning: -auth without a certificate on an address other than
// loopback lets passwords cross the network in clear: mailsink says so.
func TestClearAuthWarning(t *testing.T) {
	dir := t.TempDir()
	port, p := startWildcard(t, dir, "-maildir", filepath.Join(dir, "md"), "-auth", "a:b", "-http", "")
	p.Stop()
	if !strings.Contains(p.Stderr.String(), "warning: -auth without -tls-cert on [::]:"+port) {
		t.Errorf("stderr %q", p.Stderr.String())
	}
	_, p = start(t, dir, "-maildir", filepath.Join(dir, "md"), "-auth", "a:b", "-http", "")
	p.Stop()
	if strings.Contains(p.Stderr.String(), "warning") {
		t.Errorf("warning on loopback: %q", p.Stderr.String())
	}
}

// startWildcard starts mailsink on every address (0.0.0.0) with a port the
// kernel picks, and returns that port once mailsink has said it listens:
// a port found free beforehand may be taken by then on a busy machine.
func startWildcard(t *testing.T, dir string, args ...string) (string, *e2e.Proc) {
	t.Helper()
	p := e2e.Start(t, dir, bin, append([]string{"-listen", "0.0.0.0:0"}, args...)...)
	re := regexp.MustCompile(`listening on \[::\]:(\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.Stderr.String()); m != nil {
			p.WaitListen("127.0.0.1:"+m[1], 10*time.Second)
			return m[1], p
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("mailsink did not say where it listens:\n%s", p.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
