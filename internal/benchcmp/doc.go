// Package benchcmp holds comparison benchmarks of smtpkit against
// emersion/go-smtp (v0.25.1) and Go's net/smtp. It is a module of its own
// (see go.mod) so that the library's go.mod never names go-smtp: "go test
// ./..." at the repository root does not descend into it.
//
// The benchmarks are in the _test.go files; README.md has the commands.
//
//   - BenchmarkClient: the three clients (and smtpkit's SendBatch) against
//     Postfix's smtp-sink, go-smtp's server and smtpkit's mailsink, each
//     started by the benchmark as a process of its own on a free loopback
//     port (smtp-sink is skipped when /usr/sbin/smtp-sink is missing).
//   - BenchmarkServer: the smtpkit and go-smtp servers in-process with
//     discard backends, driven by a raw-socket client that makes one round
//     trip per command, as Postfix's smtp-source does.
//
// Both report msgs/s, allocs/op (an op is one message) and the process's
// CPU time per message.
package benchcmp
