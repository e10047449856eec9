package smtptest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server/smtptest"
)

// notify is the code under test: it mails a report through the server at
// addr.
func notify(ctx context.Context, addr, report string) error {
	c, err := client.Dial(ctx, addr, &client.Options{LocalName: "app.example"})
	if err != nil {
		return err
	}
	defer c.Close()
	msg := "Subject: nightly report\r\n\r\n" + report + "\r\n"
	if err := c.SendMail(ctx, "app@example.org", []string{"ops@example.org"}, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit(ctx)
}

// Testing code that sends mail: the test server records what arrives. In
// a test, pass t instead of nil; the server then stops when the test ends.
func ExampleNewServer() {
	ts := smtptest.NewServer(nil)
	defer ts.Close()

	// Sending in the background, as a program would.
	go notify(context.Background(), ts.Addr, "all jobs done")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := ts.WaitMessages(ctx, 1) // no sleeps
	if err != nil {
		log.Fatal(err)
	}
	m := msgs[0]
	fmt.Println(m.Hello, m.Envelope.From, m.Envelope.To[0].Path)
	fmt.Printf("%q\n", m.Data)
	// Output:
	// app.example <app@example.org> <ops@example.org>
	// "Subject: nightly report\r\n\r\nall jobs done\r\n"
}

// A server with TLS and AUTH: STARTTLS with a certificate made for the
// test, which ClientTLSConfig trusts, and one user.
func ExampleSTARTTLS() {
	ts := smtptest.NewServer(nil, smtptest.STARTTLS(), smtptest.User("alice", "secret"))
	defer ts.Close()
	ctx := context.Background()

	c, err := client.DialStartTLS(ctx, ts.Addr, &client.Options{TLSConfig: ts.ClientTLSConfig()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.AuthAuto(ctx, client.Credentials{Username: "alice", Password: "secret"}); err != nil {
		log.Fatal(err)
	}
	if err := c.SendMail(ctx, "alice@example.org", []string{"bob@example.org"}, strings.NewReader("Hi\r\n")); err != nil {
		log.Fatal(err)
	}
	m := ts.Messages()[0]
	fmt.Println(m.TLS, m.Identity)
	// Output: true alice
}

// Faults make the server misbehave, to see how the code under test
// copes: here a refused recipient, then a connection cut after the final
// dot, where the sender cannot know whether the message arrived.
func ExampleFault() {
	ts := smtptest.NewServer(nil,
		smtptest.ReplyAt("RCPT", 1, reply.MailboxUnavailable("No such user")),
		smtptest.DropAt("DATA", 1))
	defer ts.Close()

	for range 2 {
		err := notify(context.Background(), ts.Addr, "disk full")
		var e *client.Error
		switch {
		case errors.Is(err, client.ErrOutcomeUnknown):
			fmt.Println("maybe delivered: do not resend blindly")
		case errors.As(err, &e) && e.Permanent():
			fmt.Println("bounce:", e.Code, e.Text)
		default:
			fmt.Println(err)
		}
	}
	fmt.Println(len(ts.Messages()), "message received,", "accepted:", ts.Messages()[0].Accepted)
	// Output:
	// bounce: 550 No such user
	// maybe delivered: do not resend blindly
	// 1 message received, accepted: false
}

// A Peer plays the server's side of a transcript, to test a client byte
// for byte; a client that leaves the transcript is reported with the
// line expected and the line received.
func ExampleNewPeer() {
	p := smtptest.NewPeer(nil, `
		S: 220 mx.example.org ESMTP
		C: EHLO app.example
		S: 250-mx.example.org
		S: 250 PIPELINING
		C: MAIL FROM:<app@example.org>
		C: RCPT TO:<ops@example.org>
		C: DATA
		S: 250 OK
		S: 250 OK
		S: 354 Go ahead
		C: Subject: nightly report
		C:
		C: ..dots are stuffed
		C: .
		S: 250 Queued as 1234
		C: QUIT
		S: 221 Bye
	`)
	defer p.Close()

	err := notify(context.Background(), p.Addr, ".dots are stuffed")
	fmt.Println(err, p.Close())
	// Output: <nil> <nil>
}

// Testing a server byte for byte: Run sends the "C: " lines and checks
// the "S: " lines ("{*}" matches any text), failing the test (panicking,
// outside one) at the first that differs, with the transcript around it.
// Here the configuration under test takes one recipient per message.
func ExampleConn_Run() {
	ts := smtptest.NewUnstartedServer(nil)
	ts.Config.Hostname = "mx.example.org"
	ts.Config.MaxRecipients = 1
	ts.Start()
	defer ts.Close()

	c := ts.Dial()
	c.Run(`
		S: 220 mx.example.org ESMTP ready
		C: HELO client.example
		S: 250 mx.example.org
		C: MAIL FROM:<a@example.org>
		S: 250 Sender OK
		C: RCPT TO:<b@example.org>
		S: 250 Recipient OK
		C: RCPT TO:<c@example.org>
		S: 452 {*}
		C: QUIT
		S: 221 mx.example.org closing connection
		!eof
	`)
	fmt.Println("as expected")
	// Output: as expected
}

// Expect checks one reply by code, enhanced code and text pattern, and
// returns it.
func ExampleConn_Expect() {
	ts := smtptest.NewServer(nil)
	defer ts.Close()
	c := ts.Dial()
	c.Trace = os.Stdout
	c.Expect("220")
	c.Send("EHLO me\r\n")
	c.Expect("250 {*}\nPIPELINING\n{*}")
	c.Send("MAIL FROM:<not an address>\r\n")
	r := c.Expect("5xx 5.1.7 {*}")
	fmt.Println(r.Code.IsPermanent())
	// Output:
	// S: 220 localhost ESMTP ready
	// C: EHLO me
	// S: 250-localhost greets me
	// S: 250-PIPELINING
	// S: 250-SIZE 33554432
	// S: 250-8BITMIME
	// S: 250 ENHANCEDSTATUSCODES
	// C: MAIL FROM:<not an address>
	// S: 501 5.1.7 Bad sender address syntax: missing @domain
	// true
}
