package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
	"github.com/smtpkit/smtp/textproto"
)

// TestStartTLSInjection: commands pipelined after STARTTLS, before the
// handshake, are dropped (RFC 3207 5, CVE-2011-0411), and the session
// restarts: EHLO is needed again.
func TestStartTLSInjection(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	b := &testBackend{}
	s := newServer(b)
	s.TLSConfig = cert.ServerConfig()
	events := &eventLog{}
	s.Events = events
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloWith("STARTTLS") + `
	`)
	c.Send("STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\n")
	c.Expect("220 2.0.0 Ready to start TLS\r\n")
	c.StartTLS(cert.ClientConfig())
	c.Run(`
		C: RCPT TO:<victim@example.org>
		S: 503 Send EHLO or HELO first
		C: EHLO client
		` + ehloS + `
		C: RCPT TO:<victim@example.org>
		S: 503 5.5.1 Need MAIL before RCPT
		C: STARTTLS
		S: 503 5.5.1 TLS already active
	`)
	if !events.has(server.EventViolation, "STARTTLS command injection") {
		t.Errorf("no violation event for the injection; events: %v", events.list())
	}
	b.mu.Lock()
	st := b.conns[0].TLS()
	b.mu.Unlock()
	if st == nil {
		t.Error("Conn.TLS() is nil after STARTTLS")
	}
}

// TestStartTLSClean: a normal STARTTLS then a transaction under TLS.
func TestStartTLSClean(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	b := &testBackend{}
	s := newServer(b)
	s.TLSConfig = cert.ServerConfig()
	s.EnableRequireTLS = true
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloWith("STARTTLS") + `
		C: MAIL FROM:<a@b.example> REQUIRETLS
		S: 555 5.5.4 {*}
		C: STARTTLS
		S: 220 2.0.0 Ready to start TLS
	`)
	c.StartTLS(cert.ClientConfig())
	c.Run(`
		C: EHLO client
		` + ehloWith("REQUIRETLS") + `
		C: MAIL FROM:<a@b.example> REQUIRETLS
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<b@c.example>
		S: 250 2.1.5 Recipient OK
		C: DATA
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		C: secret
		C: .
		S: 250 2.0.0 OK: message accepted
	`)
	msgs := b.Messages()
	if len(msgs) != 1 || !msgs[0].Mail.RequireTLS || msgs[0].Data != "secret\r\n" {
		t.Errorf("messages = %+v", msgs)
	}
}

// TestImplicitTLS: ServeTLS-style listener (RFC 8314).
func TestImplicitTLS(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	s := newServer(&testBackend{})
	s.TLSConfig = cert.ServerConfig()
	lb := smtptest.StartTLS(t, s, cert.ServerConfig())
	c := lb.DialTLS(t, cert.ClientConfig())
	c.Run(`
		S: 220 mx.test ESMTP ready
		C: EHLO client
		` + ehloS + `
		C: STARTTLS
		S: 503 5.5.1 TLS already active
	`)
}

// TestSmuggling: only CR LF . CR LF ends DATA. Each fake end is refused
// with the whole message, and what follows it is not run as commands.
func TestSmuggling(t *testing.T) {
	fakes := []struct{ seq, reason string }{
		{"\n.\n", "fake end-of-data sequence"},
		{"\r\n.\n", "fake end-of-data sequence"},
		{"\n.\r\n", "fake end-of-data sequence"},
		{"\r.\r\n", "bare CR"}, // the bare CR before the dot is met first
		{"\r\n.\r", "fake end-of-data sequence"},
		{"\r\n.\r\r\n", "fake end-of-data sequence"},
		{"\r\n\x00.\r\n", "NUL byte"},
	}
	for _, fake := range fakes {
		t.Run(strings.NewReplacer("\r", "CR", "\n", "LF", "\x00", "NUL").Replace(fake.seq), func(t *testing.T) {
			b := &testBackend{}
			lb := start(t, newServer(b))
			c := dial(t, lb)
			c.Run(dataS)
			c.Send("Subject: one\r\n\r\nfirst" + fake.seq +
				"MAIL FROM:<evil@b.example>\r\nRCPT TO:<victim@c.example>\r\nDATA\r\nSubject: two\r\n\r\nsmuggled\r\n.\r\nNOOP\r\n")
			// RFC 5321 4.1.1.4: the whole is one message, refused; what
			// followed the fake end was data, so only the NOOP is a command.
			c.Expect("554 5.6.0 Message refused: " + fake.reason + "\r\n250 2.0.0 OK\r\n")
			if n := len(b.Messages()); n != 0 {
				t.Errorf("backend stored %d messages: %+v", n, b.Messages())
			}
		})
	}
}

// TestBareLFInData: under the default policy a bare LF line end is
// taken as CRLF in the data, but "\n.\n" is still no end.
func TestBareLFInData(t *testing.T) {
	b := &testBackend{}
	lb := start(t, newServer(b))
	c := dial(t, lb)
	c.Run(dataS)
	c.Send("a\nb\r\n.\r\n")
	c.Expect("250 2.0.0 OK: message accepted\r\n")
	if m := b.Messages(); len(m) != 1 || m[0].Data != "a\r\nb\r\n" {
		t.Errorf("messages = %+v", m)
	}
}

// TestLimits checks each limit's reply code.
func TestLimits(t *testing.T) {
	t.Run("command line", func(t *testing.T) {
		lb := start(t, newServer(&testBackend{}))
		c := dial(t, lb)
		long := "NOOP " + strings.Repeat("x", 507) // 512 + CRLF = 514
		ok := "NOOP " + strings.Repeat("x", 505)   // 510 + CRLF = 512
		c.Run(`
			C: ` + long + `
			S: 500 Line too long
			C: ` + ok + `
			S: 250 OK
			C: EHLO client
			S: ` + strings.TrimPrefix(ehloS, "S: ") + `
			C: MAIL FROM:<a@b.example> SIZE=100 ENVID=` + strings.Repeat("x", 100) + ` ` + strings.Repeat("x", 500) + `=1
			S: 555 5.5.4 {*}
			C: ` + "MAIL FROM:<a@b.example> " + strings.Repeat("x", 2000) + `
			S: 500 5.5.2 Line too long
			C: NOOP
			S: 250 2.0.0 OK
		`)
	})
	t.Run("recipients", func(t *testing.T) {
		b := &testBackend{}
		s := newServer(b)
		s.MaxRecipients = 2
		lb := start(t, s)
		c := dial(t, lb)
		c.Run(`
			C: EHLO client
			C: MAIL FROM:<a@b.example>
			C: RCPT TO:<1@c.example>
			C: RCPT TO:<2@c.example>
			C: RCPT TO:<3@c.example>
			C: DATA
			` + ehloS + `
			S: 250 2.1.0 Sender OK
			S: 250 2.1.5 Recipient OK
			S: 250 2.1.5 Recipient OK
			S: 452 4.5.3 Too many recipients
			S: 354 Start mail input; end with <CRLF>.<CRLF>
			C: x
			C: .
			S: 250 2.0.0 OK: message accepted
		`)
		// RFC 5321 4.5.3.1.8: the refused third recipient gets nothing.
		if m := b.Messages(); len(m) != 1 || strings.Join(m[0].To, ",") != "<1@c.example>,<2@c.example>" {
			t.Errorf("stored %+v, want one message to 1@ and 2@ only", m)
		}
	})
	t.Run("message size", func(t *testing.T) {
		b := &testBackend{}
		s := newServer(b)
		s.MaxMessageBytes = 100
		lb := start(t, s)
		c := dial(t, lb)
		c.Run(openS("EHLO", ehloScript("100")))
		c.Send(strings.Repeat("0123456789\r\n", 50) + ".\r\nNOOP\r\n")
		c.Expect("552 5.3.4 Message size exceeds fixed maximum message size of 100 octets\r\n250 2.0.0 OK\r\n")
		expectNoMessages(t, b)
	})
	t.Run("text line", func(t *testing.T) {
		b := &testBackend{}
		s := newServer(b)
		s.MaxTextLineLength = 1000
		lb := start(t, s)
		c := dial(t, lb)
		c.Run(dataS)
		c.Send(strings.Repeat("x", 1200) + "\r\n.\r\n")
		c.Expect("500 5.5.2 Line too long\r\n")
	})
	t.Run("errors", func(t *testing.T) {
		s := newServer(&testBackend{})
		s.MaxErrors = 3
		lb := start(t, s)
		c := dial(t, lb)
		c.Run(`
			C: FOO
			C: BAR
			C: NOOP
			C: BAZ
			S: 500 Command unrecognized
			S: 500 Command unrecognized
			S: 250 OK
			S: 500 Command unrecognized
			S: 421 mx.test Too many errors, closing transmission channel
		`)
		c.ExpectClosed()
	})
	t.Run("errors from the reader", func(t *testing.T) {
		// Over-long lines and bad line ends count too, and the last
		// one is followed by the 421 like any other.
		s := newServer(&testBackend{})
		s.MaxErrors = 2
		c := dial(t, start(t, s))
		c.Send(strings.Repeat("x", 600) + "\r\nNO\rOP\r\nNOOP\r\n")
		c.Expect("500 Line too long\r\n500 bare CR in command line\r\n" +
			"421 mx.test Too many errors, closing transmission channel\r\n")
		c.ExpectClosed()
	})
	t.Run("errors between BDAT chunks", func(t *testing.T) {
		b := &testBackend{}
		s := chunkingServer(b)
		s.MaxErrors = 1
		c := dial(t, start(t, s))
		c.Run(chunkS)
		c.Send("BDAT 3\r\nabc" + strings.Repeat("x", 600) + "\r\nBDAT 3 LAST\r\ndef")
		c.Expect("250 2.0.0 3 octets received\r\n500 5.5.2 Line too long\r\n" +
			"421 4.7.0 mx.test Too many errors, closing transmission channel\r\n")
		c.ExpectClosed()
		if m := b.Messages(); len(m) != 0 {
			t.Errorf("stored %+v", m)
		}
	})
	t.Run("timeout between BDAT chunks", func(t *testing.T) {
		b := &testBackend{}
		s := chunkingServer(b)
		s.CommandTimeout = 100 * time.Millisecond
		c := dial(t, start(t, s))
		c.Run(chunkS)
		c.Send("BDAT 3\r\nabc")
		c.Expect("250 2.0.0 3 octets received\r\n421 4.4.2 mx.test Timeout, closing transmission channel\r\n")
		c.ExpectClosed() // one 421, not two
		if m := b.Messages(); len(m) != 0 {
			t.Errorf("stored %+v", m)
		}
	})
	t.Run("connections", func(t *testing.T) {
		s := newServer(&testBackend{})
		s.MaxConnections = 1
		lb := start(t, s)
		c1 := dial(t, lb)
		c2 := lb.Dial(t)
		c2.Expect("421 mx.test Too many connections, try again later\r\n")
		c2.ExpectClosed()
		c1.Run(`
			C: QUIT
			S: 221 mx.test closing connection
		`)
		c1.ExpectClosed()
		waitFor(t, "connection released", func() bool {
			c3 := lb.Dial(t)
			r, _ := c3.ReadReply()
			return strings.HasPrefix(r, "220")
		})
	})
	t.Run("connections per IP", func(t *testing.T) {
		s := newServer(&testBackend{})
		s.MaxConnectionsPerIP = 2
		lb := start(t, s)
		dial(t, lb)
		dial(t, lb)
		c3 := lb.Dial(t)
		c3.Expect("421 mx.test Too many connections, try again later\r\n")
		c3.ExpectClosed()
	})
}

// TestStartTLSInjectionLarge: a long pipelined tail after STARTTLS (more
// than one read's worth) is not executed either: none of the NOOPs gets a
// reply, in clear or otherwise.
func TestStartTLSInjectionLarge(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	s := newServer(&testBackend{})
	s.TLSConfig = cert.ServerConfig()
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloWith("STARTTLS") + `
	`)
	c.Send("STARTTLS\r\n" + strings.Repeat("NOOP\r\n", 2000))
	c.Expect("220 2.0.0 Ready to start TLS\r\n")
	c.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, _ := io.ReadAll(c.NetConn())
	if strings.Contains(string(rest), "250") {
		t.Errorf("injected commands were answered: %q", rest)
	}
}

// TestServeTLS: ServeTLS handshakes first (RFC 8314 3.3) on a plain
// listener, and STARTTLS is neither offered nor accepted.
func TestServeTLS(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	b := &testBackend{}
	s := newServer(b)
	s.TLSConfig = cert.ServerConfig()
	l := mustListen(t)
	served := make(chan error, 1)
	go func() { served <- s.ServeTLS(l) }()
	defer func() {
		s.Close()
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("ServeTLS returned %v", err)
		}
	}()
	nc, err := tls.Dial("tcp", l.Addr().String(), cert.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := smtptest.NewConn(t, nc)
	c.Run(`
		S: 220 mx.test ESMTP ready
		C: EHLO client
		` + ehloS + `
		C: STARTTLS
		S: 503 5.5.1 TLS already active
	`)
	b.mu.Lock()
	st := b.conns[0].TLS()
	b.mu.Unlock()
	if st == nil {
		t.Error("Conn.TLS() is nil under implicit TLS")
	}
}

// TestListenErrors: the listening entry points refuse to start after
// Shutdown, and without what they need.
func TestListenErrors(t *testing.T) {
	s := newServer(&testBackend{})
	if err := s.ListenAndServeTLS(); err == nil || errors.Is(err, server.ErrServerClosed) {
		t.Errorf("ListenAndServeTLS without TLSConfig = %v", err)
	}
	if err := s.ServeTLS(mustListen(t)); err == nil {
		t.Error("ServeTLS without TLSConfig succeeded")
	}
	if err := (&server.Server{}).Serve(mustListen(t)); err == nil || errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve without Backend = %v", err)
	}
	s.Shutdown(context.Background())
	if err := s.ListenAndServe(); !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("ListenAndServe after Shutdown = %v", err)
	}
	if err := s.ListenAndServeTLS(); !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("ListenAndServeTLS after Shutdown = %v", err)
	}
}

// TestPolicy: bare LF, bare CR and NUL in message data and commands follow
// Server.Policy; under any policy CR LF . CR LF alone ends the data.
func TestPolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy textproto.Policy
		data   string
		reply  string // to the end of the data
		stored string // "" when refused
	}{
		{"default bare LF", textproto.Policy{}, "a\nb\r\n.\r\n", "250 2.0.0 OK: message accepted\r\n", "a\r\nb\r\n"},
		{"default bare CR", textproto.Policy{}, "a\rb\r\n.\r\n", "554 5.6.0 Message refused: {*}\r\n", ""},
		{"default NUL", textproto.Policy{}, "a\x00b\r\n.\r\n", "554 5.6.0 Message refused: {*}\r\n", ""},
		{"default 8-bit", textproto.Policy{}, "caf\xc3\xa9\r\n.\r\n", "250 2.0.0 OK: message accepted\r\n", "caf\xc3\xa9\r\n"},
		{"strict bare LF", textproto.StrictIntakePolicy(), "a\nb\r\n.\r\n", "554 5.6.0 Message refused: {*}\r\n", ""},
		{"strict CRLF", textproto.StrictIntakePolicy(), "a\r\nb\r\n.\r\n", "250 2.0.0 OK: message accepted\r\n", "a\r\nb\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &testBackend{}
			s := newServer(b)
			s.Policy = tt.policy
			c := dial(t, start(t, s))
			c.Run(dataS)
			c.Send(tt.data + "NOOP\r\n")
			c.Expect(tt.reply + "250 2.0.0 OK\r\n")
			m := b.Messages()
			switch {
			case tt.stored == "" && len(m) != 0:
				t.Errorf("stored %+v", m)
			case tt.stored != "" && (len(m) != 1 || m[0].Data != tt.stored):
				t.Errorf("stored %+v, want %q", m, tt.stored)
			}
		})
	}
	t.Run("commands", func(t *testing.T) {
		s := newServer(&testBackend{})
		s.Policy = textproto.StrictIntakePolicy()
		c := dial(t, start(t, s))
		c.Send("NOOP\nNOOP\r\nNO\x00OP\r\nVRFY caf\xc3\xa9\r\n")
		c.Expect("500 bare LF in command line\r\n250 OK\r\n500 NUL byte in command line\r\n" +
			"500 Invalid command: 8-bit byte without SMTPUTF8\r\n")
	})
}

// TestTLSHandshakeFailure: a failed handshake (STARTTLS or implicit TLS)
// ends that connection only, with an EventTLS carrying the error.
func TestTLSHandshakeFailure(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	events := &eventLog{}
	s := newServer(&testBackend{})
	s.TLSConfig = cert.ServerConfig()
	s.Events = events
	lb := start(t, s)

	c := dial(t, lb)
	c.Run(startTLSS)
	c.Send("this is not a TLS ClientHello\r\n")
	c.ExpectClosed()

	other := dial(t, lb)
	other.Run(`
		C: NOOP
		S: 250 OK
	`)

	ts := newServer(&testBackend{})
	ts.TLSConfig = cert.ServerConfig()
	ts.Events = events
	l := mustListen(t)
	go ts.ServeTLS(l)
	defer ts.Close()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	plain := smtptest.NewConn(t, nc)
	plain.Send("EHLO client\r\n")
	if r, _ := plain.ReadReply(); strings.Contains(r, "250") {
		t.Errorf("plain-text client on implicit TLS got %q", r)
	}

	waitFor(t, "two failed TLS events", func() bool {
		events.mu.Lock()
		defer events.mu.Unlock()
		n := 0
		for _, e := range events.evs {
			if e.Kind == server.EventTLS && e.Err != nil && e.TLS == nil {
				n++
			}
		}
		return n == 2
	})
}

// TestLongHelloEcho: the EHLO reply echoes the client's name; with the
// longest name a 512-octet command line allows, the reply's first line
// must still fit RFC 5321 4.5.3.1.5's 512 octets (found by the protocol
// fuzzer of examples/internal/reliability), and the session goes on.
func TestLongHelloEcho(t *testing.T) {
	lb := start(t, newServer(&testBackend{}))
	c := dial(t, lb)
	name := strings.Repeat("a", 500) + ".test" // "EHLO " + name + CRLF = 512
	c.Send("EHLO " + name + "\r\n")
	r := c.ExpectCode("250")
	for _, line := range strings.SplitAfter(r, "\r\n") {
		if len(line) > 512 {
			t.Errorf("reply line of %d octets: %.60q...", len(line), line)
		}
	}
	if !strings.HasPrefix(r, "250-mx.test greets aaaa") {
		t.Errorf("first line %.60q", r)
	}
	c.Send("NOOP\r\n")
	c.ExpectCode("250")
}
