package mta

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/client/mtasts"
)

// TLSFlags are the flags of delivery security, the relay's and the
// gateway's: DANE through a validating resolver, MTA-STS, TLS reporting.
type TLSFlags struct {
	// DNSResolver is -dns-resolver HOST:PORT, a DNSSEC-validating
	// recursive resolver: every MX and address lookup goes through it,
	// and DANE (RFC 7672) applies. "" means the system's resolver, no
	// DANE.
	DNSResolver string
	// MTASTS is -mta-sts: recipient domains' MTA-STS policies (RFC
	// 8461) apply, kept in STATE/mta-sts across restarts.
	MTASTS bool
	// TLSRPT is -tlsrpt: sessions are counted per policy domain and the
	// daily reports sent to the domains' rua (RFC 8460).
	TLSRPT bool
	// MXPort is -mx-port, the port dialled on MX hosts (and of their
	// TLSA records, _PORT._tcp.HOST): 25 unless a test or a tunnel
	// needs another (Register's default; Check refuses 0).
	MXPort int
}

// Register adds the flags to fs.
func (f *TLSFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.DNSResolver, "dns-resolver", "", "`HOST:PORT` of a DNSSEC-validating recursive resolver on a trusted path (a local unbound, 127.0.0.1:53): every MX and address lookup goes through it, and DANE (RFC 7672) applies to domains with signed TLSA records: mail to them goes only over TLS whose certificate matches the records")
	fs.BoolVar(&f.MTASTS, "mta-sts", false, "apply recipient domains' MTA-STS policies (RFC 8461): to a domain in mode enforce, mail goes only to the MX hosts its policy lists, over TLS with a certificate valid for their names; policies are kept in STATE/mta-sts")
	fs.BoolVar(&f.TLSRPT, "tlsrpt", false, "count TLS sessions per policy domain and send each UTC day's report (RFC 8460) to the domain's rua (_smtp._tls TXT record): mailto: through the queue, https: by POST; the counts, and a copy of each report, in STATE/tlsrpt")
	fs.IntVar(&f.MXPort, "mx-port", client.DefaultDeliveryPort, "TCP `port` of the MX hosts, and of their TLSA records (Postfix's smtp_tcp_port)")
}

// Check validates the flags.
func (f *TLSFlags) Check() error {
	if f.DNSResolver != "" {
		if _, port, err := net.SplitHostPort(f.DNSResolver); err != nil || port == "" {
			return fmt.Errorf("-dns-resolver %q: want HOST:PORT", f.DNSResolver)
		}
	}
	if f.MXPort < 1 || f.MXPort > 65535 {
		return fmt.Errorf("-mx-port %d: not a TCP port", f.MXPort)
	}
	return nil
}

// needsState reports whether the flags keep files (MTA-STS policies,
// TLS-RPT counts).
func (f *TLSFlags) needsState() bool { return f.MTASTS || f.TLSRPT }

// Subdirectories of the state directory.
const (
	mtastsDir = "mta-sts" // MTA-STS policies, one file a domain (mtasts.FileStore)
	tlsrptDir = "tlsrpt"  // TLS-RPT counts and copies of the reports sent
)

// Security is the delivery security of an SMTP transport: DANE, MTA-STS
// and TLS reporting, as the flags asked. A nil *Security is none.
type Security struct {
	dane   *dane.Resolver
	sts    *mtasts.Resolver
	report *tlsReporter
	port   int
}

// OpenSecurity sets up what f asks for, keeping its files in stateDir
// (needed with -mta-sts and -tlsrpt). hostname names this host in the
// reports; mlog logs the reports queued.
func OpenSecurity(f TLSFlags, stateDir, hostname string, log *slog.Logger, mlog *MailLog) (*Security, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	s := &Security{port: f.MXPort}
	var txt mtasts.TXTResolver = net.DefaultResolver
	if f.DNSResolver != "" {
		s.dane = &dane.Resolver{Server: f.DNSResolver}
		txt = s.dane
		if host, _, _ := net.SplitHostPort(f.DNSResolver); !IsLoopbackHost(host) {
			log.Warn("-dns-resolver is not on this host: DANE trusts its AD bit, so the path to it must be trusted (RFC 4035 4.9.3)",
				"resolver", f.DNSResolver)
		}
	}
	if f.needsState() && stateDir == "" {
		return nil, errors.New("-mta-sts and -tlsrpt keep files: give -state-dir DIR")
	}
	if f.MTASTS {
		dir := filepath.Join(stateDir, mtastsDir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("-mta-sts: %w", err)
		}
		// RFC 8461 10.2: a policy outlives a restart, so that blocking
		// the lookups at startup removes nothing.
		s.sts = &mtasts.Resolver{TXT: txt, Store: &mtasts.FileStore{Dir: dir}, Logger: log}
	}
	if f.TLSRPT {
		r, err := openTLSReporter(filepath.Join(stateDir, tlsrptDir), hostname, txt, log, mlog)
		if err != nil {
			return nil, fmt.Errorf("-tlsrpt: %w", err)
		}
		s.report = r
	}
	return s, nil
}

// IsLoopbackHost reports whether host is a loopback address or localhost.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LogAttrs describes the security in force, for the start line.
func (s *Security) LogAttrs() []any {
	if s == nil {
		return []any{"dane", false, "mta_sts", false, "tlsrpt", false}
	}
	return []any{"dane", s.dane != nil, "mta_sts", s.sts != nil, "tlsrpt", s.report != nil}
}

// RunReports sends the TLS reports of each UTC day once it is over, until
// ctx ends; reports to a mailto: address are queued in q, to an https:
// URL posted. It returns at once without -tlsrpt.
func (s *Security) RunReports(ctx context.Context, q Queue) {
	if s != nil && s.report != nil {
		s.report.run(ctx, q)
	}
}

// Close saves what TLS-RPT counted, so that a restart keeps the day's
// counts; call it once the deliveries have stopped.
func (s *Security) Close() error {
	if s == nil || s.report == nil {
		return nil
	}
	return s.report.save()
}

// configure sets the security of d, the transport's Deliverer, and
// returns the Deliverer for messages that ask to be delivered despite TLS
// failures (TLS-Required: No), or nil when there is no difference.
func (s *Security) configure(d *client.Deliverer) *client.Deliverer {
	if s == nil {
		return nil
	}
	d.Port = s.port
	// RFC 8689 5: the sender asks that the recipient domain's TLS
	// policies be ignored; RFC 8460 5.3: a report is delivered despite TLS
	// failures, and its session is not counted in the next report. The
	// same DNS, without DANE, MTA-STS or counting.
	plain := *d
	if s.dane != nil {
		plain.Resolver = s.dane
	}
	d.DANE, d.MTASTS = s.dane, s.sts
	if s.report != nil {
		d.TLSReport = s.report.coll
	}
	if d.DANE == nil && d.MTASTS == nil && d.TLSReport == nil {
		return nil
	}
	return &plain
}

// maxTLSRequiredScan bounds what is read of a message's header section
// to find a TLS-Required field.
const maxTLSRequiredScan = 64 << 10

// tlsRequiredNo reports whether the message has the header field
// "TLS-Required: No" (RFC 8689 5): its sender asks that the recipient
// domain's TLS policies (DANE, MTA-STS) be ignored, so that it is
// delivered even where they fail (opportunistic TLS is still used).
func tlsRequiredNo(msg io.ReaderAt, size int64) bool {
	br := bufio.NewReader(io.NewSectionReader(msg, 0, size))
	header, _, err := readHeaderSection(br, maxTLSRequiredScan)
	if err != nil || !bytes.Contains(bytes.ToLower(header), []byte("tls-required")) {
		return false
	}
	m, err := mail.ReadMessage(bytes.NewReader(header))
	if err != nil {
		return false
	}
	v := m.Header["Tls-Required"]
	return len(v) == 1 && strings.EqualFold(strings.TrimSpace(v[0]), "No")
}

// reportHTTPTimeout bounds one POST of a TLS report.
const reportHTTPTimeout = time.Minute

// newReportHTTPClient is the client that posts reports: the system's
// roots, no redirect followed.
func newReportHTTPClient() *http.Client {
	return &http.Client{
		Timeout: reportHTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
