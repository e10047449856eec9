package textproto

import (
	"bytes"
	"unicode/utf8"
)

// SplitCommand splits a command line (without its CRLF) into the verb, up
// to the first space, and the argument, the rest with its leading spaces
// removed (RFC 5321 4.1.1: verb, SP, parameters). Both slices point into
// line; nothing is allocated. Verbs are case-insensitive (RFC 5321 2.4).
func SplitCommand(line []byte) (verb, arg []byte) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return line, nil
	}
	verb, arg = line[:i], line[i+1:]
	for len(arg) > 0 && arg[0] == ' ' {
		arg = arg[1:]
	}
	return verb, arg
}

// Reasons reported in CommandError.
const (
	reasonNUL       = "NUL byte"
	reasonControl   = "control character"
	reason8Bit      = "8-bit byte without SMTPUTF8"
	reason8BitVerb  = "8-bit byte in the command verb"
	reasonBadUTF8   = "invalid UTF-8"
	reasonEmptyVerb = "empty command"
)

// ValidateCommandLine checks a command line (without its CRLF). It refuses
// an empty verb; NUL, other control characters (CR and LF included; RFC
// 5321 2.3.8, 4.1.1) and DEL anywhere; and bytes >= 0x80 unless utf8ok
// is true (SMTPUTF8, RFC 6531 3.3), in which case they must be valid UTF-8
// and may appear only in the argument. The error is a *CommandError whose
// Reason fits a 500/501 reply.
func ValidateCommandLine(line []byte, utf8ok bool) error {
	if len(line) > 0 && line[0] != ' ' && printableLen(line) == len(line) {
		return nil // the common case: a verb and printable ASCII
	}
	verbEnd := bytes.IndexByte(line, ' ')
	if verbEnd < 0 {
		verbEnd = len(line)
	}
	if verbEnd == 0 {
		return &CommandError{Offset: 0, Reason: reasonEmptyVerb}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == 0:
			return &CommandError{Offset: i, Reason: reasonNUL}
		case c < 0x20 || c == 0x7f:
			return &CommandError{Offset: i, Reason: reasonControl}
		case c < 0x80:
		case !utf8ok:
			return &CommandError{Offset: i, Reason: reason8Bit}
		case i < verbEnd:
			return &CommandError{Offset: i, Reason: reason8BitVerb}
		default:
			// RFC 6531 3.3: UTF-8 must be well formed.
			r, size := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && size <= 1 {
				return &CommandError{Offset: i, Reason: reasonBadUTF8}
			}
			i += size - 1
		}
	}
	return nil
}
