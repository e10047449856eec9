package mta

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// MailLog writes the relay's mail log: one line per event of a message, in
// the form of Postfix's, so that an operator's habits (grep the queue ID,
// grep status=deferred) work:
//
//	2026-12-07T10:00:00.123456Z relay[4242]: 0ab1c2.1.xyz: to=<b@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=0.52, dsn=2.0.0, tls=TLSv1.3/verified, status=sent (250 2.0.0 Ok: queued as 4Xyz)
//
// A line is written with one Write call, so lines from concurrent workers
// do not mix.
type MailLog struct {
	w    io.Writer
	name string
	pid  int
	now  func() time.Time
}

// NewMailLog returns a MailLog writing to w for the program name.
func NewMailLog(w io.Writer, name string) *MailLog {
	return &MailLog{w: w, name: name, pid: os.Getpid(), now: time.Now}
}

// Printf writes one line about message id.
func (l *MailLog) Printf(id, format string, args ...any) {
	if l == nil {
		return
	}
	b := make([]byte, 0, 256)
	b = l.now().UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, ' ')
	b = append(b, l.name...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(l.pid), 10)
	b = append(b, "]: "...)
	if id != "" {
		b = append(b, id...)
		b = append(b, ": "...)
	}
	// What the line says comes from senders and remote servers: shown,
	// never run by the terminal (Printable).
	b = append(b, Printable(fmt.Sprintf(format, args...))...)
	b = append(b, '\n')
	l.w.Write(b)
}

// formatRelay returns Postfix's relay= value: "host[ip]:port", or "none"
// when no connection was made.
func formatRelay(host, addr string) string {
	if addr == "" {
		return "none"
	}
	ip, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" {
		host = ip
	}
	return host + "[" + ip + "]:" + port
}

// formatDelay returns the seconds of d as Postfix prints delay=: two
// decimals below 10 s, one below 100 s, none above.
func formatDelay(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s < 0:
		return "0"
	case s < 10:
		return strconv.FormatFloat(s, 'f', 2, 64)
	case s < 100:
		return strconv.FormatFloat(s, 'f', 1, 64)
	default:
		return strconv.FormatFloat(s, 'f', 0, 64)
	}
}

// LogOutput is where the relay's logs go: standard error, or a file that
// SIGHUP reopens (after logrotate moved it). Each Write goes whole to one
// file.
type LogOutput struct {
	mu   sync.Mutex
	path string
	w    io.Writer
	f    *os.File
}

// OpenLog returns a LogOutput writing to path (appending, created 0600 if
// missing), or to stderr when path is "".
func OpenLog(path string, stderr io.Writer) (*LogOutput, error) {
	o := &LogOutput{path: path, w: stderr}
	if path == "" {
		return o, nil
	}
	if err := o.Reopen(); err != nil {
		return nil, err
	}
	return o, nil
}

// Write implements io.Writer.
func (o *LogOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// Reopen opens the log file again by its name; a no-op for stderr.
func (o *LogOutput) Reopen() error {
	if o.path == "" {
		return nil
	}
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	o.mu.Lock()
	old := o.f
	o.f, o.w = f, f
	o.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Close closes the log file.
func (o *LogOutput) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f != nil {
		return o.f.Close()
	}
	return nil
}
