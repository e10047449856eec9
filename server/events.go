package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
)

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of events.
const (
	// EventConnect: a connection was accepted and admitted.
	EventConnect EventKind = iota + 1
	// EventTLS: a TLS handshake ended (TLS set) or failed (Err set).
	EventTLS
	// EventHello: the client gave its name (Hello) with HELO, EHLO or LHLO
	// (Command).
	EventHello
	// EventAuth: an AUTH exchange ended: Mechanism, Identity (the user
	// name, never a secret), Err nil on success.
	EventAuth
	// EventCommand: a reply to a command was queued (Command, Reply,
	// Latency from the command's arrival to its reply); it reaches the
	// client with the next flush, which for pipelined commands is after
	// the last reply of the group (RFC 2920 3.1). DATA and BDAT
	// give one event per reply (354, then the final one).
	EventCommand
	// EventRecipient: the outcome for a recipient (Recipient, Reply):
	// after RCPT, and in LMTP after the message.
	EventRecipient
	// EventViolation: the client broke the protocol (Violation): a line
	// too long, a bare CR or LF, NUL, a smuggling sequence, pipelining
	// where it is not allowed, a STARTTLS injection.
	EventViolation
	// EventDisconnect: the connection ended.
	EventDisconnect
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventConnect:
		return "connect"
	case EventTLS:
		return "tls"
	case EventHello:
		return "hello"
	case EventAuth:
		return "auth"
	case EventCommand:
		return "command"
	case EventRecipient:
		return "recipient"
	case EventViolation:
		return "violation"
	case EventDisconnect:
		return "disconnect"
	}
	return "unknown"
}

// Event is one observable fact of a connection. Fields not listed for its
// Kind are zero. It is passed by value, so no event costs an allocation;
// Reply and TLS point to values that must not be modified.
type Event struct {
	Kind EventKind
	// Command is the command verb in upper case ("MAIL"), "UNKNOWN" for
	// an unrecognised one.
	Command string
	// Reply is the reply sent.
	Reply *reply.Reply
	// Latency is the time from reading the command to queuing its reply.
	Latency time.Duration
	// Hello is the name given with HELO, EHLO or LHLO.
	Hello string
	// Mechanism is the SASL mechanism of an AUTH.
	Mechanism string
	// Identity is the user name of an AUTH (never a password or token).
	Identity string
	// Recipient is the recipient of an EventRecipient.
	Recipient envelope.Path
	// Violation describes a protocol violation.
	Violation string
	// TLS is the state after a successful handshake.
	TLS *tls.ConnectionState
	// Err is a failure: of the TLS handshake, of AUTH, or the reason a
	// connection ended (nil for QUIT or a clean close).
	Err error
}

// Events receives the events of every connection, from the connections'
// goroutines: an implementation must be safe for concurrent use, and fast,
// since it runs on the path of every command. Metrics (Prometheus,
// OpenTelemetry) are a switch on e.Kind. A panic in Event is recovered and
// logged with its stack, like a backend's; the connection goes on.
type Events interface {
	Event(c *Conn, e Event)
}

// EventFilter is an optional interface of Events: WantEvent reports
// whether Event wants the events of kind k at this moment. The server asks
// before it builds a command or recipient event, which are on the path of
// every command (a command's Latency costs two clock reads), so that
// Events interested in a few kinds, or a logger at a level that drops
// them, cost nothing there. Events without it get every event. It must be
// safe for concurrent use and cheap; its answer may change at any time (a
// slog.LevelVar): a connection asks again after each read from its
// socket, and keeps the answer for the commands of that read (a pipelined
// batch). An event it asked for is still given to Event, which may drop
// it. SlogEvents and MultiEvents implement it.
type EventFilter interface {
	WantEvent(k EventKind) bool
}

// EventsFunc adapts a function to the Events interface.
type EventsFunc func(c *Conn, e Event)

// Event calls f.
func (f EventsFunc) Event(c *Conn, e Event) { f(c, e) }

// MultiEvents returns Events that passes each event to every one of es in
// turn.
// An event is wanted (EventFilter) when one of es wants it.
func MultiEvents(es ...Events) Events {
	m := &multiEvents{list: append([]Events(nil), es...)}
	for _, x := range es {
		f, ok := x.(EventFilter)
		if !ok {
			m.all = true // wants every event
			break
		}
		m.filters = append(m.filters, f)
	}
	return m
}

type multiEvents struct {
	list    []Events
	filters []EventFilter // of list, unless all
	all     bool          // a member without a filter wants every event
}

func (m *multiEvents) Event(c *Conn, e Event) {
	for _, x := range m.list {
		x.Event(c, e)
	}
}

// WantEvent implements EventFilter.
func (m *multiEvents) WantEvent(k EventKind) bool {
	if m.all {
		return true
	}
	for _, f := range m.filters {
		if f.WantEvent(k) {
			return true
		}
	}
	return false
}

// SlogEvents returns Events that log to l, each record with the connection
// id ("conn"): connections, commands, accepted recipients and successful
// AUTH and TLS at Debug level, refused recipients, violations and failed
// TLS handshakes at Info, failed AUTH at Warn. A nil l means
// slog.Default(). The server always logs its events this way to
// Server.Logger; SlogEvents is for sending them to another logger too.
func SlogEvents(l *slog.Logger) Events {
	if l == nil {
		l = slog.Default()
	}
	return slogEvents{l}
}

type slogEvents struct{ l *slog.Logger }

// WantEvent implements EventFilter: whether the logger is enabled at a
// level events of kind k are logged at (see Event).
func (s slogEvents) WantEvent(k EventKind) bool {
	ctx := context.Background()
	switch k {
	case EventViolation:
		return s.l.Enabled(ctx, slog.LevelInfo)
	case EventTLS, EventRecipient:
		return s.l.Enabled(ctx, slog.LevelDebug) || s.l.Enabled(ctx, slog.LevelInfo)
	case EventAuth:
		return s.l.Enabled(ctx, slog.LevelDebug) || s.l.Enabled(ctx, slog.LevelWarn)
	}
	return s.l.Enabled(ctx, slog.LevelDebug)
}

// eventLevel is the level SlogEvents logs e at.
func eventLevel(e *Event) slog.Level {
	switch e.Kind {
	case EventViolation:
		return slog.LevelInfo
	case EventTLS:
		if e.Err != nil {
			return slog.LevelInfo
		}
	case EventAuth:
		if e.Err != nil {
			return slog.LevelWarn
		}
	case EventRecipient:
		if e.Reply != nil && !e.Reply.Code.IsPositive() {
			return slog.LevelInfo
		}
	}
	return slog.LevelDebug
}

func (s slogEvents) Event(c *Conn, e Event) {
	ctx := context.Background()
	level := eventLevel(&e)
	if !s.l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("conn", c.ID()))
	switch e.Kind {
	case EventConnect:
		attrs = append(attrs, slog.String("remote", addrString(c.RemoteAddr())))
	case EventTLS:
		if e.TLS != nil {
			attrs = append(attrs, slog.String("version", tls.VersionName(e.TLS.Version)),
				slog.String("cipher", tls.CipherSuiteName(e.TLS.CipherSuite)))
		}
	case EventHello:
		attrs = append(attrs, slog.String("cmd", e.Command), slog.String("name", e.Hello))
	case EventAuth:
		attrs = append(attrs, slog.String("mechanism", e.Mechanism), slog.String("user", e.Identity))
	case EventCommand:
		attrs = append(attrs, slog.String("cmd", e.Command))
		if e.Reply != nil {
			attrs = append(attrs, slog.Int("code", int(e.Reply.Code)))
		}
		attrs = append(attrs, slog.Duration("latency", e.Latency))
	case EventRecipient:
		attrs = append(attrs, slog.String("rcpt", e.Recipient.String()))
		if e.Reply != nil {
			attrs = append(attrs, slog.Int("code", int(e.Reply.Code)))
		}
	case EventViolation:
		attrs = append(attrs, slog.String("violation", e.Violation), slog.String("remote", addrString(c.RemoteAddr())))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("err", e.Err.Error()))
	}
	s.l.LogAttrs(ctx, level, "smtp "+e.Kind.String(), attrs...)
}

func addrString(a interface{ String() string }) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// emit passes e to the server's log and to Server.Events.
func (c *conn) emit(e Event) {
	c.safeEvent(c.cfg.log, e)
	if c.cfg.events != nil {
		c.safeEvent(c.cfg.events, e)
	}
}

// wants reports whether the server's log (at the level of e: its kind and
// the fields that decide the level are set) or Server.Events (for e's
// kind, EventFilter) want e now. A panic in the filter or the log handler
// is logged like one in Event, and counts as a yes.
func (c *conn) wants(e *Event) (yes bool) {
	defer func() {
		if p := recover(); p != nil {
			c.logPanic("smtp: events panic", p, "event", e.Kind.String())
			yes = true
		}
	}()
	return c.cfg.log.l.Enabled(context.Background(), eventLevel(e)) ||
		c.cfg.events != nil && (c.cfg.eventFilter == nil || c.cfg.eventFilter.WantEvent(e.Kind))
}

// safeEvent passes e to h, recovering a panic: an observer must not take
// the connection, let alone the process, down with it.
func (c *conn) safeEvent(h Events, e Event) {
	defer func() {
		if p := recover(); p != nil {
			c.logPanic("smtp: events panic", p, "event", e.Kind.String())
		}
	}()
	h.Event(&c.pub, e)
}

// logPanic logs a recovered panic with its stack. A logger that panics
// itself is given up on silently.
func (c *conn) logPanic(msg string, p any, args ...any) {
	defer func() { recover() }()
	args = append(args, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	c.pub.Logger().Error(msg, args...)
}

// event sends an event with no fields but its kind.
func (c *conn) event(k EventKind) { c.emit(Event{Kind: k}) }

// violation reports a protocol violation.
func (c *conn) violation(what string) { c.emit(Event{Kind: EventViolation, Violation: what}) }

// recipientEvent reports the outcome for a recipient.
func (c *conn) recipientEvent(p envelope.Path, r *reply.Reply) {
	slot := wantRcptOK
	if r != nil && !r.Code.IsPositive() {
		slot = wantRcptRefused // logged at another level (eventLevel)
	}
	if e := (Event{Kind: EventRecipient, Recipient: p, Reply: r}); c.wantsNow(slot, &e) {
		c.emit(e)
	}
}

// The answers of wants that a connection keeps until its next read (see
// EventFilter), by bit.
const (
	wantCommand uint8 = 1 << iota
	wantRcptOK
	wantRcptRefused
)

// wantsNow is wants for e, whose kind and level slot stands for, asked
// once per read from the socket.
func (c *conn) wantsNow(slot uint8, e *Event) bool {
	if c.wantKnown&slot == 0 {
		c.wantKnown |= slot
		if c.wants(e) {
			c.wantYes |= slot
		} else {
			c.wantYes &^= slot
		}
	}
	return c.wantYes&slot != 0
}

// logger is the connection's logger (see Conn.Logger).
func (c *conn) logger() *slog.Logger { return c.pub.Logger() }

// trace writes data (one or more lines) to Server.Trace, each line
// prefixed with the connection id and dir ("C: " or "S: ").
func (c *conn) trace(dir string, data []byte) {
	s := c.srv
	s.traceMu.Lock()
	defer s.traceMu.Unlock()
	var b []byte
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		b = append(b, c.pub.id...)
		b = append(b, ' ')
		b = append(b, dir...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	s.Trace.Write(b)
}

// traceCommand traces a command line, with AUTH payloads redacted.
func (c *conn) traceCommand(line []byte, auth bool) {
	if auth {
		c.trace("C: ", []byte("[redacted]"))
		return
	}
	if len(line) >= 5 && bytes.EqualFold(line[:5], []byte("AUTH ")) {
		// Keep the mechanism, drop the initial response (RFC 4954 4).
		rest := line[5:]
		if i := bytes.IndexByte(rest, ' '); i >= 0 {
			b := append(append([]byte(nil), line[:5+i]...), " [redacted]"...)
			c.trace("C: ", b)
			return
		}
	}
	c.trace("C: ", line)
}
