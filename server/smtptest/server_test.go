package smtptest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/server"
	"github.com/smtpkit/smtp/server/smtptest"
)

// ctxT returns a context that ends with the test, or after a generous
// bound so that a stuck peer fails the test instead of hanging it.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialClient connects our client to addr with dial (client.Dial,
// DialStartTLS or DialTLS) and opts; it is closed when the test ends.
func dialClient(t *testing.T, dial func(context.Context, string, *client.Options) (*client.Client, error), addr string, opts *client.Options) *client.Client {
	t.Helper()
	c, err := dial(ctxT(t), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustPath(t testing.TB, s string) envelope.Path {
	p, err := envelope.ParsePath("<"+s+">", envelope.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newEnv(t testing.TB, from string, to ...string) envelope.Envelope {
	env := envelope.Envelope{From: mustPath(t, from)}
	for _, r := range to {
		env.To = append(env.To, envelope.Recipient{Path: mustPath(t, r)})
	}
	return env
}

// TestServerRecords sends two messages on one connection and one on
// another with our client and finds them recorded, envelope and bytes.
func TestServerRecords(t *testing.T) {
	ts := smtptest.NewServer(t)
	ctx := ctxT(t)
	send := func(c *client.Client, from string, to []string, body string) {
		t.Helper()
		if _, err := c.Send(ctx, newEnv(t, from, to...), strings.NewReader(body)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	c1 := dialClient(t, client.Dial, ts.Addr, &client.Options{LocalName: "one.example"})
	send(c1, "a@example.org", []string{"b@example.net", "c@example.net"}, "Subject: 1\r\n\r\n.dot\r\n")
	send(c1, "a@example.org", []string{"d@example.net"}, "Subject: 2\n\nbare LF\n")
	c2 := dialClient(t, client.Dial, ts.Addr, &client.Options{LocalName: "two.example"})
	send(c2, "", []string{"e@example.net"}, "Subject: 3\r\n\r\n")

	msgs := ts.Messages()
	if len(msgs) != 3 {
		t.Fatalf("got %d messages, want 3", len(msgs))
	}
	want := []struct {
		hello, from, to, data string
	}{
		{"one.example", "<a@example.org>", "<b@example.net> <c@example.net>", "Subject: 1\r\n\r\n.dot\r\n"},
		{"one.example", "<a@example.org>", "<d@example.net>", "Subject: 2\r\n\r\nbare LF\r\n"},
		{"two.example", "<>", "<e@example.net>", "Subject: 3\r\n\r\n"},
	}
	for i, w := range want {
		m := msgs[i]
		var to []string
		for _, r := range m.Envelope.To {
			to = append(to, r.Path.String())
		}
		if m.Hello != w.hello || m.Envelope.From.String() != w.from || strings.Join(to, " ") != w.to ||
			string(m.Data) != w.data || !m.Accepted || m.Command != "DATA" || m.TLS {
			t.Errorf("message %d = %+v, want %+v", i, m, w)
		}
	}
	if msgs[0].ConnID != msgs[1].ConnID || msgs[0].ConnID == msgs[2].ConnID {
		t.Errorf("connection ids %q %q %q: want the first two equal, the third different", msgs[0].ConnID, msgs[1].ConnID, msgs[2].ConnID)
	}
}

// TestWaitMessages waits for a message sent in the background, and times
// out with the messages so far when fewer arrive.
func TestWaitMessages(t *testing.T) {
	ts := smtptest.NewServer(t)
	ctx := ctxT(t)
	errc := make(chan error, 1)
	go func() {
		c, err := client.Dial(ctx, ts.Addr, nil)
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- c.SendMail(ctx, "a@example.org", []string{"b@example.org"}, strings.NewReader("hi\r\n"))
	}()
	msgs, err := ts.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(msgs[0].Data) != "hi\r\n" {
		t.Errorf("data %q", msgs[0].Data)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	msgs, err = ts.WaitMessages(short, 2)
	if !errors.Is(err, context.Canceled) || len(msgs) != 1 {
		t.Errorf("WaitMessages(2) = %d messages, %v; want 1 and context.Canceled", len(msgs), err)
	}
}

// TestServerLogsEachEventOnce: the server logs its events to
// Config.Logger (the test's log) itself; the kit adds no second logger,
// with or without Config.Events.
func TestServerLogsEachEventOnce(t *testing.T) {
	for _, withEvents := range []bool{false, true} {
		ft := &fakeTB{}
		ft.run(func() {
			s := smtptest.NewUnstartedServer(ft)
			if withEvents {
				s.Config.Events = server.EventsFunc(func(*server.Conn, server.Event) {})
			}
			s.Start()
			c := smtptest.Dial(ft, s.Addr)
			c.Expect("220")
			c.Cmd("EHLO client")
			c.Send("NOOP " + strings.Repeat("x", 600) + "\r\n") // a violation: logged at Info
			c.Expect("500 5.5.2")
			c.Cmd("QUIT")
			s.Close()
		})
		if f := ft.failures(); len(f) > 0 {
			t.Fatalf("events %v: %q", withEvents, f)
		}
		n := 0
		for _, l := range ft.logs {
			if strings.Contains(l, "smtp violation") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("events %v: the violation was logged %d times:\n%s", withEvents, n, strings.Join(ft.logs, "\n"))
		}
	}
}

// TestServerNoDelays: the kit's server answers errors and failed AUTH at
// once (ErrorDelay and AuthFailureDelay -1), unless the test sets them.
func TestServerNoDelays(t *testing.T) {
	s := smtptest.NewUnstartedServer(t)
	if s.Config.ErrorDelay >= 0 || s.Config.AuthFailureDelay >= 0 {
		t.Errorf("ErrorDelay %v, AuthFailureDelay %v: want both negative (none)", s.Config.ErrorDelay, s.Config.AuthFailureDelay)
	}
	s.Config.ErrorDelay = time.Minute
	s.Start()
	if s.Config.ErrorDelay != time.Minute {
		t.Errorf("Start changed ErrorDelay to %v", s.Config.ErrorDelay)
	}
}

// TestTraceCompleteAfterClose: once Close returned, the trace holds the
// last reply of every session (Trace documents that a reply the client
// already read may not be there before).
func TestTraceCompleteAfterClose(t *testing.T) {
	srv := smtptest.NewServer(t)
	for i := 0; i < 20; i++ {
		c, err := client.Dial(ctxT(t), srv.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Quit(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	srv.Close()
	if n := strings.Count(srv.Trace(), " S: 221 "); n != 20 {
		t.Errorf("%d replies to QUIT in the trace after Close, want 20:\n%s", n, srv.Trace())
	}
}
