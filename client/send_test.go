package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/envelope"
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
