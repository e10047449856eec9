// Package smtptest holds the helpers of this module's own tests that
// speak SMTP over loopback. It is a thin layer over the public kit,
// server/smtptest, kept for the API the existing tests use:
//
//   - [NewCertificate] is the kit's test certificate. [NewCA] makes a test
//     CA that issues chains ([CA.Issue], [CA.Intermediate]) with names and
//     dates of the test's choosing, and [SelfSigned] a certificate of any
//     name: for tests of certificate verification (MTA-STS, DANE).
//   - [Start] runs a server (anything with Serve and Close, such as
//     *server.Server) on a free 127.0.0.1 port for the length of a test.
//   - [Conn] is the kit's test client, with [Conn.Expect] comparing whole
//     replies as they came on the wire ("{*}" for any run of bytes).
//   - [ServeScript] plays the server side of a transcript with the kit's
//     Peer, for client tests.
//
// New tests should use server/smtptest directly.
package smtptest
