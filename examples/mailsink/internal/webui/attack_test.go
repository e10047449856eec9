package webui

import (
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestAttackCIDAmplification: every cid: reference in an HTML body was
// replaced by the whole image as a data: URL, so a 64 kB image referred to
// 1,000 times (6 bytes each) made a 87 MB page, built in mailsink's memory
// at every view; 10,000 references to a 1 MB image, 13 GB. What inlining
// adds is bounded by MaxInlinedBytes; references past it stay cid: (a
// broken image).
func TestAttackCIDAmplification(t *testing.T) {
	img := base64.StdEncoding.EncodeToString(make([]byte, 64<<10))
	const refs = 1000
	html := strings.Repeat(`<img src="cid:a">`, refs)
	msg := "Content-Type: multipart/related; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n" + html + "\r\n" +
		"--b\r\nContent-Type: image/png\r\nContent-ID: <a>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + img + "\r\n--b--\r\n"
	base, _, ids := serve(t, msg)
	resp, err := http.Get(base + "/api/v1/messages/" + url.PathEscape(ids[0]) + "/html")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	if limit := int64(len(html) + MaxInlinedBytes); n > limit {
		t.Errorf("a %d-byte message made a %d-byte HTML page, more than %d", len(msg), n, limit)
	}
	// The first references are inlined all the same.
	_, body := get(t, base+"/api/v1/messages/"+url.PathEscape(ids[0])+"/html")
	if !strings.HasPrefix(body, `<img src="data:image/png;base64,`) {
		t.Errorf("the image is not inlined: %.100s", body)
	}
}

// TestAttackHTMLBodyNoSpeculativeConnections: Chromium opens a connection
// (DNS lookup, TCP, TLS) for <link rel=preconnect> and for an <iframe>'s
// source although the body's Content-Security-Policy forbids any request
// (preconnects are not subject to CSP), and a <noscript> body is markup
// when scripts are off: the sender learns when and from where the mail
// was opened, as a tracking pixel tells. The browser test
// TestAttackHTMLBodyOpensNoConnection sees the connections; here, the
// elements are gone from the served body in every spelling the HTML
// tokenizer reads as those tags (WHATWG HTML, "tag name state": a tag name
// ends at white space, "/" or ">", and is case-insensitive).
func TestAttackHTMLBodyNoSpeculativeConnections(t *testing.T) {
	tags := []string{
		`<link rel="preconnect" href="http://tracker.test">`,
		`<LINK REL=PRECONNECT HREF=//tracker.test>`,
		"<link\trel=dns-prefetch href=//tracker.test>",
		"<Link\nrel=prefetch href=http://tracker.test/x>",
		`<link/rel=preload/as=image/href=http://tracker.test/x>`,
		`<noscript><link rel=preconnect href=http://tracker.test></noscript>`,
		`<iframe src="http://tracker.test/f"></iframe>`,
		`<IFRAME loading=lazy src=http://tracker.test/f>`,
		"<iframe\fsrc=http://tracker.test/f>",
		`<frameset><frame src="http://tracker.test/f"></frameset>`,
		`<svg><link href="http://tracker.test"/></svg>`,
	}
	msg := "Content-Type: text/html\r\n\r\n<p>hello</p>" + strings.Join(tags, "") + "<p>linkage, iframes and frames stay words</p>\r\n"
	base, _, ids := serve(t, msg)
	_, body := get(t, base+"/api/v1/messages/"+url.PathEscape(ids[0])+"/html")
	if tag := regexp.MustCompile(`(?i)<(link|i?frame)[\t\n\f\r /]`).FindString(body); tag != "" {
		t.Errorf("the served body still has %q:\n%s", tag, body)
	}
	if !strings.Contains(body, "<p>hello</p>") || !strings.Contains(body, "<p>linkage, iframes and frames stay words</p>") {
		t.Errorf("the rest of the body changed:\n%s", body)
	}
}

// TestAttackBidiFilename: a file name with a right-to-left override
// (U+202E, a format character, not a control) shows "invoice‮fdp.exe" as
// "invoiceexe.pdf" in the Attachments tab and in the browser's download
// bar. Bidi controls are dropped from the saved name and from the name the
// page shows.
func TestAttackBidiFilename(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe\r\n\r\nMZ\r\n--b--\r\n"
	base, _, ids := serve(t, msg)
	resp, _ := get(t, base+"/api/v1/messages/"+url.PathEscape(ids[0])+"/parts/2")
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err != nil || params["filename"] != "invoicefdp.exe" {
		t.Errorf("Content-Disposition %q: filename %q, %v", resp.Header.Get("Content-Disposition"), params["filename"], err)
	}
	_, page := get(t, base+"/messages/"+url.PathEscape(ids[0])+"?tab=attachments")
	if strings.Contains(page, "\u202e") || !strings.Contains(page, "invoicefdp.exe") {
		t.Errorf("the attachments tab shows the override:\n%s", page)
	}
}

// TestAttackHeld: attacks of the outside review that the UI withstood,
// kept as regression tests: ids and part names that climb out of the
// Maildir, Host names a rebinding page might use, and writes from a page
// on the same site (another port of 127.0.0.1: a developer's own app) or
// from an opaque origin (a sandboxed frame, Origin: null).
func TestAttackHeld(t *testing.T) {
	base, st, ids := serve(t, hostile)
	for _, p := range []string{
		"/api/v1/messages/..%2F..%2F..%2Fetc%2Fpasswd/raw",
		"/api/v1/messages/..%2Fnew/raw",
		"/api/v1/messages/%2E%2E/raw",
		"/api/v1/messages/" + url.PathEscape(ids[0]) + "/parts/..%2F1",
		"/static/..%2F..%2Fapi.go",
	} {
		if resp, _ := get(t, base+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	for _, host := range []string{"0x7f000001", "2130706433", "127.1", "127.0.0.1.nip.io", "localhost.evil.example"} {
		if resp, _ := get(t, base+"/api/v1/messages", "Host", host); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %q: %d, want 421", host, resp.StatusCode)
		}
	}
	u := base + "/api/v1/messages/" + url.PathEscape(ids[0])
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:3000"},
		{"Origin": "http://127.0.0.1:3000"},
		{"Origin": "null"},
		{"Sec-Fetch-Site": "cross-site", "Origin": "null"},
	} {
		for _, method := range []string{"DELETE", "POST"} {
			path := ""
			if method == "POST" {
				path = "/release"
			}
			req, _ := http.NewRequest(method, u+path, strings.NewReader(`{"server":"127.0.0.1:1"}`))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %v: %d, want 403", method, hdr, resp.StatusCode)
			}
		}
	}
	if st.Len() != 1 {
		t.Error("a refused request deleted the message")
	}
}
