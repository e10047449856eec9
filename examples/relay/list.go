package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtp/examples/internal/queue"
)

// list prints the queue in dir, one message a line, like mailq:
//
//	ID <from> rcpt(state),... attempts=N next=TIME (in D) error="..."
//
// It reads the queue without locking it, so it works while a relay runs.
func list(w io.Writer, dir string, now time.Time) error {
	msgs, err := queue.List(dir)
	bw := bufio.NewWriter(w)
	for _, m := range msgs {
		bw.WriteString(listLine(m, now))
		bw.WriteByte('\n')
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// listLine formats one message of the listing.
func listLine(m *queue.Message, now time.Time) string {
	var b strings.Builder
	b.WriteString(m.ID)
	b.WriteString(" <")
	b.WriteString(m.From)
	b.WriteString("> ")
	for i, r := range m.Recipients {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.Addr)
		b.WriteByte('(')
		b.WriteString(string(r.State))
		b.WriteByte(')')
	}
	fmt.Fprintf(&b, " size=%d attempts=%d", m.Size, m.Attempts)
	if len(m.Pending()) > 0 {
		b.WriteString(" next=")
		b.WriteString(m.NextAttempt.Format(time.RFC3339))
		if d := m.NextAttempt.Sub(now); d > 0 {
			b.WriteString(" (in ")
			b.WriteString(d.Round(time.Second).String())
			b.WriteByte(')')
		} else {
			b.WriteString(" (due)")
		}
	}
	if m.LastError != "" {
		b.WriteString(" error=")
		b.WriteString(strconv.Quote(m.LastError))
	}
	return b.String()
}
