package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// exampleServer starts a submission-like server on 127.0.0.1 for the
// examples: STARTTLS with a test certificate, AUTH PLAIN for user/secret.
func exampleServer() (addr string, cert *smtptest.Certificate, stop func()) {
	cert, err := smtptest.NewCertificate()
	if err != nil {
		log.Fatal(err)
	}
	st := &store{users: map[string]string{"user": "secret"}}
	srv := &server.Server{
		Hostname:     "mail.example.test",
		Backend:      st,
		TLSConfig:    cert.ServerConfig(),
		AuthRequired: true,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	return ln.Addr().String(), cert, func() { srv.Close() }
}

// exampleDial starts a plain relay-like server on 127.0.0.1 (no TLS, no
// AUTH) with the backend st (nil: one that takes everything) and connects
// a client to it; stop closes both.
func exampleDial(ctx context.Context, st *store) (c *client.Client, stop func()) {
	if st == nil {
		st = &store{}
	}
	srv := &server.Server{Hostname: "mx.example.test", Backend: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	c, err = client.Dial(ctx, ln.Addr().String(), &client.Options{LocalName: "app.example.test"})
	if err != nil {
		srv.Close()
		log.Fatal(err)
	}
	return c, func() { c.Close(); srv.Close() }
}

// Sending a message through a submission server (RFC 6409): STARTTLS,
// authentication, then one call that pipelines MAIL, RCPT and the data.
func Example() {
	addr, cert, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.DialStartTLS(ctx, addr, &client.Options{
		LocalName: "laptop.example.test",
		TLSConfig: cert.ClientConfig(), // a real program keeps the default: the system roots
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// The strongest mechanism both sides know; never a clear-text
	// password without TLS.
	if err := c.AuthAuto(ctx, client.Credentials{Username: "user", Password: "secret"}); err != nil {
		log.Fatal(err)
	}

	from, _ := envelope.ParsePath("<me@example.test>", envelope.ParseOptions{})
	to, _ := envelope.ParsePath("<you@example.test>", envelope.ParseOptions{})
	env := envelope.Envelope{From: from, To: []envelope.Recipient{{Path: to}}}
	msg := "From: me@example.test\nTo: you@example.test\nSubject: hello\n\nHi!\n"

	res, err := c.Send(ctx, env, strings.NewReader(msg))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Code, res.Text())
	if err := c.Quit(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: 250 queued as Q1
}

// SendMail is the short form for plain address strings.
func ExampleClient_SendMail() {
	addr, cert, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.DialStartTLS(ctx, addr, &client.Options{TLSConfig: cert.ClientConfig()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(ctx, client.PlainAuth("", "user", "secret")); err != nil {
		log.Fatal(err)
	}
	err = c.SendMail(ctx, "me@example.test", []string{"you@example.test", "<them@example.test>"},
		strings.NewReader("Subject: hi\r\n\r\nHello.\r\n"))
	fmt.Println(err)
	c.Quit(ctx)
	// Output: <nil>
}

// exampleResolver stands in for the DNS: example.test has one MX on
// 127.0.0.1, and nomail.test publishes a null MX (RFC 7505).
type exampleResolver struct{}

func (exampleResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	switch name {
	case "example.test":
		return []*net.MX{{Host: "mx.example.test.", Pref: 10}}, nil
	case "nomail.test":
		return []*net.MX{{Host: ".", Pref: 0}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (exampleResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if host == "mx.example.test" {
		return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// Delivering to the recipients' mail exchangers: MX lookup (with an
// injected resolver here; net.DefaultResolver by default), one transaction
// per domain, and an outcome per recipient that says what a queue should
// do with it.
func ExampleDeliverer_Deliver() {
	st := &store{}
	srv := &server.Server{Hostname: "mx.example.test", Backend: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	d := &client.Deliverer{
		Resolver: exampleResolver{},
		Port:     ln.Addr().(*net.TCPAddr).Port, // 25 by default
		Options:  &client.Options{LocalName: "relay.example.test"},
	}
	env := envelope.Envelope{From: envelope.Path{Null: true}}
	for _, s := range []string{"<a@example.test>", "<b@nomail.test>", "<c@example.test>"} {
		p, _ := envelope.ParsePath(s, envelope.ParseOptions{})
		env.To = append(env.To, envelope.Recipient{Path: p})
	}
	msg := strings.NewReader("Subject: report\r\n\r\nok\r\n")
	for _, o := range d.Deliver(context.Background(), env, msg, msg.Size()) {
		switch o.Status() {
		case client.StatusAccepted:
			fmt.Println(o.Recipient.Path, "delivered by", o.Host)
		case client.StatusUnknown:
			fmt.Println(o.Recipient.Path, "maybe delivered: do not resend blindly")
		case client.StatusDeferred:
			fmt.Println(o.Recipient.Path, "retry later:", o.Err)
		case client.StatusRefused:
			fmt.Println(o.Recipient.Path, "bounce:", o.Err)
		}
	}
	// Output:
	// <a@example.test> delivered by mx.example.test
	// <b@nomail.test> bounce: smtp: MX (refused by the client): 556 5.1.10 domain nomail.test does not accept mail (null MX)
	// <c@example.test> delivered by mx.example.test
}

// A message may reach some recipients and not others. Each recipient's
// Status says what became of it, and Retry gives the envelope that is safe
// to send again later: the deferred recipients only, never one that has
// the message (which a loop resending env on any error would duplicate).
func ExampleClient_Send_partial() {
	ctx := context.Background()
	c, stop := exampleDial(ctx, &store{refuse: map[string]*reply.Reply{
		"carol@example.test": reply.New(450, reply.Enh(4, 2, 1), "mailbox busy, try later"),
		"dave@example.test":  reply.New(550, reply.Enh(5, 1, 1), "no such user"),
	}})
	defer stop()
	env := envelope.Envelope{From: envelope.Path{Null: true}}
	for _, to := range []string{"<bob@example.test>", "<carol@example.test>", "<dave@example.test>"} {
		p, _ := envelope.ParsePath(to, envelope.ParseOptions{})
		env.To = append(env.To, envelope.Recipient{Path: p})
	}

	res, err := c.Send(ctx, env, strings.NewReader("Subject: minutes\r\n\r\nSee you.\r\n"))
	var re *client.RecipientsError
	if errors.As(err, &re) {
		// Neither Temporary (bob has it: do not resend to everyone) nor
		// Permanent (carol may get it later).
		fmt.Println("delivered to", re.Accepted, "of", len(env.To), re.Temporary(), re.Permanent())
	}
	for _, r := range res.Recipients {
		fmt.Println(r.Path, r.Status(), r.Code)
	}
	later := res.Retry(env) // keep it in a queue; bounce the refused ones
	for _, r := range later.To {
		fmt.Println("retry later:", r.Path)
	}
	c.Quit(ctx)
	// Output:
	// delivered to 1 of 3 false false
	// <bob@example.test> accepted 250
	// <carol@example.test> deferred 450
	// <dave@example.test> refused 550
	// retry later: <carol@example.test>
}

// The step-by-step form: MAIL, RCPT, then DATA with an io.WriteCloser
// that stuffs dots and writes CRLF line ends; Close sends the final dot and
// returns the server's verdict.
func ExampleClient_Data() {
	ctx := context.Background()
	c, stop := exampleDial(ctx, nil)
	defer stop()
	from, _ := envelope.ParsePath("<app@example.test>", envelope.ParseOptions{})
	to, _ := envelope.ParsePath("<ops@example.test>", envelope.ParseOptions{})
	if err := c.Mail(ctx, from, nil); err != nil {
		log.Fatal(err)
	}
	if err := c.Rcpt(ctx, to, &envelope.RcptParams{}); err != nil {
		log.Fatal(err)
	}
	w, err := c.Data(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(w, "Subject: nightly report\n\n.all jobs done\n")
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Reply().Code, w.Reply().Text())
	if err := c.Quit(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: 250 queued as Q1
}

// SendBatch sends a stream of messages; with a server that offers
// PIPELINING but not CHUNKING, each message costs one round trip instead
// of two.
func ExampleClient_SendBatch() {
	ctx := context.Background()
	c, stop := exampleDial(ctx, nil)
	defer stop()
	from, _ := envelope.ParsePath("<app@example.test>", envelope.ParseOptions{})
	var msgs []client.Message
	for _, to := range []string{"<a@example.test>", "<b@example.test>", "<c@example.test>"} {
		p, _ := envelope.ParsePath(to, envelope.ParseOptions{})
		msgs = append(msgs, client.Message{
			Envelope: envelope.Envelope{From: from, To: []envelope.Recipient{{Path: p}}},
			Body:     strings.NewReader("Subject: notice\r\n\r\nHello " + to + "\r\n"),
		})
	}
	for i, r := range c.SendBatch(ctx, msgs) {
		fmt.Println(i, r.Err, r.Result.Code)
	}
	c.Quit(ctx)
	// Output:
	// 0 <nil> 250
	// 1 <nil> 250
	// 2 <nil> 250
}
