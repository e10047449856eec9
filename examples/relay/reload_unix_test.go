//go:build unix

package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// waitLog waits until the relay's log holds n lines with want.
func (w *world) waitLog(want string, n int) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(w.relay.Stderr.String(), want) < n {
		if time.Now().After(deadline) {
			w.t.Fatalf("log never showed %q %d times:\n%s", want, n, w.relay.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRelayReloadOnHangup: SIGHUP re-reads -auth-file and -senders; a
// file that has become unreadable (or insecure) leaves the previous rules
// in force.
func TestRelayReloadOnHangup(t *testing.T) {
	w := newWorld(t)
	write := func(name, data string, mode os.FileMode) { e2e.WriteFile(t, w.dir, name, data, mode) }
	write("senders", "alice: a@x.test\n", 0o600)
	w.startRelayUsers("-senders", filepath.Join(w.dir, "senders"))
	hangup := func(n int, want string) {
		if err := w.relay.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		w.waitLog(want, n)
	}

	c := w.session("alice", "alice-pw")
	mail(t, c, "other@x.test", "553 5.7.1 ")

	write("senders", "alice: a@x.test @x.test\n", 0o600)
	write("users", "alice:new-pw\n", 0o600)
	hangup(1, "msg=reloaded")
	c = w.session("alice", "new-pw")
	mail(t, c, "other@x.test", "250 ")

	// An insecure -auth-file: refused, the previous rules stay.
	write("users", "alice:third-pw\n", 0o644)
	write("senders", "alice: a@x.test\n", 0o600)
	hangup(1, "reload failed")
	c = w.session("alice", "new-pw")
	mail(t, c, "other@x.test", "250 ")
	if strings.Count(w.relay.Stderr.String(), "msg=reloaded") != 1 {
		t.Error("reloaded despite the insecure file")
	}
}

// TestRelayDKIMReload: SIGHUP re-reads the -dkim key files (a key
// replaced at the same path signs from then on); a key file that has
// become readable by others is refused and the previous key signs on.
func TestRelayDKIMReload(t *testing.T) {
	w := newWorld(t)
	keys := make([]ed25519.PrivateKey, 3)
	for i := range keys {
		_, keys[i], _ = ed25519.GenerateKey(rand.Reader)
	}
	file := e2e.WriteKey(t, w.dir, "x.pem", keys[0], false, 0o600)
	w.startSink(w.yAddr, w.yMaildir)
	w.startRelay("-dkim", "x.test:s:"+file)
	send := func(n int, subject string) []byte {
		w.submit([]byte("From: a@x.test\r\nSubject: "+subject+"\r\n\r\nHello\r\n"), "a@x.test", "b@y.test")
		files := e2e.Maildir(t, w.yMaildir, n, 15*time.Second)
		return storedBySubject(t, files)[subject].Body
	}
	hangup := func(want string) {
		t.Helper()
		if err := w.relay.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		w.waitLog(want, 1)
	}
	signedWith := func(body []byte, key ed25519.PrivateKey) {
		t.Helper()
		if sigs := e2e.ResignDKIM(t, body, map[string]crypto.Signer{"s": key}); len(sigs) != 1 {
			t.Errorf("%d signatures", len(sigs))
		}
	}
	signedWith(send(1, "first"), keys[0])

	e2e.WriteKey(t, w.dir, "x.pem", keys[1], false, 0o600)
	hangup("msg=reloaded")
	if !strings.Contains(w.relay.Stderr.String(), "dkim_keys=1") {
		t.Errorf("reload line without the keys:\n%s", w.relay.Stderr.String())
	}
	signedWith(send(2, "second"), keys[1])

	e2e.WriteKey(t, w.dir, "x.pem", keys[2], false, 0o644)
	hangup("reload failed")
	signedWith(send(3, "third"), keys[1])
}
