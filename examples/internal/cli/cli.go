// Package cli holds the small pieces the example programs share: repeatable
// flags, user:pass credentials (from flags, or from files only their owner
// may read), TLS key pairs, a line printer, and the steps of a server
// program's main (parse the flags, run until a signal, exit with a status).
package cli

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtp/envelope"
)

// Strings is a repeatable string flag (flag.Value).
type Strings []string

// String implements flag.Value.
func (s *Strings) String() string { return strings.Join(*s, ",") }

// Set implements flag.Value: each use of the flag appends one value.
func (s *Strings) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// Users maps user names to passwords, from repeated -auth user:pass flags.
type Users map[string]string

// ParseUsers parses "user:pass" values. The password may contain ':'; the
// user name may not be empty.
func ParseUsers(vals []string) (Users, error) {
	u := Users{}
	for _, v := range vals {
		name, pass, ok := splitUserPass(v)
		if !ok {
			// The value holds a password: do not print it.
			return nil, errors.New("-auth: want user:pass")
		}
		u[name] = pass
	}
	return u, nil
}

// Check reports whether password is user's, in time independent of where
// the password differs.
func (u Users) Check(user, password string) bool {
	want, ok := u[user]
	if !ok {
		// Compare anyway, so that an unknown user costs the same time.
		subtle.ConstantTimeCompare([]byte(password), []byte(password))
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1
}

// Authenticate reports whether username may log in with password and act
// as identity, the authorization identity of AUTH PLAIN (RFC 4616 2): only
// an empty one or the user's own is allowed, nobody acts as another user.
func (u Users) Authenticate(identity, username, password string) bool {
	if identity != "" && identity != username {
		return false
	}
	return u.Check(username, password)
}

// LoadKeyPair loads a certificate and key for a server. Both or neither of
// certFile and keyFile must be given; with neither it returns nil.
func LoadKeyPair(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Printer writes lines to w, all the lines of a FlushDelay in one write:
// each write is a system call that can cost a busy server its scheduler's
// P (docs/perf-findings.md F37), so lines are gathered for FlushDelay
// after the first unflushed one, or until PrinterMaxBuffer bytes wait.
// Line never waits for a write: the lines are a notice of work done (a
// stored message), which must not wait for a terminal held with Ctrl-S
// or a pipe nobody reads. Lines that find PrinterMaxBuffer bytes waiting
// behind a write under way, and lines of a write that failed, are
// dropped and counted; the next write that goes out ends with a line
// saying how many. It is safe for concurrent use.
type Printer struct {
	mu      sync.Mutex // guards buf, spare, pending, writing and dropped
	buf     []byte     // the lines not yet handed to w
	spare   []byte     // the buffer of the last write, for reuse
	pending bool       // the timer is armed
	writing bool       // lines taken from buf are being written
	dropped int        // lines not printed since the last note of them
	timer   *time.Timer

	wmu    sync.Mutex // held while writing, so that writes go out in order
	w      io.Writer
	log    *slog.Logger // told when writes start failing; nil: nobody
	torn   bool         // a failed write ended inside a line (wmu)
	failed bool         // the last write failed (wmu)
}

// PrinterMaxBuffer bounds the lines a Printer holds: past it, the lines
// are written out at once, or dropped while a write is under way.
const PrinterMaxBuffer = 1 << 20

// FlushDelay is how long a printed line may wait in the Printer's buffer.
const FlushDelay = 100 * time.Millisecond

// NewPrinter returns a Printer writing to w. log, if not nil, hears of the
// first write of a run of failed ones.
func NewPrinter(w io.Writer, log *slog.Logger) *Printer {
	p := &Printer{w: w, log: log}
	p.timer = time.AfterFunc(time.Hour, p.Flush)
	p.timer.Stop()
	return p
}

// Line writes b and a newline; it never waits for the write.
func (p *Printer) Line(b []byte) {
	p.mu.Lock()
	if len(p.buf) >= PrinterMaxBuffer {
		switch {
		case p.writing:
			// A write under way has taken longer than PrinterMaxBuffer
			// bytes of lines: the output does not keep up.
			p.dropped++
			p.mu.Unlock()
			return
		case p.wmu.TryLock(): // not Lock, as p.mu is held: Flush takes p.wmu first
			out, lines, note := p.take()
			go func() {
				defer p.wmu.Unlock()
				p.write(out, lines, note)
			}()
		default:
			// A Flush waits for p.mu to take the lines: this one goes
			// with them.
		}
	}
	p.buf = append(p.buf, b...)
	p.buf = append(p.buf, '\n')
	if !p.pending {
		p.pending = true
		p.timer.Reset(FlushDelay)
	}
	p.mu.Unlock()
}

// Flush writes out the buffered lines; it waits for a write under way.
func (p *Printer) Flush() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.mu.Lock()
	p.pending = false
	out, lines, note := p.take()
	p.mu.Unlock()
	p.write(out, lines, note)
}

// FlushContext is Flush that gives up when ctx ends first (at exit, with
// an output that takes nothing); the write then goes on without it.
func (p *Printer) FlushContext(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		p.Flush()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take returns the buffered lines (out[:lines]), followed by a line
// noting the dropped ones if any (note is how many it stands for), and
// empties the buffer. p.mu is held.
func (p *Printer) take() (out []byte, lines, note int) {
	out, lines = p.buf, len(p.buf)
	if p.dropped > 0 {
		note, p.dropped = p.dropped, 0
		out = fmt.Appendf(out, "(%d lines not printed: the output did not take them)\n", note)
	}
	if len(out) == 0 {
		return nil, 0, 0
	}
	p.buf, p.spare = p.spare[:0], nil
	p.writing = true
	return out, lines, note
}

// write writes out and keeps its buffer for reuse; lines that cannot be
// written are counted as dropped. A write that fails inside a line (a
// full disk takes the blocks that fit) leaves a fragment: the next write
// ends it first, so that the lines after it are lines of their own.
// p.wmu is held.
func (p *Printer) write(out []byte, lines, note int) {
	if len(out) == 0 {
		return
	}
	var n int
	var err error
	if p.torn {
		_, err = p.w.Write([]byte{'\n'})
	}
	if err == nil {
		p.torn = false
		n, err = p.w.Write(out)
	}
	if err != nil {
		p.torn = p.torn || n > 0 && out[n-1] != '\n'
		// The lines not wholly written, and those the note stood for
		// unless it went out whole.
		lost := bytes.Count(out[min(n, lines):lines], []byte{'\n'})
		if n < len(out) {
			lost += note
		}
		if p.log != nil && !p.failed {
			p.log.Warn("printing lines failed; they are dropped and counted until the output takes them again", "err", err)
		}
		p.failed = true
		p.mu.Lock()
		p.dropped += lost
		p.mu.Unlock()
	} else {
		p.failed = false
	}
	p.mu.Lock()
	p.writing = false
	if cap(out) <= 2*PrinterMaxBuffer {
		p.spare = out[:0]
	}
	p.mu.Unlock()
}

// ParseRoute parses a -route value, DOMAIN=HOST:PORT, into the key
// client.Deliverer.Routes expects (lower case, no final dot, A-labels, so
// that "bücher.example" matches the recipients of that domain whichever
// form they were written in) and the address. DOMAIN "*" (a smart host)
// stays as it is.
func ParseRoute(s string) (domain, addr string, err error) {
	domain, addr, ok := strings.Cut(s, "=")
	if !ok || domain == "" {
		return "", "", fmt.Errorf("-route %q: want DOMAIN=HOST:PORT", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", "", fmt.Errorf("-route %q: want DOMAIN=HOST:PORT: %v", s, err)
	}
	if domain == "*" {
		return domain, addr, nil
	}
	domain, err = DomainKey(domain)
	if err != nil {
		return "", "", fmt.Errorf("-route %q: invalid domain: %v", s, err)
	}
	return domain, addr, nil
}

// DomainKey returns a domain name given on the command line in the form
// to compare it in: lower case, no final dot, A-labels (so that
// "Bücher.example." and "xn--bcher-kva.example" are one name).
func DomainKey(domain string) (string, error) {
	// Domain names are case-insensitive (RFC 4343), and IDNA2008
	// U-labels are lower case: lower-case the name before converting it.
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	a, err := envelope.Address{Local: "postmaster", Domain: domain}.ASCII()
	if err != nil {
		return "", err
	}
	return strings.ToLower(a.Domain), nil
}
