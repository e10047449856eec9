package smtptest

import (
	"testing"

	kit "github.com/smtpkit/smtp/server/smtptest"
)

// Certificate is the public kit's test certificate (server/smtptest).
type Certificate = kit.Certificate

// NewCertificate makes a fresh certificate for localhost, 127.0.0.1 and
// ::1 (see server/smtptest.NewCertificate).
func NewCertificate() (*Certificate, error) { return kit.NewCertificate() }

// MustCertificate is NewCertificate for tests: it fails tb on error.
func MustCertificate(tb testing.TB) *Certificate {
	tb.Helper()
	c, err := NewCertificate()
	if err != nil {
		tb.Fatalf("smtptest: making certificate: %v", err)
	}
	return c
}
