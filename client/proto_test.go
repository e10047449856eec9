package client

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
)

func TestParseExtensions(t *testing.T) {
	lines := []string{"mx.example greets you", "PIPELINING", "size 35882577", "8BITMIME", "AUTH PLAIN login CRAM-MD5",
		"AUTH=LOGIN XOAUTH2", "STARTTLS", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING", "BINARYMIME", "DSN", "REQUIRETLS", "X-FOO bar baz", ""}
	x := parseExtensions(lines)
	if !x.Pipelining || !x.EightBitMIME || !x.StartTLS || !x.EnhancedStatusCodes || !x.SMTPUTF8 || !x.Chunking || !x.BinaryMIME || !x.DSN || !x.RequireTLS {
		t.Errorf("flags: %+v", x)
	}
	if !x.HasSize || x.Size != 35882577 {
		t.Errorf("size %v %d", x.HasSize, x.Size)
	}
	if strings.Join(x.Auth, " ") != "PLAIN LOGIN CRAM-MD5 XOAUTH2" {
		t.Errorf("auth %q", x.Auth)
	}
	if p, ok := x.Param("x-foo"); !ok || p != "bar baz" {
		t.Errorf("param %q %v", p, ok)
	}
	if x.Has("VRFY") {
		t.Errorf("VRFY announced")
	}
	for _, tc := range []struct {
		line    string
		has     bool
		size    int64
		hasAuth bool
	}{
		{"SIZE", true, 0, false},
		{"SIZE 0", true, 0, false},
		{"SIZE -5", true, 0, false},
		{"SIZE 99999999999999999999999", true, 0, false},
		{"AUTH", false, 0, false},
	} {
		x := parseExtensions([]string{"hi", tc.line})
		if x.HasSize != tc.has || x.Size != tc.size {
			t.Errorf("%q: %+v", tc.line, x)
		}
	}
	if x := parseExtensions([]string{"only greeting"}); x.List != nil || x.Pipelining {
		t.Errorf("greeting only: %+v", x)
	}
}

// FuzzParseExtensions: any EHLO reply text parses without panic, and every
// announced keyword is found by Has.
func FuzzParseExtensions(f *testing.F) {
	f.Add("mx\nPIPELINING\nSIZE 100\nAUTH PLAIN LOGIN")
	f.Add("mx\nAUTH=LOGIN\nsize\n\n \n8bitmime")
	f.Add("x\nSIZE 18446744073709551616\nAUTH= \n=")
	f.Fuzz(func(t *testing.T, s string) {
		x := parseExtensions(strings.Split(s, "\n"))
		for _, e := range x.List {
			if !x.Has(e.Keyword) {
				t.Fatalf("Has(%q) false", e.Keyword)
			}
		}
		if x.Size < 0 {
			t.Fatalf("negative size %d", x.Size)
		}
	})
}

func TestHeloFallback(t *testing.T) {
	fs := newFakeServer(t)
	fs.onCommand = func(fc *fakeConn, line string) bool {
		if strings.HasPrefix(line, "EHLO") {
			fc.send("502 5.5.1 what")
			return true
		}
		return false
	}
	c := dialT(t, fs.start(), nil)
	if x := c.Extensions(); x.List != nil || x.Pipelining {
		t.Errorf("extensions after HELO: %+v", x)
	}
	if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("hi\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := fs.bytes(); !strings.HasPrefix(got, "EHLO client.example\r\nHELO client.example\r\nMAIL FROM:<a@x.example>\r\n") {
		t.Errorf("wire %q", got)
	}
}

func TestGreetingRefused(t *testing.T) {
	addr, done := smtptest.ServeScript(t, "S: 554 5.7.1 no service for you\nC: QUIT\n")
	_, err := Dial(testCtx(t), addr, nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != 554 || e.Command != "greeting" || !e.Permanent() || e.Text != "no service for you" {
		t.Fatalf("err = %v", err)
	}
	<-done
}

// TestLowLevel drives the single-command methods through a transcript.
func TestLowLevel(t *testing.T) {
	script := `S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-DSN
S: 250 8BITMIME
C: NOOP
S: 250 2.0.0 OK
C: VRFY postmaster
S: 252 2.1.5 will try
C: MAIL FROM:<> BODY=8BITMIME RET=HDRS
S: 250 2.1.0 OK
C: RCPT TO:<b@y.example> NOTIFY=FAILURE
S: 251 2.1.5 will forward
C: DATA
S: 354 go on
C: ..dot
C: line
C: .
S: 250 2.0.0 queued as X1
C: MAIL FROM:<a@x.example>
S: 250 OK
C: RSET
S: 250 OK
C: QUIT
S: 221 bye
`
	addr, done := smtptest.ServeScript(t, script)
	ctx := testCtx(t)
	c := dialT(t, addr, nil)
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := c.Verify(ctx, "postmaster")
	if err != nil || r.Code != reply.CodeCannotVerify {
		t.Fatalf("Verify: %v %v", r, err)
	}
	// Out of order: refused before the wire.
	err = c.Rcpt(ctx, path("b@y.example"), nil)
	var e *Error
	if !errors.As(err, &e) || !e.Local || e.Code != reply.CodeBadSequence || !errors.Is(err, ErrBadSequence) {
		t.Fatalf("Rcpt before Mail: %v", err)
	}
	if _, err := c.Data(ctx); !errors.Is(err, ErrBadSequence) {
		t.Fatalf("Data before Mail: %v", err)
	}
	if err := c.Mail(ctx, envelope.Path{Null: true}, &envelope.MailParams{Body: envelope.Body8BitMIME, Ret: envelope.RetHdrs}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(ctx, path("b@y.example"), &envelope.RcptParams{Notify: envelope.NotifyFailure}); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(".dot\nline")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Reply().Text() != "queued as X1" {
		t.Errorf("reply %v", w.Reply())
	}
	if err := c.Mail(ctx, path("a@x.example"), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestMailDataRefused(t *testing.T) {
	for _, ext := range [][]string{nil, {"PIPELINING"}, {"PIPELINING", "CHUNKING"}} {
		t.Run(strings.Join(ext, "+"), func(t *testing.T) {
			fs := newFakeServer(t, ext...)
			fs.onCommand = func(fc *fakeConn, line string) bool {
				if strings.HasPrefix(line, "MAIL FROM:<spam@") {
					fc.send("550 5.7.1 go away")
					return true
				}
				return false
			}
			fs.dataReply = "554 5.6.0 bad content"
			c := dialT(t, fs.start(), nil)
			res, err := c.Send(testCtx(t), env("spam@x.example", "b@y.example", "c@y.example"), strings.NewReader("x\r\n"))
			var e *Error
			if !errors.As(err, &e) || e.Command != "MAIL" || e.Code != 550 {
				t.Fatalf("err = %v", err)
			}
			for _, r := range res.Recipients {
				if !errors.Is(r.Err, e) {
					t.Errorf("recipient %v: %v", r.Path, r.Err)
				}
			}
			res, err = c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("x\r\n"))
			if !errors.As(err, &e) || e.Code != 554 || e.Enhanced != reply.Enh(5, 6, 0) || (e.Command != "DATA" && e.Command != "BDAT") {
				t.Fatalf("err = %v", err)
			}
			if res.Code != 0 && res.Code != 554 {
				t.Errorf("result code %d", res.Code)
			}
		})
	}
}

func TestLMTP(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING"}, {"PIPELINING", "CHUNKING"}, nil} {
		t.Run(strings.Join(ext, "+"), func(t *testing.T) {
			fs := newFakeServer(t, ext...)
			fs.lmtp = true
			fs.rcptReply = map[string]string{"nobody@y.example": "550 5.1.1 unknown"}
			fs.lmtpReplies = []string{"250 2.0.0 <a> delivered", "452 4.2.2 mailbox full", "250 2.0.0 <c> delivered"}
			c := dialT(t, fs.start(), &Options{LMTP: true})
			res, err := c.Send(testCtx(t), env("s@x.example", "a@y.example", "nobody@y.example", "b@y.example", "c@y.example"), strings.NewReader("x\r\n"))
			var re *RecipientsError
			if !errors.As(err, &re) || re.Accepted != 2 || len(re.Failed) != 2 {
				t.Fatalf("err = %v", err)
			}
			want := []reply.Code{250, 550, 452, 250}
			for i, r := range res.Recipients {
				if r.Code != want[i] || (r.Err == nil) != (want[i] == 250) {
					t.Errorf("recipient %d: %d %v", i, r.Code, r.Err)
				}
			}
			if !isTemporary(res.Recipients[2].Err) || isTemporary(res.Recipients[1].Err) {
				t.Errorf("temporary: %v %v", res.Recipients[2].Err, res.Recipients[1].Err)
			}
			if !strings.HasPrefix(fs.bytes(), "LHLO client.example\r\n") {
				t.Errorf("wire %q", fs.bytes())
			}
		})
	}
	// Low level: Data's Close gives one result per accepted recipient.
	fs := newFakeServer(t)
	fs.lmtp = true
	fs.lmtpReplies = []string{"250 ok", "550 5.2.1 disabled"}
	c := dialT(t, fs.start(), &Options{LMTP: true})
	ctx := testCtx(t)
	if err := c.Mail(ctx, path("s@x.example"), nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"a@y.example", "b@y.example"} {
		if err := c.Rcpt(ctx, path(r), nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello\r\n"))
	err = w.Close()
	var re *RecipientsError
	if !errors.As(err, &re) || re.Accepted != 1 || len(w.Recipients()) != 2 || w.Recipients()[1].Code != 550 {
		t.Fatalf("Close: %v %+v", err, w.Recipients())
	}
}

// TestAuth checks the mechanisms against the server halves, AuthAuto's
// choice, and that the trace hides the credentials.
func TestAuth(t *testing.T) {
	tests := []struct {
		offer string
		want  string
		cr    Credentials
	}{
		{"PLAIN LOGIN CRAM-MD5", "AUTH CRAM-MD5", Credentials{Username: "u", Password: "secret-pw"}},
		{"PLAIN LOGIN", "AUTH PLAIN ", Credentials{Username: "u", Password: "secret-pw"}},
		{"LOGIN", "AUTH LOGIN", Credentials{Username: "u", Password: "secret-pw"}},
		{"PLAIN XOAUTH2 OAUTHBEARER", "AUTH OAUTHBEARER ", Credentials{Username: "u", Token: "secret-tok"}},
	}
	for _, tc := range tests {
		t.Run(tc.offer, func(t *testing.T) {
			fs := newFakeServer(t, "AUTH "+tc.offer)
			var authLine string
			fs.onCommand = func(fc *fakeConn, line string) bool {
				if !strings.HasPrefix(line, "AUTH ") {
					return false
				}
				authLine = line
				switch strings.Fields(line)[1] {
				case "CRAM-MD5":
					fc.send("334 " + base64.StdEncoding.EncodeToString([]byte("<1.2@mx>")))
					fc.readLine()
				case "LOGIN":
					for _, p := range []string{"Username:", "Password:"} {
						fc.send("334 " + base64.StdEncoding.EncodeToString([]byte(p)))
						fc.readLine()
					}
				}
				fc.send("235 2.7.0 OK")
				return true
			}
			var trace bytes.Buffer
			c := dialT(t, fs.start(), &Options{Trace: &trace})
			if err := c.AuthAuto(testCtx(t), tc.cr); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(authLine, tc.want) {
				t.Errorf("AUTH line %q, want prefix %q", authLine, tc.want)
			}
			if s := trace.String(); strings.Contains(s, "secret") || strings.Contains(s, base64.StdEncoding.EncodeToString([]byte("secret"))[:6]) ||
				!strings.Contains(s, "C: AUTH ") || !strings.Contains(s, "S: 235 2.7.0 OK\r\n") || !strings.Contains(s, "C: EHLO client.example\r\n") {
				t.Errorf("trace leaks or misses AUTH:\n%s", s)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		addr, done := smtptest.ServeScript(t, "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN\nC: AUTH PLAIN {*}\nS: 535 5.7.8 bad credentials\n")
		c := dialT(t, addr, nil)
		err := c.Auth(testCtx(t), PlainAuth("", "u", "p"))
		var e *Error
		if !errors.As(err, &e) || e.Code != 535 || e.Enhanced != reply.Enh(5, 7, 8) {
			t.Fatalf("err = %v", err)
		}
		<-done
	})
	t.Run("not offered", func(t *testing.T) {
		fs := newFakeServer(t)
		c := dialT(t, fs.start(), nil)
		var xe *ExtensionError
		if err := c.Auth(testCtx(t), PlainAuth("", "u", "p")); !errors.As(err, &xe) || xe.Extension != "AUTH" {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestServiceClosing: after a 421 (RFC 5321 3.8: the server closes the
// connection), the next call fails at once with that reply, transient,
// and sends nothing.
func TestServiceClosing(t *testing.T) {
	script := `S: 220 mx.example ESMTP
C: EHLO client.example
S: 250 mx.example
C: NOOP
S: 421 4.3.2 shutting down
`
	addr, done := smtptest.ServeScript(t, script)
	ctx := testCtx(t)
	c := dialT(t, addr, nil)
	err := c.Noop(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Code != 421 || !e.Temporary() {
		t.Fatalf("NOOP: err = %v", err)
	}
	<-done // the script ended: anything more written would be unexpected
	err = c.Noop(ctx)
	if !errors.As(err, &e) || e.Code != 421 || e.Command != "NOOP" {
		t.Fatalf("second NOOP: err = %v, want the sticky 421", err)
	}
	_, err = c.Send(ctx, env("a@x.example", "b@y.example"), strings.NewReader("x\r\n"))
	if !errors.As(err, &e) || e.Code != 421 {
		t.Fatalf("Send: err = %v, want the sticky 421", err)
	}
	if err := c.Quit(ctx); !errors.As(err, &e) || e.Code != 421 {
		t.Fatalf("Quit: err = %v", err)
	}
}
