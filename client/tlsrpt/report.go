package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Policy types (RFC 8460 4.3 policy-type).
const (
	PolicySTS     = "sts"
	PolicyTLSA    = "tlsa"
	PolicyNoFound = "no-policy-found"
)

// Result types (RFC 8460 4.3).
const (
	ResultStartTLSNotSupported = "starttls-not-supported"
	ResultHostMismatch         = "certificate-host-mismatch"
	ResultExpired              = "certificate-expired"
	ResultNotTrusted           = "certificate-not-trusted"
	ResultValidationFailure    = "validation-failure"
	ResultTLSAInvalid          = "tlsa-invalid"
	ResultDNSSECInvalid        = "dnssec-invalid"
	ResultDANERequired         = "dane-required"
	ResultSTSPolicyFetchError  = "sts-policy-fetch-error"
	ResultSTSPolicyInvalid     = "sts-policy-invalid"
	ResultSTSWebPKIInvalid     = "sts-webpki-invalid"
)

// MediaType is the report's media type (RFC 8460 6.4); MediaTypeGzip
// for the gzip-compressed form (RFC 8460 5.3, 6.5).
const (
	MediaType     = "application/tlsrpt+json"
	MediaTypeGzip = "application/tlsrpt+gzip"
)

// Report is an aggregate report (RFC 8460 4.4). Field order and the
// order of policies and failure details are fixed, so that the same
// counts always give the same bytes.
type Report struct {
	OrganizationName string          `json:"organization-name"`
	DateRange        DateRange       `json:"date-range"`
	ContactInfo      string          `json:"contact-info"`
	ReportID         string          `json:"report-id"`
	Policies         []PolicyResults `json:"policies"`
}

// DateRange is the period a report covers, in UTC (RFC 3339 in JSON).
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyResults are the counts for one policy.
type PolicyResults struct {
	Policy         PolicyDesc      `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details,omitempty"`
}

// PolicyDesc describes the policy applied (RFC 8460 4.3).
type PolicyDesc struct {
	Type string `json:"policy-type"`
	// String is the policy: the MTA-STS policy's lines, or the TLSA
	// records in presentation form.
	String []string `json:"policy-string,omitempty"`
	Domain string   `json:"policy-domain"`
	MXHost []string `json:"mx-host,omitempty"`
}

// Summary counts the sessions (RFC 8460 4.3).
type Summary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

// FailureDetail is one kind of failure with its count (RFC 8460 4.3).
type FailureDetail struct {
	ResultType            string `json:"result-type"`
	SendingMTAIP          string `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname   string `json:"receiving-mx-hostname,omitempty"`
	ReceivingMXHelo       string `json:"receiving-mx-helo,omitempty"`
	ReceivingIP           string `json:"receiving-ip,omitempty"`
	FailedSessionCount    int64  `json:"failed-session-count"`
	AdditionalInformation string `json:"additional-information,omitempty"`
	FailureReasonCode     string `json:"failure-reason-code,omitempty"`
}

// JSON returns the report as JSON, indented for readability.
func (r *Report) JSON() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// Gzip returns the JSON compressed (RFC 8460 5.3: reports are usually
// sent compressed).
func (r *Report) Gzip() ([]byte, error) {
	j, err := r.JSON()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(j)
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// FileName returns the report's file name (RFC 8460 5.1):
// "sender!policy-domain!begin!end.json", the times in seconds since the
// epoch, ".json.gz" when compressed.
func (r *Report) FileName(sender string, gz bool) string {
	domain := ""
	if len(r.Policies) > 0 {
		domain = r.Policies[0].Policy.Domain
	}
	ext := ".json"
	if gz {
		ext = ".json.gz"
	}
	return fmt.Sprintf("%s!%s!%s!%s%s", sender, domain,
		strconv.FormatInt(r.DateRange.Start.Unix(), 10), strconv.FormatInt(r.DateRange.End.Unix(), 10), ext)
}
