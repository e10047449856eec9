package textproto

import (
	"errors"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct{ line, verb, arg string }{
		{"NOOP", "NOOP", ""},
		{"MAIL FROM:<a@b> SIZE=10", "MAIL", "FROM:<a@b> SIZE=10"},
		{"rcpt   TO:<a@b>", "rcpt", "TO:<a@b>"},
		{"HELO ", "HELO", ""},
		{"", "", ""},
		{" NOOP", "", "NOOP"},
		{"VRFY x ", "VRFY", "x "},
	}
	for _, tt := range tests {
		verb, arg := SplitCommand([]byte(tt.line))
		if string(verb) != tt.verb || string(arg) != tt.arg {
			t.Errorf("%q: got %q, %q; want %q, %q", tt.line, verb, arg, tt.verb, tt.arg)
		}
	}
	line := []byte("EHLO example.com")
	if n := testing.AllocsPerRun(100, func() { SplitCommand(line) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func TestValidateCommandLine(t *testing.T) {
	tests := []struct {
		line   string
		utf8   bool
		reason string // "" = valid
		off    int
	}{
		{"MAIL FROM:<a@b>", false, "", 0},
		{"NOOP", false, "", 0},
		{"", false, reasonEmptyVerb, 0},
		{" NOOP", false, reasonEmptyVerb, 0},
		{"MAIL FROM:<a\x00@b>", false, reasonNUL, 12},
		{"MAIL FROM:<a@b>\r", false, reasonControl, 15},
		{"MAIL\tFROM:<a@b>", false, reasonControl, 4},
		{"NOOP \x7f", false, reasonControl, 5},
		{"MAIL FROM:<j\xc3\xb6rg@x>", false, reason8Bit, 12},
		// RFC 6531 3.3.
		{"MAIL FROM:<j\xc3\xb6rg@x> SMTPUTF8", true, "", 0},
		{"RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>", true, "", 0},
		{"MAIL FROM:<j\xc3@x>", true, reasonBadUTF8, 12},
		{"MAIL FROM:<\xed\xa0\x80@x>", true, reasonBadUTF8, 11},
		{"M\xc3\xa4IL FROM:<a@b>", true, reason8BitVerb, 1},
	}
	for _, tt := range tests {
		err := ValidateCommandLine([]byte(tt.line), tt.utf8)
		if tt.reason == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.line, err)
			}
			continue
		}
		var ce *CommandError
		if !errors.As(err, &ce) || ce.Reason != tt.reason || ce.Offset != tt.off {
			t.Errorf("%q: err = %v, want %q at %d", tt.line, err, tt.reason, tt.off)
		}
	}
}
