package mta

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/tlsrpt"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// fakeTXT answers TXT lookups from a map; a name it lacks is not found.
type fakeTXT map[string][]string

func (f fakeTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	if txt, ok := f[name]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// TestTLSReporter: once a UTC day is over, each policy domain's report is
// kept in reports/DAY, posted to its https: rua and queued as a message to
// its mailto: rua; a domain without a _smtp._tls record gets none; the
// day's counts are forgotten, today's kept; the counts survive a restart
// (save, then load).
func TestTLSReporter(t *testing.T) {
	dir := t.TempDir()
	rua := &e2e.ReportReceiver{}
	srv := httptest.NewTLSServer(rua)
	defer srv.Close()
	txt := fakeTXT{"_smtp._tls.mx.dane.test": {"v=TLSRPTv1; rua=" + srv.URL + "/tlsrpt,mailto:tls-reports@reports.test"}}
	var logBuf e2e.Buffer
	r, err := openTLSReporter(filepath.Join(dir, "tlsrpt"), "relay.test", txt, discardLog(), NewMailLog(&logBuf, "relay"))
	if err != nil {
		t.Fatal(err)
	}
	r.http = srv.Client()
	_, edKey := testKeys()
	keys, err := loadDKIMKeys([]dkimSpec{{"relay.test", "r", writeKey(t, dir, "k.pem", edKey, false, 0o600)}})
	if err != nil {
		t.Fatal(err)
	}
	r.dkim = func() *dkimKeys { return keys }

	yesterday := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	now := yesterday
	r.now = func() time.Time { return now }
	dane := tlsrpt.Policy{Type: tlsrpt.PolicyTLSA, Domain: "mx.dane.test", String: []string{"3 1 1 00"}}
	quiet := tlsrpt.Policy{Type: tlsrpt.PolicyNoFound, Domain: "quiet.test"}
	r.coll.Success(dane)
	r.coll.Failure(dane, tlsrpt.FailureDetail{ResultType: tlsrpt.ResultStartTLSNotSupported, ReceivingMXHostname: "mx.dane.test"})
	r.coll.Success(quiet)
	now = yesterday.Add(24 * time.Hour) // the next day
	r.coll.Success(dane)

	// A restart: the counts saved and read back.
	if err := r.save(); err != nil {
		t.Fatal(err)
	}
	r2, err := openTLSReporter(filepath.Join(dir, "tlsrpt"), "relay.test", txt, discardLog(), NewMailLog(&logBuf, "relay"))
	if err != nil {
		t.Fatal(err)
	}
	r2.http, r2.dkim, r2.now = r.http, r.dkim, r.now
	q, err := DiskBackend().Open(context.Background(), filepath.Join(dir, "queue"), Options{Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	r2.reportDays(context.Background(), q)

	// The https: rua.
	posted, ctype := rua.Wait(t, time.Second)
	if rua.Count() != 1 || ctype != "application/tlsrpt+gzip" {
		t.Fatalf("posted %d reports, type %q", rua.Count(), ctype)
	}
	rep := e2e.TLSReport(t, posted)
	p := rep.Policies
	if len(p) != 1 || p[0].Policy.Domain != "mx.dane.test" || p[0].Summary.Successful != 1 || p[0].Summary.Failed != 1 ||
		p[0].FailureDetails[0].ResultType != "starttls-not-supported" || rep.ReportID != "2026-12-06_mx.dane.test@relay.test" ||
		rep.OrganizationName != "relay.test" || rep.ContactInfo != "postmaster@relay.test" {
		t.Errorf("report %+v", rep)
	}
	// The copy.
	name := rep.FileName("relay.test", false)
	if js, err := os.ReadFile(filepath.Join(dir, "tlsrpt", "reports", "2026-12-06", name)); err != nil || !strings.Contains(string(js), `"report-id": "`+rep.ReportID) {
		t.Errorf("copy %s: %v", name, err)
	}
	quietFile := fmt.Sprintf("relay.test!quiet.test!%d!%d.json", yesterday.Unix()-15*3600, yesterday.Unix()+9*3600-1)
	if _, err := os.Stat(filepath.Join(dir, "tlsrpt", "reports", "2026-12-06", quietFile)); err != nil {
		t.Errorf("no copy of the report of a domain without rua: %v", err)
	}
	// The mailto: rua, through the queue.
	msgs, err := q.List(context.Background())
	if err != nil || len(msgs) != 1 {
		t.Fatalf("queued %d messages (%v), want the report", len(msgs), err)
	}
	m := msgs[0]
	if m.From != "" || len(m.Recipients) != 1 || m.Recipients[0].Addr != "tls-reports@reports.test" {
		t.Errorf("envelope %+v", m)
	}
	data, err := q.(*diskQueue).q.ReadData(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sigs := e2e.ResignDKIM(t, data, map[string]crypto.Signer{"r": edKey}); len(sigs) != 1 || sigs[0].Domain != "relay.test" ||
		!strings.Contains(string(sigs[0].Raw), "tls-report-domain:tls-report-submitter") {
		t.Errorf("signatures %+v", sigs)
	}
	if got := checkReportMessage(t, data); !bytes.Equal(got, posted) {
		t.Error("the mailed report differs from the posted one")
	}
	if !strings.Contains(logBuf.String(), "TLS report "+rep.ReportID+" (queue active)") {
		t.Errorf("mail log:\n%s", logBuf.String())
	}
	// Yesterday forgotten, today kept.
	if days := r2.coll.Days(); len(days) != 1 || !days[0].Equal(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("days left %v", days)
	}
	r2.reportDays(context.Background(), q)
	if rua.Count() != 1 {
		t.Error("reported twice")
	}
}

// checkReportMessage checks a report message (e2e.TLSReportMail: RFC
// 8460 5.3.1) and the fields this relay adds, and returns the attached
// report.
func checkReportMessage(t *testing.T, data []byte) []byte {
	t.Helper()
	h, gz := e2e.TLSReportMail(t, data, "mx.dane.test", "relay.test")
	want := map[string]string{
		"Subject":        "Report Domain: mx.dane.test Submitter: relay.test Report-ID: <2026-12-06_mx.dane.test@relay.test>",
		"Auto-Submitted": "auto-generated",
		"From":           "<postmaster@relay.test>",
		"To":             "<tls-reports@reports.test>",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	_, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	msg, _ := mail.ReadMessage(bytes.NewReader(data))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	text, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(text); !strings.Contains(string(b), "1 successful and 1 failed TLS sessions\r\nfrom 2026-12-06T00:00:00Z to 2026-12-06T23:59:59Z") {
		t.Errorf("text part %q", b)
	}
	if att, _ := mr.NextPart(); att == nil || att.FileName() != "relay.test!mx.dane.test!1796515200!1796601599.json.gz" {
		t.Errorf("attachment %v", att)
	}
	return gz
}

// TestTLSReporterNoRecord: an unreadable record, or a rua that cannot be
// used, sends nothing and stops nothing; the day is reported once.
func TestTLSReporterNoRecord(t *testing.T) {
	dir := t.TempDir()
	txt := fakeTXT{
		"_smtp._tls.two.test":  {"v=TLSRPTv1; rua=mailto:a@two.test", "v=TLSRPTv1; rua=mailto:b@two.test"},
		"_smtp._tls.bad.test":  {"v=TLSRPTv1; rua=mailto:not-an-address"},
		"_smtp._tls.down.test": {"v=TLSRPTv1; rua=https://127.0.0.1:1/x"},
	}
	var logBuf e2e.Buffer
	r, err := openTLSReporter(dir, "relay.test", txt, slogTo(&logBuf), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	for _, d := range []string{"two.test", "bad.test", "down.test", "none.test"} {
		r.coll.Success(tlsrpt.Policy{Type: tlsrpt.PolicyNoFound, Domain: d})
	}
	now = now.Add(24 * time.Hour)
	q, err := DiskBackend().Open(context.Background(), filepath.Join(dir, "queue"), Options{Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	r.reportDays(context.Background(), q)
	if msgs, _ := q.List(context.Background()); len(msgs) != 0 {
		t.Errorf("queued %d messages", len(msgs))
	}
	if len(r.coll.Days()) != 0 {
		t.Error("the day is not forgotten")
	}
	for _, want := range []string{"domain=two.test", "domain=none.test", "asks for no report", "report not sent"} {
		if !strings.Contains(logBuf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logBuf.String())
		}
	}
}

// TestTLSRequiredNo: RFC 8689 5's header field, read from the header
// section only.
func TestTLSRequiredNo(t *testing.T) {
	for msg, want := range map[string]bool{
		"TLS-Required: No\r\nSubject: x\r\n\r\nbody\r\n":                                  true,
		"Subject: x\r\ntls-required:   no  \r\n\r\nbody\r\n":                              true,
		"Subject: x\r\nTLS-Required: Yes\r\n\r\nbody\r\n":                                 false,
		"Subject: x\r\n\r\nTLS-Required: No\r\n":                                          false, // in the body
		"Subject: x\r\nX-TLS-Required: No\r\n\r\n":                                        false,
		"TLS-Required: No\r\nTLS-Required: No\r\n\r\n":                                    false, // not one field
		"Subject: x\r\n" + strings.Repeat("X: y\r\n", 20000) + "TLS-Required: No\r\n\r\n": false,
	} {
		r := strings.NewReader(msg)
		if got := tlsRequiredNo(r, r.Size()); got != want {
			t.Errorf("%.60q: %v, want %v", msg, got, want)
		}
	}
}

// TestNextUTCDay: the report time is the next midnight UTC, whatever the
// zone of the clock.
func TestNextUTCDay(t *testing.T) {
	zone := time.FixedZone("x", 5*3600)
	for in, want := range map[time.Time]time.Time{
		time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC):    time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC): time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC):     time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 8, 2, 0, 0, 0, zone):         time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), // 21:00 UTC on the 7th
	} {
		if got := nextUTCDay(in); !got.Equal(want) {
			t.Errorf("nextUTCDay(%v) = %v, want %v", in, got, want)
		}
	}
}

// slogTo is a logger writing text to w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
