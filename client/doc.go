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
// its Result: in the steady state a message costs a couple of allocations.
//
// A Deliverer sends to the recipients' own mail exchangers (RFC 5321 5):
// MX lookup with an injectable Resolver, exchangers by preference, the
// implicit MX, null MX (RFC 7505), opportunistic or required STARTTLS,
// several domains at once, and one RecipientOutcome per recipient saying
// delivered, transient, permanent or outcome unknown.
//
// Send pipelines MAIL, every RCPT and DATA into one round trip when the
// server offers PIPELINING (RFC 2920), and uses BDAT (RFC 3030) when it offers
// CHUNKING, streaming the message in chunks. SendBatch sends several
// messages and, with DATA, writes each final dot with the next message's
// commands: one round trip per message where Send needs two. It refuses, before anything goes
// on the wire, 8-bit content to a server without 8BITMIME, UTF-8 addresses to
// one without SMTPUTF8, and a message larger than the advertised SIZE.
//
// Errors are typed: a negative reply is an *Error carrying the command, the
// reply code, the enhanced status code and the text (Local when the client
// refused before sending, with an *ExtensionError or *SizeError cause); a
// network failure before the end of the message is a transient *NetError;
// a connection that breaks after the end of the message and before its
// reply is an *OutcomeUnknownError (errors.Is(err, ErrOutcomeUnknown)),
// because the server may or may not have accepted the message; a message
// refused for some recipients only is a *RecipientsError.
//
// The client writes only CRLF line ends and stuffs leading dots, so no message
// can end DATA early or smuggle a second one, and it reads replies with bounds
// on line length and line count.
package client
