// Package sasl implements the client and server halves of the SASL
// mechanisms (RFC 4422) that SMTP AUTH (RFC 4954) needs:
//
//   - PLAIN (RFC 4616): the password in clear, for use over TLS;
//   - LOGIN (draft-murchison-sasl-login): the obsolete two-prompt form of
//     PLAIN that many clients still use;
//   - CRAM-MD5 (RFC 2195): an HMAC-MD5 challenge-response;
//   - SCRAM-SHA-256 (RFC 7677, RFC 5802) without channel binding: salted
//     challenge-response that also authenticates the server, for which the
//     server stores derived keys ([Credentials]) rather than passwords;
//   - XOAUTH2 (Google) and OAUTHBEARER (RFC 7628): an OAuth 2.0 bearer
//     token (RFC 6750).
//
// Mechanisms exchange raw bytes: base64 (RFC 4954 4), the 334 replies, the
// "=" empty response and the "*" cancellation belong to the SMTP layer. A
// [Client] or [Server] value serves one AUTH command.
//
// # Driving a server
//
// The SMTP server creates a Server per AUTH command with callbacks into its
// backend, then loops:
//
//	ch, done, err := srv.Next(ctx, initialResponse) // nil: no initial response
//	for !done {
//		// send "334 " + base64(ch), read a line; "*" cancels (501)
//		ch, done, err = srv.Next(ctx, decoded)
//	}
//
// and answers from err: nil is 235 2.7.0, a *MalformedError is 501 5.5.2,
// an *AuthError wrapping ErrAuthFailed is 535 5.7.8 and any other
// *AuthError is a backend failure, 454 4.7.0 (RFC 4954 6). Callbacks signal
// wrong credentials by returning ErrAuthFailed, or an error wrapping it;
// every other error they return is kept (errors.Is and errors.As see
// through the *AuthError) so that a broken backend is not reported to the
// client as a wrong password. The callbacks learn the user name, so the
// SMTP layer can record the authenticated identity in the closure it
// passes.
//
// # Driving a client
//
// The SMTP client picks a mechanism with [Choose], builds the Client, sends
// "AUTH " + Name() with base64(Start()) as the initial response ("=" when
// it is empty, none when it is nil), and answers every 334 challenge with
// base64(Next(decoded challenge)) until the server sends its final reply.
// When Next fails the client sends "*" to cancel (RFC 4954 4). On a
// success reply it calls Finish when the Client implements [Finisher]:
// SCRAM-SHA-256 accepts success only after it verified the server's
// signature, so that the exchange authenticates the server too, and the
// OAuth clients refuse a success that follows the server's error
// challenge.
//
// # Limits
//
// Every message is bounded by [MaxMessageSize] and every mechanism by its
// fixed number of steps: a call after the exchange ended is a
// *MalformedError. The SCRAM client accepts iteration counts between
// [MinScramIterations] and [MaxScramIterations] only.
//
// # Not implemented
//
// SASLprep (RFC 4013) is not applied to user names or passwords: they are
// compared and hashed as their UTF-8 bytes, which is the same for ASCII
// text without control characters. SCRAM channel binding
// (SCRAM-SHA-256-PLUS) and SCRAM proxy authorization are not offered, and
// SASL security layers do not exist in SMTP.
package sasl
