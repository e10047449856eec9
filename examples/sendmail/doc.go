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
//	-auth user:pass     authenticate, with the strongest mechanism both sides
//	                    know (SCRAM-SHA-256, CRAM-MD5, PLAIN, LOGIN; PLAIN and
//	                    LOGIN only over TLS or to a loopback address). The
//	                    password is visible to every local user in ps:
//	                    prefer -auth-file
//	-auth-file F        the user:password to log in with, one line ('#'
//	                    comments aside) in a file only its owner may access
//	                    (mode 600 or 400; anything else is refused)
//	-lmtp               speak LMTP (RFC 2033)
//	-route DOMAIN=HOST:PORT  without -server: send DOMAIN's recipients there
//	                    instead of to its MX (repeatable; for tests, no DNS)
//	-timeout D          limit for the whole exchange (default 30s)
//	-v                  print the SMTP dialogue on stderr
//
// Recipients refused with 452 4.5.3 (too many recipients for one
// transaction, RFC 5321 4.5.3.1.10) get the message in a further
// transaction. When the message does not reach every recipient, each
// recipient's outcome goes to standard error, one line each: "sent",
// "deferred" (a transient failure), "refused" or "outcome unknown".
//
// Exit status (sysexits.h where it has a code):
//
//	0   sent to every recipient
//	64  bad usage
//	65  partial delivery: sent to some recipients, not to others (see
//	    standard error); never send the same message again to all of them
//	69  sent to nobody, and nothing will change that: every recipient
//	    refused (5xx), a certificate that does not verify, STARTTLS not
//	    offered, a login refused
//	74  standard input unreadable
//	75  sent to nobody, and some failure is transient (4xx, a network
//	    error, the timeout): the same command may be run again later
//	78  the -auth-file is unusable (missing, malformed, or open to group
//	    or others)
//
// sysexits.h has no code for a partial delivery; 65 (EX_DATAERR) is used
// because it is neither 0 nor 75, the status on which callers of a
// sendmail program retry: a retry would give every recipient that has
// the message a second copy.
package main
