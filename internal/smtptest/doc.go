// Package smtptest holds helpers for tests that speak SMTP over loopback,
// in the manner of net/http/httptest:
//
//   - [NewCertificate] makes a self-signed certificate for localhost,
//     127.0.0.1 and ::1 at run time (no files), with matching server and
//     client TLS configurations. [NewCA] makes a test CA that issues
//     chains ([CA.Issue], [CA.Intermediate]) with names and dates of the
//     test's choosing, and [SelfSigned] a certificate of any name: for
//     tests of certificate verification (MTA-STS, DANE).
//   - [Start] runs a server (anything with Serve and Close, such as
//     *server.Server) on a free 127.0.0.1 port for the length of a test.
//   - [Conn] drives a client connection byte for byte: [Conn.Send] writes
//     exact bytes, [Conn.Expect] reads whole replies and compares them
//     exactly, [Conn.Run] plays a "C: "/"S: " transcript.
//   - [ServeScript] plays the server side of a transcript, for client tests.
package smtptest
