package smtptest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// ServeScript plays the server side of a transcript on one connection, for
// client tests: it listens on 127.0.0.1:0, accepts one connection, writes
// every run of "S: " lines (with CRLF) and reads one line per "C: " line,
// comparing it exactly ("{*}" matches any run of bytes). A mismatch or
// timeout is reported with tb.Errorf and ends the script by closing the
// connection. It returns the address to dial; the returned channel is
// closed when the script is over.
func ServeScript(tb testing.TB, script string) (addr string, done <-chan struct{}) {
	tb.Helper()
	l, err := Listen()
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	ch := make(chan struct{})
	tb.Cleanup(func() {
		l.Close()
		select {
		case <-ch:
		case <-time.After(ShutdownWait):
			tb.Errorf("smtptest: script server still running after %v", ShutdownWait)
		}
	})
	go func() {
		defer close(ch)
		c, err := l.Accept()
		l.Close()
		if err != nil {
			return
		}
		defer c.Close()
		playScript(tb, c, script)
	}()
	return l.Addr().String(), ch
}

func playScript(tb testing.TB, c net.Conn, script string) {
	r := bufio.NewReader(c)
	var out strings.Builder
	flush := func() bool {
		if out.Len() == 0 {
			return true
		}
		c.SetWriteDeadline(time.Now().Add(DefaultTimeout))
		_, err := c.Write([]byte(out.String()))
		out.Reset()
		if err != nil {
			tb.Errorf("smtptest: script write: %v", err)
			return false
		}
		return true
	}
	lines, err := parseScript(script)
	if err != nil {
		tb.Errorf("smtptest: %v", err)
		return
	}
	for _, l := range lines {
		kind, text := l.kind, l.text
		if kind == 'S' {
			out.WriteString(text)
			out.WriteString("\r\n")
			continue
		}
		if !flush() {
			return
		}
		c.SetReadDeadline(time.Now().Add(DefaultTimeout))
		got, err := r.ReadString('\n')
		if err != nil {
			tb.Errorf("smtptest: script: reading client line (want %q): %v (got %q)", text, err, got)
			return
		}
		if !Match(text+"\r\n", got) {
			tb.Errorf("smtptest: script: client sent %q, want %q", got, text+"\r\n")
			return
		}
	}
	flush()
}
