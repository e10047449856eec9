// Package mailstore is mailsink's view of its Maildir: an index of the
// messages for the web UI and the JSON API (list newest first, search,
// wait for a message), their parsed form, deletion and the -max-messages
// pruning.
//
// The Maildir stays the store: the index is rebuilt from the files at
// start, follows what mailsink delivers, and notices files that other
// programs add, move (a reader moving new/ to cur/) or remove when it
// syncs. Nothing but the message files is written.
package mailstore
