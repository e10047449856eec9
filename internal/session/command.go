package session

// Command identifies an SMTP command verb. The zero value is Unknown.
type Command uint8

// The commands the state machine knows.
const (
	Unknown  Command = iota // a verb that is not one of the below
	HELO                    // RFC 5321 4.1.1.1
	EHLO                    // RFC 5321 4.1.1.1
	LHLO                    // RFC 2033 4.1 (LMTP only)
	MAIL                    // RFC 5321 4.1.1.2
	RCPT                    // RFC 5321 4.1.1.3
	DATA                    // RFC 5321 4.1.1.4
	BDAT                    // RFC 3030 2
	RSET                    // RFC 5321 4.1.1.5
	NOOP                    // RFC 5321 4.1.1.9
	QUIT                    // RFC 5321 4.1.1.10
	VRFY                    // RFC 5321 4.1.1.6
	EXPN                    // RFC 5321 4.1.1.7
	HELP                    // RFC 5321 4.1.1.8
	STARTTLS                // RFC 3207 4
	AUTH                    // RFC 4954 4

	numCommands // number of Command values, for tests
)

// String returns the upper-case verb, or "UNKNOWN".
func (c Command) String() string {
	switch c {
	case HELO:
		return "HELO"
	case EHLO:
		return "EHLO"
	case LHLO:
		return "LHLO"
	case MAIL:
		return "MAIL"
	case RCPT:
		return "RCPT"
	case DATA:
		return "DATA"
	case BDAT:
		return "BDAT"
	case RSET:
		return "RSET"
	case NOOP:
		return "NOOP"
	case QUIT:
		return "QUIT"
	case VRFY:
		return "VRFY"
	case EXPN:
		return "EXPN"
	case HELP:
		return "HELP"
	case STARTTLS:
		return "STARTTLS"
	case AUTH:
		return "AUTH"
	}
	return "UNKNOWN"
}

// verb4 is a four-letter lower-case verb as ParseCommand compares it.
func verb4(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// ParseCommand returns the Command for a verb such as "mail" or "EHLO".
// Verbs are case-insensitive (RFC 5321 2.4). It does not allocate. Any
// other verb, including one of the right letters with trailing bytes, is
// Unknown.
func ParseCommand(verb []byte) Command {
	const longest = len("STARTTLS")
	if len(verb) == 4 {
		// The four-letter verbs as one word: OR-ing 0x20 into each byte
		// turns an ASCII letter into its lower case and no other byte
		// into a letter.
		switch uint32(verb[0]) | uint32(verb[1])<<8 | uint32(verb[2])<<16 | uint32(verb[3])<<24 | 0x20202020 {
		case verb4("helo"):
			return HELO
		case verb4("ehlo"):
			return EHLO
		case verb4("lhlo"):
			return LHLO
		case verb4("mail"):
			return MAIL
		case verb4("rcpt"):
			return RCPT
		case verb4("data"):
			return DATA
		case verb4("bdat"):
			return BDAT
		case verb4("rset"):
			return RSET
		case verb4("noop"):
			return NOOP
		case verb4("quit"):
			return QUIT
		case verb4("vrfy"):
			return VRFY
		case verb4("expn"):
			return EXPN
		case verb4("help"):
			return HELP
		case verb4("auth"):
			return AUTH
		}
		return Unknown
	}
	if len(verb) != longest {
		return Unknown
	}
	var up [longest]byte
	for i, c := range verb {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	switch string(up[:len(verb)]) {
	case "HELO":
		return HELO
	case "EHLO":
		return EHLO
	case "LHLO":
		return LHLO
	case "MAIL":
		return MAIL
	case "RCPT":
		return RCPT
	case "DATA":
		return DATA
	case "BDAT":
		return BDAT
	case "RSET":
		return RSET
	case "NOOP":
		return NOOP
	case "QUIT":
		return QUIT
	case "VRFY":
		return VRFY
	case "EXPN":
		return EXPN
	case "HELP":
		return HELP
	case "STARTTLS":
		return STARTTLS
	case "AUTH":
		return AUTH
	}
	return Unknown
}
