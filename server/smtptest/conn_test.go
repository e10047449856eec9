package smtptest_test

import (
	"strings"
	"testing"

	"github.com/smtpkit/smtp/server/smtptest"
)

// TestConnAgainstServer: commands, patterns and raw bytes against the
// test server: a bare LF in the data is normalised by the server's
// default policy and recorded as CRLF.
func TestConnAgainstServer(t *testing.T) {
	ts := smtptest.NewServer(t)
	c := ts.Dial()
	c.Expect("220 localhost ESMTP ready")
	if r := c.Cmd("EHLO me"); r.Code != 250 {
		t.Fatalf("EHLO: %v", r)
	}
	c.Send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
	c.Expect("250 2.1.0")
	c.Expect("250 2.1.5 Recipient OK")
	c.Expect("354")
	c.Send("one\ntwo\r\n.\r\n")
	c.Expect("250 2.0.0 {*}accepted")
	if r := c.Cmd("RCPT TO:<c@example.org>"); r.Code != 503 {
		t.Errorf("RCPT without MAIL: %v", r)
	}
	c.Run(`
		C: QUIT
		S: 221 2.0.0 localhost closing connection
		!eof
	`)
	if m := ts.Messages(); len(m) != 1 || string(m[0].Data) != "one\r\ntwo\r\n" {
		t.Errorf("messages = %+v", m)
	}
}

// TestConnReports: what the test client reports when the server does not
// say what is expected.
func TestConnReports(t *testing.T) {
	tests := []struct {
		name   string
		server string // the Peer's transcript
		client func(c *smtptest.Conn)
		want   string
	}{
		{
			"Expect code",
			"S: 421 4.3.2 busy\n!eof",
			func(c *smtptest.Conn) { c.Expect("220") },
			"smtptest: reply mismatch\n    want: 220\n     got: \"421 4.3.2 busy\\r\\n\"",
		},
		{
			"Expect text",
			"S: 250-mx\nS: 250 SIZE 10\n!eof",
			func(c *smtptest.Conn) { c.Expect("250 {*}PIPELINING{*}") },
			"want: 250 {*}PIPELINING{*}\n     got: \"250-mx\\r\\n250 SIZE 10\\r\\n\"",
		},
		{
			"Run line",
			"S: 220 mx\nC: EHLO me\nS: 250-mx\nS: 250 8BITMIME\n!eof",
			func(c *smtptest.Conn) {
				c.Run(`
					S: 220 mx
					C: EHLO me
					S: 250-mx
					S: 250 PIPELINING
				`)
			},
			"line 5: the peer left the transcript\n    want: S: 250 PIPELINING\n     got: S: 250 8BITMIME\n",
		},
		{
			"Run closed",
			"S: 220 mx\nC: NOOP\n!close",
			func(c *smtptest.Conn) { c.Run("S: 220 mx\nC: NOOP\nS: 250 ok") },
			"want: S: 250 ok\n     got: the connection was closed",
		},
		{
			"ExpectClosed",
			"S: 220 mx\nS: 250 more\n!close",
			func(c *smtptest.Conn) { c.Expect("220"); c.ExpectClosed() },
			`want the connection closed by the server, got "250 more\r\n"`,
		},
		{
			"endless reply line",
			"S: 220 " + strings.Repeat("x", 2<<20) + "\n!close",
			func(c *smtptest.Conn) { c.Expect("220") },
			"a line longer than 1048576 bytes",
		},
		{
			"bad pattern",
			"!eof",
			func(c *smtptest.Conn) { c.Expect("OK") },
			"want a three-character code first",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := smtptest.NewPeer(nil, tt.server)
			defer p.Close()
			ft := &fakeTB{}
			ft.run(func() {
				c := smtptest.Dial(ft, p.Addr)
				tt.client(c)
			})
			f := ft.failures()
			if len(f) != 1 || !strings.Contains(f[0], tt.want) || len(f[0]) > 1000 {
				t.Errorf("reported %.2000q, want one failure containing %q", f, tt.want)
			}
		})
	}
}

// TestConnTrace: the trace shows each line sent and received.
func TestConnTrace(t *testing.T) {
	p := smtptest.NewPeer(t, "S: 220 mx\nC: EHLO me\nS: 250-mx\nS: 250 8BITMIME")
	var b strings.Builder
	c := smtptest.Dial(t, p.Addr)
	c.Trace = &b
	c.Expect("220")
	c.Cmd("EHLO me")
	want := "S: 220 mx\nC: EHLO me\nS: 250-mx\nS: 250 8BITMIME\n"
	if b.String() != want {
		t.Errorf("trace %q, want %q", b.String(), want)
	}
}

// TestNilTB: outside a test the kit works the same, and a failure panics.
func TestNilTB(t *testing.T) {
	ts := smtptest.NewServer(nil)
	defer ts.Close()
	c := smtptest.Dial(nil, ts.Addr)
	defer c.Close()
	c.Expect("220")
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "reply mismatch") {
			t.Errorf("recovered %v, want a reply mismatch", r)
		}
	}()
	c.Send("NOOP\r\n")
	c.Expect("550")
}
