package main

import "github.com/smtpkit/smtp/examples/internal/mta"

// main runs the relay with the embedded on-disk queue; the relay with a
// queue on PostgreSQL is built from its own module, examples/relay-pg.
func main() { mta.Main(mta.DiskBackend()) }
