// Package maildir writes messages into a Maildir, the one-file-per-message
// mailbox format of qmail that mutt, Dovecot and most mail readers open.
//
// A delivery follows the protocol of the format's description
// (https://cr.yp.to/proc/maildir.html): the message is written under a unique
// name in tmp/, flushed to stable storage with fsync, then renamed into new/,
// and the new/ directory itself is fsynced so that the rename survives a
// crash. A reader never sees a partial file in new/, and once Commit returns
// nil the message is on disk.
//
// Errors are *Error values wrapping the system error, so a caller can test
// for a full disk with IsNoSpace (or errors.Is(err, syscall.ENOSPC)) and answer
// with a transient reply instead of acknowledging a message it did not store.
package maildir
