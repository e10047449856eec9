// Package docs_test runs the code of the documents in this directory, so
// that they cannot go stale: the go-smtp example server ported in
// migrating-from-go-smtp.md is the code between the "port" markers below.
package docs_test

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/server"
	"github.com/smtpkit/smtp/server/smtptest"
)

// port:begin

// The Backend implements SMTP server methods.
type Backend struct {
	Log *log.Logger
}

// NewSession is called when a client connects, before the greeting.
func (bkd *Backend) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	return &Session{log: bkd.Log}, nil
}

// A Session handles the transactions of one connection.
type Session struct {
	log *log.Logger
}

// AuthPassword enables AUTH PLAIN (and LOGIN). It replaces AuthMechanisms
// and Auth: the server decodes the exchange, the backend checks.
func (s *Session) AuthPassword(ctx context.Context, identity, username, password string) error {
	if username != "username" || password != "password" || (identity != "" && identity != username) {
		return server.ErrAuthFailed // 535 5.7.8
	}
	return nil
}

// Mail, Rcpt and Data need no authentication check: Server.AuthRequired
// refuses MAIL before AUTH.
func (s *Session) Mail(ctx context.Context, from envelope.Path, params envelope.MailParams) error {
	s.log.Println("Mail from:", from.Address)
	return nil
}

func (s *Session) Rcpt(ctx context.Context, to envelope.Path, params envelope.RcptParams) error {
	s.log.Println("Rcpt to:", to.Address)
	return nil
}

func (s *Session) Data(ctx context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.log.Printf("Data: %q", b)
	return nil
}

func (s *Session) Reset(ctx context.Context) {}

func (s *Session) Logout(ctx context.Context) error {
	return nil
}

// NewServer is the configuration of go-smtp's ExampleServer. A program
// runs it with:
//
//	s := NewServer(log.Default())
//	log.Println("Starting server at", s.Addr)
//	if err := s.ListenAndServe(); err != nil {
//		log.Fatal(err)
//	}
func NewServer(logger *log.Logger) *server.Server {
	return &server.Server{
		Addr:              "localhost:1025",
		Hostname:          "localhost", // go-smtp: Domain
		Backend:           &Backend{Log: logger},
		CommandTimeout:    10 * time.Second, // go-smtp: ReadTimeout, WriteTimeout
		DataBlockTimeout:  10 * time.Second,
		MaxMessageBytes:   1024 * 1024,
		MaxRecipients:     50,
		AllowInsecureAuth: true,
		AuthRequired:      true, // go-smtp: ErrAuthRequired in Mail, Rcpt, Data
	}
}

// port:end

// The ported server answers the dialogue of go-smtp's example ("netcat -C
// localhost 1025", with AUTH's initial response on the AUTH line), on a
// loopback port instead of localhost:1025.
func Example() {
	s := NewServer(log.New(os.Stdout, "", 0))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()

	c := smtptest.Dial(nil, l.Addr().String())
	c.Trace = os.Stdout
	c.Expect("220")
	c.Cmd("EHLO localhost")
	c.Cmd("MAIL FROM:<root@nsa.gov>")            // before AUTH
	c.Cmd("AUTH PLAIN AHVzZXJuYW1lAHBhc3N3b3Jk") // \0username\0password
	c.Cmd("MAIL FROM:<root@nsa.gov>")
	c.Cmd("RCPT TO:<root@gchq.gov.uk>")
	c.Cmd("DATA")
	c.Send("Hey <3\r\n.\r\n")
	c.Expect("250")
	c.Cmd("QUIT")
	// Output:
	// S: 220 localhost ESMTP ready
	// C: EHLO localhost
	// S: 250-localhost greets localhost
	// S: 250-PIPELINING
	// S: 250-SIZE 1048576
	// S: 250-8BITMIME
	// S: 250-ENHANCEDSTATUSCODES
	// S: 250 AUTH PLAIN LOGIN
	// C: MAIL FROM:<root@nsa.gov>
	// S: 530 5.7.0 Authentication required
	// C: AUTH PLAIN AHVzZXJuYW1lAHBhc3N3b3Jk
	// S: 235 2.7.0 Authentication successful
	// C: MAIL FROM:<root@nsa.gov>
	// Mail from: root@nsa.gov
	// S: 250 2.1.0 Sender OK
	// C: RCPT TO:<root@gchq.gov.uk>
	// Rcpt to: root@gchq.gov.uk
	// S: 250 2.1.5 Recipient OK
	// C: DATA
	// S: 354 Start mail input; end with <CRLF>.<CRLF>
	// C: Hey <3
	// C: .
	// Data: "Hey <3\r\n"
	// S: 250 2.0.0 OK: message accepted
	// C: QUIT
	// S: 221 2.0.0 localhost closing connection
}

// TestPortedServer sends through the ported server with our client: a
// wrong password is refused, the right one delivers, and the limits of
// the go-smtp example hold.
func TestPortedServer(t *testing.T) {
	var logged strings.Builder
	s := NewServer(log.New(&logged, "", 0))
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // the failed AUTH is logged
	s.AuthFailureDelay = -1
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(ctx, client.PlainAuth("", "username", "wrong")); err == nil {
		t.Error("a wrong password was accepted")
	}
	if err := c.Auth(ctx, client.PlainAuth("", "username", "password")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(ctx, "root@nsa.gov", []string{"root@gchq.gov.uk"}, strings.NewReader("Hey <3\r\n")); err != nil {
		t.Fatal(err)
	}
	if c.Extensions().Size != 1024*1024 {
		t.Errorf("SIZE %d, want MaxMessageBytes", c.Extensions().Size)
	}
	var to []string
	for i := range 51 {
		to = append(to, "r"+strings.Repeat("x", i)+"@example.org")
	}
	// A message the client can read again would go to the 51st in a
	// second transaction (RFC 5321 4.5.3.1.10); this one cannot be.
	err = c.SendMail(ctx, "root@nsa.gov", to, io.MultiReader(strings.NewReader("x\r\n")))
	if err == nil || !strings.Contains(err.Error(), "452") {
		t.Errorf("51 recipients: %v, want the 51st refused with 452", err)
	}
	want := "Mail from: root@nsa.gov\nRcpt to: root@gchq.gov.uk\nData: \"Hey <3\\r\\n\"\n"
	if !strings.HasPrefix(logged.String(), want) {
		t.Errorf("logged %q, want it to start with %q", logged.String(), want)
	}
}

// TestGuideShowsThePort: the guide's code block is the code above.
func TestGuideShowsThePort(t *testing.T) {
	src, err := os.ReadFile("migrating_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(string(src), "// port:begin\n")
	port, _, _ = strings.Cut(port, "// port:end\n")
	doc, err := os.ReadFile("migrating-from-go-smtp.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "<!-- port:begin -->\n```go\n")
	block, _, ok2 := strings.Cut(block, "```\n<!-- port:end -->")
	if !ok || !ok2 {
		t.Fatal("the guide has no port block")
	}
	if strings.TrimSpace(block) != strings.TrimSpace(port) {
		t.Errorf("the guide's port differs from migrating_test.go: copy the code between the port markers into the guide")
	}
}

// TestGuideNamesEveryServerSetting: every field of server.Server and
// every method of server.Conn is named in the guide's code (a field as a
// word, a method as c.Name( or Conn.Name), so that a setting a go-smtp user
// must know about (a limit go-smtp does not have) cannot be added without a
// row.
func TestGuideNamesEveryServerSetting(t *testing.T) {
	doc, err := os.ReadFile("migrating-from-go-smtp.md")
	if err != nil {
		t.Fatal(err)
	}
	code := strings.Join(regexp.MustCompile("`[^`\n]+`").FindAllString(string(doc), -1), " ")
	st := reflect.TypeFor[server.Server]()
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if f.IsExported() && !regexp.MustCompile(`\b`+f.Name+`\b`).MatchString(code) {
			t.Errorf("the guide does not name the field Server.%s", f.Name)
		}
	}
	ct := reflect.TypeFor[*server.Conn]()
	for i := 0; i < ct.NumMethod(); i++ {
		m := ct.Method(i).Name
		if !strings.Contains(code, "c."+m+"(") && !strings.Contains(code, "Conn."+m) {
			t.Errorf("the guide does not name the method Conn.%s", m)
		}
	}
}
