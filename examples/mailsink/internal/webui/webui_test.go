package webui

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/maildir"
	"github.com/smtpkit/smtp/examples/internal/mimeparse"
	"github.com/smtpkit/smtp/examples/mailsink/internal/mailstore"
)

// hostile is a message whose every displayed field tries to inject markup.
const hostile = "Return-Path: <a@x.test>\r\nX-Envelope-To: b@y.test\r\n" +
	"From: \"<img src=x onerror=alert(1)>\" <evil@x.test>\r\n" +
	"To: \"</td><script>alert(2)</script>\" <b@y.test>\r\n" +
	"Subject: <script>alert(3)</script>\r\n" +
	"X-Header: <b onmouseover=alert(4)>\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain\r\n\r\n</pre><script>alert(5)</script>\r\n" +
	"--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p><script>alert(6)</script><img src=\"cid:logo\"><img src=\"http://remote.test/x.png\">\r\n" +
	"--b\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n" +
	"--b\r\nContent-Type: text/html; name=\"<svg onload=alert(7)>.html\"\r\nContent-Disposition: attachment; filename=\"../../<svg onload=alert(7)>.html\"\r\n\r\n<script>alert(8)</script>\r\n" +
	"--b--\r\n"

// serve starts the UI over a Maildir holding msgs and returns its URL.
func serve(t *testing.T, msgs ...string) (string, *mailstore.Store, []string) {
	t.Helper()
	dir, err := maildir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		p, _, err := dir.Deliver(strings.NewReader(m))
		if err != nil {
			t.Fatal(err)
		}
		name := p[strings.LastIndexByte(p, '/')+1:]
		ids = append(ids, name)
	}
	st, err := mailstore.Open(dir.Path(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Store: st, Addr: "127.0.0.1:8025"}))
	t.Cleanup(srv.Close)
	return srv.URL, st, ids
}

func get(t *testing.T, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestNoMarkupFromMail: what a message holds reaches the pages escaped, on
// the list and on every tab of the message view.
func TestNoMarkupFromMail(t *testing.T) {
	base, _, ids := serve(t, hostile)
	pages := []string{"/", "/list", "/?q=alert"}
	for _, tab := range tabs {
		pages = append(pages, "/messages/"+url.PathEscape(ids[0])+"?tab="+tab)
	}
	for _, p := range pages {
		resp, body := get(t, base+p)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		for _, bad := range []string{"<script>alert", "<img src=x", "<b onmouseover", "<svg onload", "</td><script>"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: page holds %q unescaped", p, bad)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
	}
	// The list shows the subject as text.
	if _, body := get(t, base+"/"); !strings.Contains(body, "&lt;script&gt;alert(3)&lt;/script&gt;") {
		t.Errorf("list does not show the escaped subject")
	}
}

func TestHTMLBodyEndpoint(t *testing.T) {
	base, _, ids := serve(t, hostile)
	resp, body := get(t, base+"/api/v1/messages/"+url.PathEscape(ids[0])+"/html")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != htmlCSP ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{"default-src 'none'", "img-src data:;", "sandbox allow-popups"} {
		if !strings.Contains(htmlCSP, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	if strings.Contains(htmlCSP, "script-src") || strings.Contains(htmlCSP, "allow-scripts") {
		t.Errorf("CSP allows scripts: %s", htmlCSP)
	}
	// The cid: image is inlined as data:, the remote one left to the CSP.
	if !strings.Contains(body, `<img src="data:image/png;base64,iVBORw==">`) || !strings.Contains(body, "http://remote.test/x.png") {
		t.Errorf("body %s", body)
	}
}

func TestAttachmentDownload(t *testing.T) {
	base, _, ids := serve(t, hostile)
	resp, body := get(t, base+"/api/v1/messages/"+url.PathEscape(ids[0])+"/parts/4")
	if resp.StatusCode != 200 || body != "<script>alert(8)</script>" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="_svg onload=alert(7)_.html"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != "default-src 'none'; sandbox" {
		t.Errorf("CSP %q", csp)
	}
	if resp, _ := get(t, base+"/api/v1/messages/"+url.PathEscape(ids[0])+"/parts/9"); resp.StatusCode != 404 {
		t.Errorf("missing part: %d", resp.StatusCode)
	}
}

func TestSafeFilename(t *testing.T) {
	for _, tc := range []struct{ in, typ, want string }{
		{"report.pdf", "", "report.pdf"},
		{"../../etc/passwd", "", "passwd"},
		{`C:\Users\x\evil.exe`, "", "evil.exe"},
		{"..", "", "attachment"},
		{".bashrc", "", "bashrc"},
		{"a\x00b\r\nc.txt", "", "abc.txt"},
		{`what?*:"<>|.txt`, "", "what_______.txt"},
		{"", "application/pdf", "attachment.pdf"},
		{"résumé €.pdf", "", "résumé €.pdf"},
		{strings.Repeat("é", 150), "", strings.Repeat("é", 100)},
	} {
		if got := safeFilename(tc.in, tc.typ); got != tc.want {
			t.Errorf("safeFilename(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDNSRebinding: on a loopback address only loopback host names are
// answered.
func TestDNSRebinding(t *testing.T) {
	base, _, _ := serve(t, hostile)
	for host, want := range map[string]int{
		"127.0.0.1:8025":     200,
		"localhost:8025":     200,
		"[::1]:8025":         200,
		"app.localhost":      200,
		"127.0.0.2":          200,
		"evil.example:8025":  421,
		"127.0.0.1.evil.net": 421,
	} {
		resp, _ := get(t, base+"/api/v1/messages", "Host", host)
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
	// Bound to all interfaces, no name can be known: no check.
	dir, _ := maildir.Open(t.TempDir())
	st, _ := mailstore.Open(dir.Path(), mailstore.Options{})
	srv := httptest.NewServer(New(Options{Store: st, Addr: "0.0.0.0:8025"}))
	defer srv.Close()
	if resp, _ := get(t, srv.URL+"/api/v1/messages", "Host", "mailsink.lan:8025"); resp.StatusCode != 200 {
		t.Errorf("all interfaces: %d", resp.StatusCode)
	}
}

// TestCrossSiteWrites: a page of another site cannot delete or release.
func TestCrossSiteWrites(t *testing.T) {
	base, st, ids := serve(t, hostile)
	u := base + "/api/v1/messages/" + url.PathEscape(ids[0])
	do := func(method, path, ctype string, hdr map[string]string) int {
		req, _ := http.NewRequest(method, u+path, strings.NewReader(`{"server":"127.0.0.1:1"}`))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	if got := do("DELETE", "", "", cross); got != http.StatusForbidden {
		t.Errorf("cross-site DELETE: %d", got)
	}
	if got := do("DELETE", "", "", map[string]string{"Origin": "https://evil.example"}); got != http.StatusForbidden {
		t.Errorf("DELETE with a foreign Origin: %d", got)
	}
	if got := do("POST", "/release", "application/json", cross); got != http.StatusForbidden {
		t.Errorf("cross-site release: %d", got)
	}
	// A form's content types never pass, even without the headers a
	// browser adds.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		if got := do("POST", "/release", ct, nil); got != http.StatusUnsupportedMediaType {
			t.Errorf("release as %q: %d", ct, got)
		}
	}
	if st.Len() != 1 {
		t.Fatal("a refused request deleted the message")
	}
	// Same origin (the UI's own fetch) and no browser at all (curl) pass.
	if got := do("DELETE", "", "", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": base}); got != 200 {
		t.Errorf("same-origin DELETE: %d", got)
	}
}

// TestMalformedShownRaw: a message whose MIME is broken gets a page that
// says so and shows what it could, not an error.
func TestMalformedShownRaw(t *testing.T) {
	msg := "Return-Path: <a@x.test>\r\nX-Envelope-To: b@y.test\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary=nope\r\n\r\njust text, no parts\r\n"
	base, _, ids := serve(t, msg)
	resp, body := get(t, base+"/messages/"+url.PathEscape(ids[0])+"?tab=text")
	if resp.StatusCode != 200 || !strings.Contains(body, `id="problems"`) || !strings.Contains(body, "just text, no parts") {
		t.Errorf("%d\n%s", resp.StatusCode, body)
	}
	resp, body = get(t, base+"/api/v1/messages/"+url.PathEscape(ids[0]))
	if resp.StatusCode != 200 || !strings.Contains(body, `"part 1: the boundary \"nope\" does not occur"`) && !strings.Contains(body, `the boundary \"nope\" does not occur`) {
		t.Errorf("%d\n%s", resp.StatusCode, body)
	}
}

func TestParseTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"": DefaultWait, "10s": 10 * time.Second, "2.5": 2500 * time.Millisecond, "0": 0} {
		if got, err := parseTimeout(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"x", "-1s", "1h"} {
		if _, err := parseTimeout(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestInlineCIDs(t *testing.T) {
	img := &mimeparse.Part{ContentType: "image/gif", ContentID: "a b@x", Data: []byte("GIF")}
	script := &mimeparse.Part{ContentType: "text/html", ContentID: "h@x", Data: []byte("<script>")}
	got := inlineCIDs(`<img src="cid:a%20b@x"><img src='CID:a%20b@x'><iframe src="cid:h@x"><img src="cid:none">`, []*mimeparse.Part{img, script})
	want := `<img src="data:image/gif;base64,R0lG"><img src='data:image/gif;base64,R0lG'><iframe src="cid:h@x"><img src="cid:none">`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestEventsChangeWhenPruned: with MaxMessages (mailsink's -max-messages)
// a new message deletes the oldest; the event stream says both, "new" and
// "change" (the API documents "change" after a deletion), so that a client
// keeping its own list drops the deleted one.
func TestEventsChangeWhenPruned(t *testing.T) {
	dir, err := maildir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := dir.Deliver(strings.NewReader("Subject: old\r\n\r\n1\r\n")); err != nil {
		t.Fatal(err)
	}
	st, err := mailstore.Open(dir.Path(), mailstore.Options{MaxMessages: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Store: st, Addr: "127.0.0.1:8025"}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evr := bufio.NewReader(resp.Body)
	if line, _ := evr.ReadString('\n'); line != "retry: 2000\n" {
		t.Fatalf("event stream starts with %q", line)
	}
	p, _, err := dir.Deliver(strings.NewReader("Subject: new\r\n\r\n2\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Add(p); err != nil {
		t.Fatal(err)
	}
	if st.Len() != 1 {
		t.Fatalf("%d messages after the prune, want 1", st.Len())
	}
	seen := map[string]bool{}
	for !seen["new"] || !seen["change"] {
		line, err := evr.ReadString('\n')
		if err != nil {
			t.Fatalf("events seen %v, then %v", seen, err)
		}
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			seen[strings.TrimSpace(ev)] = true
		}
	}
}

// TestMessagePageReadError: a message the index has but whose file cannot
// be read (here a directory took its place) is a server error on the page,
// as in the API, and logged; not "no such message".
func TestMessagePageReadError(t *testing.T) {
	dir, err := maildir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := dir.Deliver(strings.NewReader("Subject: x\r\n\r\n1\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := mailstore.Open(dir.Path(), mailstore.Options{SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Store: st, Addr: "127.0.0.1:8025", Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	id := filepath.Base(p)
	for _, path := range []string{"/messages/", "/api/v1/messages/"} {
		if resp, _ := get(t, srv.URL+path+url.PathEscape(id)); resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s: %d, want 500", path, resp.StatusCode)
		}
	}
}
