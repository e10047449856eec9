package envelope_test

import (
	"errors"
	"fmt"

	"github.com/smtpkit/smtp/envelope"
)

// A server parses the argument of MAIL with the extensions it advertised.
func ExampleParseMailCommand() {
	opts := envelope.ParseOptions{
		Allowed: envelope.ParamSize | envelope.Param8BitMIME | envelope.ParamSMTPUTF8,
	}
	from, params, err := envelope.ParseMailCommand("FROM:<jürgen@bücher.example> SIZE=2048 BODY=8BITMIME SMTPUTF8", opts)
	if err != nil {
		panic(err)
	}
	fmt.Println(from.Local, from.Domain, params.Size, params.Body, params.SMTPUTF8)

	// A parameter of an extension that was not advertised gets 555.
	_, _, err = envelope.ParseMailCommand("FROM:<a@example.com> REQUIRETLS", opts)
	var e *envelope.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Enhanced, e.Reason)
	}
	// Output:
	// jürgen bücher.example 2048 8BITMIME true
	// 555 5.5.4 MAIL parameter REQUIRETLS not recognized
}

// The *Error of a failed parse carries the reply to send.
func ExampleParseRcptCommand() {
	opts := envelope.ParseOptions{Allowed: envelope.ParamDSN}
	to, params, err := envelope.ParseRcptCommand("TO:<@relay.example:bob@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob+2Bx@example.org", opts)
	if err != nil {
		panic(err)
	}
	fmt.Println(to, params.Notify, params.ORcpt.Addr)

	_, _, err = envelope.ParseRcptCommand("TO:<bob@@example.org>", opts)
	var e *envelope.Error
	if errors.As(err, &e) {
		r := e.Reply()
		fmt.Println(r.Code, r.Enhanced)
	}
	// Output:
	// <bob@example.org> FAILURE,DELAY bob+x@example.org
	// 501 5.1.3
}

// A client formats its commands into a reusable buffer, checked.
func ExampleAppendMailCommand() {
	buf := make([]byte, 0, 512)
	from := envelope.Path{Address: envelope.Address{Local: "john doe", Domain: "example.com"}}
	buf, err := envelope.AppendMailCommand(buf, from, envelope.MailParams{Size: 1234, Body: envelope.Body8BitMIME, EnvID: "id=42"})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(buf))

	buf, err = envelope.AppendRcptCommand(buf[:0], envelope.Path{Address: envelope.Address{Local: "bob", Domain: "example.org"}},
		envelope.RcptParams{Notify: envelope.NotifyNever}, false)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(buf))

	// An address that would inject a command is refused.
	_, err = envelope.AppendMailCommand(buf[:0], envelope.Path{Address: envelope.Address{Local: "x", Domain: "y\r\nRSET"}}, envelope.MailParams{})
	fmt.Println(err != nil)
	// Output:
	// MAIL FROM:<"john doe"@example.com> SIZE=1234 BODY=8BITMIME ENVID=id+3D42
	// RCPT TO:<bob@example.org> NOTIFY=NEVER
	// true
}

func ExampleAddress_ASCII() {
	a, err := envelope.ParseAddress("info@bücher.example", envelope.ParseOptions{SMTPUTF8: true})
	if err != nil {
		panic(err)
	}
	ascii, err := a.ASCII()
	if err != nil {
		panic(err)
	}
	fmt.Println(ascii)
	u, _ := ascii.Unicode()
	fmt.Println(u)
	// Output:
	// info@xn--bcher-kva.example
	// info@bücher.example
}

func ExampleEnvelope_Domains() {
	env := envelope.Envelope{
		From: envelope.Path{Null: true},
		To: []envelope.Recipient{
			{Path: envelope.Path{Address: envelope.Address{Local: "a", Domain: "example.org"}}},
			{Path: envelope.Path{Address: envelope.Address{Local: "b", Domain: "example.net"}}},
			{Path: envelope.Path{Address: envelope.Address{Local: "c", Domain: "Example.ORG"}}},
		},
	}
	for _, g := range env.Domains() {
		fmt.Println(g.Domain, len(g.To))
	}
	// Output:
	// example.org 2
	// example.net 1
}

func ExampleEncodeXtext() {
	enc := envelope.EncodeXtext("a+b=c d")
	dec, _ := envelope.DecodeXtext(enc)
	fmt.Println(enc, dec)
	// Output: a+2Bb+3Dc+20d a+b=c d
}
