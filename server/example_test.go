package server_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
	"github.com/smtpkit/smtp/server/smtptest"
)

// printer is a backend that prints what it receives.
type printer struct{}

func (printer) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	return &printSession{}, nil
}

type printSession struct{}

func (*printSession) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	fmt.Println("from:", from)
	return nil
}

func (*printSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	if to.Domain != "example.org" {
		return reply.RelayDenied() // the client hears exactly this
	}
	fmt.Println("to:", to)
	return nil
}

func (*printSession) Data(ctx context.Context, r io.Reader) error {
	b, err := io.ReadAll(r) // a real backend streams to disk
	if err != nil {
		return err // the reader enforces the limits
	}
	fmt.Printf("data: %q\n", b)
	return nil
}

func (*printSession) Reset(ctx context.Context)        {}
func (*printSession) Logout(ctx context.Context) error { return nil }

// A minimal server: accept mail for example.org and print it.
func Example() {
	s := &server.Server{Hostname: "mx.example.org", Backend: printer{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()

	// A test client that prints the dialogue (nil: outside a test; in a
	// test, pass t).
	c := smtptest.Dial(nil, l.Addr().String())
	c.Trace = os.Stdout
	c.Expect("220")
	c.Cmd("HELO client.example.net")
	c.Cmd("MAIL FROM:<alice@example.net>")
	c.Cmd("RCPT TO:<bob@example.com>")
	c.Cmd("RCPT TO:<bob@example.org>")
	c.Cmd("DATA")
	c.Send("Subject: hi\r\n\r\nHello!\r\n.\r\n")
	c.Expect("250")
	c.Cmd("QUIT")
	// Output:
	// S: 220 mx.example.org ESMTP ready
	// C: HELO client.example.net
	// S: 250 mx.example.org
	// C: MAIL FROM:<alice@example.net>
	// from: <alice@example.net>
	// S: 250 Sender OK
	// C: RCPT TO:<bob@example.com>
	// S: 550 Relaying denied
	// C: RCPT TO:<bob@example.org>
	// to: <bob@example.org>
	// S: 250 Recipient OK
	// C: DATA
	// S: 354 Start mail input; end with <CRLF>.<CRLF>
	// C: Subject: hi
	// C:
	// C: Hello!
	// C: .
	// data: "Subject: hi\r\n\r\nHello!\r\n"
	// S: 250 OK: message accepted
	// C: QUIT
	// S: 221 mx.example.org closing connection
}

// submission is a backend for a submission server (RFC 6409): users log in
// with a password, then may send to anyone as themselves.
type submission struct{ users map[string]string }

func (b submission) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	return &submissionSession{printSession: &printSession{}, users: b.users, conn: c}, nil
}

type submissionSession struct {
	*printSession
	users map[string]string
	conn  *server.Conn
}

// AuthPassword enables AUTH PLAIN and LOGIN.
func (s *submissionSession) AuthPassword(ctx context.Context, identity, username, password string) error {
	if p, ok := s.users[username]; !ok || p != password || (identity != "" && identity != username) {
		return server.ErrAuthFailed
	}
	return nil
}

func (s *submissionSession) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	if from.Address.String() != s.conn.Identity()+"@example.org" {
		return reply.New(reply.CodeMailboxUnavailable, reply.EnhNotAuthorized(), "Send as yourself")
	}
	fmt.Println("from:", from, "as", s.conn.Identity())
	return nil
}

func (s *submissionSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	fmt.Println("to:", to)
	return nil
}

// An authenticating submission server: STARTTLS, then AUTH, required
// before MAIL.
func Example_submission() {
	cert, err := smtptest.NewCertificate() // use your real certificate
	if err != nil {
		log.Fatal(err)
	}
	s := &server.Server{
		Hostname:     "smtp.example.org",
		Backend:      submission{users: map[string]string{"alice": "wonderland"}},
		TLSConfig:    cert.ServerConfig(),
		AuthRequired: true, // 530 5.7.0 to MAIL before AUTH
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()

	c := smtptest.Dial(nil, l.Addr().String())
	c.Trace = os.Stdout
	c.TLSConfig = cert.ClientConfig()
	c.Expect("220")
	c.Cmd("EHLO laptop")
	c.Cmd("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=") // refused in clear
	c.Cmd("STARTTLS")
	c.StartTLS()
	c.Cmd("EHLO laptop")
	c.Cmd("MAIL FROM:<alice@example.org>")
	c.Cmd("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=") // \0alice\0wonderland
	c.Cmd("MAIL FROM:<alice@example.org>")
	c.Cmd("RCPT TO:<friend@example.com>")
	c.Cmd("QUIT")
	// Output:
	// S: 220 smtp.example.org ESMTP ready
	// C: EHLO laptop
	// S: 250-smtp.example.org greets laptop
	// S: 250-PIPELINING
	// S: 250-SIZE 33554432
	// S: 250-8BITMIME
	// S: 250-ENHANCEDSTATUSCODES
	// S: 250 STARTTLS
	// C: AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=
	// S: 538 5.7.11 Encryption required for requested authentication mechanism
	// C: STARTTLS
	// S: 220 2.0.0 Ready to start TLS
	// C: EHLO laptop
	// S: 250-smtp.example.org greets laptop
	// S: 250-PIPELINING
	// S: 250-SIZE 33554432
	// S: 250-8BITMIME
	// S: 250-ENHANCEDSTATUSCODES
	// S: 250 AUTH PLAIN LOGIN
	// C: MAIL FROM:<alice@example.org>
	// S: 530 5.7.0 Authentication required
	// C: AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=
	// S: 235 2.7.0 Authentication successful
	// C: MAIL FROM:<alice@example.org>
	// from: <alice@example.org> as alice
	// S: 250 2.1.0 Sender OK
	// C: RCPT TO:<friend@example.com>
	// to: <friend@example.com>
	// S: 250 2.1.5 Recipient OK
	// C: QUIT
	// S: 221 2.0.0 smtp.example.org closing connection
}

// mailboxes is an LMTP backend delivering to local mailboxes, one status
// per recipient.
type mailboxes struct{ full map[string]bool }

func (b mailboxes) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	return &mailboxSession{printSession: &printSession{}, full: b.full}, nil
}

type mailboxSession struct {
	*printSession
	full  map[string]bool
	rcpts []string
}

func (s *mailboxSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	s.rcpts = append(s.rcpts, to.Local)
	return nil
}

// LMTPData returns one result per accepted recipient (RFC 2033 4.2).
func (s *mailboxSession) LMTPData(ctx context.Context, r io.Reader) ([]error, error) {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	res := make([]error, len(s.rcpts))
	for i, rc := range s.rcpts {
		if s.full[rc] {
			res[i] = reply.New(reply.CodeInsufficientStorage, reply.EnhMailboxFull().WithClass(4), rc+": mailbox full")
		}
	}
	return res, nil
}

func (s *mailboxSession) Reset(ctx context.Context) { s.rcpts = nil }

// An LMTP server (RFC 2033) in front of local mailboxes.
func Example_lmtp() {
	s := &server.Server{
		Hostname: "store.example.org",
		Backend:  mailboxes{full: map[string]bool{"bob": true}},
		LMTP:     true,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()

	c := smtptest.Dial(nil, l.Addr().String())
	c.Trace = os.Stdout
	c.Expect("220")
	c.Cmd("LHLO mx.example.org")
	c.Send("MAIL FROM:<alice@example.net>\r\nRCPT TO:<carol@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
	c.Expect("250") // MAIL
	c.Expect("250") // RCPT
	c.Expect("250") // RCPT
	c.Expect("354")
	c.Send("Subject: hi\r\n\r\nHello!\r\n.\r\n")
	c.Expect("250") // carol
	c.Expect("452") // bob
	// Output:
	// S: 220 store.example.org LMTP ready
	// C: LHLO mx.example.org
	// S: 250-store.example.org greets mx.example.org
	// S: 250-PIPELINING
	// S: 250-SIZE 33554432
	// S: 250-8BITMIME
	// S: 250 ENHANCEDSTATUSCODES
	// C: MAIL FROM:<alice@example.net>
	// C: RCPT TO:<carol@example.org>
	// C: RCPT TO:<bob@example.org>
	// C: DATA
	// from: <alice@example.net>
	// S: 250 2.1.0 Sender OK
	// S: 250 2.1.5 Recipient OK
	// S: 250 2.1.5 Recipient OK
	// S: 354 Start mail input; end with <CRLF>.<CRLF>
	// C: Subject: hi
	// C:
	// C: Hello!
	// C: .
	// S: 250 2.0.0 OK: message accepted
	// S: 452 4.2.2 bob: mailbox full
}
