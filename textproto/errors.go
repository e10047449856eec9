package textproto

import "strconv"

// Limits from RFC 5321 4.5.3.1. Each counts the line's CRLF.
const (
	// MaxCommandLine is the maximum length of a command line including its
	// CRLF (RFC 5321 4.5.3.1.4). ReadLine uses it when max <= 0.
	MaxCommandLine = 512
	// MaxReplyLine is the maximum length of a reply line including its CRLF
	// (RFC 5321 4.5.3.1.5).
	MaxReplyLine = 512
	// MaxTextLine is the maximum length of a line of message text including
	// its CRLF (RFC 5321 4.5.3.1.6).
	MaxTextLine = 1000
	// MaxAuthLine is the maximum length of a line of the AUTH exchange
	// (initial response or continuation) that a server must accept,
	// including its CRLF (RFC 4954 4).
	MaxAuthLine = 12288
)

// LineTooLongError reports a line longer than the limit. The reader has
// already discarded the rest of the line (ReadLine) or read to the end of
// the data (DotReader), so the session can reply (500, RFC 5321
// 4.5.3.1.10) and go on.
type LineTooLongError struct {
	// Limit is the maximum line length in octets, CRLF included.
	Limit int
}

// Error implements error.
func (e *LineTooLongError) Error() string {
	return "textproto: line longer than " + strconv.Itoa(e.Limit) + " octets"
}

// MessageTooLargeError reports message data larger than DataLimits.MaxSize.
// DotReader returns it only after reading to the real end of the data, so
// the session can reply 552 (RFC 5321 4.5.3.1.10, RFC 1870) and go on.
type MessageTooLargeError struct {
	// Limit is the maximum size in octets.
	Limit int64
}

// Error implements error.
func (e *MessageTooLargeError) Error() string {
	return "textproto: message larger than " + strconv.FormatInt(e.Limit, 10) + " octets"
}

// CommandError reports a command line that ValidateCommandLine refuses.
type CommandError struct {
	// Offset is the position of the offending byte in the line.
	Offset int
	// Reason says what is wrong, for logs and reply text.
	Reason string
}

// Error implements error.
func (e *CommandError) Error() string {
	return "textproto: invalid command line: " + e.Reason + " at offset " + strconv.Itoa(e.Offset)
}
