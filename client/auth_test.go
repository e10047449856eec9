package client

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/internal/sasl"
	"github.com/smtpkit/smtp/reply"
)

// TestAuthAutoChoice: AuthAuto picks the strongest mechanism both sides
// know, and never one the credentials cannot serve. The server refuses
// every attempt: only the choice is checked here.
func TestAuthAutoChoice(t *testing.T) {
	pw := Credentials{Username: "u", Password: "pw"}
	tok := Credentials{Username: "u", Token: "tok"}
	tests := []struct {
		offer string
		cr    Credentials
		want  string // mechanism chosen; "" none
	}{
		{"PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256", pw, "SCRAM-SHA-256"},
		{"LOGIN PLAIN CRAM-MD5", pw, "CRAM-MD5"},
		{"LOGIN PLAIN", pw, "PLAIN"},
		{"LOGIN", pw, "LOGIN"},
		{"XOAUTH2 PLAIN", tok, "XOAUTH2"},
		{"XOAUTH2 OAUTHBEARER", tok, "OAUTHBEARER"},
		{"XOAUTH2 OAUTHBEARER", pw, ""},
		{"PLAIN SCRAM-SHA-256", tok, ""},
		{"GSSAPI NTLM", pw, ""},
	}
	for _, tc := range tests {
		t.Run(tc.offer+"/"+tc.want, func(t *testing.T) {
			fs := newFakeServer(t, "AUTH "+tc.offer)
			fs.onCommand = func(fc *fakeConn, line string) bool {
				if strings.HasPrefix(line, "AUTH ") {
					fc.send("535 5.7.8 no")
					return true
				}
				return false
			}
			c := dialT(t, fs.start(), nil)
			err := c.AuthAuto(testCtx(t), tc.cr)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v", err)
			}
			if tc.want == "" {
				var xe *ExtensionError
				if !e.Local || e.Code != reply.CodeAuthTooWeak || !errors.As(err, &xe) || strings.Contains(fs.bytes(), "AUTH") {
					t.Errorf("err = %v, wire %q", err, fs.bytes())
				}
				return
			}
			if e.Local || e.Code != 535 || !strings.Contains(fs.bytes(), "\r\nAUTH "+tc.want) {
				t.Errorf("err = %v, wire %q", err, fs.bytes())
			}
		})
	}
}

// authServer is a fakeServer whose AUTH handler runs f with the AUTH line.
func authServer(t *testing.T, offer string, f func(fc *fakeConn, line string)) *fakeServer {
	fs := newFakeServer(t, "AUTH "+offer)
	fs.onCommand = func(fc *fakeConn, line string) bool {
		if !strings.HasPrefix(line, "AUTH ") {
			return false
		}
		f(fc, line)
		return true
	}
	return fs
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuthXOAuth2(t *testing.T) {
	// A token too long for the AUTH line waits for the server's empty
	// challenge (RFC 4954 4).
	for _, token := range []string{"short-token", strings.Repeat("t", 600)} {
		want := "user=u\x01auth=Bearer " + token + "\x01\x01"
		var got []string
		fs := authServer(t, "XOAUTH2", func(fc *fakeConn, line string) {
			got = append(got, line)
			if line == "AUTH XOAUTH2" {
				fc.send("334 ")
				l, _ := fc.readLine()
				got = append(got, l)
				line = "AUTH XOAUTH2 " + l
			}
			if line == "AUTH XOAUTH2 "+b64(want) {
				fc.send("235 2.7.0 OK")
			} else {
				fc.send("535 5.7.8 bad")
			}
		})
		c := dialT(t, fs.start(), nil)
		if err := c.Auth(testCtx(t), XOAuth2Auth("u", token)); err != nil {
			t.Fatalf("len %d: %v (%q)", len(token), err, got)
		}
		if long := len(token) > 100; long != (len(got) == 2) {
			t.Errorf("len %d: lines %q", len(token), got)
		}
		for _, l := range got {
			if len(l)+2 > 512 && strings.HasPrefix(l, "AUTH") {
				t.Errorf("AUTH line of %d octets", len(l)+2)
			}
		}
	}
}

// TestAuthCancel: a challenge the mechanism cannot answer cancels the
// exchange with "*" (RFC 4954 4), and the session stays usable.
func TestAuthCancel(t *testing.T) {
	fs := authServer(t, "CRAM-MD5", func(fc *fakeConn, line string) {
		fc.send("334 this is not base64!")
		if l, _ := fc.readLine(); l == "*" {
			fc.send("501 5.7.0 cancelled")
		} else {
			fc.send("535 5.7.8 expected a cancellation")
		}
	})
	c := dialT(t, fs.start(), nil)
	err := c.Auth(testCtx(t), CramMD5Auth("u", "pw"))
	var e *Error
	if !errors.As(err, &e) || !e.Local {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(fs.bytes(), "AUTH CRAM-MD5\r\n*\r\n") {
		t.Errorf("wire %q", fs.bytes())
	}
	if err := c.Noop(testCtx(t)); err != nil {
		t.Errorf("session unusable after a cancelled AUTH: %v", err)
	}
}

type badMechanism struct{ name string }

func (m badMechanism) Name() string                  { return m.name }
func (m badMechanism) Start() ([]byte, error)        { return nil, nil }
func (m badMechanism) Next(b []byte) ([]byte, error) { return nil, nil }

// TestAuthArguments: a mechanism name that could inject a command is
// refused before the wire.
func TestAuthArguments(t *testing.T) {
	fs := newFakeServer(t, "AUTH PLAIN")
	c := dialT(t, fs.start(), nil)
	for _, name := range []string{"PLAIN\r\nQUIT", "", "plain", strings.Repeat("X", 21)} {
		var e *Error
		if err := c.Auth(testCtx(t), badMechanism{name}); !errors.As(err, &e) || !e.Local {
			t.Errorf("%q: err = %v", name, err)
		}
	}
	if got := fs.bytes(); got != "EHLO client.example\r\n" {
		t.Errorf("sent %q", got)
	}
}

// pipeServer runs f as the server of a net.Pipe: a connection that is
// neither TLS nor loopback TCP.
func pipeServer(t *testing.T, f func(r *bufio.Reader, w net.Conn)) net.Conn {
	cs, ss := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ss.Close()
		f(bufio.NewReader(ss), ss)
	}()
	t.Cleanup(func() { cs.Close(); <-done })
	return cs
}

// clearTextRefused checks that over a connection that is neither TLS nor
// loopback TCP (a net.Pipe given to NewClient), a server offering offer
// gets none of mechs and AuthAuto with cr refuses, unless InsecureAuth is
// set.
func clearTextRefused(t *testing.T, offer string, cr Credentials, mechs ...Mechanism) {
	t.Helper()
	for _, insecure := range []bool{false, true} {
		var mu sync.Mutex
		var lines []string
		conn := pipeServer(t, func(r *bufio.Reader, w net.Conn) {
			w.Write([]byte("220 pipe\r\n"))
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				mu.Lock()
				lines = append(lines, strings.TrimSpace(l))
				mu.Unlock()
				switch {
				case strings.HasPrefix(l, "EHLO"):
					w.Write([]byte("250-pipe\r\n250 AUTH " + offer + "\r\n"))
				case strings.HasPrefix(l, "AUTH"):
					w.Write([]byte("235 2.7.0 OK\r\n"))
				default:
					w.Write([]byte("250 OK\r\n"))
				}
			}
		})
		ctx := testCtx(t)
		c, err := NewClient(ctx, conn, "pipe", &Options{LocalName: "client.example", InsecureAuth: insecure})
		if err != nil {
			t.Fatal(err)
		}
		err = c.AuthAuto(ctx, cr)
		if insecure {
			if err != nil {
				t.Errorf("InsecureAuth: %v", err)
			}
			c.Close()
			continue
		}
		var e *Error
		if !errors.As(err, &e) || !e.Local || e.Code != reply.CodeAuthTooWeak {
			t.Errorf("AuthAuto: %v", err)
		}
		for _, m := range mechs {
			if err := c.Auth(ctx, m); !errors.As(err, &e) || !e.Local || e.Code != reply.CodeEncryptionRequired {
				t.Errorf("Auth %s: %v", m.Name(), err)
			}
		}
		c.Close()
		mu.Lock()
		for _, l := range lines {
			if strings.HasPrefix(l, "AUTH") {
				t.Errorf("sent %q in clear", l)
			}
		}
		mu.Unlock()
	}
}

// TestAuthClearText: without TLS, to a server that is not on a loopback
// address, PLAIN and LOGIN are refused unless InsecureAuth is set.
func TestAuthClearText(t *testing.T) {
	clearTextRefused(t, "PLAIN LOGIN", Credentials{Username: "u", Password: "pw"}, PlainAuth("", "u", "pw"), LoginAuth("u", "pw"))
}

// TestHelloArguments: an EHLO name that could inject a command is refused
// before the wire.
func TestHelloArguments(t *testing.T) {
	fs := newFakeServer(t)
	addr := fs.start()
	ctx := testCtx(t)
	for _, tc := range []struct{ arg, local string }{
		{"x\r\nMAIL FROM:<a@b.example>", ""},
		{"two words", ""},
		{"", "bad\nname"},
	} {
		c, err := Dial(ctx, addr, &Options{LocalName: tc.local})
		if err != nil {
			t.Fatal(err)
		}
		var e *Error
		if err := c.Hello(ctx, tc.arg); !errors.As(err, &e) || !e.Local || e.Command != "EHLO" || !e.Temporary() {
			t.Errorf("%q/%q: err = %v", tc.arg, tc.local, err)
		}
		c.Close()
	}
	time.Sleep(20 * time.Millisecond)
	if got := fs.bytes(); got != "" {
		t.Errorf("sent %q", got)
	}
}

// TestCancelCallbackLate: the AfterFunc callback of a cancelled context
// may run after the call that armed it returned; it must not abort the
// next call, made with another context.
func TestCancelCallbackLate(t *testing.T) {
	fs := newFakeServer(t)
	c := dialT(t, fs.start(), nil)
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		w := c.watch(ctx)
		cancel() // the callback starts in its own goroutine
		c.unwatch(w)
		if err := c.Noop(testCtx(t)); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}

// saslServer returns the server half of mech that accepts user "u" with
// password "pw" or token "tok".
func saslServer(t *testing.T, mech string) sasl.Server {
	pw := func(_ context.Context, user, pass string) error {
		if user == "u" && pass == "pw" {
			return nil
		}
		return sasl.ErrAuthFailed
	}
	tok := func(_ context.Context, user, token string) error {
		if user == "u" && token == "tok" {
			return nil
		}
		return sasl.ErrAuthFailed
	}
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(ctx context.Context, id, user, pass string) error { return pw(ctx, user, pass) })
	case "LOGIN":
		return sasl.NewLoginServer(pw)
	case "CRAM-MD5":
		return sasl.NewCramMD5Server("mx.example", func(_ context.Context, user string) (string, error) {
			if user != "u" {
				return "", sasl.ErrAuthFailed
			}
			return "pw", nil
		})
	case "SCRAM-SHA-256":
		return sasl.NewScramSHA256Server(func(_ context.Context, user string) (sasl.Credentials, error) {
			if user != "u" {
				return sasl.Credentials{}, sasl.ErrAuthFailed
			}
			return sasl.NewScramCredentials("pw", []byte("0123456789abcdef"), 4096)
		})
	case "XOAUTH2":
		return sasl.NewXOAuth2Server(tok)
	case "OAUTHBEARER":
		return sasl.NewOAuthBearerServer(tok)
	}
	t.Fatalf("no server for %s", mech)
	return nil
}

// serveAuth plays the server side of AUTH (RFC 4954 4) with the real
// mechanism, so that a wrong response from the client fails.
func serveAuth(t *testing.T, fc *fakeConn, line string) {
	f := strings.Fields(line)
	srv := saslServer(t, strings.ToUpper(f[1]))
	var resp []byte
	if len(f) > 2 {
		resp = []byte{}
		if f[2] != "=" {
			var err error
			if resp, err = base64.StdEncoding.DecodeString(f[2]); err != nil {
				fc.send("501 5.5.2 bad base64")
				return
			}
		}
	}
	for {
		ch, done, err := srv.Next(context.Background(), resp)
		if done {
			if err != nil {
				fc.send("535 5.7.8 authentication failed")
			} else {
				fc.send("235 2.7.0 OK")
			}
			return
		}
		fc.send("334 " + base64.StdEncoding.EncodeToString(ch))
		l, _ := fc.readLine()
		if l == "*" {
			fc.send("501 5.7.0 cancelled")
			return
		}
		if resp, err = base64.StdEncoding.DecodeString(l); err != nil {
			fc.send("501 5.5.2 bad base64")
			return
		}
	}
}

// TestAuthMechanisms runs every mechanism against its server half: the
// right credentials get 235, wrong ones 535, through Auth and AuthAuto.
func TestAuthMechanisms(t *testing.T) {
	tests := []struct {
		mech      string
		good, bad Mechanism
		cr        Credentials
	}{
		{"PLAIN", PlainAuth("", "u", "pw"), PlainAuth("", "u", "nope"), Credentials{Username: "u", Password: "pw"}},
		{"LOGIN", LoginAuth("u", "pw"), LoginAuth("u", "nope"), Credentials{Username: "u", Password: "pw"}},
		{"CRAM-MD5", CramMD5Auth("u", "pw"), CramMD5Auth("u", "nope"), Credentials{Username: "u", Password: "pw"}},
		{"SCRAM-SHA-256", ScramSHA256Auth("u", "pw"), ScramSHA256Auth("u", "nope"), Credentials{Username: "u", Password: "pw"}},
		{"XOAUTH2", XOAuth2Auth("u", "tok"), XOAuth2Auth("u", "nope"), Credentials{Username: "u", Token: "tok"}},
		{"OAUTHBEARER", OAuthBearerAuth("u", "mx.example", 25, "tok"), OAuthBearerAuth("u", "mx.example", 25, "nope"), Credentials{Username: "u", Token: "tok"}},
	}
	for _, tc := range tests {
		t.Run(tc.mech, func(t *testing.T) {
			fs := authServer(t, tc.mech, func(fc *fakeConn, line string) { serveAuth(t, fc, line) })
			addr := fs.start()
			c := dialT(t, addr, nil)
			var e *Error
			if err := c.Auth(testCtx(t), tc.bad); !errors.As(err, &e) || e.Code != 535 {
				t.Fatalf("wrong credentials: %v", err)
			}
			if err := c.Auth(testCtx(t), tc.good); err != nil {
				t.Fatalf("Auth: %v", err)
			}
			c = dialT(t, addr, nil)
			if err := c.AuthAuto(testCtx(t), tc.cr); err != nil {
				t.Fatalf("AuthAuto: %v", err)
			}
		})
	}
}
