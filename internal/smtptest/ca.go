package smtptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// CA is a certificate authority made at run time, for tests that need a
// chain: a server certificate issued by a test root (HTTPS policy servers,
// DANE-TA), names that match or not, expired certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Pool holds the root of the CA's chain, for clients that verify.
	Pool *x509.CertPool
	// chain is the CA's certificate and those above it, root last.
	chain [][]byte
}

// CertOptions describe a certificate to issue.
type CertOptions struct {
	// DNSNames are the names (and IP addresses, when they parse as one)
	// it is valid for.
	DNSNames []string
	// NotBefore and NotAfter; zero means an hour ago and a day from now.
	NotBefore, NotAfter time.Time
	// IsCA makes a CA certificate (for intermediates).
	IsCA bool
}

// NewCA makes a root CA with the given common name.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key, der := makeCert(tb, name, CertOptions{IsCA: true}, nil, nil)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Key: key, Pool: pool, chain: [][]byte{der}}
}

// Intermediate issues a CA certificate under ca.
func (ca *CA) Intermediate(tb testing.TB, name string) *CA {
	tb.Helper()
	key, der := makeCert(tb, name, CertOptions{IsCA: true}, ca.Cert, ca.Key)
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, Pool: ca.Pool, chain: append([][]byte{der}, ca.chain...)}
}

// Issue makes a certificate signed by ca. Its TLS chain holds the leaf
// and every CA certificate up to the root included.
func (ca *CA) Issue(tb testing.TB, o CertOptions) *Certificate {
	tb.Helper()
	name := "leaf"
	if len(o.DNSNames) > 0 {
		name = o.DNSNames[0]
	}
	key, der := makeCert(tb, name, o, ca.Cert, ca.Key)
	leaf, _ := x509.ParseCertificate(der)
	return &Certificate{
		TLS:  tls.Certificate{Certificate: append([][]byte{der}, ca.chain...), PrivateKey: key, Leaf: leaf},
		Leaf: leaf,
		Pool: ca.Pool,
	}
}

// SelfSigned makes a self-signed certificate with the options.
func SelfSigned(tb testing.TB, o CertOptions) *Certificate {
	tb.Helper()
	name := "self-signed"
	if len(o.DNSNames) > 0 {
		name = o.DNSNames[0]
	}
	key, der := makeCert(tb, name, o, nil, nil)
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &Certificate{TLS: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, Leaf: leaf, Pool: pool}
}

func makeCert(tb testing.TB, cn string, o CertOptions, parent *x509.Certificate, parentKey crypto.Signer) (crypto.Signer, []byte) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"smtpkit test"}},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range o.DNSNames {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if o.IsCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		tb.Fatal(err)
	}
	return key, der
}

// Handshake runs one TLS handshake over loopback between a server that
// presents cert (its whole chain) and a client configured by cfg, and
// returns the client's error: a test of certificate verification without
// any protocol around it.
func Handshake(tb testing.TB, cert tls.Certificate, cfg *tls.Config) error {
	tb.Helper()
	ln, err := Listen()
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(DefaultTimeout))
		s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		if s.Handshake() == nil {
			s.Read(make([]byte, 1)) // until the client hangs up
		}
	}()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), DefaultTimeout)
	if err != nil {
		tb.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(DefaultTimeout))
	c := tls.Client(conn, cfg)
	err = c.Handshake()
	c.Close()
	<-done
	return err
}
