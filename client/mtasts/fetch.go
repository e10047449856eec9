package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Result types of RFC 8460 4.3 for MTA-STS failures.
const (
	ResultFetchError    = "sts-policy-fetch-error"
	ResultPolicyInvalid = "sts-policy-invalid"
	ResultWebPKIInvalid = "sts-webpki-invalid"
)

const (
	// DefaultMaxPolicySize bounds a policy body (RFC 8461 3.3: senders may
	// limit it; 64 KiB is the figure it gives).
	DefaultMaxPolicySize = 64 << 10
	// DefaultFetchTimeout bounds one policy fetch, connection to last
	// byte. RFC 8461 3.3 leaves the figure to the sender.
	DefaultFetchTimeout = time.Minute
	// WellKnownPath is the policy's path (RFC 8461 3.2).
	WellKnownPath = "/.well-known/mta-sts.txt"
)

// FetchError is a policy that could not be fetched: a network or TLS
// failure, an HTTP status other than 200, a redirect, another media type
// than text/plain, a body over the limit. ResultType tells the RFC 8460
// category: sts-webpki-invalid for a certificate that does not verify,
// sts-policy-fetch-error otherwise.
type FetchError struct {
	URL    string
	Reason string
	Err    error
	webPKI bool
}

func (e *FetchError) Error() string {
	s := "mtasts: fetching " + e.URL + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FetchError) Unwrap() error { return e.Err }

// ResultType returns the RFC 8460 4.3 result type.
func (e *FetchError) ResultType() string {
	if e.webPKI {
		return ResultWebPKIInvalid
	}
	return ResultFetchError
}

// PolicyURL returns the URL of domain's policy (RFC 8461 3.3).
func PolicyURL(domain string) string {
	return "https://mta-sts." + strings.TrimSuffix(domain, ".") + WellKnownPath
}

// fetch gets and parses domain's policy with client (nil:
// http.DefaultClient's transport, the system's roots).
func fetch(ctx context.Context, client *http.Client, domain string, maxSize int64, timeout time.Duration) (*Policy, error) {
	url := PolicyURL(domain)
	var c http.Client
	if client != nil {
		c = *client
	}
	// RFC 8461 3.3: HTTP redirects are not followed.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &FetchError{URL: url, Reason: "bad URL", Err: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		fe := &FetchError{URL: url, Reason: "request failed", Err: err}
		var unknownAuth x509.UnknownAuthorityError
		var hostErr x509.HostnameError
		var invalid x509.CertificateInvalidError
		var verify *tls.CertificateVerificationError
		if errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalid) || errors.As(err, &verify) {
			// RFC 8461 3.3: the policy host's certificate must verify.
			fe.Reason, fe.webPKI = "certificate does not verify", true
		}
		return nil, fe
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		reason := "HTTP status " + resp.Status
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			reason = "redirect refused (RFC 8461 3.3), HTTP status " + resp.Status
		}
		return nil, &FetchError{URL: url, Reason: reason}
	}
	// RFC 8461 3.2: the media type is text/plain.
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, &FetchError{URL: url, Reason: fmt.Sprintf("media type %q, want text/plain", resp.Header.Get("Content-Type"))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSize+1))
	if err != nil {
		return nil, &FetchError{URL: url, Reason: "reading the body", Err: err}
	}
	if int64(len(body)) > maxSize {
		return nil, &FetchError{URL: url, Reason: fmt.Sprintf("policy larger than %d bytes", maxSize)}
	}
	return ParsePolicy(body)
}
