package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

// Certificate usages (RFC 6698 2.1.1, RFC 7218 names).
const (
	UsagePKIXTA uint8 = 0 // unusable for SMTP (RFC 7672 3.1.3)
	UsagePKIXEE uint8 = 1 // unusable for SMTP (RFC 7672 3.1.3)
	UsageDANETA uint8 = 2
	UsageDANEEE uint8 = 3
)

// Selectors (RFC 6698 2.1.2).
const (
	SelectorCert uint8 = 0 // the whole certificate
	SelectorSPKI uint8 = 1 // the SubjectPublicKeyInfo
)

// Matching types (RFC 6698 2.1.3).
const (
	MatchFull   uint8 = 0
	MatchSHA256 uint8 = 1
	MatchSHA512 uint8 = 2
)

// TLSA is one TLSA record (RFC 6698 2.1).
type TLSA struct {
	Usage, Selector, MatchingType uint8
	// Data is the certificate association data.
	Data []byte
}

// ParseTLSA parses the RDATA of a TLSA record (RFC 6698 2.1): three octets
// and the association data.
func ParseTLSA(rdata []byte) (TLSA, error) {
	if len(rdata) < 4 {
		return TLSA{}, errors.New("dane: TLSA record shorter than 4 octets")
	}
	return TLSA{Usage: rdata[0], Selector: rdata[1], MatchingType: rdata[2], Data: append([]byte(nil), rdata[3:]...)}, nil
}

func (t TLSA) String() string {
	return fmt.Sprintf("%d %d %d %s", t.Usage, t.Selector, t.MatchingType, hex.EncodeToString(t.Data))
}

// Usable reports whether an SMTP client can use the record (RFC 7672
// 3.1.3, RFC 7671 4): usage DANE-TA(2) or DANE-EE(3), a known selector and
// matching type, and data of the digest's length. Unusable records are
// ignored; a non-empty RRset of only unusable ones still requires TLS.
func (t TLSA) Usable() bool {
	if t.Usage != UsageDANETA && t.Usage != UsageDANEEE {
		return false
	}
	if t.Selector != SelectorCert && t.Selector != SelectorSPKI {
		return false
	}
	switch t.MatchingType {
	case MatchFull:
		return len(t.Data) > 0
	case MatchSHA256:
		return len(t.Data) == sha256.Size
	case MatchSHA512:
		return len(t.Data) == sha512.Size
	}
	return false
}

// Matches reports whether cert matches the record's selector, matching
// type and data (the usage is not looked at).
func (t TLSA) Matches(cert *x509.Certificate) bool {
	var data []byte
	switch t.Selector {
	case SelectorCert:
		data = cert.Raw
	case SelectorSPKI:
		data = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch t.MatchingType {
	case MatchFull:
		return string(data) == string(t.Data)
	case MatchSHA256:
		sum := sha256.Sum256(data)
		return string(sum[:]) == string(t.Data)
	case MatchSHA512:
		sum := sha512.Sum512(data)
		return string(sum[:]) == string(t.Data)
	}
	return false
}

// Record returns the record of the given usage, selector and matching type
// for cert, as a domain would publish it.
func Record(usage, selector, matching uint8, cert *x509.Certificate) TLSA {
	t := TLSA{Usage: usage, Selector: selector, MatchingType: matching}
	data := cert.Raw
	if selector == SelectorSPKI {
		data = cert.RawSubjectPublicKeyInfo
	}
	switch matching {
	case MatchSHA256:
		sum := sha256.Sum256(data)
		t.Data = sum[:]
	case MatchSHA512:
		sum := sha512.Sum512(data)
		t.Data = sum[:]
	default:
		t.Data = append([]byte(nil), data...)
	}
	return t
}
