package mta

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtp/examples/internal/queue"
)

// EmptyQueue is what -list prints for an empty queue, as mailq does, when
// it prints totals.
const EmptyQueue = "Mail queue is empty"

// writeList prints msgs like mailq, one message a line; with totals, then
// a total line, or EmptyQueue for none. With asJSON, one JSON object a
// message and a line (as postqueue -j), and nothing for an empty queue.
//
// The relay prints totals when its output is a terminal (as ls decides its
// format): a person reading gets mailq's summary, while a script reading a
// pipe gets exactly one line a message, as the program contract says, and
// nothing for an empty queue.
func writeList(w io.Writer, msgs []*queue.Message, now time.Time, asJSON, totals bool) error {
	bw := bufio.NewWriter(w)
	if asJSON {
		for _, m := range msgs {
			js, err := json.Marshal(jsonEntry(m, now))
			if err != nil {
				return err
			}
			bw.Write(jsonPrintable(js))
			bw.WriteByte('\n')
		}
		return bw.Flush()
	}
	if len(msgs) == 0 {
		if totals {
			bw.WriteString(EmptyQueue + "\n")
		}
		return bw.Flush()
	}
	var size int64
	held, pending := 0, 0
	for _, m := range msgs {
		bw.WriteString(Printable(listLine(m, now)))
		bw.WriteByte('\n')
		size += m.Size
		if m.Held {
			held++
		}
		pending += len(m.Pending())
	}
	if totals {
		fmt.Fprintf(bw, "-- %d message%s, %d held, %d bytes, %d recipient%s pending\n",
			len(msgs), plural(len(msgs)), held, size, pending, plural(pending))
	}
	return bw.Flush()
}

// isTerminal tells whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// listLine formats one message of the listing:
//
//	ID <from> rcpt(state),... size=N attempts=N next=TIME (in D) error="..." arrival=TIME age=D [held] [requiretls] [reason(rcpt)="..."]
//
// error= is the last failure; a recipient whose own last failure differs
// has it in reason(rcpt)=.
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
	if len(m.Pending()) > 0 && !m.Held {
		b.WriteString(" next=")
		b.WriteString(m.NextAttempt.UTC().Format(time.RFC3339))
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
	b.WriteString(" arrival=")
	b.WriteString(m.Created.UTC().Format(time.RFC3339))
	b.WriteString(" age=")
	b.WriteString(now.Sub(m.Created).Round(time.Second).String())
	if m.Held {
		b.WriteString(" held")
	}
	if m.RequireTLS {
		b.WriteString(" requiretls")
	}
	for _, r := range m.Recipients {
		// A reason is shown where it is not the message's error=.
		if r.State != queue.Delivered && r.Diagnostic != "" && r.Diagnostic != m.LastError {
			b.WriteString(" reason(")
			b.WriteString(r.Addr)
			b.WriteString(")=")
			b.WriteString(strconv.Quote(r.Diagnostic))
		}
	}
	return b.String()
}

// listEntry is a message in the -list -json output.
type listEntry struct {
	QueueID     string     `json:"queue_id"`
	Held        bool       `json:"held"`
	ArrivalTime time.Time  `json:"arrival_time"`
	AgeSeconds  int64      `json:"age_seconds"`
	MessageSize int64      `json:"message_size"`
	Sender      string     `json:"sender"`
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Client      string     `json:"client,omitempty"`
	Recipients  []listRcpt `json:"recipients"`
	Bounces     int        `json:"bounces,omitempty"`
	// RequireTLS: sent with REQUIRETLS (RFC 8689), over verified TLS only.
	RequireTLS bool `json:"requiretls,omitempty"`
}

type listRcpt struct {
	Address   string `json:"address"`
	State     string `json:"state"`
	DSN       string `json:"dsn,omitempty"`
	Reason    string `json:"reason,omitempty"`
	RemoteMTA string `json:"remote_mta,omitempty"`
	Notified  bool   `json:"notified,omitempty"`
}

func jsonEntry(m *queue.Message, now time.Time) listEntry {
	e := listEntry{
		QueueID: m.ID, Held: m.Held, ArrivalTime: m.Created.UTC(), AgeSeconds: int64(now.Sub(m.Created).Seconds()),
		MessageSize: m.Size, Sender: m.From, Attempts: m.Attempts, LastError: m.LastError, Client: m.Client,
		Bounces: m.Bounces, RequireTLS: m.RequireTLS, Recipients: []listRcpt{},
	}
	if len(m.Pending()) > 0 && !m.Held {
		t := m.NextAttempt.UTC()
		e.NextAttempt = &t
	}
	for _, r := range m.Recipients {
		e.Recipients = append(e.Recipients, listRcpt{Address: r.Addr, State: string(r.State), DSN: r.Status,
			Reason: r.Diagnostic, RemoteMTA: r.RemoteMTA, Notified: r.Notified})
	}
	return e
}
