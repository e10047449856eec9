package mta

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
	"github.com/smtpkit/smtp/client/mtasts"
	"github.com/smtpkit/smtp/client/tlsrpt"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/durable"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// Files of the TLS-RPT directory (STATE/tlsrpt).
const (
	// countsFile holds the counts not yet reported: the reports of each
	// day and policy domain so far, as JSON (tlsrpt.Collector.Add reads
	// them back).
	countsFile = "counts.json"
	// reportsDir holds a copy of each report made, DAY/FILENAME.json
	// (RFC 8460 5.1's file name), kept ReportsKept.
	reportsDir = "reports"
)

const (
	// ReportsKept is how long the copies of the reports are kept.
	ReportsKept = 31 * 24 * time.Hour
	// countsSaveInterval is how often the counts are saved while the
	// relay runs, so that a crash loses at most that much of a day (a
	// graceful shutdown loses nothing).
	countsSaveInterval = time.Hour
	// maxReportResponse bounds what is read of the answer to a report
	// posted to an https: rua (only its status matters; a short body read
	// whole lets the connection be used again).
	maxReportResponse = 64 << 10
)

// tlsReporter counts TLS sessions for TLS-RPT (RFC 8460) and, once a UTC
// day is over, reports them to each policy domain: a copy of the report
// in reports/, then to every rua of the domain's _smtp._tls record that
// it can use (RFC 8460 3): mailto: as a message through the queue,
// https: by POST. Failures are logged; nothing here holds up a delivery.
type tlsReporter struct {
	coll     *tlsrpt.Collector
	dir      string
	hostname string
	txt      mtasts.TXTResolver
	http     *http.Client
	// dkim returns the keys that sign the reports sent by mail (RFC
	// 8460 5.3: receivers ignore unsigned ones); nil: none.
	dkim func() *dkimKeys
	log  *slog.Logger
	mlog *MailLog
	now  func() time.Time
}

// openTLSReporter makes the directory and reads back the counts saved by
// the previous run.
func openTLSReporter(dir, hostname string, txt mtasts.TXTResolver, log *slog.Logger, mlog *MailLog) (*tlsReporter, error) {
	if err := os.MkdirAll(filepath.Join(dir, reportsDir), 0o700); err != nil {
		return nil, err
	}
	r := &tlsReporter{coll: &tlsrpt.Collector{}, dir: dir, hostname: hostname, txt: txt, http: newReportHTTPClient(),
		log: log, mlog: mlog, now: time.Now}
	r.coll.Now = func() time.Time { return r.now() }
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// org is who sends the reports: this host. The report-id is
// "DAY_DOMAIN@HOSTNAME", the same for the same report, so that a receiver
// drops a copy sent again (RFC 8460 5.3.1: Report-ID).
func (r *tlsReporter) org() tlsrpt.Organization {
	return tlsrpt.Organization{Name: r.hostname, ContactInfo: "postmaster@" + r.hostname}
}

// load adds the saved counts to the collector.
func (r *tlsReporter) load() error {
	data, err := os.ReadFile(filepath.Join(r.dir, countsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var reports []*tlsrpt.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(r.dir, countsFile), err)
	}
	for _, rep := range reports {
		r.coll.Add(rep)
	}
	return nil
}

// save writes the counts not yet reported, atomically.
func (r *tlsReporter) save() error {
	reports := []*tlsrpt.Report{}
	for _, day := range r.coll.Days() {
		for _, dom := range r.coll.Domains(day) {
			if rep := r.coll.Report(day, dom, r.org()); rep != nil {
				reports = append(reports, rep)
			}
		}
	}
	data, err := json.MarshalIndent(reports, "", "  ")
	if err != nil {
		return err
	}
	final := filepath.Join(r.dir, countsFile)
	tmp := final + ".tmp"
	os.Remove(tmp) // left by a crash
	return (&durable.Disk{}).WriteFile(tmp, final, data)
}

// run reports every day that is over, now and after each UTC midnight,
// and saves the counts every countsSaveInterval, until ctx ends.
func (r *tlsReporter) run(ctx context.Context, q Queue) {
	for {
		r.reportDays(ctx, q)
		if err := r.save(); err != nil {
			r.log.Error("TLS-RPT: cannot save the counts", "err", err)
		}
		wait := min(time.Until(nextUTCDay(r.now())), countsSaveInterval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// nextUTCDay returns the midnight (UTC) after t.
func nextUTCDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// reportDays sends the reports of every day before today (UTC) and
// forgets their counts.
func (r *tlsReporter) reportDays(ctx context.Context, q Queue) {
	today := nextUTCDay(r.now()).Add(-24 * time.Hour)
	for _, day := range r.coll.Days() {
		if !day.Before(today) || ctx.Err() != nil {
			continue
		}
		for _, dom := range r.coll.Domains(day) {
			if ctx.Err() != nil {
				return
			}
			if rep := r.coll.Report(day, dom, r.org()); rep != nil {
				r.send(ctx, q, day, rep)
			}
		}
		r.coll.Forget(day)
	}
	r.prune(today)
}

// send keeps a copy of rep and sends it to the rua of its policy domain.
func (r *tlsReporter) send(ctx context.Context, q Queue, day time.Time, rep *tlsrpt.Report) {
	dom := rep.Policies[0].Policy.Domain
	log := r.log.With("domain", dom, "day", day.Format(time.DateOnly), "report_id", rep.ReportID)
	js, err := rep.JSON()
	if err != nil {
		log.Error("TLS-RPT: cannot encode the report", "err", err)
		return
	}
	if err := r.keep(day, rep, js); err != nil {
		log.Error("TLS-RPT: cannot keep a copy of the report", "err", err)
	}
	txts, err := r.txt.LookupTXT(ctx, "_smtp._tls."+dom)
	var rec *tlsrpt.Record
	if err == nil {
		rec, err = tlsrpt.SelectRecord(txts)
	}
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound, errors.Is(err, tlsrpt.ErrNoRecord):
		log.Info("TLS-RPT: the domain asks for no report (no _smtp._tls record)")
		return
	case err != nil:
		log.Warn("TLS-RPT: no report sent: the _smtp._tls record cannot be read or used", "err", err)
		return
	}
	gz, err := rep.Gzip()
	if err != nil {
		log.Error("TLS-RPT: cannot compress the report", "err", err)
		return
	}
	// RFC 8460 3: the reporter may send to each rua it supports.
	for _, u := range rec.RUA {
		done, id := "report posted", ""
		switch u.Scheme {
		case "https":
			err = r.post(ctx, u, gz)
		case "mailto":
			done = "report queued"
			id, err = r.mail(ctx, q, u, rep, gz)
		}
		switch {
		case err != nil:
			log.Warn("TLS-RPT: report not sent", "rua", u.Redacted(), "err", err)
		case id != "":
			log.Info("TLS-RPT: "+done, "rua", u.Redacted(), "queue_id", id)
		default:
			log.Info("TLS-RPT: "+done, "rua", u.Redacted())
		}
	}
}

// keep writes the report to reports/DAY/FILENAME.json.
func (r *tlsReporter) keep(day time.Time, rep *tlsrpt.Report, js []byte) error {
	dir := filepath.Join(r.dir, reportsDir, day.Format(time.DateOnly))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	final := filepath.Join(dir, rep.FileName(r.hostname, false))
	tmp := final + ".tmp"
	os.Remove(tmp)
	return (&durable.Disk{}).WriteFile(tmp, final, js)
}

// prune removes the copies of reports older than ReportsKept.
func (r *tlsReporter) prune(today time.Time) {
	ents, err := os.ReadDir(filepath.Join(r.dir, reportsDir))
	if err != nil {
		return
	}
	for _, e := range ents {
		if d, err := time.Parse(time.DateOnly, e.Name()); err == nil && today.Sub(d) > ReportsKept {
			if err := os.RemoveAll(filepath.Join(r.dir, reportsDir, e.Name())); err != nil {
				r.log.Warn("TLS-RPT: cannot remove old reports", "err", err)
			}
		}
	}
}

// post sends the report to an https: rua (RFC 8460 5.3.2): a POST of the
// gzip-compressed report; any 2xx answer is success. The certificate is
// verified (RFC 8460 3 allows a reporter not to; this one does).
func (r *tlsReporter) post(ctx context.Context, u *url.URL, gz []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(gz))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", tlsrpt.MediaTypeGzip)
	req.Header.Set("User-Agent", "smtpkit-relay")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxReportResponse))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}

// mail queues the report as a message to a mailto: rua (RFC 8460 5.3.1),
// from the null reverse-path (a report that cannot be delivered is not
// bounced), signed with the DKIM keys of this host's domain when it has
// some; it returns the message's queue ID.
func (r *tlsReporter) mail(ctx context.Context, q Queue, u *url.URL, rep *tlsrpt.Report, gz []byte) (string, error) {
	to, err := mailtoAddress(u)
	if err != nil {
		return "", err
	}
	msg := reportMessage(r.hostname, to, rep, gz, r.now())
	var signers []*dkim.Signer
	if r.dkim != nil {
		var sigs []byte
		// RFC 8460 5.3.1: the report's own fields signed too.
		if sigs, signers, err = r.dkim().signBytes(msg, "TLS-Report-Domain", "TLS-Report-Submitter"); err != nil {
			return "", err
		}
		msg = append(sigs, msg...)
	}
	m := &queue.Message{
		From:       "",
		SMTPUTF8:   !isASCII(to),
		Recipients: []queue.Recipient{{Addr: to, State: queue.Pending}},
		Created:    r.now(),
		Client:     "TLS report for " + rep.Policies[0].Policy.Domain,
	}
	m.NextAttempt = m.Created
	if err := q.Add(ctx, m, msg); err != nil {
		return "", err
	}
	r.mlog.Printf(m.ID, "from=<>, size=%d, nrcpt=1, TLS report %s (queue active)", m.Size, rep.ReportID)
	if len(signers) > 0 {
		r.mlog.Printf(m.ID, "%s", signedNote(signers))
	}
	return m.ID, nil
}

// mailtoAddress returns the address of a mailto: URI (RFC 6068): the
// part before any "?", percent-decoded; it must be one address.
func mailtoAddress(u *url.URL) (string, error) {
	raw := u.Opaque
	if raw == "" {
		raw = u.Path
	}
	addr, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("mailto: %w", err)
	}
	p, err := envelope.ParsePath("<"+addr+">", envelope.ParseOptions{SMTPUTF8: true})
	if err != nil || p.Null {
		return "", fmt.Errorf("mailto:%s: not one address", addr)
	}
	return p.Address.String(), nil
}

// reportMessage builds the message of RFC 8460 5.3.1: multipart/report
// with report-type "tlsrpt", a human-readable part and the report as
// application/tlsrpt+gzip under its file name; the subject and the
// TLS-Report-Domain and TLS-Report-Submitter fields that let a receiver
// sort reports without opening them. TLS-Required: No (RFC 8689 5, RFC
// 8460 5.3) has it delivered despite TLS failures, which it may report.
func reportMessage(hostname, to string, rep *tlsrpt.Report, gz []byte, now time.Time) []byte {
	dom := rep.Policies[0].Policy.Domain
	var ok, failed int64
	for _, p := range rep.Policies {
		ok += p.Summary.Successful
		failed += p.Summary.Failed
	}
	boundary := "=_tlsrpt_" + randomHex(12)
	var b bytes.Buffer
	field := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	field("From", "<postmaster@"+hostname+">")
	field("To", "<"+to+">")
	field("Date", now.Format(time.RFC1123Z))
	field("Subject", "Report Domain: "+dom+" Submitter: "+hostname+"\r\n Report-ID: <"+rep.ReportID+">")
	field("Message-ID", "<tlsrpt."+randomHex(16)+"@"+hostname+">")
	field("TLS-Report-Domain", dom)
	field("TLS-Report-Submitter", hostname)
	field("Auto-Submitted", "auto-generated") // RFC 3834 5
	field("TLS-Required", "No")
	field("MIME-Version", "1.0")
	field("Content-Type", `multipart/report; report-type="tlsrpt";`+"\r\n\t"+`boundary="`+boundary+`"`)
	b.WriteString("\r\nThis is a multipart message in MIME format.\r\n\r\n--" + boundary + "\r\n")
	field("Content-Type", "text/plain; charset=us-ascii")
	field("Content-Transfer-Encoding", "7bit")
	fmt.Fprintf(&b, "\r\nThis is an aggregate TLS report (RFC 8460) from %s for %s:\r\n"+
		"%d successful and %d failed TLS sessions\r\nfrom %s to %s.\r\n"+
		"The report is attached.\r\n\r\n--%s\r\n",
		hostname, dom, ok, failed, rep.DateRange.Start.Format(time.RFC3339), rep.DateRange.End.Format(time.RFC3339), boundary)
	field("Content-Type", tlsrpt.MediaTypeGzip)
	field("Content-Transfer-Encoding", "base64")
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": rep.FileName(hostname, true)})
	field("Content-Disposition", strings.Replace(disp, "; ", ";\r\n\t", 1))
	b.WriteString("\r\n")
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	return b.Bytes()
}

// randomHex returns n random bytes in hexadecimal.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
