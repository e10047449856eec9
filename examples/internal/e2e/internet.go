package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/smtpkit/smtp/internal/dnsstub/dnstest"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// Internet is what the delivery-security tests of the programs run
// against, all on loopback: a fake DNSSEC-validating resolver for their
// -dns-resolver (MX, A, TXT and TLSA records, with the AD bit or
// without), a Web PKI root that the programs started afterwards trust
// (SSL_CERT_FILE), and HTTPS hosts (MTA-STS policy hosts, TLS-RPT
// receivers) that they reach by name through an HTTP proxy (HTTPS_PROXY):
// the proxy leads each host name to its test server. It changes the
// environment of the test process, so tests that use one cannot run in
// parallel.
type Internet struct {
	t   testing.TB
	DNS *dnstest.Server
	CA  *smtptest.CA
	// CAFile is the root's certificate, PEM.
	CAFile string

	mu    sync.Mutex
	hosts map[string]string // host name -> address of its HTTPS server
}

// NewInternet starts the resolver and the proxy, and sets SSL_CERT_FILE
// and HTTPS_PROXY (NO_PROXY cleared) for the processes the test starts.
func NewInternet(t testing.TB) *Internet {
	t.Helper()
	n := &Internet{t: t, DNS: dnstest.NewServer(t), CA: smtptest.NewCA(t, "Test Web PKI Root"), hosts: map[string]string{}}
	n.CAFile = WriteFile(t, t.TempDir(), "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: n.CA.Cert.Raw})), 0o600)
	proxy := httptest.NewServer(http.HandlerFunc(n.connect))
	t.Cleanup(proxy.Close)
	t.Setenv("SSL_CERT_FILE", n.CAFile)
	for _, k := range []string{"HTTPS_PROXY", "https_proxy"} {
		t.Setenv(k, proxy.URL)
	}
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		t.Setenv(k, "")
	}
	return n
}

// connect serves the proxy's CONNECT requests (RFC 9110 9.3.6): to the
// test server of the host asked for, whatever the port.
func (n *Internet) connect(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	n.mu.Lock()
	addr, ok := n.hosts[host]
	n.mu.Unlock()
	if r.Method != http.MethodConnect || err != nil || !ok {
		http.Error(w, "no such host here", http.StatusBadGateway)
		return
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() {
		defer up.Close()
		defer conn.Close()
		io.Copy(conn, up)
	}()
	// What the server read past the request belongs to the tunnel.
	var in io.Reader = conn
	if k := brw.Reader.Buffered(); k > 0 {
		b, _ := brw.Reader.Peek(k)
		in = io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn)
	}
	io.Copy(up, in)
	up.(*net.TCPConn).CloseWrite()
}

// HTTPS serves h at https://host/ with a certificate the root issued for
// host, until the test ends; it returns the server.
func (n *Internet) HTTPS(host string, h http.Handler) *httptest.Server {
	n.t.Helper()
	s := httptest.NewUnstartedServer(h)
	c := n.CA.Issue(n.t, smtptest.CertOptions{DNSNames: []string{host}})
	s.TLS = &tls.Config{Certificates: []tls.Certificate{c.TLS}}
	s.StartTLS()
	n.t.Cleanup(s.Close)
	n.mu.Lock()
	n.hosts[host] = s.Listener.Addr().String()
	n.mu.Unlock()
	return s
}

// Cert returns a certificate the root issued for names.
func (n *Internet) Cert(names ...string) *smtptest.Certificate {
	n.t.Helper()
	return n.CA.Issue(n.t, smtptest.CertOptions{DNSNames: names})
}

// WriteCertFiles writes c's chain and key as PEM files dir/name.pem and
// dir/name.key (for a program's -tls-cert and -tls-key).
func WriteCertFiles(t testing.TB, dir, name string, c *smtptest.Certificate) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	writeCertPair(t, certFile, keyFile, c)
	return certFile, keyFile
}
