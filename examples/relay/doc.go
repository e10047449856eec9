// Command relay is a store-and-forward mail relay (the MTA of the SMTP
// model, RFC 5321 2.3.10): authenticated clients submit mail, which is
// written durably to a queue before the 250 reply and then delivered to
// each recipient's domain, with retries on a backoff schedule and a
// delivery status notification (RFC 3464) to the sender for what cannot be
// delivered. The program is examples/internal/mta; this command has the
// on-disk queue, and examples/relay-pg (its own module, for the PostgreSQL
// driver) has a queue on PostgreSQL as well, shared by several relays.
//
//	go run ./examples/relay -listen 127.0.0.1:2587 -auth-file users \
//	    -senders senders -queue ./queue -route example.test=127.0.0.1:2525 -retry 10s,1m
//	go run ./examples/relay -queue ./queue -list      # what is queued (mailq)
//	go run ./examples/relay -queue ./queue -hold ID   # and -release, -delete, -requeue, -flush
//
// Flags (the relay contract of ../../../shared/CONTRACT.md, and more):
//
//	-listen ADDR        submission listener (default 127.0.0.1:2587)
//	-tls-cert F -tls-key F   offer STARTTLS; AUTH is then accepted only over TLS
//	-auth-file F        who may relay: one user:password a line ('#'
//	                    comments), in a file only its owner may access (mode
//	                    600 or 400; anything else is refused at start)
//	-auth user:pass     repeatable, more logins (visible to every local user
//	                    in ps: prefer -auth-file); -auth or -auth-file needed
//	-senders F          bind senders to logins: "alice: alice@x.org @y.org <>"
//	                    a line (an address, any address of a domain, the
//	                    null reverse-path); any other MAIL FROM gets 553
//	                    5.7.1. Without it any login may use any sender (the
//	                    relay says so at start). Not writable by group or
//	                    others
//	-queue DIR          the durable queue (default ./queue, created if missing);
//	                    postgres://... with the relay of examples/relay-pg
//	-route DOMAIN=HOST:PORT  repeatable; deliver DOMAIN's mail there instead of
//	                    to its MX ("*" routes every other domain: a smart host)
//	-retry LIST         delays between attempts, e.g. "1s,2s,4s", the last one
//	                    repeating (default 30m,1h,2h,4h: RFC 5321 4.5.4.1)
//	-max-age D          give up and bounce after this long (default 120h)
//	-hostname NAME      name in the greeting, Received fields and bounces
//	-workers N          deliveries in parallel (default 4)
//	-log FILE           logs to FILE (reopened on SIGHUP) instead of stderr
//	-lease D            shared queue: how long a claim lasts unless renewed (1m)
//	-list [-json]       print the queue and exit (works while a relay runs)
//	-flush              make every message due now (and retry dead destinations)
//	-hold ID|ALL, -release ID|ALL, -delete ID|ALL, -requeue ID|ALL
//	-v                  log the server's connections and protocol trace
//
// No open relay: MAIL before AUTH gets 530 5.7.0 (RFC 4954 6), and there is
// no mail accepted without authentication. With -senders a login sends
// only as the addresses it owns (as Postfix's reject_sender_login_mismatch
// does), compared case-insensitively, IDN domains as A-labels. The
// Received field of each message names the login ("(Authenticated sender:
// alice)", protocol ESMTPSA, RFC 3848), so that mail can be traced to the
// account that sent it. Passwords never travel in clear over a network:
// without a certificate the relay listens only on a loopback address
// (where AUTH in clear is allowed); with one, AUTH is offered only after
// STARTTLS (RFC 4954 4).
//
// Durability: every accepted message is two files in the queue (its bytes
// and its envelope with per-recipient state), each fsynced and renamed into
// place with its directory fsynced, before the 250. After each attempt the
// state of every recipient is saved the same way, so a recipient that got
// the message is never sent it again, even after a crash. A restart picks
// the queue up where it was, and logs the attempts a crash interrupted
// ("outcome unknown": they are made again, and may duplicate).
//
// The queue directory is owned by one relay: it holds an flock on DIR/lock,
// which contains its PID. The operator's commands work while it runs (they
// leave requests in DIR/control, which it answers) and while none does.
// SIGHUP reopens the -log file and re-reads -auth-file and -senders (if
// one cannot be read, the previous logins and senders stay in force and
// the error is logged); it does not stop the relay.
//
// Bounces: a recipient's Remote-MTA and Diagnostic-Code (RFC 3464) are
// those of a server's reply; a failure no server replied to (a connection
// that failed, a null MX) is reported by its Status and an explanation
// ("connection to mx.example.net failed: ..."), never as something a host
// said.
package main
