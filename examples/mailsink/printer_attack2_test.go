package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// cli.AppendPrintable keeps every rune unicode.IsPrint accepts, which
// includes nonspacing marks and invisible default-ignorable letters. A
// client's address that starts with U+0338 (COMBINING LONG SOLIDUS
// OVERLAY) prints as "<" with a stroke drawn over it (the mark combines
// with the delimiter before it), and U+034F, U+3164 (HANGUL FILLER) and
// U+FE0F show as nothing or a blank: "a\u034fdmin@x.test" looks like
// "admin@x.test" on the terminal, an address the client did not use.
// A policy call (Postfix logs UTF-8 as it is), but the '<' overlay acts
// on the line's own syntax.
func TestAttackPrintedLineMarksAndInvisibles(t *testing.T) {
	dir := t.TempDir()
	addr, p := start(t, dir, "-discard")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	cmd := func(line, want string) {
		t.Helper()
		if line != "" {
			fmt.Fprintf(conn, "%s\r\n", line)
		}
		for {
			got, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			if len(got) < 4 || got[3] != '-' {
				if !strings.HasPrefix(got, want) {
					t.Fatalf("%q: %q, want %s", line, got, want)
				}
				return
			}
		}
	}
	cmd("", "220")
	cmd("EHLO client", "250")
	cmd("MAIL FROM:<\u0338a\u034fdmin\u3164@x.test> SMTPUTF8", "250")
	cmd("RCPT TO:<b\ufe0fob@y.test>", "250")
	cmd("DATA", "354")
	cmd("x\r\n.", "250")
	cmd("QUIT", "221")
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	out := p.Stdout.String()
	if !strings.Contains(out, "x.test") {
		t.Fatalf("no line printed: %q", out)
	}
	if i := strings.Index(out, "<"); i >= 0 {
		if c, _ := utf8.DecodeRuneInString(out[i+1:]); unicode.Is(unicode.Mn, c) {
			t.Errorf("%U printed raw right after '<': it draws over the delimiter: %q", c, out)
		}
	}
	for _, c := range []rune{'\u034f', '\u3164', '\ufe0f'} {
		if strings.ContainsRune(out, c) {
			t.Errorf("invisible %U printed raw: %q", c, out)
		}
	}
}
