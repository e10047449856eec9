package session_test

import (
	"fmt"

	"github.com/smtpkit/smtp/internal/session"
)

func ExampleMachine() {
	m := session.NewMachine(session.Options{})

	// RCPT before MAIL: refused with the reply to send (or to return as
	// the client's error).
	if r := m.Check(session.RCPT); r != nil {
		fmt.Println(r)
	}

	for _, cmd := range []session.Command{session.EHLO, session.MAIL, session.RCPT, session.DATA} {
		if r := m.Check(cmd); r != nil {
			fmt.Println(r)
			return
		}
		m.Apply(cmd) // the peer accepted it
		fmt.Println(cmd, "->", m.State())
	}
	m.EndMessage() // the message was answered
	fmt.Println("end of data ->", m.State())
	// Output:
	// 503 5.5.1 Send EHLO or HELO first
	// EHLO -> Greeted
	// MAIL -> Mail
	// RCPT -> Rcpt
	// DATA -> Data
	// end of data -> Greeted
}

func ExampleParseCommand() {
	fmt.Println(session.ParseCommand([]byte("mail")), session.ParseCommand([]byte("xyzzy")))
	// Output: MAIL UNKNOWN
}
