// Package smtp is the root of smtpkit, an SMTP library written from scratch
// for Go programs that send, receive or relay mail: a client and a server on
// one shared codec and one shared session state machine.
//
// This package holds documentation only. The packages are:
//
//   - [github.com/smtpkit/smtp/server]: an ESMTP (and LMTP) server. A program
//     implements [server.Backend] (who may log in, what to do with a message)
//     and calls Serve; the library speaks every byte of the protocol.
//   - [github.com/smtpkit/smtp/client]: an ESMTP (and LMTP) client with
//     pipelining, STARTTLS, AUTH, BDAT and MX-based delivery that reports
//     typed, retry-friendly errors per recipient.
//   - [github.com/smtpkit/smtp/reply]: reply codes, enhanced status codes
//     (RFC 3463) and multi-line replies; a Reply is an error a backend can
//     return to choose exactly what the client hears.
//   - [github.com/smtpkit/smtp/textproto]: lines, dot-stuffing and BDAT
//     chunks on the wire, with limits and a line-ending policy that resists
//     SMTP smuggling.
//   - [github.com/smtpkit/smtp/envelope]: RFC 5321 paths, MAIL and RCPT
//     parameters, IDN and SMTPUTF8.
//
// Runnable programs live under examples/: mailsink (a local mail catcher
// storing into a Maildir), sendmail (a small command-line sender) and relay
// (a store-and-forward MTA with a durable queue).
//
// A minimal server:
//
//	s := &server.Server{Addr: "127.0.0.1:2525", Backend: myBackend}
//	log.Fatal(s.ListenAndServe())
//
// Submitting a message (STARTTLS required, the certificate verified, the
// strongest AUTH mechanism both sides know):
//
//	c, err := client.DialStartTLS(ctx, "mail.example.com:587", nil)
//	if err != nil { ... }
//	defer c.Close()
//	err = c.AuthAuto(ctx, client.Credentials{Username: user, Password: password})
//	...
//	err = c.SendMail(ctx, "me@example.com", []string{"you@example.net"}, msg)
//
// The runnable Example functions of the server and client packages (on
// pkg.go.dev, or go test -run Example -v) show more.
package smtp
