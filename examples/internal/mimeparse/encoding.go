package mimeparse

import (
	"encoding/base64"
)

// decodeBase64 decodes base64 content (RFC 2045 6.8) as mail readers do:
// characters outside the alphabet (line ends, spaces, stray marks) are
// ignored, as 6.8 says they must be, and decoding stops at the first pad
// character. clean is false when something had to be skipped or the data
// ended inside a group.
func decodeBase64(b []byte) (out []byte, clean bool) {
	clean = true
	buf := make([]byte, 0, len(b))
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			buf = append(buf, c)
		case c == '=':
			// The end of the data (RFC 2045 6.8); what follows other than
			// more padding and white space is not base64.
			for _, d := range b[i:] {
				if d != '=' && d != '\r' && d != '\n' && d != ' ' && d != '\t' {
					clean = false
					break
				}
			}
			return finishBase64(buf, clean)
		case c == '\r', c == '\n', c == ' ', c == '\t':
		default:
			clean = false
		}
	}
	return finishBase64(buf, clean)
}

// finishBase64 decodes the alphabet characters in buf; a final lone
// character (6 bits, not a byte) is dropped.
func finishBase64(buf []byte, clean bool) ([]byte, bool) {
	if len(buf)%4 == 1 {
		buf = buf[:len(buf)-1]
		clean = false
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(buf)))
	n, err := base64.RawStdEncoding.Decode(out, buf)
	if err != nil {
		// Only non-zero trailing bits can fail here; the bytes decoded
		// are kept.
		clean = false
	}
	return out[:n], clean
}

// decodeQuotedPrintable decodes quoted-printable content (RFC 2045 6.7)
// leniently: "=XX" with two hex digits is that byte, "=" at the end of a
// line (after optional white space) is a soft line break, and an "=" that
// is neither stays as it is (6.7 note 1 recommends this). Trailing white
// space of a line is removed (rule 3). clean is false when a lone "=" was
// kept.
func decodeQuotedPrintable(b []byte) (out []byte, clean bool) {
	clean = true
	out = make([]byte, 0, len(b))
	for len(b) > 0 {
		// One line, without its end.
		end := 0
		for end < len(b) && b[end] != '\n' {
			end++
		}
		line, nl := b[:end], end < len(b)
		if nl {
			b = b[end+1:]
		} else {
			b = nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		line = trimRightSpace(line)
		soft := false
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c != '=' {
				out = append(out, c)
				continue
			}
			if i == len(line)-1 {
				soft = true
				break
			}
			if i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				out = append(out, unhex(line[i+1])<<4|unhex(line[i+2]))
				i += 2
				continue
			}
			out = append(out, '=')
			clean = false
		}
		if nl && !soft {
			out = append(out, '\r', '\n')
		}
	}
	return out, clean
}

func trimRightSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
