package main

import (
	"os"

	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/mta"
)

func main() {
	if queue, ok := mta.QueueArg(os.Args[1:]); ok && mta.IsPostgresURL(queue) {
		// Returns only when relay-pg could not be found, built or run.
		cli.ExitOnError("relay", handOver(os.Args[1:]))
	}
	mta.Main(mta.DiskBackend())
}
