package server_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/proxyproto"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// TestProxyProtocol: behind a PROXY listener the backend sees the address
// from the header, and the connection limit per IP uses it.
func TestProxyProtocol(t *testing.T) {
	b := &testBackend{}
	s := newServer(b)
	s.ProxyProtocol = true
	s.MaxConnectionsPerIP = 1
	lb := start(t, s)
	c := lb.Dial(t)
	c.Send("PROXY TCP4 203.0.113.9 192.0.2.1 40000 25\r\nEHLO client\r\n")
	c.Expect("220 mx.test ESMTP ready\r\n" + ehloReply)
	b.mu.Lock()
	got := b.conns[0].RemoteAddr().String()
	b.mu.Unlock()
	if got != "203.0.113.9:40000" {
		t.Errorf("RemoteAddr = %s, want 203.0.113.9:40000", got)
	}
	// A second connection from the same (proxied) client is over the limit.
	c2 := lb.Dial(t)
	c2.Send("PROXY TCP4 203.0.113.9 192.0.2.1 40001 25\r\n")
	c2.Expect("421 mx.test Too many connections, try again later\r\n")
	// Another client address is fine.
	c3 := lb.Dial(t)
	c3.Send("PROXY TCP4 203.0.113.10 192.0.2.1 40002 25\r\n")
	c3.Expect("220 mx.test ESMTP ready\r\n")
	// No header: dropped without a greeting.
	c4 := lb.Dial(t)
	c4.Send("EHLO client\r\n")
	c4.ExpectClosed()
}

// TestExtensionParams: SMTPUTF8 and DSN parameters are advertised when
// enabled and reach the backend.
func TestExtensionParams(t *testing.T) {
	var got struct {
		mail envelope.MailParams
		rcpt envelope.RcptParams
		to   envelope.Path
	}
	b := server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return &paramSession{testSession: &testSession{b: &testBackend{}, c: c}, mail: &got.mail, rcpt: &got.rcpt, to: &got.to}, nil
	})
	s := newServer(b)
	s.EnableSMTPUTF8 = true
	s.EnableDSN = true
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloWith("SMTPUTF8", "DSN") + `
		C: MAIL FROM:<jörg@example.org> SMTPUTF8 RET=HDRS ENVID=abc+2Bdef
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<müller@example.de> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40y.example
		S: 250 2.1.5 Recipient OK
	`)
	if !got.mail.SMTPUTF8 || got.mail.Ret != envelope.RetHdrs || got.mail.EnvID != "abc+def" {
		t.Errorf("MailParams = %+v", got.mail)
	}
	if got.rcpt.Notify != envelope.NotifySuccess|envelope.NotifyFailure || got.rcpt.ORcpt == nil || got.rcpt.ORcpt.Addr != "x@y.example" {
		t.Errorf("RcptParams = %+v", got.rcpt)
	}
	if got.to.Local != "m\u00fcller" {
		t.Errorf("recipient = %q", got.to.Local)
	}
}

type paramSession struct {
	*testSession
	mail *envelope.MailParams
	rcpt *envelope.RcptParams
	to   *envelope.Path
}

func (s *paramSession) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	*s.mail = p
	return nil
}

func (s *paramSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	*s.rcpt = p
	*s.to = to
	return nil
}

// verifySession answers VRFY.
type verifySession struct{ *testSession }

func (s *verifySession) Verify(ctx context.Context, arg string) error {
	if arg == "alice" {
		return reply.New(reply.CodeOK, reply.EnhOK(), "Alice <alice@example.org>")
	}
	if arg == "nobody" {
		return reply.MailboxUnavailable("No such user")
	}
	return nil
}

// verifyServer is a test server whose sessions answer VRFY.
func verifyServer() *server.Server {
	return newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return &verifySession{&testSession{b: &testBackend{}, c: c}}, nil
	}))
}

func TestVerify(t *testing.T) {
	s := verifyServer()
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloS + `
		C: VRFY alice
		S: 250 2.0.0 Alice <alice@example.org>
		C: VRFY nobody
		S: 550 5.1.1 No such user
		C: VRFY bob
		S: 252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery
	`)
	s2 := newServer(&testBackend{})
	s2.DisableVRFY = true
	c2 := dial(t, start(t, s2))
	c2.Run(`
		C: VRFY alice
		S: 502 VRFY disabled
	`)
}

// TestSlogEvents: the built-in adapter logs with the connection id, and
// the connection facts are visible to the backend.
func TestSlogEvents(t *testing.T) {
	logs := &syncBuffer{}
	b := &testBackend{}
	s := newServer(b)
	s.Logger = nil
	s.Events = server.SlogEvents(slogDebug(logs))
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client.example
		` + strings.Replace(ehloS, "client", "client.example", 1) + `
		C: NOOP
		S: 250 2.0.0 OK
		C: QUIT
		S: 221 2.0.0 mx.test closing connection
	`)
	c.ExpectClosed()
	b.mu.Lock()
	conn := b.conns[0]
	b.mu.Unlock()
	if conn.Hello() != "client.example" || conn.ID() == "" || conn.TLS() != nil {
		t.Errorf("Conn: hello %q id %q tls %v", conn.Hello(), conn.ID(), conn.TLS())
	}
	if _, ok := conn.RemoteAddr().(*net.TCPAddr); !ok {
		t.Errorf("RemoteAddr = %v", conn.RemoteAddr())
	}
	waitFor(t, "disconnect logged", func() bool { return strings.Contains(logs.String(), "smtp disconnect") })
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.Contains(line, "conn="+conn.ID()) {
			t.Errorf("log line without connection id: %s", line)
		}
	}
	for _, want := range []string{"smtp connect", "smtp hello", "cmd=NOOP", "code=250", "smtp disconnect"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// TestProxyProtocolV2: a binary version 2 header gives the backend the
// client address, IPv6 included.
func TestProxyProtocolV2(t *testing.T) {
	b := &testBackend{}
	s := newServer(b)
	s.ProxyProtocol = true
	lb := start(t, s)
	h := &proxyproto.Header{
		Version: 2, Command: proxyproto.Proxy,
		Source:      &net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 40000},
		Destination: &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 25},
	}
	hdr, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	c := lb.Dial(t)
	c.Send(string(hdr) + "EHLO client\r\n")
	c.Expect("220 mx.test ESMTP ready\r\n" + ehloReply)
	b.mu.Lock()
	got := b.conns[0].RemoteAddr().String()
	b.mu.Unlock()
	if got != "[2001:db8::7]:40000" {
		t.Errorf("RemoteAddr = %s", got)
	}
}

// TestProxyTrustedNetworks: with ProxyTrustedNetworks, a peer outside them
// is served directly, under its own address, and never reads a header.
func TestProxyTrustedNetworks(t *testing.T) {
	b := &testBackend{}
	s := newServer(b)
	s.ProxyProtocol = true
	s.ProxyTrustedNetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	lb := start(t, s)
	c := dial(t, lb) // greeted at once, no header needed
	c.Run(`
		C: PROXY TCP4 203.0.113.9 192.0.2.1 40000 25
		S: 500 Command unrecognized
	`)
	b.mu.Lock()
	got := b.conns[0].RemoteAddr().String()
	b.mu.Unlock()
	if !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("RemoteAddr = %s, want the socket's", got)
	}
}

// TestProxyHeaderLimits: a peer that sends no header is dropped after
// ProxyHeaderTimeout, and peers waiting for their header count against
// MaxConnections.
func TestProxyHeaderLimits(t *testing.T) {
	s := newServer(&testBackend{})
	s.ProxyProtocol = true
	s.ProxyHeaderTimeout = 200 * time.Millisecond
	s.MaxConnections = 1
	lb := start(t, s)
	silent := lb.Dial(t)
	time.Sleep(50 * time.Millisecond) // let the server take it first
	over := lb.Dial(t)
	over.Send("PROXY TCP4 203.0.113.9 192.0.2.1 40000 25\r\n")
	over.ExpectClosed() // over the limit: closed without a word
	start := time.Now()
	silent.ExpectClosed()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("silent peer dropped after %v", d)
	}
	// The slot is free again.
	waitFor(t, "a free slot", func() bool {
		c := lb.Dial(t)
		c.Send("PROXY TCP4 203.0.113.9 192.0.2.1 40000 25\r\n")
		r, _ := c.ReadReply()
		return strings.HasPrefix(r, "220 ")
	})
}

// TestEventLatency: a command's event carries its reply and the time from
// its arrival to its reply, backend time included.
func TestEventLatency(t *testing.T) {
	var mu sync.Mutex
	var got []server.Event
	s := newServer(&testBackend{mail: func(envelope.Path) error {
		time.Sleep(30 * time.Millisecond)
		return nil
	}})
	s.Events = server.EventsFunc(func(c *server.Conn, e server.Event) {
		if e.Kind == server.EventCommand || e.Kind == server.EventRecipient {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		}
	})
	c := dial(t, start(t, s))
	c.Run(`
		` + mailS + `
		C: RCPT TO:<>
		S: 501 5.1.3 {*}
	`)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 {
		t.Fatalf("events: %+v", got)
	}
	if e := got[1]; e.Command != "MAIL" || e.Reply.Code != 250 || e.Latency < 30*time.Millisecond {
		t.Errorf("MAIL event: %s %v after %v", e.Command, e.Reply.Code, e.Latency)
	}
	if e := got[2]; e.Kind != server.EventRecipient || e.Reply.Code != 501 {
		t.Errorf("recipient event: %+v", e)
	}
	if e := got[3]; e.Command != "RCPT" || e.Reply.Enhanced.String() != "5.1.3" {
		t.Errorf("RCPT event: %+v", e)
	}
}
