// Package textproto is the SMTP wire codec shared by the client and the
// server: CRLF lines, the DATA dot-encoding, BDAT chunks and the policy for
// the bytes RFC 5321 does not allow in text.
//
// Types and what they implement:
//
//   - [Reader] reads command lines with a length limit (RFC 5321 4.5.3.1.4,
//     [MaxCommandLine]); an over-long line is discarded up to its end and
//     reported as [*LineTooLongError], so the session can reply 500 and go
//     on. [Reader.Buffered] lets a server detect STARTTLS command injection
//     (RFC 3207 5).
//   - [DotReader] decodes DATA (RFC 5321 4.5.2, 4.1.1.4): it removes the
//     stuffed leading dots and ends only at CR LF "." CR LF. Sequences that
//     other receivers took as the end ("\n.\n", "\r.\r\n", "\r\n.\n" and
//     kin, the SMTP smuggling attacks CVE-2023-51764/51765/51766) are never
//     an end; DotReader rejects the message containing them
//     ([FakeEndOfData]). Size and line limits are enforced by counting; on
//     any error the reader still consumes the data up to its real end, then
//     reports, so the session stays in sync.
//   - [ChunkReader] reads a BDAT chunk (RFC 3030) of an exact size, and
//     [BDATFilter] applies the line-ending policy across chunks.
//   - [Writer] buffers output so that a pipelining peer (RFC 2920) can queue
//     several lines and flush once; [DotWriter] dot-stuffs and
//     CRLF-normalises message data for the client.
//   - [Policy] says, for each of bare LF, bare CR, NUL and 8-bit bytes,
//     whether to reject, normalise or allow it (RFC 5321 2.3.8, 4.5.2;
//     RFC 6152; RFC 6531). Violations are reported as [*ViolationError] and
//     counted in [ViolationCounts].
//   - [SplitCommand] and [ValidateCommandLine] split and check a command
//     line (RFC 5321 4.1.1; RFC 6531 3.3 for UTF-8).
//
// # Memory
//
// A Reader and a Writer each hold a small inline buffer (about 1 KiB),
// enough for any command line, so an idle connection waiting for its next
// command costs little. While DATA, BDAT or a long line (AUTH, RFC 4954 4)
// is in progress they borrow a 32 KiB buffer from a package-level
// [sync.Pool] and give it back when the data ends (the Writer), or before
// the Reader next reads from its source for a line and what remains
// buffered fits in the small buffer again: a Reader that waits for a
// command holds only its small buffer, while one serving pipelined
// commands and messages keeps the big one between them. The pool holds
// only spare byte slices, no state a caller can observe. Lines longer than
// 32 KiB (only when the caller asks for such a limit) use a buffer of their
// own size.
//
// Readers return slices into their buffer, valid until the next call, and
// allocate nothing per line in the steady state.
//
// Neither Reader nor Writer is safe for concurrent use.
package textproto
