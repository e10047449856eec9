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
// the same way; other connections are not affected. A 3xx reply is the
// server's own (354, 334) and counts as a plain error; a 421 closes the
// connection once sent (RFC 5321 3.8); a reply without an enhanced code
// gets X.0.0 of its class in an EHLO session (RFC 2034 4).
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
// connection flushes only when it has no further command to read.
//
// # Safety
//
//   - STARTTLS drops whatever the client sent after the command and before
//     the handshake (RFC 3207 5, CVE-2011-0411) and forgets the session: a
//     new EHLO is needed.
//   - Only CR LF . CR LF ends DATA; the other "end of data" sequences used
//     for SMTP smuggling (CVE-2023-51764 and kin) get the message refused.
//     Bare LF, bare CR and NUL follow Server.Policy.
//   - A message is acknowledged with 250 only after Data returned nil, and
//     only after the data was read to its real end. A client that leaves
//     before the end of the data (DATA's terminator, BDAT's LAST chunk)
//     has sent no message: Data's reader fails, nothing is acknowledged. A
//     command other than BDAT or NOOP between BDAT chunks ends the message
//     and its transaction (RFC 3030 2).
//   - Every limit is a field with an RFC default: command line length
//     (500, the session goes on), message size (552 after reading to the
//     end), recipients (452), errors per connection and failed AUTH
//     attempts (421, then close), connections in total and per client IP
//     (421; an IPv6 client is its /64), the RFC 5321 4.5.3.2 timeouts and
//     the wait for a PROXY header. An idle connection costs one goroutine
//     and a small buffer.
//
// # Contexts and deadlines
//
// Each Session method gets a context that ends with the connection and
// carries the deadline of the RFC 5321 4.5.3.2 stage the client is
// waiting in: 5 minutes for MAIL and RCPT, 10 minutes after the end of the
// data for Data.
//
// # Observability
//
// [Events] receives connects, TLS results, EHLO names, AUTH outcomes
// (never secrets), each command with its reply and latency, per-recipient
// outcomes, protocol violations and disconnects; [SlogEvents] logs them with
// log/slog, and metrics adapters are a switch on the event kind. Every log
// record carries the connection id. Server.Trace receives a protocol trace
// with AUTH payloads redacted.
//
// # Shutdown
//
// [Server.Shutdown] stops accepting, lets each message in progress finish,
// answers 421 to idle sessions (also those waiting in an AUTH exchange or a
// STARTTLS handshake, or for their PROXY header) and returns when all
// connections are gone; [Server.Close] cuts everything at once and cancels
// the backend's contexts.
package server
