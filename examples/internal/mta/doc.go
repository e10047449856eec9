// Package mta is the relay program (examples/relay, examples/relay-pg): the
// submission server, the delivery workers, the mail log, and the
// operator's commands, on a Queue (the on-disk queue here, PostgreSQL in
// the nested module examples/relay-pg). Main runs it with the queues a
// binary supports.
package mta
