// Package smtptest provides utilities for testing SMTP code over real
// loopback sockets, in the manner of net/http/httptest:
//
//   - [NewServer] runs an SMTP (or LMTP) server on a loopback port with a
//     backend that records every message: envelope, exact bytes, the
//     connection it came on. It can offer STARTTLS or implicit TLS with a
//     certificate made for the test ([Server.ClientTLSConfig] trusts it),
//     AUTH for given users, and LMTP. [Server.WaitMessages] waits for
//     messages sent in the background, so tests need no sleeps.
//   - A [Fault] makes that server misbehave, to test a client: a chosen
//     reply to the n-th MAIL, RCPT, DATA or BDAT (a 421 closes the
//     connection), a delay, a reply that never comes, a greeting that never
//     comes, the connection dropped before or after the final dot, replies
//     that trickle in a byte at a time ([Trickle]).
//   - A [Peer] plays the server side of a transcript ("S: " and "C: "
//     lines) over a real socket, for exact tests of a client, and reports
//     where the client left it.
//   - A [Conn] is a client for testing servers: it sends exact bytes, a
//     command or a whole transcript and checks the replies by code,
//     enhanced code and text pattern ([Conn.Expect], [Conn.Run]).
//
// Everything takes a [TB], which *testing.T, *testing.B and *testing.F
// satisfy; what a constructor starts is stopped when the test ends. A nil
// TB runs the same outside a test, in an Example or a program: call Close,
// and a failure panics.
//
// # Transcripts
//
// A Peer and Conn.Run take a dialogue written one line per line of the
// protocol:
//
//	S: 220 mx.example.org ESMTP
//	C: EHLO client.example.net
//	S: 250-mx.example.org
//	S: 250 PIPELINING
//
// "C: " lines are what the client sends and "S: " lines what the server
// sends, each without its CRLF ("C:" or "S:" alone is an empty line).
// Leading blanks and empty lines are ignored, so a transcript can be an
// indented raw string literal. In a line that is expected rather than
// sent, "{*}" matches any run of bytes within the line: a host name, a
// queue id. Three directives stand for events that are not lines:
//
//	!tls    both sides start TLS here (after the 220 reply to STARTTLS)
//	!close  this side closes the connection (the last line)
//	!eof    the other side must close the connection (the last line)
//
// When the other side leaves the transcript, the failure is a
// *MismatchError: the line expected, what came instead, and the lines
// before it.
//
// The package depends on the server, reply and envelope packages only, not
// on the client: test a client against it, or a server with its Conn.
package smtptest
