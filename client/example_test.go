package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"strings"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server/smtptest"
)

// Sending a message through a submission server (RFC 6409): STARTTLS,
// authentication, then one call that pipelines MAIL, RCPT and the data.
func Example() {
	// A test server with STARTTLS and a user (nil: outside a test; in a
	// test, pass t). A real program dials its submission server.
	ts := smtptest.NewServer(nil, smtptest.STARTTLS(), smtptest.User("user", "secret"))
	defer ts.Close()
	ctx := context.Background()

	c, err := client.DialStartTLS(ctx, ts.Addr, &client.Options{
		LocalName: "laptop.example.test",
		TLSConfig: ts.ClientTLSConfig(), // a real program keeps the default: the system roots
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
	// Output: 250 OK: message accepted
}

// SendMail is the short form for plain address strings.
func ExampleClient_SendMail() {
	ts := smtptest.NewServer(nil, smtptest.STARTTLS(), smtptest.User("user", "secret"))
	defer ts.Close()
	ctx := context.Background()

	c, err := client.DialStartTLS(ctx, ts.Addr, &client.Options{TLSConfig: ts.ClientTLSConfig()})
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
	ts := smtptest.NewUnstartedServer(nil) // stands in for mx.example.test
	ts.Config.Hostname = "mx.example.test"
	ts.Start()
	defer ts.Close()

	d := &client.Deliverer{
		Resolver: exampleResolver{},
		Port:     ts.Listener.Addr().(*net.TCPAddr).Port, // 25 by default
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
	ts := smtptest.NewServer(nil,
		smtptest.RcptReply("carol@example.test", reply.New(450, reply.Enh(4, 2, 1), "mailbox busy, try later")),
		smtptest.RcptReply("dave@example.test", reply.New(550, reply.Enh(5, 1, 1), "no such user")))
	defer ts.Close()
	ctx := context.Background()
	c, err := client.Dial(ctx, ts.Addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
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
	ts := smtptest.NewServer(nil)
	defer ts.Close()
	ctx := context.Background()
	c, err := client.Dial(ctx, ts.Addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
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
	fmt.Printf("%q\n", ts.Messages()[0].Data)
	// Output:
	// 250 OK: message accepted
	// "Subject: nightly report\r\n\r\n.all jobs done\r\n"
}

// SendBatch sends a stream of messages; with a server that offers
// PIPELINING but not CHUNKING, each message costs one round trip instead
// of two.
func ExampleClient_SendBatch() {
	ts := smtptest.NewServer(nil)
	defer ts.Close()
	ctx := context.Background()
	c, err := client.Dial(ctx, ts.Addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
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
