// Command gateway moves mail between SMTP and HTTP, store-and-forward like
// the relay and on the relay's queue (examples/internal/mta):
//
//   - inbound, an SMTP server for the routed domains queues each message
//     durably before its 250, and workers POST it to the domain's webhook
//     as signed JSON (envelope, decoded header, text and HTML bodies,
//     attachments, the raw message), retrying 408, 429, 5xx and timeouts
//     on the -retry schedule and bouncing any other 4xx to the sender with
//     a delivery status notification (RFC 3464);
//   - outbound, an HTTP API (POST /v1/messages, JSON or a raw message)
//     builds a MIME message, queues it and answers 202 with its queue ID;
//     workers deliver it by the recipients' MX hosts or a smart host, and
//     GET /v1/messages/{id} tells each recipient's state.
//
// For example:
//
//	go run ./examples/gateway -route example.test=https://app.example.test/inbound \
//	    -secret-file secret -http 127.0.0.1:8080 -token-file token -queue ./queue
//
// Flags (the gateway contract of ../../../shared/CONTRACT.md, and more):
//
//	-listen ADDR        SMTP listener for inbound mail (default 127.0.0.1:2526; "" none)
//	-route DOMAIN=URL   repeatable: POST mail for DOMAIN to this webhook
//	-postmaster DOMAIN  whose postmaster@ gets a bare <Postmaster> (default: the first -route)
//	-secret-file F      the HMAC-SHA256 secret(s), one a line, the first
//	                    signing; refused unless only its owner may read it
//	-queue DIR          the queues (DIR/inbound, DIR/outbound: the relay's
//	                    disk queue) and the API's records (default ./queue)
//	-retry LIST         delays between webhook attempts, the last repeating
//	                    (default 30s,1m,5m,15m,1h,2h,4h)
//	-max-age D          give up and bounce after this long (default 120h)
//	-http ADDR          the outbound API ("" none, the default); a
//	                    non-loopback address needs -tls-cert (HTTPS)
//	-token-file F       the API's bearer token(s), one a line, owner-only
//	-smarthost H:P      deliver outbound mail there instead of by MX
//	-dns-resolver H:P, -mta-sts, -tlsrpt, -mx-port N   the relay's delivery
//	                    security for outbound MX deliveries (DANE, MTA-STS,
//	                    TLS reports), files in DIR/mta-sts and DIR/tlsrpt;
//	                    not with -smarthost
//	-sync               the webhook's answer is the SMTP reply; nothing new is queued
//	                    (what an earlier run queued is still delivered)
//	-webhook-timeout D  bound on one webhook attempt (default 30s)
//	-max-size N         largest message, both ways (default 25 MiB)
//	-max-attachment N   largest attachment inlined in a payload (default 5 MiB; 0 none)
//	-outbound-retry L   delays between SMTP attempts (default 30m,1h,2h,4h)
//	-workers N          deliveries in parallel, each way (default 4)
//	-hostname NAME      greeting, Received fields, Message-IDs, bounces
//	-tls-cert F -tls-key F   STARTTLS on -listen, HTTPS on -http
//	-keep D             how long GET keeps a sent message's state (default 168h)
//	-v                  SMTP protocol trace on stderr
//
// The webhook's request carries X-Smtpkit-Signature: t=UNIX,v1=HEX, the
// HMAC-SHA256 of "UNIX.BODY" under the secret; examples/README.md gives
// the receiver's check in Go and Python, with the replay window.
//
// Durability: an inbound message is two files fsynced with their
// directories before the 250; an outbound one before the 202; a SIGKILL
// at any moment loses neither. A retried POST with the same
// Idempotency-Key is answered as the first and queues nothing: its record
// is written, fsynced, before the message is committed, and settled from
// the queue after a crash.
package main
