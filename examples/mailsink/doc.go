// Command mailsink is a local SMTP server for developers: it accepts every
// message and stores it in a Maildir, where mutt, Dovecot or any Maildir
// reader opens it, prints one line per message, and shows the mail in a
// web UI with a JSON API for tests (../../docs/mailsink.md).
//
//	go run ./examples/mailsink                   # 127.0.0.1:2525 into ./maildir, UI on 127.0.0.1:8025
//	go run ./examples/mailsink -listen 127.0.0.1:2526 -maildir /tmp/mail \
//	    -tls-cert cert.pem -tls-key key.pem -auth alice:secret
//
// Each stored file starts with "Return-Path: <from>",
// "X-Envelope-To: a, b" and a Received field (client address, HELO name,
// protocol, TLS, authenticated user), then holds the message exactly as
// received. A
// message is written in tmp/, fsynced and renamed into new/ before the
// server says 250; when the disk is full the client gets 452 4.3.1 and
// nothing is acknowledged.
//
// Flags (see ../../../shared/CONTRACT.md for the contract they follow):
//
//	-listen ADDR        address to listen on (default 127.0.0.1:2525)
//	-maildir DIR        Maildir to store into (default ./maildir)
//	-discard            accept and throw messages away (benchmarks)
//	-hostname NAME      name in the greeting and EHLO reply
//	-tls-cert F -tls-key F  offer STARTTLS with this certificate
//	-implicit-tls       with a certificate: TLS from the first byte (RFC 8314)
//	-auth user:pass     repeatable; require AUTH (PLAIN, LOGIN, CRAM-MD5)
//	                    before MAIL. Without a certificate AUTH is allowed in
//	                    clear text (a local developer tool); with one, only
//	                    after STARTTLS. Visible to every local user in ps:
//	                    prefer -auth-file
//	-auth-file F        more logins, one user:password a line ('#' comments),
//	                    in a file only its owner may access (mode 600 or 400)
//	-max-size N         largest message in bytes (SIZE)
//	-max-rcpts N        recipients per transaction
//	-lmtp               speak LMTP (RFC 2033) instead of SMTP
//	-proxy-protocol     expect a PROXY protocol v1/v2 header on every connection
//	-reject ADDR        repeatable; refuse this recipient with 550 5.1.1 (tests)
//	-quiet              do not print a line per message
//	-v                  log connections and print the protocol trace to stderr
//	-max-conns N        connections served at once (default 10000, -1 none);
//	                    more get 421 4.7.0
//	-max-conns-per-ip N connections at once from one client IP (default none)
//	-command-timeout D  how long to wait for a command (default 5m, RFC 5321
//	                    4.5.3.2.7); an idle client then gets 421 and is closed
//	-data-timeout D     how long to wait for each block of message data
//	                    (default 3m, RFC 5321 4.5.3.2.5)
//	-http ADDR          web UI and JSON API (default 127.0.0.1:8025, "" for
//	                    none); a port in use is reported and SMTP goes on
//	-auth-accept-any    offer AUTH PLAIN and LOGIN and accept any
//	                    credentials (without TLS on loopback); excludes -auth
//	-max-messages N     keep at most N messages, deleting the oldest
//
// SIGINT or SIGTERM shuts the server down gracefully: it stops accepting
// connections and lets the sessions in progress finish (a second signal
// closes them at once).
//
// The lines go to stdout in one write every 100 ms. Mail never waits for
// them: when stdout takes nothing (a pipe nobody reads, a terminal held
// with Ctrl-S) and 1 MiB of lines wait, further lines are dropped, and
// when stdout is gone (mailsink | head) every line is; the next line that
// gets out says how many were not printed. Addresses are printed with
// control, bidirectional and invisible characters escaped (\u009b,
// \u202e, \u3164).
package main
