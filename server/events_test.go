package server_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// TestEventsKeepLogging: setting Server.Events does not silence the
// server's own log: a failed AUTH is still a warning and a refused
// recipient an Info record, both with the connection id, and the events
// arrive too.
func TestEventsKeepLogging(t *testing.T) {
	logs := &syncBuffer{}
	events := &eventLog{}
	b := &testBackend{
		users: map[string]string{"alice": "secret"},
		rcpt: func(to envelope.Path) error {
			if to.Local == "unknown" {
				return reply.New(550, reply.Enh(5, 1, 1), "No such user")
			}
			return nil
		},
	}
	s := newServer(b)
	s.Logger = slogTo(logs) // Info and above
	s.Events = events
	s.AllowInsecureAuth = true
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloAuthS + `
		C: AUTH PLAIN ` + plainIR("", "alice", "wrong") + `
		S: 535 5.7.8 Authentication credentials invalid
		C: MAIL FROM:<a@b.example>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<unknown@c.example>
		S: 550 5.1.1 No such user
	`)
	b.mu.Lock()
	id := b.conns[0].ID()
	b.mu.Unlock()
	l := logs.String()
	for _, want := range []string{
		`level=WARN msg="smtp auth" conn=` + id + ` mechanism=PLAIN user=alice`,
		`level=INFO msg="smtp recipient" conn=` + id + ` rcpt=<unknown@c.example> code=550`,
	} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
	if !events.has(server.EventAuth, "PLAIN") || !events.has(server.EventHello, "client") {
		t.Errorf("events missing: %v", events.list())
	}
}

// TestConnLogger: Conn.Logger gives the backend a logger whose records
// carry the connection id, like the server's own.
func TestConnLogger(t *testing.T) {
	logs := &syncBuffer{}
	ids := make(chan string, 1)
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		c.Logger().Info("backend says hello", "remote", c.RemoteAddr().String())
		ids <- c.ID()
		return &testSession{b: &testBackend{}, c: c}, nil
	}))
	s.Logger = slogTo(logs)
	lb := start(t, s)
	dial(t, lb)
	id := <-ids
	if want := `level=INFO msg="backend says hello" conn=` + id + ` remote=127.0.0.1:`; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}

// TestEventsPanicRecovered: a panicking Events handler is recovered and
// logged like a panicking backend; the connection goes on and mail is
// still received.
func TestEventsPanicRecovered(t *testing.T) {
	logs := &syncBuffer{}
	b := &testBackend{}
	s := newServer(b)
	s.Logger = slogTo(logs)
	s.Events = server.EventsFunc(func(c *server.Conn, e server.Event) { panic("metrics exploded: " + e.Kind.String()) })
	lb := start(t, s)
	for i := 0; i < 2; i++ {
		c := dial(t, lb)
		c.Run(dataS + `
			C: hello
			C: .
			S: 250 2.0.0 OK: message accepted
			C: QUIT
			S: 221 2.0.0 mx.test closing connection
		`)
		c.ExpectClosed()
	}
	if n := len(b.Messages()); n != 2 {
		t.Errorf("stored %d messages, want 2", n)
	}
	waitFor(t, "the disconnect panic logged", func() bool {
		return strings.Contains(logs.String(), "metrics exploded: disconnect")
	})
	l := logs.String()
	for _, want := range []string{`level=ERROR msg="smtp: events panic"`, "metrics exploded: command", "stack="} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
}

// TestPanicInTLSCallbackRecovered: a panic in code the server calls that
// is not a Session method (here the TLS configuration's GetCertificate,
// during STARTTLS) ends that connection only, is logged, and the server
// goes on serving.
func TestPanicInTLSCallbackRecovered(t *testing.T) {
	logs := &syncBuffer{}
	s := newServer(&testBackend{})
	s.Logger = slogTo(logs)
	s.TLSConfig = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		panic("certificate store exploded")
	}}
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(startTLSS)
	tc := tls.Client(c.NetConn(), &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err == nil {
		t.Error("handshake succeeded")
	}
	other := dial(t, lb)
	other.Run("C: NOOP\nS: 250 OK\n")
	waitFor(t, "the panic logged", func() bool { return strings.Contains(logs.String(), "certificate store exploded") })
}
