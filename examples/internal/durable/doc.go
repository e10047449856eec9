// Package durable writes files that survive a crash once they are reported
// written: the storage step shared by the Maildir writer and the relay's
// queue.
//
// A file is written under a temporary name, flushed to stable storage with
// fsync, closed, renamed to its final name, and the final directory is
// fsynced so that the rename itself survives a power cut. A reader of the
// final name sees either nothing (or the previous content) or the whole new
// file, never a part of it. On any failure nothing is left at the temporary
// name; a new file whose directory could not be fsynced is taken back too.
//
// Errors are *Error values naming the failed step and wrapping the system
// error, so that a caller can tell a full disk (IsNoSpace) from other
// failures and answer with a transient reply instead of acknowledging what
// it did not store.
package durable
