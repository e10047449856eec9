package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/tlsrpt"
)

// TLSReport reads a gzip-compressed TLS report (RFC 8460 4.4).
func TLSReport(t testing.TB, gz []byte) *tlsrpt.Report {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var r tlsrpt.Report
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatalf("%v:\n%s", err, js)
	}
	return &r
}

// TLSReportMail checks a TLS report sent by mail as RFC 8460 5.3.1 has
// it, read with the standard library: the subject "Report Domain: ...
// Submitter: ... Report-ID: <...>", the TLS-Report-Domain and
// TLS-Report-Submitter fields, TLS-Required: No, multipart/report with
// report-type "tlsrpt", a text part, then the report as
// application/tlsrpt+gzip under a .json.gz file name; lines of at most 78
// characters. It returns the header and the attached report compressed.
func TLSReportMail(t testing.TB, raw []byte, domain, submitter string) (mail.Header, []byte) {
	t.Helper()
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line over 78 characters: %q", line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	subject := regexp.MustCompile(`^Report Domain: ` + regexp.QuoteMeta(domain) + ` Submitter: ` + regexp.QuoteMeta(submitter) +
		`\s+Report-ID: <[^@>\s]+@[^@>\s]+>$`)
	if !subject.MatchString(h.Get("Subject")) || h.Get("TLS-Report-Domain") != domain ||
		h.Get("TLS-Report-Submitter") != submitter || h.Get("TLS-Required") != "No" {
		t.Errorf("header %v", h)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("Content-Type %q", h.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	if p, err := mr.NextPart(); err != nil || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("first part: %v", err)
	}
	att, err := mr.NextPart()
	if err != nil || att.Header.Get("Content-Type") != tlsrpt.MediaTypeGzip || !strings.HasSuffix(att.FileName(), ".json.gz") {
		t.Fatalf("second part: %v", err)
	}
	b64, _ := io.ReadAll(att)
	gz, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b64)))
	if err != nil {
		t.Fatal(err)
	}
	return h, gz
}

// MoveTLSRPTCounts rewrites the TLS-RPT counts a program saved in file
// (a JSON list of reports) as if they had been counted on day: a test
// stands for a program that was down over midnight.
func MoveTLSRPTCounts(t testing.TB, file string, day time.Time) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var reps []*tlsrpt.Report
	if err := json.Unmarshal(b, &reps); err != nil || len(reps) == 0 {
		t.Fatalf("counts %v:\n%s", err, b)
	}
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	for _, r := range reps {
		r.DateRange.Start, r.DateRange.End = start, start.Add(24*time.Hour-time.Second)
	}
	b, _ = json.Marshal(reps)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ReportReceiver is an https: rua of TLS-RPT: it records the reports
// posted to it and answers 201.
type ReportReceiver struct {
	mu     sync.Mutex
	bodies [][]byte
	types  []string
}

// ServeHTTP implements http.Handler.
func (rc *ReportReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, b)
	rc.types = append(rc.types, r.Header.Get("Content-Type"))
	rc.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// Count returns the number of reports posted.
func (rc *ReportReceiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

// Wait waits up to timeout for the first report and returns it with its
// Content-Type.
func (rc *ReportReceiver) Wait(t testing.TB, timeout time.Duration) ([]byte, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for rc.Count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no report posted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.bodies[0], rc.types[0]
}
