// Package server implements an ESMTP server (RFC 5321) and an LMTP server
// (RFC 2033) with pluggable authentication and storage.
//
// A program implements a [Backend], which makes a [Session] for each
// connection, sets a few fields of a [Server] and serves:
//
//	s := &server.Server{Addr: ":2525", Hostname: "mx.example.org", Backend: be}
//	log.Fatal(s.ListenAndServe())
//
// The library speaks every byte of the protocol; the backend only decides:
// who may send (Mail, Rcpt), what to do with the message (Data, a stream,
// never held whole in memory), and, through optional interfaces, who may
// log in ([PasswordAuthenticator], [SecretAuthenticator],
// [ScramAuthenticator], [TokenAuthenticator]), the per-recipient outcome in
// LMTP ([LMTPSession]) and the answer to VRFY ([VerifySession]).
//
// # Replies
//
// A backend method that returns a *reply.Reply chooses exactly what the
// client hears, including a positive reply (the queue id after the
// message). Any other error is logged and answered with a generic 451
// 4.3.0, so a backend's internal messages never reach the network and no
// mail is refused for good by accident. A panicking backend is recovered
// the same way; other connections are not affected. A panic in an Events
// handler is recovered and logged, and the connection goes on; a panic
// anywhere else while serving a connection (a TLS callback, a log handler)
// ends that connection, logged with its stack, never the process. A 3xx
// reply is the server's own (354, 334) and counts as a plain error; a 421
// closes the connection once sent (RFC 5321 3.8). In an EHLO session a
// reply's enhanced code goes out as reply.Reply.Error prints it
// (Reply.WireEnhanced: a 452 with 5.2.2 is sent as 452 4.2.2), and a reply
// without one gets X.0.0 of its class (RFC 2034 4).
//
// # Protocol
//
// Commands: HELO, EHLO, LHLO, MAIL, RCPT, DATA, BDAT, RSET, NOOP, QUIT,
// VRFY (252 unless the backend answers), EXPN (502), HELP, STARTTLS and
// AUTH, sequenced by one shared state machine. Extensions are advertised
// only when they apply: PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES
// (enhanced codes on every 2xx, 4xx and 5xx reply once EHLO was accepted,
// except the replies to HELO and EHLO: RFC 2034 4), SMTPUTF8, DSN,
// CHUNKING and BINARYMIME, STARTTLS (with TLSConfig, before TLS), AUTH
// (under TLS unless AllowInsecureAuth; mechanisms from the backend's
// interfaces) and REQUIRETLS (under TLS).
//
// Replies to pipelined commands (RFC 2920) are written in one go: the
// connection flushes when it has no further command to read, and never
// waits for the backend to send a reply the client is waiting for: the
// 354 goes out at once, each BDAT chunk but the last is answered as soon
// as it has arrived, and the reply to a message goes out before
// Session.Reset runs.
//
// # Safety
//
//   - STARTTLS drops whatever the client sent after the command and before
//     the handshake (RFC 3207 5, CVE-2011-0411) and forgets the session
//     (RFC 3207 4.2): a new EHLO is needed, and the backend's Reset is
//     called.
//   - Only CR LF . CR LF ends DATA; the other "end of data" sequences used
//     for SMTP smuggling (CVE-2023-51764 and kin) get the message refused.
//     Bare LF, bare CR and NUL follow Server.Policy.
//   - A message is acknowledged with 250 only after Data returned nil, and
//     only after the data was read to its real end. A client that leaves
//     before the end of the data (DATA's terminator, BDAT's LAST chunk)
//     has sent no message: Data's reader fails, nothing is acknowledged. A
//     command other than BDAT or NOOP between BDAT chunks ends the message
//     and its transaction (RFC 3030 2).
//   - Every limit is a field with an RFC (or, where no RFC sets one,
//     Postfix) default: command line length (500, the session goes on),
//     message size and text line length, counted on what the backend
//     receives (552 or 500 after reading to the end, the same for DATA
//     and BDAT), recipients (452), connections in total and per client IP
//     (421; an IPv6 client is its /64), the RFC 5321 4.5.3.2 timeouts and
//     the wait for a PROXY header. An idle plain TCP connection holds no
//     buffer, and on Linux no goroutine (one epoll goroutine per Server
//     watches them); over TLS or the PROXY protocol it keeps a goroutine
//     and its reader.
//   - A hostile client is limited as Postfix limits it. Errors (bad or
//     out-of-sequence commands, refused MAIL, RCPT, VRFY and messages,
//     cancelled or broken AUTH exchanges and those the backend failed,
//     over-long AUTH lines, junk commands past MaxJunkCommands, empty
//     BDAT chunks among them, recipients past MaxRecipientOvershoot) end the
//     connection with 421 4.7.0 at MaxErrors; past SoftErrorLimit each
//     round trip with an error waits ErrorDelay; a delivered message
//     starts the count again. A failed AUTH (the backend refused a credential,
//     whatever the client sent after that, as after the error challenge of
//     XOAUTH2 and OAUTHBEARER) waits AuthFailureDelay and ends the
//     connection with 421 4.7.0 at MaxAuthFailures.
//
// # Contexts and deadlines
//
// Each call of a Session method gets a context of its own, carrying the
// deadline of the RFC 5321 4.5.3.2 stage the client is waiting in: 5
// minutes for MAIL and RCPT, 10 minutes after the end of the data for
// Data. It ends when the method returns, at the deadline, with the
// connection or at Server.Close, stays done, and context.Cause tells why
// (ErrMethodReturned, context.DeadlineExceeded, ErrServerClosed). The
// message reader given to Data fails for good once Data returned.
//
// # Observability
//
// The server logs to Server.Logger (log/slog): errors, and its events as
// [SlogEvents] does (failed AUTH at Warn, refused recipients and protocol
// violations at Info, the rest at Debug). Every record carries the
// connection id, and [Conn.Logger] gives the backend a logger that adds
// it too. Server.Events, if set, receives the same events in addition:
// connects, TLS results, EHLO names, AUTH outcomes (never secrets), each
// command with its reply and latency, per-recipient outcomes, protocol
// violations and disconnects; metrics adapters are a switch on the event
// kind. Server.Trace receives a protocol trace with AUTH payloads
// redacted.
//
// # Shutdown
//
// [Server.Shutdown] stops accepting, lets each transaction in progress
// (from MAIL to the reply to its message) finish on every kind of
// connection (plain, STARTTLS, implicit TLS, PROXY protocol), answers 421
// to idle sessions (also those waiting in an AUTH exchange or a STARTTLS
// handshake, or for their PROXY header) and returns when all connections
// are gone; [Server.Close] cancels the backend's contexts (cause
// ErrServerClosed), then cuts everything at once.
package server
