// Package reliability holds the black-box reliability tests of smtpkit: they
// build examples/mailsink, run it as a process on loopback and drive it
// with load, slow and silent clients, faults (a full disk, connections cut
// at every step, failed TLS handshakes), a protocol-level fuzzer and wrong
// passwords, and log the figures they measure.
//
// The package has no code of its own; everything is in its tests.
//
//	go test ./examples/internal/reliability                       # short form
//	SMTPKIT_LONG=1 go test -v -timeout 20m ./examples/internal/reliability  # the figures
//
// The long form (SMTPKIT_LONG=1 or -long) reaches the figures of the
// reliability issue: 2,000 concurrent sessions, 5,000 slow connections, a
// minute of fuzzing. SMTPKIT_FUZZ_SEED=N replays the protocol fuzzer with
// the seed a failing run printed; SMTPKIT_RACE=1 builds mailsink with the
// race detector.
package reliability
