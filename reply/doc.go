// Package reply models SMTP replies: the three-digit reply code of
// RFC 5321 4.2, the enhanced status code of RFC 3463 (registry RFC 5248,
// transport per RFC 2034) and the text lines.
//
// Both sides of smtpkit use it. The server answers with a *Reply taken from
// the catalogue (OK, BadSequence, MailboxUnavailable, ...) or returned by a
// backend, and formats it with AppendWire. The client parses what the server
// sent with a Reader, which enforces bounds on line length and line count so
// that a hostile server cannot make it use unbounded memory.
//
// A *Reply implements error, so a backend can return one to choose exactly
// what the client hears, and a client can hand one to its caller, who can
// inspect it with errors.As.
package reply
