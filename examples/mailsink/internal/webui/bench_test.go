package webui

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/examples/internal/maildir"
	"github.com/smtpkit/smtp/examples/mailsink/internal/mailstore"
)

// benchMessage returns the i-th message of the benchmark's Maildir, in
// three kinds: plain text (~1 KiB), text and HTML alternatives (~4 KiB),
// and every fifth one a multipart/mixed with a 24 KiB base64 attachment.
func benchMessage(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <app@example.org>\r\nX-Envelope-To: user%d@example.net\r\n", i%50)
	fmt.Fprintf(&b, "Received: from app.example ([127.0.0.1])\r\n\tby sink (mailsink) with ESMTP id c-%d;\r\n\tMon, 07 Dec 2026 10:00:00 +0000\r\n", i)
	fmt.Fprintf(&b, "From: App <app@example.org>\r\nTo: User %d <user%d@example.net>\r\nSubject: =?utf-8?q?Notification_n=C2=B0_%d?=\r\n", i, i%50, i)
	fmt.Fprintf(&b, "Message-ID: <%d@example.org>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n", i)
	para := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 16) + "\r\n"
	switch {
	case i%5 == 0:
		att := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("binary\x00\x01", 3000)))
		b.WriteString("Content-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(para + "--mix\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=report.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		for len(att) > 76 {
			b.WriteString(att[:76] + "\r\n")
			att = att[76:]
		}
		b.WriteString(att + "\r\n--mix--\r\n")
	case i%2 == 0:
		b.WriteString("Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		b.WriteString(para + para + "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" + para + "</p><p>" + para + "</p></body></html>\r\n--alt--\r\n")
	default:
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n" + para)
	}
	return b.String()
}

// BenchmarkList10000 measures what a restart costs before the first page
// shows: rebuild the index of a 10,000-message Maildir from its files,
// then GET the first page of the list API (issue 17: under a second).
func BenchmarkList10000(b *testing.B) {
	dir, err := maildir.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	var bytes int64
	for i := range n {
		_, size, err := dir.Deliver(strings.NewReader(benchMessage(i)))
		if err != nil {
			b.Fatal(err)
		}
		bytes += size
	}
	b.ResetTimer()
	for b.Loop() {
		st, err := mailstore.Open(dir.Path(), mailstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(New(Options{Store: st, Addr: "127.0.0.1:8025"}))
		resp, err := http.Get(srv.URL + "/api/v1/messages")
		if err != nil {
			b.Fatal(err)
		}
		var l listJSON
		err = json.NewDecoder(resp.Body).Decode(&l)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		srv.Close()
		if err != nil || l.Total != n || l.Count != DefaultPageSize || l.Messages[0].Subject != fmt.Sprintf("Notification n° %d", n-1) {
			b.Fatalf("list: %v %d %d", err, l.Total, l.Count)
		}
	}
	b.ReportMetric(float64(bytes)/n, "B/msg")
}
