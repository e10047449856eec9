// Command relay-pg is the relay (../relay) built with its queue on
// PostgreSQL as well as on disk: -queue postgres://user@host/db selects a
// queue that several relays share; a directory keeps the on-disk queue.
// It is its own module, so that the library's users never download the
// PostgreSQL driver:
//
//	go -C examples/relay-pg build -o relay .      # from the repository's root
//	./examples/relay-pg/relay -queue postgres://relay@db.example/mail -auth alice:secret ...
//
// The flags, logs and operator's commands are the relay's; see
// examples/README.md.
package main

import (
	"github.com/smtpkit/smtp/examples/internal/mta"
	"github.com/smtpkit/smtp/examples/relay-pg/pgqueue"
)

func main() { mta.Main(mta.DiskBackend(), pgqueue.Backend()) }
