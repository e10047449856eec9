// Package queue is the durable on-disk mail queue of the relay example: the
// store of a store-and-forward MTA (RFC 5321 2.1, 4.5.4).
//
// Each message is two files: its bytes in data/ID and its envelope with the
// delivery state of every recipient in state/ID.json. A message is accepted
// once Writer.Commit returns: both files are then written, fsynced and
// renamed into place, and their directories fsynced, so a crash at any later
// moment (even SIGKILL or a power cut) loses nothing. A server replies 250
// only after that (RFC 5321 6.1: the receiver then takes the responsibility
// for the message).
//
// The state file is replaced atomically (write a temporary file, fsync,
// rename over the old one, fsync the directory) after every delivery attempt,
// with the outcome for each recipient. A recipient marked delivered is never
// tried again, so after a crash or a partial success no recipient gets the
// message twice (apart from the unavoidable window of RFC 1047, between the
// remote server's reply to the end of data and the state update).
//
// One process at a time owns a queue: Open takes an exclusive flock on
// DIR/lock and writes its PID into it (Owner reads it). List reads a queue
// without the lock, for a mailq-style listing while the owner runs. An
// owner marks each delivery attempt in active/ while it is in progress
// (MarkActive, ClearActive); the markers a dead owner left name the
// attempts whose outcome is unknown (Interrupted).
package queue
