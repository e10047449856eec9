package mta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/smtpkit/smtp/examples/internal/queue"
)

// Queue is where the relay keeps mail from the 250 until the last
// recipient is done (RFC 5321 6.1: the relay is then responsible for it).
// Two are built in: the on-disk queue of one relay (DiskBackend), and a
// queue on PostgreSQL that several relays share (the nested module
// examples/relay-pg).
//
// A message is delivered by one worker at a time: Claim leases it to this
// relay until Finish. A relay that dies holding a claim loses it (the disk
// queue: with the process; PostgreSQL: when its lease expires), and the
// next Claim of that message reports the interrupted attempt, whose outcome
// is unknown.
type Queue interface {
	// Create starts a message for a submission. Write its bytes to the
	// Spool, then Commit it with its envelope: when Commit returns nil the
	// message is durable and due at once, and the server may say 250.
	Create(ctx context.Context) (Spool, error)
	// Add queues a complete message (a bounce) the same way.
	Add(ctx context.Context, m *queue.Message, data []byte) error
	// Claim waits until a message is due, not held and not claimed, and
	// hands it out. It returns ctx's error when ctx ends.
	Claim(ctx context.Context) (*Work, error)
	// Data opens the bytes of a claimed message; ErrNotFound when they are
	// gone.
	Data(ctx context.Context, id string) (Data, error)
	// Save records the delivery state of a claimed message, keeping the
	// claim.
	Save(ctx context.Context, m *queue.Message) error
	// Finish records the state of a claimed message and ends the claim: a
	// message that is m.Done() (its recipients final, their failures
	// reported) is removed; another is kept for m.NextAttempt (on hold if
	// m.Held). An operator's command that came during the claim (hold,
	// delete, requeue) applies now. ErrLost reports that the claim was no
	// longer this relay's.
	Finish(ctx context.Context, m *queue.Message) error
	Admin
}

// Admin is what the operator's commands need: it works while relays run on
// the queue.
type Admin interface {
	// List returns the queued messages, oldest first. An error may come
	// with the messages that could be read.
	List(ctx context.Context) ([]*queue.Message, error)
	// Control applies an operator's command to message id, or to every
	// message when id is "ALL" (Flush: always every one), and returns the
	// number of messages it changed.
	Control(ctx context.Context, op Op, id string) (int, error)
	// Close releases the queue.
	Close() error
}

// Spool receives the bytes of a new message; see Queue.Create.
type Spool interface {
	// ID is the queue ID the message will have (for the Received field).
	ID() string
	io.Writer
	io.ReaderFrom
	// Commit makes the message durable with the envelope m, whose ID, Size
	// and Created it sets. An error leaves nothing of the message queued.
	Commit(ctx context.Context, m *queue.Message) error
	// Abort discards the message; a no-op after Commit.
	Abort()
}

// Data is the bytes of a queued message.
type Data interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// Work is a claimed message.
type Work struct {
	Msg *queue.Message
	// Interrupted, when not empty, says that an earlier attempt of this
	// message began and its outcome was never recorded (the relay making
	// it died or lost its claim): the recipients still pending may have
	// got the message already.
	Interrupted string
}

// Op is an operator's command on queued messages (relay -hold ID...), as
// Postfix's postsuper and postqueue have them.
type Op string

// The operators' commands.
const (
	// OpHold puts messages on hold: no attempt until released.
	OpHold Op = "hold"
	// OpRelease releases held messages; they are tried at their next
	// attempt time (at once if it is past).
	OpRelease Op = "release"
	// OpDelete removes messages without a bounce (postsuper -d).
	OpDelete Op = "delete"
	// OpRequeue releases a message and starts its retry schedule over: its
	// attempt count goes back to zero and it is due at once; its arrival
	// time, and so -max-age, stays.
	OpRequeue Op = "requeue"
	// OpFlush makes every message that is not held due at once
	// (postqueue -f).
	OpFlush Op = "flush"
)

// All is the id that makes Control apply to every message.
const All = "ALL"

// ErrNotFound reports a message that is not (or no longer) in the queue.
var ErrNotFound = queue.ErrNotFound

// ErrLost reports that a claim was no longer this relay's when it was to
// be recorded: the message was deleted by the operator, or (PostgreSQL) the
// lease expired and another relay claimed it.
var ErrLost = errors.New("queue: claim lost (message deleted, or its lease expired and another relay took it)")

// Options configure a queue opened to serve.
type Options struct {
	// Log receives the queue's own events (operator commands, errors).
	Log *slog.Logger
	// MailLog writes the Postfix-style lines (operator commands).
	MailLog *MailLog
	// Owner names this relay in claims and logs: host and PID.
	Owner string
	// Lease is how long a claim lasts unless renewed (PostgreSQL; the
	// disk queue's claims last as long as the process).
	Lease time.Duration
	// Workers is the number of delivery workers that call Claim.
	Workers int
	// OnFlush is called when an operator's flush reaches this relay, so
	// that destinations in their dead-destination backoff are tried again
	// too (as Postfix's postqueue -f does).
	OnFlush func()
}

// Backend opens one kind of queue from the -queue flag.
type Backend struct {
	// Name says what the queue is ("disk", "PostgreSQL").
	Name string
	// Match reports whether the -queue value is for this backend.
	Match func(spec string) bool
	// Open opens the queue for a relay to serve from.
	Open func(ctx context.Context, spec string, o Options) (Queue, error)
	// Admin opens the queue for -list and the control commands.
	Admin func(ctx context.Context, spec string, o Options) (Admin, error)
}

// IsPostgresURL reports whether a -queue value names a PostgreSQL
// database (the URI schemes libpq takes).
func IsPostgresURL(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// backendFor picks the backend of spec: the first that matches. A
// PostgreSQL URL with no backend for it says how to get one.
func backendFor(spec string, backends []Backend) (Backend, error) {
	for _, b := range backends {
		if b.Match(spec) {
			return b, nil
		}
	}
	if IsPostgresURL(spec) {
		return Backend{}, fmt.Errorf("-queue %s: this relay was built without PostgreSQL support; "+
			"build the one with it from its own module: go -C examples/relay-pg build -o relay . (see README)", redactURL(spec))
	}
	return Backend{}, fmt.Errorf("-queue %q: no queue of this kind", spec)
}

// urlHasPassword reports whether a database URL holds a password, which
// every local user reads in the relay's command line (ps).
func urlHasPassword(s string) bool {
	if !IsPostgresURL(s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return true
		}
	}
	return u.Query().Has("password")
}

// redactURL hides the password of a database URL for messages and logs.
func redactURL(s string) string {
	if !IsPostgresURL(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}
