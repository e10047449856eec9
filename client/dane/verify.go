package dane

import (
	"crypto/x509"
	"errors"
	"strings"
	"time"
)

// Result types of RFC 8460 4.3 that a DANE failure reports.
const (
	ResultValidationFailure = "validation-failure"
	ResultHostMismatch      = "certificate-host-mismatch"
	ResultExpired           = "certificate-expired"
	ResultTLSAInvalid       = "tlsa-invalid"
	ResultDNSSECInvalid     = "dnssec-invalid"
	ResultStartTLSMissing   = "starttls-not-supported"
)

// VerifyError is a server that fails DANE authentication. Its ResultType
// is the RFC 8460 result type to report.
type VerifyError struct {
	Result string
	Reason string
	Err    error
}

func (e *VerifyError) Error() string {
	s := "dane: " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *VerifyError) Unwrap() error { return e.Err }

// ResultType returns the RFC 8460 4.3 result type.
func (e *VerifyError) ResultType() string { return e.Result }

// Verify checks the chain a server presented (leaf first, as in
// tls.ConnectionState.PeerCertificates) against the TLSA records (RFC 7672
// 3). Unusable records are skipped. A DANE-EE(3) record matching the leaf
// authenticates it whatever its names and dates (RFC 7672 3.2.1). A
// DANE-TA(2) record matching a certificate of the chain above the leaf
// makes it the trust anchor: the chain up to it must be valid at now, and
// the leaf must carry one of names, the reference identifiers of RFC 7672
// 3.2.2 (the TLSA base domain and the MX host name).
func Verify(records []TLSA, chain []*x509.Certificate, names []string, now time.Time) error {
	if len(chain) == 0 {
		return &VerifyError{Result: ResultValidationFailure, Reason: "the server sent no certificate"}
	}
	usable := 0
	var taErr error
	for _, r := range records {
		if !r.Usable() {
			continue
		}
		usable++
		switch r.Usage {
		case UsageDANEEE:
			if r.Matches(chain[0]) {
				return nil
			}
		case UsageDANETA:
			for i := 1; i < len(chain); i++ {
				if !r.Matches(chain[i]) {
					continue
				}
				err := verifyTA(chain, i, names, now)
				if err == nil {
					return nil
				}
				taErr = err
			}
		}
	}
	if usable == 0 {
		return &VerifyError{Result: ResultTLSAInvalid, Reason: "no usable TLSA record"}
	}
	if taErr != nil {
		return taErr
	}
	return &VerifyError{Result: ResultValidationFailure, Reason: "no TLSA record matches the server's certificate chain"}
}

// verifyTA validates chain[0] up to the trust anchor chain[ta] (RFC 7672
// 3.2.2): dates checked, names checked against the reference identifiers,
// any extended key usage accepted (SMTP servers' certificates vary).
func verifyTA(chain []*x509.Certificate, ta int, names []string, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(chain[ta])
	inter := x509.NewCertPool()
	for _, c := range chain[1:ta] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return &VerifyError{Result: ResultExpired, Reason: "certificate chain to the DANE-TA anchor", Err: err}
		}
		return &VerifyError{Result: ResultValidationFailure, Reason: "certificate chain to the DANE-TA anchor", Err: err}
	}
	for _, n := range names {
		if n != "" && chain[0].VerifyHostname(strings.TrimSuffix(n, ".")) == nil {
			return nil
		}
	}
	return &VerifyError{Result: ResultHostMismatch, Reason: "certificate valid for none of " + strings.Join(names, ", ")}
}
