package client

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
)

func path(s string) envelope.Path {
	p, err := parsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

func env(from string, to ...string) envelope.Envelope {
	e := envelope.Envelope{From: path(from)}
	for _, t := range to {
		e.To = append(e.To, envelope.Recipient{Path: path(t)})
	}
	return e
}

func TestSendBasic(t *testing.T) {
	const msg = "Subject: hi\r\n\r\nbody\r\n"
	tests := []struct {
		name string
		ext  []string
		want string // the client's side of the transcript after EHLO
	}{
		{"plain", nil, "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n" + msg + ".\r\nQUIT\r\n"},
		{"pipelining", []string{"PIPELINING", "SIZE 1000"}, "MAIL FROM:<a@x.example> SIZE=" + itoa(int64(len(msg))) + "\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n" + msg + ".\r\nQUIT\r\n"},
		{"chunking", []string{"PIPELINING", "CHUNKING"}, "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nBDAT " + itoa(int64(len(msg))) + " LAST\r\n" + msg + "QUIT\r\n"},
		{"chunking-lockstep", []string{"CHUNKING"}, "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nBDAT " + itoa(int64(len(msg))) + " LAST\r\n" + msg + "QUIT\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t, tc.ext...)
			addr := fs.start()
			ctx := testCtx(t)
			c, err := Dial(ctx, addr, &Options{LocalName: "client.example"})
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Send(ctx, env("a@x.example", "b@y.example", "c@y.example"), strings.NewReader(msg))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.Code != reply.CodeOK || res.Text() != "OK queued as 1234" || res.Accepted() != 2 {
				t.Errorf("result %+v text %q", res, res.Text())
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			got := fs.bytes()
			if want := "EHLO client.example\r\n" + tc.want; got != want {
				t.Errorf("wire:\n got %q\nwant %q", got, want)
			}
			if m := fs.msgs(); len(m) != 1 || m[0] != msg {
				t.Errorf("messages %q", m)
			}
		})
	}
}

func TestSendRecipientRefused(t *testing.T) {
	for _, ext := range [][]string{nil, {"PIPELINING"}, {"PIPELINING", "CHUNKING"}} {
		t.Run(strings.Join(ext, "+"), func(t *testing.T) {
			fs := newFakeServer(t, ext...)
			fs.rcptReply = map[string]string{"bad@y.example": "550 5.1.1 no such user", "later@y.example": "450 4.2.1 try later"}
			addr := fs.start()
			ctx := testCtx(t)
			c, err := Dial(ctx, addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res, err := c.Send(ctx, env("a@x.example", "bad@y.example", "ok@y.example", "later@y.example"), strings.NewReader("x\r\n"))
			var re *RecipientsError
			if !errors.As(err, &re) || re.Accepted != 1 || len(re.Failed) != 2 {
				t.Fatalf("err = %v", err)
			}
			var e *Error
			if !errors.As(res.Recipients[0].Err, &e) || e.Code != 550 || e.Enhanced != reply.Enh(5, 1, 1) || e.Text != "no such user" || !e.Permanent() || e.Command != "RCPT" {
				t.Errorf("rcpt 0: %#v", res.Recipients[0].Err)
			}
			if !errors.As(res.Recipients[2].Err, &e) || !e.Temporary() {
				t.Errorf("rcpt 2: %v", res.Recipients[2].Err)
			}
			if res.Recipients[1].Err != nil || res.Recipients[1].Code != 250 {
				t.Errorf("rcpt 1: %+v", res.Recipients[1])
			}
			// All refused: nothing sent, transaction reset before the next.
			_, err = c.Send(ctx, env("a@x.example", "bad@y.example"), strings.NewReader("x\r\n"))
			if !errors.As(err, &re) || re.Accepted != 0 {
				t.Fatalf("err = %v", err)
			}
			if _, err := c.Send(ctx, env("a@x.example", "ok@y.example"), strings.NewReader("y\r\n")); err != nil {
				t.Fatal(err)
			}
			if m := fs.msgs(); len(m) != 2 || m[1] != "y\r\n" {
				t.Errorf("messages %q", m)
			}
			if !strings.Contains(fs.bytes(), "RSET\r\nMAIL FROM:<a@x.example>") {
				t.Errorf("no RSET before the next transaction:\n%s", fs.bytes())
			}
		})
	}
}

// TestEnvelopeParams: every parameter of the envelope package reaches the
// wire, in Send (pipelined and not) and in Mail/Rcpt (over verified TLS,
// which REQUIRETLS needs).
func TestEnvelopeParams(t *testing.T) {
	const msg = "x\r\n"
	ext := []string{"SIZE 1000", "8BITMIME", "DSN", "REQUIRETLS", "SMTPUTF8", "AUTH PLAIN", "X-PRIORITY"}
	cert := smtptest.MustCertificate(t)
	dialTLS := func(fs *fakeServer) *Client {
		fs.ext = append(fs.ext, "STARTTLS")
		fs.tls = cert.ServerConfig()
		c, err := DialStartTLS(testCtx(t), fs.start(), &Options{LocalName: "client.example", TLSConfig: cert.ClientConfig()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	e := env("a@x.example", "b@y.example")
	e.Mail = envelope.MailParams{Body: envelope.Body8BitMIME, Ret: envelope.RetHdrs, EnvID: "id+1 x", Auth: "<>",
		RequireTLS: true, Extra: []envelope.Param{{Keyword: "X-PRIORITY", Value: "5"}}}
	e.To[0].Params = envelope.RcptParams{Notify: envelope.NotifySuccess | envelope.NotifyFailure,
		ORcpt: &envelope.ORcpt{AddrType: "rfc822", Addr: "orig=b@y.example"}, Extra: []envelope.Param{{Keyword: "X-TAG", Value: "t"}}}
	const wantMail = "MAIL FROM:<a@x.example> SIZE=3 BODY=8BITMIME RET=HDRS ENVID=id+2B1+20x AUTH=<> REQUIRETLS X-PRIORITY=5\r\n"
	const wantRcpt = "RCPT TO:<b@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+3Db@y.example X-TAG=t\r\n"
	for _, pipe := range []bool{false, true} {
		fs := newFakeServer(t, ext...)
		if pipe {
			fs.ext = append(fs.ext, "PIPELINING")
		}
		c := dialTLS(fs)
		if _, err := c.Send(testCtx(t), e, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		if w := fs.bytes(); !strings.Contains(w, wantMail+wantRcpt) {
			t.Errorf("pipelining=%v: wire %q\nwant %q", pipe, w, wantMail+wantRcpt)
		}
	}
	// Low level: the same through Mail and Rcpt (no SIZE: the size is not
	// known there), and IDN domains as A-labels without SMTPUTF8.
	fs := newFakeServer(t, ext[1:4]...)
	c := dialTLS(fs)
	ctx := testCtx(t)
	if err := c.Mail(ctx, path("a@b\u00fccher.example"), &e.Mail); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(ctx, path("b@m\u00fcller.example"), &e.To[0].Params); err != nil {
		t.Fatal(err)
	}
	const wantLow = "MAIL FROM:<a@xn--bcher-kva.example> BODY=8BITMIME RET=HDRS ENVID=id+2B1+20x REQUIRETLS X-PRIORITY=5\r\n" +
		"RCPT TO:<b@xn--mller-kva.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+3Db@y.example X-TAG=t\r\n"
	if w := fs.bytes(); !strings.Contains(w, wantLow) {
		t.Errorf("wire %q\nwant %q", w, wantLow)
	}
}

// TestSizeDeclared: the SIZE declared is the message's length, for a
// reader that tells its length with Len (strings.Reader) or with Size
// (io.SectionReader, as Deliverer uses).
func TestSizeDeclared(t *testing.T) {
	msg := strings.Repeat(strings.Repeat("y", 98)+"\r\n", 1000) // 100000 octets, over a chunk
	for _, tc := range []struct {
		name string
		r    func() io.Reader
	}{
		{"Len", func() io.Reader { return strings.NewReader(msg) }},
		{"Size", func() io.Reader { return io.NewSectionReader(strings.NewReader(msg), 0, int64(len(msg))) }},
	} {
		fs := newFakeServer(t, "PIPELINING", "SIZE 100000")
		c := dialT(t, fs.start(), &Options{ChunkSize: 4096})
		if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), tc.r()); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(fs.bytes(), "MAIL FROM:<a@x.example> SIZE=100000\r\n") {
			t.Errorf("%s: wire %q", tc.name, fs.bytes()[:200])
		}
	}
}
