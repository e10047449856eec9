package reply_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/smtpkit/smtp/reply"
)

func ExampleNew() {
	r := reply.New(reply.CodeMailboxUnavailable, reply.EnhBadMailbox(), "No such user here")
	fmt.Println(r.Error())
	fmt.Println(r.Permanent())
	// Output:
	// 550 5.1.1 No such user here
	// true
}

func ExampleReply_AppendWire() {
	r := reply.Hello("mx.example.org", "at your service", "PIPELINING", "8BITMIME")
	buf := r.AppendWire(nil, true)
	// With ENHANCEDSTATUSCODES in effect the enhanced code follows the
	// reply code on every line (RFC 2034).
	buf = reply.New(reply.CodeMailboxUnavailable, reply.EnhBadMailbox(), "No such user", "Try again").AppendWire(buf, true)
	fmt.Printf("%q\n", buf)
	// Output:
	// "250-mx.example.org at your service\r\n250-PIPELINING\r\n250 8BITMIME\r\n550-5.1.1 No such user\r\n550 5.1.1 Try again\r\n"
}

func ExampleReader_ReadReply() {
	// Two pipelined replies, as a server would send them.
	conn := strings.NewReader("250 2.1.0 Sender OK\r\n550-5.1.1 No such user\r\n550 5.1.1 Try another\r\n")
	rd := reply.NewReader(conn, reply.Limits{})
	for {
		r, err := rd.ReadReply()
		if err != nil {
			fmt.Println("end:", err)
			return
		}
		fmt.Println(r.Code, r.Enhanced, r.Lines)
	}
	// Output:
	// 250 2.1.0 [Sender OK]
	// 550 5.1.1 [No such user Try another]
	// end: EOF
}

func ExampleParseEnhancedCode() {
	e, err := reply.ParseEnhancedCode("4.2.2")
	fmt.Println(e.Class, e.Subject, e.Detail, err)
	_, err = reply.ParseEnhancedCode("3.0.0")
	fmt.Println(err)
	// Output:
	// 4 2 2 <nil>
	// reply: malformed enhanced status code "3.0.0"
}

func Example_backendError() {
	// A backend returns a *reply.Reply to choose exactly what the client
	// hears; the server finds it with errors.As.
	backend := func() error { return reply.ExceededStorage("Mailbox full") }
	var r *reply.Reply
	if err := backend(); errors.As(err, &r) {
		fmt.Printf("%q\n", r.AppendWire(nil, true))
	}
	// Output:
	// "552 5.2.2 Mailbox full\r\n"
}
