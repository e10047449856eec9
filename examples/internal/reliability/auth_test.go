package reliability

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// The account of the authentication tests, and wrong passwords tried
// against it: none of them may ever appear in mailsink's output.
const (
	authUser = "alice"
	authPass = "Corr3ct-H0rse-pw"
)

var wrongPasswords = []string{"wr0ng-Guess-one", "wr0ng-Guess-two", "wr0ng-Guess-three", "wr0ng-Guess-four"}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// authAttempt runs one AUTH exchange with mechanism mech and returns the
// final reply code and text.
func authAttempt(c *smtpConn, mech, user, pass string) (int, string, error) {
	switch mech {
	case "PLAIN":
		return c.cmd("AUTH PLAIN " + b64("\x00"+user+"\x00"+pass))
	case "LOGIN":
		for _, line := range []string{"AUTH LOGIN", b64(user)} {
			if code, text, err := c.cmd(line); err != nil || code != 334 {
				return code, text, err
			}
		}
		return c.cmd(b64(pass))
	case "CRAM-MD5":
		code, text, err := c.cmd("AUTH CRAM-MD5")
		if err != nil || code != 334 {
			return code, text, err
		}
		challenge, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return 0, "", err
		}
		h := hmac.New(md5.New, []byte(pass))
		h.Write(challenge)
		return c.cmd(b64(user + " " + hex.EncodeToString(h.Sum(nil))))
	}
	return 0, "", errors.New("no mechanism " + mech)
}

// TestAuthFailures tries wrong passwords with each mechanism: every
// failure gets 535 5.7.8 after a delay, the connection gets 421 and is
// closed at the limit (3), the right password still works on a new
// connection, and no password (right or wrong, in clear or base64) ever
// appears in mailsink's output, though it traces the protocol (-v).
func TestAuthFailures(t *testing.T) {
	s := startSink(t, "-v", "-auth", authUser+":"+authPass)
	const limit = 3 // server.DefaultMaxAuthFailures
	const delay = time.Second

	var wg sync.WaitGroup
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		wg.Go(func() {
			c, err := dial(s.Addr, "")
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := c.ehlo("guess.test"); err != nil {
				t.Error(err)
				return
			}
			if !c.has("AUTH") || !strings.Contains(c.ext, mech) {
				t.Errorf("AUTH %s not offered: %q", mech, c.ext)
				return
			}
			for i := range limit {
				start := time.Now()
				code, text, err := authAttempt(c, mech, authUser, wrongPasswords[i])
				took := time.Since(start)
				if err != nil || code != 535 || !strings.HasPrefix(text, "5.7.8") {
					t.Errorf("%s, wrong password %d: %d %q %v, want 535 5.7.8", mech, i+1, code, text, err)
					return
				}
				if i < limit-1 && took < delay*9/10 {
					t.Errorf("%s, wrong password %d answered after %v, want a delay of %v", mech, i+1, took, delay)
				}
				t.Logf("%s: wrong password %d answered 535 after %v", mech, i+1, took.Round(time.Millisecond))
			}
			// At the limit: 421 and the end of the connection.
			code, text, err := c.readReply()
			if err != nil || code != 421 {
				t.Errorf("%s: after %d failures: %d %q %v, want 421", mech, limit, code, text, err)
			}
			c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := io.Copy(io.Discard, c.nc); err != nil && !isReset(err) {
				t.Errorf("%s: connection not closed after 421 (%d bytes more): %v", mech, n, err)
			}
		})
	}
	wg.Wait()

	// The right password, on a new connection, with each mechanism.
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		c, err := dial(s.Addr, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ehlo("right.test"); err != nil {
			t.Fatal(err)
		}
		// Before AUTH, MAIL is refused (RFC 4954 6: 530 5.7.0).
		if code, text, err := c.cmd("MAIL FROM:<a@rel.test>"); err != nil || code != 530 {
			t.Errorf("MAIL before AUTH: %d %q %v, want 530", code, text, err)
		}
		if code, text, err := authAttempt(c, mech, authUser, authPass); err != nil || code != 235 {
			t.Errorf("%s with the right password: %d %q %v", mech, code, text, err)
		}
		if code, err := c.send("<a@rel.test>", []string{"b@rel.test"}, message("auth-"+mech+"@rel.test", 7, 500, false)); err != nil || code != 250 {
			t.Errorf("%s: message after AUTH: %d %v", mech, code, err)
		}
		c.expect("QUIT", 221)
		c.Close()
	}
	if err := s.Stop(); err != nil {
		t.Errorf("mailsink exit: %v", err)
	}
	out := s.Stdout.String() + s.Stderr.String()
	// The trace shows the exchanges, with their secrets replaced.
	if strings.Count(out, "[redacted]") < 3*limit {
		t.Errorf("the trace (-v) shows %d redacted AUTH lines, want at least %d; the check below would prove little:\n%s",
			strings.Count(out, "[redacted]"), 3*limit, out)
	}
	for _, secret := range append([]string{authPass}, wrongPasswords...) {
		for _, form := range []string{secret, b64(secret), b64("\x00" + authUser + "\x00" + secret)} {
			if strings.Contains(out, form) {
				t.Errorf("mailsink's output holds a password (%q)", form)
			}
		}
	}
	t.Logf("auth: %d failures then 421 per connection, each answered after %v; %d bytes of log and trace hold no password", limit, delay, len(out))
}

// TestAuthBeforeTLS checks that with a certificate AUTH is neither
// offered nor accepted before STARTTLS (RFC 4954 4), and is after.
func TestAuthBeforeTLS(t *testing.T) {
	cert, key := e2e.WriteCert(t, t.TempDir())
	s := startSink(t, "-quiet", "-tls-cert", cert, "-tls-key", key, "-auth", authUser+":"+authPass)
	c, err := dial(s.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.ehlo("clear.test"); err != nil {
		t.Fatal(err)
	}
	if c.has("AUTH") || !c.has("STARTTLS") {
		t.Errorf("before TLS: EHLO offers %q; want STARTTLS and no AUTH", c.ext)
	}
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		code, text, err := authAttempt(c, mech, authUser, authPass)
		if err != nil || code/100 != 5 {
			t.Errorf("AUTH %s in clear text: %d %q %v, want a 5xx refusal", mech, code, text, err)
		}
		if code == 334 {
			c.cmd("*") // leave the exchange
		}
	}
	if code, text, err := c.cmd("MAIL FROM:<a@rel.test>"); err != nil || code != 530 {
		t.Errorf("MAIL before AUTH: %d %q %v, want 530", code, text, err)
	}
	if err := c.startTLS(); err != nil {
		t.Fatal(err)
	}
	if err := c.ehlo("tls.test"); err != nil {
		t.Fatal(err)
	}
	if !c.has("AUTH") {
		t.Errorf("under TLS: EHLO does not offer AUTH: %q", c.ext)
	}
	if code, text, err := authAttempt(c, "PLAIN", authUser, authPass); err != nil || code != 235 {
		t.Errorf("AUTH PLAIN under TLS: %d %q %v", code, text, err)
	}
}

// TestRelayNoOpenRelay checks the relay example: without authentication,
// or with a wrong password, nothing is accepted for relaying (530 before
// MAIL, RFC 4954 6) and nothing reaches the queue; with the right
// password the same message is queued, which shows the check can fail.
func TestRelayNoOpenRelay(t *testing.T) {
	dir := t.TempDir()
	queue := filepath.Join(dir, "queue")
	addr := e2e.FreeAddr(t)
	p := e2e.Start(t, dir, relayBin, "-listen", addr, "-auth", authUser+":"+authPass, "-queue", queue,
		"-route", "*=127.0.0.1:9", "-retry", "1h")
	p.WaitListen(addr, 10*time.Second)
	const marker = "open-relay-probe"
	body := []byte("Subject: " + marker + "\r\n\r\nrelay me\r\n")
	queued := func() int {
		n := 0
		filepath.WalkDir(queue, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(marker)) {
					n++
				}
			}
			return nil
		})
		return n
	}
	try := func(pass string) (int, error) {
		c, err := dial(addr, "")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		if err := c.ehlo("outsider.test"); err != nil {
			return 0, err
		}
		if pass != "" {
			code, text, err := authAttempt(c, "PLAIN", authUser, pass)
			if err != nil {
				return 0, err
			}
			if code != 235 {
				t.Logf("AUTH with a wrong password: %d %s", code, text)
			}
		}
		// The whole transaction pipelined, as a spammer would send it.
		if err := c.write("MAIL FROM:<spam@outside.test>\r\nRCPT TO:<victim@elsewhere.test>\r\nDATA\r\n"); err != nil {
			return 0, err
		}
		codes := make([]int, 3)
		for i := range codes {
			if codes[i], _, err = c.readReply(); err != nil {
				return 0, err
			}
		}
		if codes[2] != 354 {
			return codes[0], nil
		}
		c.write(string(dotStuff(nil, body)))
		code, _, err := c.readReply()
		return code, err
	}
	for _, pass := range []string{"", wrongPasswords[0]} {
		code, err := try(pass)
		if err != nil {
			t.Fatal(err)
		}
		if code != 530 {
			t.Errorf("MAIL without authentication (password %q): %d, want 530", pass, code)
		}
	}
	if n := queued(); n != 0 {
		t.Errorf("%d queue files hold the message sent without authentication", n)
	}
	if code, err := try(authPass); err != nil || code != 250 {
		t.Fatalf("with the right password: %d %v, want 250", code, err)
	}
	if !waitFor(5*time.Second, func() bool { return queued() > 0 }) {
		t.Errorf("the authenticated message is not in the queue: the check above proves nothing")
	}
}
