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
//	                    postgres://...: hands over to the relay of
//	                    examples/relay-pg (see below)
//	-route DOMAIN=HOST:PORT  repeatable; deliver DOMAIN's mail there instead of
//	                    to its MX ("*" routes every other domain: a smart host)
//	-retry LIST         delays between attempts, e.g. "1s,2s,4s", the last one
//	                    repeating (default 30m,1h,2h,4h: RFC 5321 4.5.4.1)
//	-max-age D          give up and bounce after this long (default 120h)
//	-hostname NAME      name in the greeting, Received fields and bounces
//	-dkim DOMAIN:SELECTOR:KEYFILE  repeatable; DKIM-sign mail whose From is in
//	                    DOMAIN or a subdomain with this key (PEM: PKCS#8 RSA
//	                    or Ed25519, PKCS#1 RSA; mode 600 or 400)
//	-dkim-dns DOMAIN:SELECTOR:KEYFILE  print the DNS TXT record of the key, exit
//	-dns-resolver H:P   a DNSSEC-validating resolver (a local unbound): every MX
//	                    and address lookup through it, and DANE (RFC 7672)
//	-mta-sts            apply MTA-STS policies (RFC 8461), kept in STATE/mta-sts
//	-tlsrpt             count TLS sessions, send each UTC day's TLS reports
//	                    (RFC 8460) to the domains' rua; STATE/tlsrpt
//	-state-dir DIR      STATE: their files (default: the queue directory;
//	                    needed with a PostgreSQL queue, one per relay)
//	-mx-port N          port of the MX hosts and their TLSA records (default 25)
//	-workers N          deliveries in parallel (default 4)
//	-log FILE           logs to FILE (reopened on SIGHUP) instead of stderr
//	-lease D            shared queue: how long a claim lasts unless renewed (1m)
//	-list [-json]       print the queue, one message a line, and exit (works while
//	                    a relay runs); on a terminal, or with -totals, a total
//	                    line follows ("Mail queue is empty" for none)
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
// SIGHUP reopens the -log file and re-reads -auth-file, -senders and the
// -dkim key files (if one cannot be read, the previous logins, senders and
// keys stay in force and the error is logged); it does not stop the relay.
//
// DKIM (RFC 6376, 8463): a submitted message whose one From address is in
// a -dkim domain (or a subdomain: the closest parent with keys signs, so
// that d= aligns for DMARC) is signed before the 250 with every key of
// that domain, rsa-sha256 and ed25519-sha256, relaxed/relaxed; the
// signatures are kept with the message in the queue. Bounces are signed
// for the domain of -hostname when it has a key.
//
// REQUIRETLS (RFC 8689): offered after STARTTLS; a message that asks for
// it keeps the requirement in the queue and is sent on only over TLS with
// a verified certificate, to a server that offers REQUIRETLS, else it
// bounces with 5.7.30; its bounce returns nothing of it.
//
// Delivery security (RFC 7672, 8461, 8460), for MX deliveries (a -route
// bypasses it): with -dns-resolver, a domain whose MX, address and TLSA
// records are DNSSEC-signed gets mail only over TLS whose certificate
// matches the records; with -mta-sts, a domain with a policy in mode
// enforce only at the MX hosts it lists, over TLS with a certificate
// valid for their names; otherwise opportunistic TLS. Where a policy
// fails, the mail waits (4.7.x) and is never sent in clear. The mail log's
// tls= says which held: TLSv1.3/dane, /mta-sts, /verified, /unverified.
// With -tlsrpt, each UTC day's report goes to the rua of the policy
// domain's _smtp._tls record once the day is over: by mail through the
// queue (multipart/report, DKIM-signed for -hostname's domain when it has
// a key) or by an https POST; the counts are saved at shutdown and hourly.
// A message with "TLS-Required: No" (RFC 8689 5), as the reports are, goes
// without DANE and MTA-STS.
//
// PostgreSQL: the queue shared by several relays needs the pgx driver,
// which the nested module examples/relay-pg holds (library users never
// download it). Given -queue postgres://..., this command runs that relay
// in its own place (exec: same PID, flags and streams): a relay-pg next to
// this program, else one built from the source tree this program was
// built from (into the user's cache directory; only a tree owned by this
// user or root and not writable by others), else relay-pg from PATH. A
// program, tree or build directory another user could write to, or one
// in a directory they could write to (sticky ones such as /tmp aside), is
// refused: the relay would run their code.
//
// Bounces: a recipient's Remote-MTA and Diagnostic-Code (RFC 3464) are
// those of a server's reply; a failure no server replied to (a connection
// that failed, a null MX) is reported by its Status and an explanation
// ("connection to mx.example.net failed: ..."), never as something a host
// said.
package main
