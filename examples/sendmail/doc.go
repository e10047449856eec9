// Command sendmail sends standard input as one mail message, like a small
// swaks: to a given server, or with no -server straight to each
// recipient's mail exchanger (MX).
//
//	printf 'Subject: hi\r\n\r\nhello\r\n' |
//	    go run ./examples/sendmail -server 127.0.0.1:2525 -from me@example.org -to you@example.net
//
// The message is sent byte for byte (line ends become CRLF if they are not
// already); BODY=8BITMIME and SMTPUTF8 are declared when the content or an
// address needs them.
//
// Flags (the client contract of ../../../shared/CONTRACT.md, and more):
//
//	-server HOST:PORT   the server to hand the message to; without it, each
//	                    recipient's MX is looked up and tried in turn
//	-from ADDR          envelope sender ("<>" for the null reverse-path)
//	-to ADDR            recipient, repeatable (further arguments count too)
//	-helo NAME          name to give in EHLO/LHLO
//	-starttls           require STARTTLS (fail if it is not offered)
//	-tls                implicit TLS (RFC 8314, port 465 style)
//	-insecure           do not verify the server's certificate
//	-auth user:pass     authenticate with AUTH PLAIN
//	-lmtp               speak LMTP (RFC 2033)
//	-route DOMAIN=HOST:PORT  without -server: send DOMAIN's recipients there
//	                    instead of to its MX (repeatable; for tests, no DNS)
//	-timeout D          limit for the whole exchange (default 30s)
//	-v                  print the SMTP dialogue on stderr
//
// Exit status (sysexits.h): 0 sent to every recipient, 64 bad usage, 69 a
// permanent failure (5xx, a certificate that does not verify, STARTTLS not
// offered), 74 standard input unreadable, 75 a transient failure (4xx, a
// network error, the timeout): try again later.
package main
