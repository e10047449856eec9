// Package client is an ESMTP and LMTP client: it hands mail to a server
// (submission or relay) or, with a Deliverer, to the recipients' own mail
// exchangers.
//
// A Client wraps one connection. Dial, DialTLS (implicit TLS, RFC 8314) and
// DialStartTLS open one and read the greeting; NewClient does the same over
// any net.Conn. Every blocking method takes a context.Context, and every
// command runs under its own deadline (the RFC 5321 4.5.3.2 timeouts, see
// Options), so a silent or trickling server cannot hold the client forever.
//
// The usual sequence is
//
//	c, err := client.Dial(ctx, "mail.example.org:587", nil)
//	err = c.Hello(ctx, "")            // EHLO, HELO fallback
//	err = c.StartTLS(ctx, nil)        // re-EHLO over TLS
//	err = c.AuthAuto(ctx, client.Credentials{Username: u, Password: p})
//	res, err := c.Send(ctx, env, msg) // MAIL, RCPT..., DATA or BDAT
//	err = c.Quit(ctx)
//
// (DialStartTLS does the first three steps.) Send reuses its buffers and
// its Result: in the steady state a message costs no allocation (two with
// a context that can be cancelled, to watch it).
//
// A Deliverer sends to the recipients' own mail exchangers (RFC 5321 5):
// MX lookup with an injectable Resolver, exchangers by preference, the
// implicit MX, null MX (RFC 7505), opportunistic or required STARTTLS,
// several domains at once, and one RecipientOutcome per recipient.
//
// Send pipelines MAIL, every RCPT and DATA into one round trip when the
// server offers PIPELINING (RFC 2920), and uses BDAT (RFC 3030) when it offers
// CHUNKING, streaming the message in chunks. SendBatch sends several
// messages and, with DATA, writes each final dot with the next message's
// commands: one round trip per message where Send needs two. It refuses, before anything goes
// on the wire, 8-bit content to a server without 8BITMIME, UTF-8 addresses to
// one without SMTPUTF8, and a message larger than the advertised SIZE.
//
// # Results: what may be retried
//
// A message may reach some recipients and not others. Send's Result (never
// nil) and the Deliverer's outcomes give each recipient a RecipientStatus:
// StatusAccepted (it has the message: never send it again),
// StatusDeferred (a 4xx, or a failure that may pass: retry later),
// StatusRefused (a 5xx: bounce) or StatusUnknown (the connection broke
// after the end of the message, which may have been delivered).
// Result.Retry builds the envelope that is safe to send again. A server's
// limit of recipients per transaction (452 4.5.3) is handled by sending the
// rest in further transactions.
//
// # Errors
//
// Errors are typed. A negative reply is an *Error carrying the command, the
// reply code, the enhanced status code and the text (Local when the client
// refused before sending anything, with an *ExtensionError, *SizeError or
// ErrNoVerifiedTLS cause). A context done before a call wrote anything is
// a *ContextError, and the Client stays usable; a network failure, or a
// context that ends a command half-way, is a transient *NetError after
// which the Client is unusable. A 421 reply, after which the server
// closes the connection (RFC 5321 3.8), is that *Error, for the command it
// answered and everything after it, not the broken connection that
// follows. A connection that breaks once the end of the message was
// written (the final dot, or BDAT LAST, pipelined or not) and before its
// reply is an *OutcomeUnknownError (errors.Is(err, ErrOutcomeUnknown);
// never Temporary: a resend may deliver it twice), unless the replies
// read had already ruled delivery out. A message given up after its
// transaction began on the wire (over SIZE, 8-bit content found while
// streaming) is an *AbortError that says whether the connection was
// closed. A message that fared differently for different recipients is a
// *RecipientsError, whose Temporary is true only when resending the whole
// message is safe. A server that claims an AUTH success it did not prove
// is a *ServerAuthError (errors.Is(err, ErrServerNotAuthenticated)).
//
// # Trust
//
// The client does not take the server's word where an RFC requires
// proof, and keeps credentials from a peer it cannot vouch for:
//
//   - SCRAM-SHA-256 accepts success only with the server's valid signature
//     (RFC 5802 5), so it authenticates the server too; a success the
//     mechanism did not allow, or one given to a cancelled exchange, ends
//     the connection (see Finisher).
//   - Auth uses only a mechanism the server announced; AuthAuto picks the
//     strongest, and never falls back to a weaker one.
//   - Passwords in clear (PLAIN, LOGIN) and bearer tokens (XOAUTH2,
//     OAUTHBEARER) need TLS, unless Dial reached a loopback host itself
//     (never through a custom Dialer, never over NewClient's connection)
//     or Options.InsecureAuth says otherwise. TLS counts whether or not the
//     certificate was verified: with InsecureSkipVerify, a man in the
//     middle receives the password.
//   - A REQUIRETLS message (RFC 8689) goes only over TLS whose certificate
//     the client verified, to a server that announced REQUIRETLS there;
//     the Deliverer's opportunistic TLS never carries one.
//   - STARTTLS discards anything the server sent before the handshake
//     (RFC 3207 6), and replies are read with bounds on line length and
//     count.
//
// The client writes only CRLF line ends and stuffs leading dots, so no message
// can end DATA early or smuggle a second one.
package client
