package smtptest_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/server/smtptest"
)

// TestPeerPipelinedSend: our client's Send, byte for byte: MAIL, RCPT and
// DATA in one round trip, the message dot-stuffed.
func TestPeerPipelinedSend(t *testing.T) {
	p := smtptest.NewPeer(t, `
		S: 220 mx.example.org ESMTP
		C: EHLO client.example
		S: 250-mx.example.org
		S: 250-PIPELINING
		S: 250 8BITMIME
		C: MAIL FROM:<a@example.org>
		C: RCPT TO:<b@example.org>
		C: DATA
		S: 250 OK
		S: 250 OK
		S: 354 Go ahead
		C: Subject: hi
		C:
		C: ..leading dot
		C: .
		S: 250 Queued as 42
		C: QUIT
		S: 221 Bye
	`)
	ctx := ctxT(t)
	c := dialClient(t, client.Dial, p.Addr, &client.Options{LocalName: "client.example"})
	res, err := c.Send(ctx, newEnv(t, "a@example.org", "b@example.org"), strings.NewReader("Subject: hi\n\n.leading dot\n"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Text() != "Queued as 42" {
		t.Errorf("reply text %q", res.Text())
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPeerBDAT: a chunk's lines are compared with the C lines after BDAT.
func TestPeerBDAT(t *testing.T) {
	p := smtptest.NewPeer(t, `
		S: 220 mx ESMTP
		C: EHLO {*}
		S: 250-mx
		S: 250-PIPELINING
		S: 250 CHUNKING
		C: MAIL FROM:<a@example.org>
		C: RCPT TO:<b@example.org>
		C: BDAT 17 LAST
		C: Subject: x
		C:
		C: y
		S: 250 OK
		S: 250 OK
		S: 250 Got it
		!close
	`)
	ctx := ctxT(t)
	c := dialClient(t, client.Dial, p.Addr, nil)
	if _, err := c.Send(ctx, newEnv(t, "a@example.org", "b@example.org"), strings.NewReader("Subject: x\r\n\r\ny\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPeerSTARTTLS: the Peer starts TLS where the transcript says, with a
// certificate its ClientTLSConfig trusts.
func TestPeerSTARTTLS(t *testing.T) {
	p := smtptest.NewPeer(t, `
		S: 220 mx ESMTP
		C: EHLO {*}
		S: 250-mx
		S: 250 STARTTLS
		C: STARTTLS
		S: 220 Go ahead
		!tls
		C: EHLO {*}
		S: 250 mx
		C: QUIT
		S: 221 Bye
	`)
	ctx := ctxT(t)
	c := dialClient(t, client.DialStartTLS, p.Addr, &client.Options{TLSConfig: p.ClientTLSConfig()})
	if _, ok := c.TLSConnectionState(); !ok {
		t.Error("no TLS")
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPeerSilent: "!eof" alone is a server that never greets: the
// client's timeout ends the wait, and the Peer sees it leave.
func TestPeerSilent(t *testing.T) {
	p := smtptest.NewPeer(t, "!eof")
	ctx := ctxT(t)
	_, err := client.Dial(ctx, p.Addr, &client.Options{GreetingTimeout: 200 * time.Millisecond})
	var ne *client.NetError
	var te net.Error
	if !errors.As(err, &ne) || !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("err = %v (%T), want a *NetError timeout", err, err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPeerTranscripts: one transcript per connection, in order.
func TestPeerTranscripts(t *testing.T) {
	p := smtptest.NewPeer(t,
		"S: 554 mx no service\nC: QUIT\nS: 221 Bye",
		"S: 220 mx ESMTP\nC: QUIT\nS: 221 Bye")
	ctx := ctxT(t)
	_, err := client.Dial(ctx, p.Addr, nil)
	asError(t, err, "greeting", 554)
	c := dialClient(t, client.Dial, p.Addr, nil)
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPeerMismatch: where the client leaves the transcript, the report
// shows the line expected, the line received and the transcript before.
func TestPeerMismatch(t *testing.T) {
	ft := &fakeTB{}
	var clientErr error
	ft.run(func() {
		p := smtptest.NewPeer(ft, `
			S: 220 mx ESMTP
			C: EHLO me
			S: 250 mx
			C: MAIL FROM:<someone@example.org>
			S: 250 OK
		`)
		ctx := ctxT(t)
		c, err := client.Dial(ctx, p.Addr, &client.Options{LocalName: "me"})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		clientErr = c.Mail(ctx, mustPath(t, "a@example.org"), nil)
		err = p.Wait(ctx)
		var m *smtptest.MismatchError
		if !errors.As(err, &m) || m.Line != 5 || m.Want != "C: MAIL FROM:<someone@example.org>" || m.Got != "C: MAIL FROM:<a@example.org>" {
			t.Errorf("Wait = %#v", err)
		}
	})
	want := `smtptest: line 5: the peer left the transcript
    want: C: MAIL FROM:<someone@example.org>
     got: C: MAIL FROM:<a@example.org>
      2  S: 220 mx ESMTP
      3  C: EHLO me
      4  S: 250 mx
  >   5  C: MAIL FROM:<someone@example.org>`
	if f := ft.failures(); len(f) != 1 || f[0] != want {
		t.Errorf("reported:\n%s\nwant:\n%s", strings.Join(f, "\n--\n"), want)
	}
	// The Peer closed the connection: the client sees it fail.
	var ne *client.NetError
	if !errors.As(clientErr, &ne) {
		t.Errorf("client: %v, want a *NetError", clientErr)
	}
}

// TestPeerReports: the other ways a client can leave a transcript.
func TestPeerReports(t *testing.T) {
	tests := []struct {
		name        string
		transcripts []string
		client      func(t *testing.T, addr string)
		want        string
	}{
		{
			"client closes early",
			[]string{"S: 220 mx\nC: EHLO me\nS: 250 mx\nC: QUIT"},
			func(t *testing.T, addr string) {
				c := smtptest.Dial(t, addr)
				c.Run("S: 220 mx\nC: EHLO me\nS: 250 mx\n!close")
			},
			"line 4: the peer left the transcript\n    want: C: QUIT\n     got: the connection was closed",
		},
		{
			"not played",
			[]string{"S: 220 mx\nC: QUIT\nS: 221 bye", "S: 220 mx\n!eof"},
			func(t *testing.T, addr string) {
				c := smtptest.Dial(t, addr)
				c.Run("S: 220 mx\nC: QUIT\nS: 221 bye\n!eof")
			},
			"transcript 2 of 2 not played: the client never connected",
		},
		{
			"STARTTLS injection",
			[]string{"S: 220 mx\nC: STARTTLS\nS: 220 go\n!tls"},
			func(t *testing.T, addr string) {
				c := smtptest.Dial(t, addr)
				c.Expect("220")
				c.Send("STARTTLS\r\nRSET\r\n") // sent before the handshake
				c.Expect("220")
			},
			"line 4: the peer left the transcript\n    want: !tls\n     got: C: \"RSET\\r\\n\" before the TLS handshake",
		},
		{
			"more than the transcript",
			[]string{"S: 220 mx\nC: NOOP\nS: 250 ok"},
			func(t *testing.T, addr string) {
				c := smtptest.Dial(t, addr)
				c.Expect("220")
				c.Send("NOOP\r\nQUIT\r\n")
				c.Expect("250")
			},
			"got: C: \"QUIT\\r\\n\"",
		},
		{
			"endless line",
			[]string{"S: 220 mx\nC: EHLO me\nS: 250 mx"},
			func(t *testing.T, addr string) {
				c := smtptest.Dial(t, addr)
				c.Expect("220")
				// A broken client that never ends its line: the Peer
				// stops reading at its bound, not at the test's memory.
				c.Write([]byte("EHLO " + strings.Repeat("x", 2<<20)))
				c.Close()
			},
			"line 2: the peer left the transcript\n    want: C: EHLO me\n     got: a line longer than 1048576 bytes",
		},
		{
			"bad chunk",
			[]string{"S: 220 mx\nC: BDAT 6 LAST\nC: hello\nS: 250 ok"},
			func(t *testing.T, addr string) {
				c := smtptest.Dial(t, addr)
				c.Expect("220")
				c.Send("BDAT 6 LAST\r\nhallo\n")
			},
			"line 3: the peer left the transcript\n    want: C: hello\n     got: C: \"hallo\\n\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fakeTB{}
			ft.run(func() {
				p := smtptest.NewPeer(ft, tt.transcripts...)
				tt.client(t, p.Addr)
				if tt.name == "not played" {
					return // the Peer's cleanup finds it out
				}
				p.Wait(ctxT(t))
			})
			f := ft.failures()
			if len(f) != 1 || !strings.Contains(f[0], tt.want) || len(f[0]) > 1000 {
				t.Errorf("reported %.2000q, want one failure containing %q", f, tt.want)
			}
		})
	}
}
