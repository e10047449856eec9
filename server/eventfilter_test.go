package server_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/smtpkit/smtp/server"
)

// kindLog records the kinds of the events it gets and wants only the
// kinds in want (server.EventFilter); a nil want wants everything.
type kindLog struct {
	want  map[server.EventKind]bool
	panic bool // WantEvent panics

	mu   sync.Mutex
	got  map[server.EventKind]int
	asks int
}

func (l *kindLog) Event(c *server.Conn, e server.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.got == nil {
		l.got = map[server.EventKind]int{}
	}
	l.got[e.Kind]++
}

func (l *kindLog) WantEvent(k server.EventKind) bool {
	l.mu.Lock()
	l.asks++
	l.mu.Unlock()
	if l.panic {
		panic("filter broke")
	}
	return l.want == nil || l.want[k]
}

func (l *kindLog) count(k server.EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.got[k]
}

// plainLog is Events without a filter: it gets every event.
type plainLog struct{ kindLog }

func (l *plainLog) Event(c *server.Conn, e server.Event) { l.kindLog.Event(c, e) }

const filterTxn = `
	C: MAIL FROM:<a@b.example>
	S: 250 2.1.0 Sender OK
	C: RCPT TO:<b@c.example>
	S: 250 2.1.5 Recipient OK
	C: DATA
	S: 354 {*}
	C: Subject: x
	C:
	C: hi
	C: .
	S: 250 2.0.0 {*}
`

// TestEventFilter: Events that implement EventFilter get no command or
// recipient events they do not want (the server does not even read the
// clock for them), and still get those they want; MultiEvents wants what
// one of its members wants and passes every event to all; an Events
// without the method gets everything.
func TestEventFilter(t *testing.T) {
	hellos := &kindLog{want: map[server.EventKind]bool{server.EventHello: true, server.EventDisconnect: true}}
	plain := &plainLog{}
	tests := []struct {
		name   string
		events server.Events
		check  func(t *testing.T)
	}{
		{"filtered", hellos, func(t *testing.T) {
			waitFor(t, "disconnect", func() bool { return hellos.count(server.EventDisconnect) == 1 })
			if n := hellos.count(server.EventCommand) + hellos.count(server.EventRecipient); n != 0 {
				t.Errorf("%d command or recipient events reached a filter that wants none", n)
			}
			if hellos.count(server.EventHello) != 1 || hellos.asks == 0 {
				t.Errorf("hello events %d, asks %d", hellos.count(server.EventHello), hellos.asks)
			}
		}},
		{"no filter", plain, func(t *testing.T) {
			waitFor(t, "disconnect", func() bool { return plain.count(server.EventDisconnect) == 1 })
			if plain.count(server.EventCommand) != 6 || plain.count(server.EventRecipient) != 1 {
				t.Errorf("an Events without filter got %v", plain.got)
			}
		}},
		{"multi", server.MultiEvents(&kindLog{want: map[server.EventKind]bool{}}, &kindLog{want: map[server.EventKind]bool{server.EventCommand: true}}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(&testBackend{})
			s.Logger = slogTo(&syncBuffer{}) // Info: wants no command events
			s.Events = tt.events
			c := dial(t, start(t, s))
			c.Run(`
				C: EHLO client
				` + ehloWith() + filterTxn + `
				C: QUIT
				S: 221 {*}
			`)
			if tt.check != nil {
				tt.check(t)
				return
			}
			m := tt.events.(interface{ WantEvent(server.EventKind) bool })
			if !m.WantEvent(server.EventCommand) || m.WantEvent(server.EventRecipient) {
				t.Errorf("MultiEvents.WantEvent: command %v, recipient %v", m.WantEvent(server.EventCommand), m.WantEvent(server.EventRecipient))
			}
		})
	}
}

// TestEventFilterLevelChange: the server's log asks its logger's level for
// every command, so a level raised or lowered at run time (slog.LevelVar)
// takes effect at the next command.
func TestEventFilterLevelChange(t *testing.T) {
	logs := &syncBuffer{}
	var level slog.LevelVar
	level.Set(slog.LevelWarn)
	s := newServer(&testBackend{})
	s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: &level}))
	c := dial(t, start(t, s))
	c.Run(`
		C: EHLO client
		` + ehloWith() + `
		C: NOOP
		S: 250 {*}
	`)
	level.Set(slog.LevelDebug)
	c.Run(filterTxn)
	l := logs.String()
	if strings.Contains(l, "cmd=NOOP") || !strings.Contains(l, "cmd=MAIL code=250") ||
		!strings.Contains(l, `msg="smtp recipient"`) || !strings.Contains(l, "cmd=DATA code=250") {
		t.Errorf("log at Warn then Debug:\n%s", l)
	}
}

// TestEventFilterPanic: a WantEvent that panics is logged like a panic in
// Event, counts as a yes, and the connection goes on.
func TestEventFilterPanic(t *testing.T) {
	logs := &syncBuffer{}
	ev := &kindLog{panic: true}
	s := newServer(&testBackend{})
	s.Logger = slogTo(logs)
	s.Events = ev
	c := dial(t, start(t, s))
	c.Run(`
		C: EHLO client
		` + ehloWith() + filterTxn)
	if ev.count(server.EventCommand) != 5 || ev.count(server.EventRecipient) != 1 {
		t.Errorf("events %v", ev.got)
	}
	if !strings.Contains(logs.String(), `msg="smtp: events panic"`) || !strings.Contains(logs.String(), `panic="filter broke"`) {
		t.Errorf("the filter's panic was not logged")
	}
}
