package smtp_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

// readmeSend holds the client snippet of README.md ("Using the library")
// between the marker comments; TestReadmeClientSnippet checks that the
// README shows exactly these lines and runs them against real servers.
func readmeSend(ctx context.Context, server, user, password, msg string) error {
	// README client begin
	c, err := client.DialStartTLS(ctx, server, &client.Options{LocalName: "laptop.example.org"})
	if err != nil {
		return err // also when STARTTLS is not offered or the certificate does not verify
	}
	defer c.Close()
	// The strongest mechanism both sides know; a password never goes in clear.
	if err := c.AuthAuto(ctx, client.Credentials{Username: user, Password: password}); err != nil {
		return err
	}
	if err := c.SendMail(ctx, "me@example.org", []string{"you@example.net"}, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit(ctx)
	// README client end
}

// trustedCert is the certificate the system roots hold for this test
// binary (SSL_CERT_FILE, set by TestMain before any TLS use).
var trustedCert *smtptest.Certificate

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		// Unix systems but macOS read the system roots from SSL_CERT_FILE
		// when it is set (crypto/x509), once, at the first use.
		c, err := smtptest.NewCertificate()
		if err != nil {
			panic(err)
		}
		dir, err := os.MkdirTemp("", "readme-test")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		f := filepath.Join(dir, "roots.pem")
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Raw}), 0o600); err != nil {
			panic(err)
		}
		os.Setenv("SSL_CERT_FILE", f)
		os.Unsetenv("SSL_CERT_DIR")
		trustedCert = c
	}
	return m.Run()
}

// TestReadmeClientSnippet: the README's client snippet is the safe
// default (issue 14.17: it used to send in clear even when STARTTLS was
// offered). It delivers over verified TLS with AUTH, and sends neither a
// password nor the message to a server that offers no STARTTLS or whose
// certificate does not verify.
func TestReadmeClientSnippet(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	want := between(t, string(self), "\t// README client begin\n", "\t// README client end\n")
	if !strings.Contains(normalise(string(readme)), normalise(want)) {
		t.Errorf("README.md does not show the client snippet of readmeSend:\n%s", want)
	}

	if trustedCert == nil {
		t.Skip("no way to add a root certificate on " + runtime.GOOS)
	}
	untrusted := smtptest.MustCertificate(t)
	for _, tc := range []struct {
		name      string
		cert      *smtptest.Certificate // nil: no STARTTLS
		delivered bool
		errIs     func(error) bool
	}{
		{"verified TLS", trustedCert, true, nil},
		{"no STARTTLS", nil, false, func(err error) bool {
			var ce *client.Error
			return errors.As(err, &ce) && ce.Command == "STARTTLS"
		}},
		{"unverified certificate", untrusted, false, func(err error) bool {
			var uae x509.UnknownAuthorityError
			return errors.As(err, &uae)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, st := startReadmeServer(t, tc.cert)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := readmeSend(ctx, addr, "me", "secret", "Subject: hi\r\n\r\nhello\r\n")
			if tc.delivered {
				if err != nil {
					t.Fatalf("snippet: %v", err)
				}
			} else if err == nil || !tc.errIs(err) {
				t.Fatalf("snippet: %v (%T), want a refusal before anything is sent", err, err)
			}
			trace, msgs := st.result()
			if tc.delivered {
				tls := strings.Index(trace, "C: STARTTLS")
				auth := strings.Index(trace, "C: AUTH")
				if msgs != 1 || tls < 0 || auth < tls {
					t.Errorf("%d messages; want 1, sent after STARTTLS and AUTH:\n%s", msgs, trace)
				}
				return
			}
			if msgs != 0 || strings.Contains(trace, "C: AUTH") || strings.Contains(trace, "C: MAIL") {
				t.Errorf("credentials or mail sent without verified TLS (%d messages):\n%s", msgs, trace)
			}
		})
	}
}

// between returns the text of s between the lines begin and end.
func between(t *testing.T, s, begin, end string) string {
	t.Helper()
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("markers %q %q not found", begin, end)
	}
	return s[i+len(begin) : j]
}

// normalise drops the indentation of every line, so that the function
// body and the README's code block compare.
func normalise(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t ")
	}
	return strings.Join(lines, "\n")
}

// readmeStore is a submission server's backend: user me, password secret.
type readmeStore struct {
	mu    sync.Mutex
	msgs  int
	trace bytes.Buffer
}

func (s *readmeStore) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trace.Write(p)
}

func (s *readmeStore) result() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trace.String(), s.msgs
}

func (s *readmeStore) NewSession(context.Context, *server.Conn) (server.Session, error) {
	return &readmeSession{s}, nil
}

type readmeSession struct{ st *readmeStore }

func (s *readmeSession) AuthPassword(_ context.Context, identity, user, pass string) error {
	if identity != "" && identity != user || user != "me" || pass != "secret" {
		return server.ErrAuthFailed
	}
	return nil
}
func (s *readmeSession) Mail(context.Context, envelope.Path, envelope.MailParams) error { return nil }
func (s *readmeSession) Rcpt(context.Context, envelope.Path, envelope.RcptParams) error { return nil }
func (s *readmeSession) Data(_ context.Context, r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.st.mu.Lock()
	s.st.msgs++
	s.st.mu.Unlock()
	return nil
}
func (s *readmeSession) Reset(context.Context)        {}
func (s *readmeSession) Logout(context.Context) error { return nil }

// startReadmeServer starts a submission server on a loopback port that
// requires AUTH, with STARTTLS when cert is not nil. AUTH in clear is
// allowed, so that only the client's own care keeps a password from
// crossing in clear.
func startReadmeServer(t *testing.T, cert *smtptest.Certificate) (string, *readmeStore) {
	st := &readmeStore{}
	srv := &server.Server{
		Hostname:          "smtp.example.org",
		Backend:           st,
		AuthRequired:      true,
		AllowInsecureAuth: true,
		Trace:             st,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if cert != nil {
		srv.TLSConfig = cert.ServerConfig()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), st
}
