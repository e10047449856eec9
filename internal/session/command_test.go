package session

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want Command
	}{
		{"HELO", HELO}, {"helo", HELO}, {"HeLo", HELO},
		{"EHLO", EHLO}, {"ehlo", EHLO},
		{"LHLO", LHLO}, {"lhlo", LHLO},
		{"MAIL", MAIL}, {"mail", MAIL}, {"MaIl", MAIL},
		{"RCPT", RCPT}, {"rcpt", RCPT},
		{"DATA", DATA}, {"data", DATA},
		{"BDAT", BDAT}, {"bdat", BDAT},
		{"RSET", RSET}, {"rset", RSET},
		{"NOOP", NOOP}, {"noop", NOOP},
		{"QUIT", QUIT}, {"quit", QUIT},
		{"VRFY", VRFY}, {"vrfy", VRFY},
		{"EXPN", EXPN}, {"expn", EXPN},
		{"HELP", HELP}, {"help", HELP},
		{"STARTTLS", STARTTLS}, {"starttls", STARTTLS}, {"StartTLS", STARTTLS},
		{"AUTH", AUTH}, {"auth", AUTH},
		{"", Unknown}, {"X", Unknown}, {"MAI", Unknown}, {"MAILX", Unknown},
		{"STARTTL", Unknown}, {"STARTTLSX", Unknown}, {"MAIL ", Unknown},
		{" MAIL", Unknown}, {"MAIL\x00", Unknown}, {"M\x00IL", Unknown},
		{"TURN", Unknown}, {"ETRN", Unknown}, {"SEND", Unknown}, {"UNKNOWN", Unknown},
		{"m\xc3\xa0il", Unknown}, {"MAİL", Unknown}, {"\xff\xff\xff\xff", Unknown},
		{"MAIL" + strings.Repeat("X", 100), Unknown},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ParseCommand([]byte(tt.in)), "%q", tt.in)
	}
}

func TestCommandString(t *testing.T) {
	for c := range numCommands {
		s := c.String()
		if c == Unknown {
			assert.Equal(t, "UNKNOWN", s)
			continue
		}
		assert.Equal(t, c, ParseCommand([]byte(s)), s)
		assert.Equal(t, c, ParseCommand([]byte(strings.ToLower(s))), s)
	}
	assert.Equal(t, "UNKNOWN", numCommands.String())
}

func TestParseCommandNoAlloc(t *testing.T) {
	verbs := [][]byte{[]byte("mail"), []byte("STARTTLS"), []byte("bogus"), []byte("rcpt")}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		for _, v := range verbs {
			_ = ParseCommand(v)
		}
	}))
}

// FuzzParseCommand checks that ParseCommand recognises exactly the verbs,
// in any case, and nothing else.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"MAIL", "mail", "STARTTLS", "starttls", "MAILX", "", "\x00", "M\x00IL", "bdat"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, verb []byte) {
		c := ParseCommand(verb)
		if c == Unknown {
			for k := Command(1); k < numCommands; k++ {
				if strings.EqualFold(string(verb), k.String()) && isASCII(verb) {
					t.Fatalf("%q not recognised as %v", verb, k)
				}
			}
			return
		}
		if !strings.EqualFold(string(verb), c.String()) || !isASCII(verb) {
			t.Fatalf("%q parsed as %v", verb, c)
		}
	})
}

// isASCII reports whether b is all ASCII (EqualFold also folds some
// non-ASCII letters, which are never SMTP verbs).
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// BenchmarkParseCommand: four-letter verbs are compared as one word.
func BenchmarkParseCommand(b *testing.B) {
	verbs := [][]byte{[]byte("MAIL"), []byte("rcpt"), []byte("DATA"), []byte("STARTTLS"), []byte("XYZZY")}
	for b.Loop() {
		for _, v := range verbs {
			_ = ParseCommand(v)
		}
	}
}
