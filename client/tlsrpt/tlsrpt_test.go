package tlsrpt_test

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/client/mtasts"
	"github.com/smtpkit/smtp/client/tlsrpt"
)

// TestParseRecord: RFC 8460 3.
func TestParseRecord(t *testing.T) {
	cases := []struct {
		in   string
		rua  []string
		fail bool
	}{
		{"v=TLSRPTv1;rua=mailto:reports@example.com", []string{"mailto:reports@example.com"}, false},
		{"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", []string{"https://reporting.example.com/v1/tlsrpt"}, false},
		{"v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.com/x;", []string{"mailto:a@example.com", "https://r.example.com/x"}, false},
		{"v=TLSRPTv1; rua=ftp://x.example/, mailto:a@example.com", []string{"mailto:a@example.com"}, false},
		{"v=TLSRPTv1; rua=mailto:a%2Cb@example.com", []string{"mailto:a%2Cb@example.com"}, false},
		{"v=TLSRPTv1; rua=mailto:a@example.com; ext=1", []string{"mailto:a@example.com"}, false},
		{"v=TLSRPTv1; rua=ftp://x.example/", nil, true},
		{"v=TLSRPTv1", nil, true},
		{"v=TLSRPTv1; rua=", nil, true},
		{"v=TLSRPTv1; rua=mailto:nobody", nil, true},
		{"v=TLSRPTv1; rua=https:///path", nil, true},
		{"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", nil, true},
		{"rua=mailto:a@example.com; v=TLSRPTv1", nil, true},
		{"v=TLSRPTv2; rua=mailto:a@example.com", nil, true},
	}
	for _, tc := range cases {
		r, err := tlsrpt.ParseRecord(tc.in)
		if (err != nil) != tc.fail {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if err != nil {
			var re *tlsrpt.RecordError
			if !errors.As(err, &re) {
				t.Errorf("%q: %T", tc.in, err)
			}
			continue
		}
		var got []string
		for _, u := range r.RUA {
			got = append(got, u.String())
		}
		if strings.Join(got, " ") != strings.Join(tc.rua, " ") {
			t.Errorf("%q: rua %q, want %q", tc.in, got, tc.rua)
		}
	}
	if _, err := tlsrpt.SelectRecord([]string{"v=spf1 -all", "v=TLSRPTv10; rua=mailto:a@example.com"}); !errors.Is(err, tlsrpt.ErrNoRecord) {
		t.Errorf("no record: %v", err)
	}
	if _, err := tlsrpt.SelectRecord([]string{"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"}); err == nil {
		t.Error("two records accepted")
	}
	if r, err := tlsrpt.SelectRecord([]string{"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com"}); err != nil || len(r.RUA) != 1 {
		t.Errorf("one record: %v", err)
	}
}

var (
	stsPolicy = tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "Example.com",
		String: []string{"version: STSv1", "mode: enforce", "mx: *.mail.example.com", "max_age: 86400"},
		MXHost: []string{"*.mail.example.com"}}
	tlsaPolicy = tlsrpt.Policy{Type: tlsrpt.PolicyTLSA, Domain: "example.com",
		String: []string{"3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}
	otherDomain = tlsrpt.Policy{Type: tlsrpt.PolicyNoFound, Domain: "example.net"}
)

// sessions is one day of traffic, to count in any order.
type session struct {
	p    tlsrpt.Policy
	fail *tlsrpt.FailureDetail
}

func daySessions() []session {
	expired := &tlsrpt.FailureDetail{ResultType: tlsrpt.ResultExpired, SendingMTAIP: "2001:db8::25",
		ReceivingMXHostname: "mx2.mail.example.com", ReceivingIP: "192.0.2.2"}
	mismatch := &tlsrpt.FailureDetail{ResultType: tlsrpt.ResultValidationFailure, ReceivingMXHostname: "mx.example.com",
		FailureReasonCode: "tlsa-mismatch", AdditionalInformation: "no TLSA record matches"}
	var s []session
	for range 3 {
		s = append(s, session{stsPolicy, nil})
	}
	s = append(s, session{stsPolicy, expired}, session{stsPolicy, expired},
		session{tlsaPolicy, nil}, session{tlsaPolicy, mismatch}, session{otherDomain, nil})
	return s
}

const wantReport = `{
  "organization-name": "Sender Org",
  "date-range": {
    "start-datetime": "2026-12-07T00:00:00Z",
    "end-datetime": "2026-12-07T23:59:59Z"
  },
  "contact-info": "mailto:tlsrpt@sender.example",
  "report-id": "2026-12-07_example.com@Sender Org",
  "policies": [
    {
      "policy": {
        "policy-type": "sts",
        "policy-string": [
          "version: STSv1",
          "mode: enforce",
          "mx: *.mail.example.com",
          "max_age: 86400"
        ],
        "policy-domain": "example.com",
        "mx-host": [
          "*.mail.example.com"
        ]
      },
      "summary": {
        "total-successful-session-count": 3,
        "total-failure-session-count": 2
      },
      "failure-details": [
        {
          "result-type": "certificate-expired",
          "sending-mta-ip": "2001:db8::25",
          "receiving-mx-hostname": "mx2.mail.example.com",
          "receiving-ip": "192.0.2.2",
          "failed-session-count": 2
        }
      ]
    },
    {
      "policy": {
        "policy-type": "tlsa",
        "policy-string": [
          "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        ],
        "policy-domain": "example.com"
      },
      "summary": {
        "total-successful-session-count": 1,
        "total-failure-session-count": 1
      },
      "failure-details": [
        {
          "result-type": "validation-failure",
          "receiving-mx-hostname": "mx.example.com",
          "failed-session-count": 1,
          "additional-information": "no TLSA record matches",
          "failure-reason-code": "tlsa-mismatch"
        }
      ]
    }
  ]
}`

// TestReport: the daily report of RFC 8460 4.4, byte for byte, the same
// whatever the order the sessions were counted in.
func TestReport(t *testing.T) {
	day := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	org := tlsrpt.Organization{Name: "Sender Org", ContactInfo: "mailto:tlsrpt@sender.example"}
	var first []byte
	for _, reversed := range []bool{false, true} {
		c := &tlsrpt.Collector{Now: func() time.Time { return day }}
		s := daySessions()
		if reversed {
			for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
				s[i], s[j] = s[j], s[i]
			}
		}
		for _, x := range s {
			if x.fail != nil {
				c.Failure(x.p, *x.fail)
			} else {
				c.Success(x.p)
			}
		}
		if d := c.Domains(day); strings.Join(d, ",") != "example.com,example.net" {
			t.Fatalf("domains %v", d)
		}
		r := c.Report(day.Add(-12*time.Hour), "EXAMPLE.com", org)
		if r == nil {
			t.Fatal("no report")
		}
		j, err := r.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(j) != wantReport {
			t.Fatalf("report:\n%s\nwant:\n%s", j, wantReport)
		}
		if first != nil && !bytes.Equal(first, j) {
			t.Fatal("order of counting changed the report")
		}
		first = j
		start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
		wantName := fmt.Sprintf("sender.example!example.com!%d!%d.json.gz", start.Unix(), start.Add(24*time.Hour-time.Second).Unix())
		if name := r.FileName("sender.example", true); name != wantName {
			t.Errorf("file name %q", name)
		}
		gz, err := r.Gzip()
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		if unz, _ := io.ReadAll(zr); !bytes.Equal(unz, j) {
			t.Error("gzip content differs")
		}
	}
}

// TestReportSchema: every field RFC 8460 4.4 requires is present with
// its JSON type, read back without our types.
func TestReportSchema(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(wantReport), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"organization-name", "contact-info", "report-id"} {
		if _, ok := doc[k].(string); !ok {
			t.Errorf("%s missing or not a string", k)
		}
	}
	dr, _ := doc["date-range"].(map[string]any)
	for _, k := range []string{"start-datetime", "end-datetime"} {
		s, _ := dr[k].(string)
		if _, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") {
			t.Errorf("date-range %s = %q", k, s)
		}
	}
	pols, _ := doc["policies"].([]any)
	if len(pols) == 0 {
		t.Fatal("no policies")
	}
	for _, p := range pols {
		pm := p.(map[string]any)
		pol, _ := pm["policy"].(map[string]any)
		for _, k := range []string{"policy-type", "policy-domain"} {
			if _, ok := pol[k].(string); !ok {
				t.Errorf("policy %s missing", k)
			}
		}
		sum, _ := pm["summary"].(map[string]any)
		for _, k := range []string{"total-successful-session-count", "total-failure-session-count"} {
			if _, ok := sum[k].(float64); !ok {
				t.Errorf("summary %s missing", k)
			}
		}
		for _, f := range pm["failure-details"].([]any) {
			fm := f.(map[string]any)
			if _, ok := fm["result-type"].(string); !ok {
				t.Error("result-type missing")
			}
			if _, ok := fm["failed-session-count"].(float64); !ok {
				t.Error("failed-session-count missing")
			}
		}
	}
}

// TestDaysApart: sessions are counted in their UTC day; Forget drops a
// day; a day without counts has no report.
func TestDaysApart(t *testing.T) {
	now := time.Date(2026, 12, 7, 23, 59, 59, 0, time.FixedZone("x", -3600)) // 00:59:59 UTC on the 8th
	c := &tlsrpt.Collector{Now: func() time.Time { return now }}
	c.Success(otherDomain)
	now = now.Add(-2 * time.Hour) // 22:59:59 UTC on the 7th
	c.Success(otherDomain)
	c.Success(otherDomain)
	org := tlsrpt.Organization{Name: "o"}
	r7 := c.Report(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), "example.net", org)
	r8 := c.Report(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), "example.net", org)
	if r7 == nil || r8 == nil || r7.Policies[0].Summary.Successful != 2 || r8.Policies[0].Summary.Successful != 1 {
		t.Fatalf("%+v %+v", r7, r8)
	}
	c.Forget(time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC))
	if r := c.Report(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), "example.net", org); r != nil {
		t.Fatalf("forgotten day reported: %+v", r)
	}
	if r := c.Report(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), "example.com", org); r != nil {
		t.Fatalf("domain without counts reported")
	}
}

// TestResultType: the failures of mtasts and dane carry their RFC 8460
// result types through wrapping.
func TestResultType(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&mtasts.FetchError{URL: "https://mta-sts.example.com/.well-known/mta-sts.txt", Reason: "404"}, tlsrpt.ResultSTSPolicyFetchError},
		{&mtasts.PolicyError{Reason: "no mx"}, tlsrpt.ResultSTSPolicyInvalid},
		{&mtasts.LookupError{Domain: "example.com", Err: errors.New("SERVFAIL")}, tlsrpt.ResultSTSPolicyFetchError},
		{&dane.VerifyError{Result: dane.ResultHostMismatch}, tlsrpt.ResultHostMismatch},
		{&dane.LookupError{Host: "mx.example.com", Err: errors.New("SERVFAIL")}, tlsrpt.ResultDNSSECInvalid},
		{errors.Join(errors.New("context"), &dane.VerifyError{Result: dane.ResultExpired}), tlsrpt.ResultExpired},
		{errors.New("handshake failure"), tlsrpt.ResultValidationFailure},
		// A failed Web PKI check of a TLS handshake (MTA-STS, or no policy).
		{&tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "mx.example.com"}}, tlsrpt.ResultHostMismatch},
		{&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired}}, tlsrpt.ResultExpired},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, tlsrpt.ResultNotTrusted},
		{&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}}, tlsrpt.ResultValidationFailure},
	}
	for _, tc := range cases {
		if got := tlsrpt.ResultType(tc.err); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
}

// TestAddRestoresCounts: the reports of a collector, saved as JSON and
// added to a new one (a restart), give the same reports byte for byte,
// and sessions counted afterwards add to them; Days lists the days with
// counts, oldest first.
func TestAddRestoresCounts(t *testing.T) {
	day := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	now := day
	c := &tlsrpt.Collector{Now: func() time.Time { return now }}
	for _, x := range daySessions() {
		if x.fail != nil {
			c.Failure(x.p, *x.fail)
		} else {
			c.Success(x.p)
		}
	}
	now = day.Add(24 * time.Hour)
	c.Success(otherDomain)
	org := tlsrpt.Organization{Name: "Sender Org", ContactInfo: "mailto:tlsrpt@sender.example"}

	days := c.Days()
	if len(days) != 2 || !days[0].Equal(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)) || !days[1].Equal(days[0].Add(24*time.Hour)) {
		t.Fatalf("days %v", days)
	}
	var saved [][]byte
	for _, d := range days {
		for _, dom := range c.Domains(d) {
			j, err := c.Report(d, dom, org).JSON()
			if err != nil {
				t.Fatal(err)
			}
			saved = append(saved, j)
		}
	}
	restored := &tlsrpt.Collector{Now: func() time.Time { return now }}
	for _, j := range saved {
		var r tlsrpt.Report
		if err := json.Unmarshal(j, &r); err != nil {
			t.Fatal(err)
		}
		restored.Add(&r)
	}
	j, _ := restored.Report(day, "example.com", org).JSON()
	if string(j) != wantReport {
		t.Fatalf("restored report:\n%s\nwant:\n%s", j, wantReport)
	}
	restored.Success(otherDomain)
	r := restored.Report(now, "example.net", org)
	if r == nil || len(r.Policies) != 1 || r.Policies[0].Summary.Successful != 2 {
		t.Fatalf("counts after the restore: %+v", r)
	}
	// Added twice, counts add up.
	var again tlsrpt.Report
	json.Unmarshal(saved[0], &again)
	restored.Add(&again)
	r = restored.Report(day, "example.com", org)
	if r.Policies[0].Summary.Successful != 6 || r.Policies[0].Summary.Failed != 4 || r.Policies[0].FailureDetails[0].FailedSessionCount != 4 {
		t.Errorf("added twice: %+v", r.Policies[0])
	}
	restored.Add(nil)
	restored.Add(&tlsrpt.Report{})
}
