package main

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// dkimKeys are an RSA (2048 bits) and an Ed25519 key for the tests.
func dkimKeys(t *testing.T) (*rsa.PrivateKey, ed25519.PrivateKey) {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, e, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return r, e
}

// publicRecords are the DNS TXT records of keys, by selector, for
// SELECTOR._domainkey.domain.
func publicRecords(t *testing.T, domain string, keys map[string]crypto.Signer) map[string]string {
	t.Helper()
	out := map[string]string{}
	for sel, k := range keys {
		rec, err := dkim.PublicKeyRecord(k)
		if err != nil {
			t.Fatal(err)
		}
		out[sel+"._domainkey."+domain] = rec
	}
	return out
}

// storedBySubject reads the messages mailsink stored in files, by the
// Subject of the message.
func storedBySubject(t *testing.T, files []string) map[string]e2e.Stored {
	t.Helper()
	out := map[string]e2e.Stored{}
	re := regexp.MustCompile(`(?m)^Subject: (.*)\r$`)
	for _, f := range files {
		s := e2e.ReadStored(t, f)
		m := re.FindSubmatch(s.Body)
		if m == nil {
			t.Fatalf("%s has no Subject:\n%s", f, s.Body)
		}
		out[string(m[1])] = s
	}
	return out
}

// checkSigned checks that a delivered message carries one DKIM-Signature
// per selector of want, d=domain, in the order of want, that each covers
// the message as delivered (signed again, ResignDKIM), and that dkimpy
// verifies each with the published key, and no longer once the body is
// changed.
func checkSigned(t *testing.T, body []byte, domain string, want []string, keys map[string]crypto.Signer) {
	t.Helper()
	sigs := e2e.ResignDKIM(t, body, keys)
	var got []string
	for _, s := range sigs {
		if s.Domain != domain {
			t.Errorf("d=%s, want %s", s.Domain, domain)
		}
		got = append(got, s.Selector+"/"+s.Algorithm)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("signatures %v, want %v:\n%s", got, want, body)
	}
	tampered := bytes.Replace(body, []byte("Hello"), []byte("Jello"), 1)
	res := e2e.VerifyDKIM(t, publicRecords(t, domain, keys), body, tampered)
	for i, r := range res[0] {
		if !r.Verified {
			t.Errorf("dkimpy does not verify signature %d (%s): %s\n%s", i, got[i], r.Error, body)
		}
	}
	for i, r := range res[1] {
		if r.Verified || len(res[1]) != len(got) {
			t.Errorf("dkimpy verifies signature %d of a changed body", i)
		}
	}
}

// TestRelayDKIM: the relay signs at intake, before its 250, each message
// whose From domain (or a parent of it) has -dkim keys, with every key of
// that domain (two selectors: a key rollover), rsa-sha256 and
// ed25519-sha256, relaxed/relaxed; a message from a domain without key
// goes unsigned, and the log says why. The signatures are in the queue:
// the relay is killed (SIGKILL) before the destination comes up and
// restarted without those keys, and the messages arrive signed, verified
// by dkimpy with the published records and signed again identically by
// the Go signer. The bounce the relay writes itself is signed with the
// key of its host name, which the restarted relay has.
func TestRelayDKIM(t *testing.T) {
	w := newWorld(t)
	rsaKey, edKey := dkimKeys(t)
	edFile := e2e.WriteKey(t, w.dir, "ed.pem", edKey, false, 0o600)
	rsaFile := e2e.WriteKey(t, w.dir, "rsa.pem", rsaKey, true, 0o400) // PKCS#1
	keys := map[string]crypto.Signer{"ed": edKey, "rsa": rsaKey}
	bounceKey := []string{"-dkim", "relay.test:bounces:" + edFile}
	w.startRelay(append([]string{"-dkim", "x.test:ed:" + edFile, "-dkim", "x.test:rsa:" + rsaFile}, bounceKey...)...)

	// The destination, y.test, is down.
	msg := func(from, subject string) []byte {
		return []byte("From: " + from + "\r\nTo: <b@y.test>\r\nSubject: " + subject +
			"\r\nDate: Mon, 7 Dec 2026 03:00:00 +0000\r\nMessage-ID: <" + subject + "@x.test>\r\n\r\nHello,  \r\n.a dot line\r\n\r\n")
	}
	w.submit(msg("Alice <alice@x.test>", "author"), "alice@x.test", "b@y.test")
	w.submit(msg("news@lists.x.test", "subdomain"), "news@lists.x.test", "b@y.test")
	w.submit(msg("someone@other.test", "no-key"), "alice@x.test", "b@y.test")
	w.submit(msg("alice@x.test, bob@x.test", "two-authors"), "alice@x.test", "b@y.test")
	w.submit(msg("alice@x.test", "bounced"), "alice@x.test", "nobody@y.test")
	w.waitQueue("shows the attempts", func(l []string) bool {
		return len(l) == 5 && !strings.Contains(strings.Join(l, "\n"), "attempts=0 ")
	})
	logs := w.relay.Stderr.String()
	for _, want := range []string{
		"DKIM-Signature field added (s=ed,rsa, d=x.test)",
		"not DKIM-signed: no -dkim key for other.test",
		"not DKIM-signed: 2 From addresses",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, "DKIM-Signature field added (s=ed,rsa, d=x.test)"); n != 3 {
		t.Errorf("%d messages signed for x.test, want 3", n)
	}

	w.relay.Kill()
	w.startRelay(bounceKey...)
	w.startSink(w.xAddr, w.xMaildir)
	w.startSink(w.yAddr, w.yMaildir, "-reject", "nobody@y.test")
	got := storedBySubject(t, e2e.Maildir(t, w.yMaildir, 4, 15*time.Second))
	if len(got) != 4 {
		t.Fatalf("%d messages delivered, want 4", len(got))
	}
	checkSigned(t, got["author"].Body, "x.test", []string{"ed/ed25519-sha256", "rsa/rsa-sha256"}, keys)
	checkSigned(t, got["subdomain"].Body, "x.test", []string{"ed/ed25519-sha256", "rsa/rsa-sha256"}, keys)
	for _, subj := range []string{"no-key", "two-authors"} {
		if body := got[subj].Body; bytes.Contains(bytes.ToLower(body), []byte("dkim-signature")) {
			t.Errorf("%s signed:\n%s", subj, body)
		}
	}

	bounces := e2e.Maildir(t, w.xMaildir, 1, 15*time.Second)
	if len(bounces) != 1 {
		t.Fatalf("%d bounces, want 1", len(bounces))
	}
	b := e2e.ReadStored(t, bounces[0])
	if !bytes.Contains(b.Body, []byte("From: Mail Delivery System <MAILER-DAEMON@relay.test>")) {
		t.Fatalf("not a bounce:\n%s", b.Body)
	}
	checkSigned(t, b.Body, "relay.test", []string{"bounces/ed25519-sha256"}, map[string]crypto.Signer{"bounces": edKey})
	w.waitQueue("empties", emptyQueue)
}

// TestRelayDKIMKeyFiles: a key file that group or others may read, a
// missing one, and one that holds no usable key stop the relay at start,
// naming the file; an RSA key under 2048 bits is used with a warning
// (RFC 8301 3.2).
func TestRelayDKIMKeyFiles(t *testing.T) {
	w := newWorld(t)
	_, edKey := dkimKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	open := e2e.WriteKey(t, w.dir, "open.pem", edKey, false, 0o644)
	junk := e2e.WriteFile(t, w.dir, "junk.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0o600)
	for _, tc := range []struct{ spec, want string }{
		{"x.test:s:" + open, "chmod 600"},
		{"x.test:s:" + filepath.Join(w.dir, "missing.pem"), "missing.pem"},
		{"x.test:s:" + junk, "junk.pem"},
		{"x.test:s", "DOMAIN:SELECTOR:KEYFILE"},
	} {
		code, _, stderr := e2e.Run(t, 20*time.Second, nil, relayBin, "-listen", w.relayAddr, "-auth", "a:b",
			"-queue", w.queue, "-dkim", tc.spec)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("-dkim %s: exit %d, stderr %q; want a failure naming %q", tc.spec, code, stderr, tc.want)
		}
	}

	weak := e2e.WriteKey(t, w.dir, "weak.pem", small, false, 0o600)
	code, out, stderr := e2e.Run(t, 20*time.Second, nil, relayBin, "-dkim-dns", "x.test:old:"+weak)
	if code != 0 || !strings.Contains(out, "k=rsa") || !strings.Contains(stderr, "x.test:old (1024 bits)") {
		t.Errorf("-dkim-dns of a weak key: exit %d, %q, %q", code, out, stderr)
	}
	w.startRelay("-dkim", "x.test:old:"+weak)
	w.waitLogged("RSA key under 2048 bits")
	if logs := w.relay.Stderr.String(); !strings.Contains(logs, "x.test:old (1024 bits)") {
		t.Errorf("warning does not name the key:\n%s", logs)
	}
}

// waitLogged waits until the relay's log holds want.
func (w *world) waitLogged(want string) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.relay.Stderr.String(), want) {
		if time.Now().After(deadline) {
			w.t.Fatalf("log never showed %q:\n%s", want, w.relay.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRelayDKIMDNS: relay -dkim-dns prints the TXT record to publish for
// each key, in zone-file form, the RSA record split into strings of at
// most 255 octets, and exits; it refuses a key file others may read.
func TestRelayDKIMDNS(t *testing.T) {
	dir := t.TempDir()
	rsaKey, edKey := dkimKeys(t)
	edFile := e2e.WriteKey(t, dir, "ed.pem", edKey, false, 0o600)
	rsaFile := e2e.WriteKey(t, dir, "rsa.pem", rsaKey, false, 0o600)
	code, out, stderr := e2e.Run(t, 20*time.Second, nil, relayBin, "-dkim-dns", "Example.ORG:ed:"+edFile, "-dkim-dns", "example.org:rsa:"+rsaFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q", out)
	}
	for i, k := range []crypto.Signer{edKey, rsaKey} {
		rec, _ := dkim.PublicKeyRecord(k)
		sel := []string{"ed", "rsa"}[i]
		name, rdata, _ := strings.Cut(lines[i], " IN TXT ")
		if name != sel+"._domainkey.example.org." {
			t.Errorf("line %q", lines[i])
		}
		var joined string
		for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(rdata, -1) {
			if len(m[1]) > 255 {
				t.Errorf("string of %d octets in %q", len(m[1]), lines[i])
			}
			joined += m[1]
		}
		if joined != rec {
			t.Errorf("record %q, want %q", joined, rec)
		}
	}
	if err := os.Chmod(edFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := e2e.Run(t, 20*time.Second, nil, relayBin, "-dkim-dns", "example.org:ed:"+edFile); code == 0 || !strings.Contains(stderr, "chmod 600") {
		t.Errorf("insecure key: exit %d, %q", code, stderr)
	}
}
