package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses of the server programs (sendmail has its own, from
// sysexits.h).
const (
	StatusOK    = 0
	StatusError = 1 // the program failed
	StatusUsage = 2 // a bad command line, as package flag has it
)

// ParseOrExit parses the command line (without the program name) with
// parse, which writes usage and flag errors to the stderr it is given. On
// -h or -help the program exits with status 0; on any other error it
// prints "name: error" and exits with StatusUsage.
func ParseOrExit[C any](name string, parse func(args []string, stderr io.Writer) (C, error)) C {
	cfg, status, ok := parseArgs(name, os.Args[1:], os.Stderr, parse)
	if !ok {
		os.Exit(status)
	}
	return cfg
}

// parseArgs is ParseOrExit without the exit: ok is false when the program
// should end with status.
func parseArgs[C any](name string, args []string, stderr io.Writer, parse func([]string, io.Writer) (C, error)) (cfg C, status int, ok bool) {
	cfg, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return cfg, StatusOK, false
	}
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return cfg, StatusUsage, false
	}
	return cfg, StatusOK, true
}

// RunOrExit calls run with a context that ends at the first SIGINT or
// SIGTERM (a later one gets no default handling while run runs, so run may
// listen for it to cut a graceful shutdown short). If run fails, the
// program prints "name: error" and exits with StatusError.
func RunOrExit(name string, run func(ctx context.Context) error) {
	ExitOnError(name, runUntilSignal(run))
}

func runUntilSignal(run func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx)
}

// ExitOnError prints "name: error" and exits with StatusError if err is not
// nil; otherwise it returns.
func ExitOnError(name string, err error) {
	if status := report(name, os.Stderr, err); status != StatusOK {
		os.Exit(status)
	}
}

// report prints a failure and returns the exit status for err.
func report(name string, stderr io.Writer, err error) int {
	if err == nil {
		return StatusOK
	}
	fmt.Fprintln(stderr, name+":", err)
	return StatusError
}
