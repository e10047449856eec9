package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Key sizes for rsa-sha256 (RFC 8301 3.2): signers MUST use at least 1024
// bits and SHOULD use at least 2048.
const (
	MinRSABits         = 1024
	RecommendedRSABits = 2048
)

// KeyError is a private key the package cannot sign with: a type DKIM has
// no algorithm for, or an RSA key shorter than MinRSABits.
type KeyError struct {
	// Bits is the RSA key size, 0 for other keys.
	Bits   int
	Reason string
}

func (e *KeyError) Error() string { return "dkim: unusable key: " + e.Reason }

// algorithm returns the a= tag value for key (RFC 6376 3.3, RFC 8463 3),
// or a *KeyError.
func algorithm(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return "", &KeyError{Bits: bits, Reason: fmt.Sprintf("RSA key of %d bits, at least %d needed (RFC 8301 3.2)", bits, MinRSABits)}
		}
		return "rsa-sha256", nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return "", &KeyError{Reason: "malformed Ed25519 key"}
		}
		return "ed25519-sha256", nil
	case nil:
		return "", &KeyError{Reason: "no key"}
	}
	return "", &KeyError{Reason: fmt.Sprintf("%T keys have no DKIM algorithm (RSA and Ed25519 only)", key)}
}

// ParsePrivateKey reads a private key from PEM: a "PRIVATE KEY" block
// (PKCS#8) holding an RSA or Ed25519 key, or an "RSA PRIVATE KEY" block
// (PKCS#1). Encrypted keys and other key types are refused.
func ParsePrivateKey(pemData []byte) (crypto.Signer, error) {
	for rest := pemData; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("dkim: no PEM private key found")
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("dkim: encrypted private keys are not supported")
		default:
			continue // a certificate or parameters next to the key
		}
		if err != nil {
			return nil, fmt.Errorf("dkim: parsing %s: %w", b.Type, err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, &KeyError{Reason: fmt.Sprintf("%T is not a signing key", key)}
		}
		if _, err := algorithm(s); err != nil {
			return nil, err
		}
		return s, nil
	}
}

// LoadPrivateKey reads a PEM private key file (see ParsePrivateKey).
func LoadPrivateKey(file string) (crypto.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return key, nil
}

// PublicKeyRecord returns the DNS TXT record that publishes key's public
// half at SELECTOR._domainkey.DOMAIN (RFC 6376 3.6.1): "v=DKIM1; k=rsa;
// p=..." with the SubjectPublicKeyInfo for RSA, "k=ed25519" with the raw
// 32-byte key for Ed25519 (RFC 8463 4).
func PublicKeyRecord(key crypto.Signer) (string, error) {
	if _, err := algorithm(key); err != nil {
		return "", err
	}
	switch k := key.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	default:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	}
}
