package mta

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
	"github.com/smtpkit/smtp/examples/internal/cli"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// testKeys are made once: RSA generation is slow.
var testKeys = sync.OnceValues(func() (*rsa.PrivateKey, ed25519.PrivateKey) {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	_, e, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return r, e
})

func writeKey(t *testing.T, dir, name string, key crypto.Signer, pkcs1 bool, mode os.FileMode) string {
	return e2e.WriteKey(t, dir, name, key, pkcs1, mode)
}

func TestParseDKIMSpec(t *testing.T) {
	for _, tc := range []struct {
		in, domain, selector, file string
	}{
		{"example.org:sel:/k/a.pem", "example.org", "sel", "/k/a.pem"},
		{"Example.ORG.:s2026:k.pem", "example.org", "s2026", "k.pem"},
		{"bücher.example:s:k", "xn--bcher-kva.example", "s", "k"},
		{"example.org:sel:C:\\keys\\a.pem", "example.org", "sel", "C:\\keys\\a.pem"}, // the file keeps its colons
	} {
		s, err := parseDKIMSpec(tc.in)
		if err != nil || s.domain != tc.domain || s.selector != tc.selector || s.keyFile != tc.file {
			t.Errorf("parseDKIMSpec(%q) = %+v, %v", tc.in, s, err)
		}
	}
	for _, bad := range []string{"example.org:sel", ":sel:k", "example.org::k", "example.org:sel:", "exa mple.org:sel:k", "example.org:s_1:k", "*:sel:k"} {
		if s, err := parseDKIMSpec(bad); err == nil {
			t.Errorf("parseDKIMSpec(%q) accepted: %+v", bad, s)
		}
	}
}

// TestLoadDKIMKeys: PKCS#8 RSA and Ed25519 and PKCS#1 RSA keys load; a
// key file that group or others may read, one missing, one that holds
// no key, and a key DKIM cannot use are refused, each with the file's
// name; an RSA key under 2048 bits loads with a warning.
func TestLoadDKIMKeys(t *testing.T) {
	dir := t.TempDir()
	rsaKey, edKey := testKeys()
	ed := writeKey(t, dir, "ed.pem", edKey, false, 0o600)
	rsa8 := writeKey(t, dir, "rsa8.pem", rsaKey, false, 0o400)
	rsa1 := writeKey(t, dir, "rsa1.pem", rsaKey, true, 0o600)
	keys, err := loadDKIMKeys([]dkimSpec{{"x.test", "ed", ed}, {"x.test", "rsa", rsa8}, {"y.test", "old", rsa1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := keys.signersFor("x.test"); len(got) != 2 || got[0].Selector != "ed" || got[1].Selector != "rsa" {
		t.Errorf("x.test signers %v", got)
	}
	if len(keys.weak()) != 0 || keys.count() != 3 {
		t.Errorf("weak %v, count %d", keys.weak(), keys.count())
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakFile := writeKey(t, dir, "weak.pem", small, false, 0o600)
	keys, err = loadDKIMKeys([]dkimSpec{{"x.test", "weak", weakFile}})
	if err != nil {
		t.Fatal(err)
	}
	if w := keys.weak(); len(w) != 1 || !strings.Contains(w[0], "x.test") || !strings.Contains(w[0], "1024") {
		t.Errorf("weak keys %q", w)
	}

	open := writeKey(t, dir, "open.pem", edKey, false, 0o640)
	garbage := e2e.WriteFile(t, dir, "garbage.pem", "not a key\n", 0o600)
	ecKey := writeECKey(t, dir)
	for _, tc := range []struct {
		name string
		spec dkimSpec
		want string
	}{
		{"group-readable", dkimSpec{"x.test", "s", open}, "chmod 600"},
		{"missing", dkimSpec{"x.test", "s", filepath.Join(dir, "none.pem")}, "none.pem"},
		{"no key", dkimSpec{"x.test", "s", garbage}, "garbage.pem"},
		{"ECDSA", dkimSpec{"x.test", "s", ecKey}, "ec.pem"},
	} {
		_, err := loadDKIMKeys([]dkimSpec{tc.spec})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "-dkim") {
			t.Errorf("%s: %v, want an error naming -dkim and %q", tc.name, err, tc.want)
		}
		if tc.name == "group-readable" {
			var ie *cli.InsecureFileError
			if !errors.As(err, &ie) {
				t.Errorf("group-readable key: %T, want *cli.InsecureFileError", err)
			}
		}
	}
}

// writeECKey writes an ECDSA key, which DKIM has no algorithm for.
func writeECKey(t *testing.T, dir string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return writeKey(t, dir, "ec.pem", k, false, 0o600)
}

// TestChooseSigner: the From field's domain picks the keys: the domain's
// own, else those of its closest parent that has keys (RFC 7489 3.1.1:
// relaxed alignment), so that d= aligns with the From domain for DMARC.
// A message without exactly one From address is not signed (RFC 6376
// 5.4: the signer has no single author domain), nor one whose From
// address the login may not use under -senders.
func TestChooseSigner(t *testing.T) {
	dir := t.TempDir()
	_, edKey := testKeys()
	file := writeKey(t, dir, "ed.pem", edKey, false, 0o600)
	keys, err := loadDKIMKeys([]dkimSpec{
		{"example.org", "a", file}, {"example.org", "b", file},
		{"mail.example.org", "m", file},
		{"xn--bcher-kva.example", "i", file},
	})
	if err != nil {
		t.Fatal(err)
	}
	senders, err := parseSenders("senders", []byte("alice: alice@example.org\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		header   string
		user     string
		senders  *senderPolicy
		selector string // of the signers, "" for none
		why      string // the reason for none
	}{
		{"exact", "From: a@example.org\r\n\r\n", "", nil, "a,b", ""},
		{"exact preferred", "From: a@mail.example.org\r\n\r\n", "", nil, "m", ""},
		{"longest parent", "From: a@x.mail.example.org\r\n\r\n", "", nil, "m", ""},
		{"parent", "From: a@sub.example.org\r\n\r\n", "", nil, "a,b", ""},
		{"case and name", "Subject: s\r\nfrom: Alice <A@EXAMPLE.ORG>\r\n\r\n", "", nil, "a,b", ""},
		{"folded", "From: Alice\r\n <a@example.org>\r\n\r\n", "", nil, "a,b", ""},
		{"encoded word", "From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\n\r\n", "", nil, "a,b", ""},
		{"unknown charset", "From: =?x-unknown?q?J?= <j@example.org>\r\n\r\n", "", nil, "a,b", ""},
		{"U-label", "From: a@bücher.example\r\n\r\n", "", nil, "i", ""},
		{"LF only", "From: a@example.org\n\n", "", nil, "a,b", ""},
		{"other domain", "From: a@other.test\r\n\r\n", "", nil, "", "no -dkim key for other.test"},
		{"not a label boundary", "From: a@badexample.org\r\n\r\n", "", nil, "", "no -dkim key for badexample.org"},
		{"several addresses", "From: a@example.org, b@example.org\r\n\r\n", "", nil, "", "2 From addresses"},
		{"several fields", "From: a@example.org\r\nFrom: b@example.org\r\n\r\n", "", nil, "", "2 From fields"},
		{"group", "From: team: a@example.org, b@example.org;\r\n\r\n", "", nil, "", "From addresses"},
		{"none", "Subject: s\r\n\r\n", "", nil, "", "no From field"},
		{"unparsable", "From: example.org\r\n\r\n", "", nil, "", "From field unparsable"},
		{"sender allowed", "From: alice@example.org\r\n\r\n", "alice", senders, "a,b", ""},
		{"sender not allowed", "From: ceo@example.org\r\n\r\n", "alice", senders, "", "not a sender of user alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signers, why := keys.choose([]byte(tc.header), true, tc.user, tc.senders)
			var sels []string
			for _, s := range signers {
				sels = append(sels, s.Selector)
			}
			if got := strings.Join(sels, ","); got != tc.selector || !strings.Contains(why, tc.why) || (tc.why == "") != (why == "") {
				t.Errorf("choose = %q, %q; want %q, %q", got, why, tc.selector, tc.why)
			}
		})
	}
	if s, why := keys.choose([]byte("From: a@example.org\r\nX: "+strings.Repeat("y", 100)), false, "", nil); s != nil || !strings.Contains(why, "header section over") {
		t.Errorf("incomplete header: %v %q", s, why)
	}
	var none *dkimKeys
	if s, why := none.choose([]byte("From: a@example.org\r\n\r\n"), true, "", nil); s != nil || why != "" {
		t.Errorf("no keys: %v %q", s, why)
	}
}

// TestReadHeaderSection: the header section is read up to and including
// its empty line, with either line end, across lines longer than the
// buffer; a larger one than the limit is returned incomplete, and what
// was read plus the rest is the whole message.
func TestReadHeaderSection(t *testing.T) {
	long := "X-Long: " + strings.Repeat("z", 10000) + "\r\n"
	for _, tc := range []struct {
		name, msg, header string
		limit             int
		complete          bool
	}{
		{"CRLF", "From: a@x\r\nTo: b@y\r\n\r\nbody\r\n\r\n", "From: a@x\r\nTo: b@y\r\n\r\n", 1000, true},
		{"LF", "From: a@x\n\nbody\n", "From: a@x\n\n", 1000, true},
		{"no body", "From: a@x\r\n", "From: a@x\r\n", 1000, true},
		{"empty", "", "", 1000, true},
		{"body only", "\r\nbody\r\n", "\r\n", 1000, true},
		{"long line", long + "\r\nb\r\n", long + "\r\n", 20000, true},
		{"over the limit", long + "\r\nb\r\n", "", 5000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.msg), 16)
			h, complete, err := readHeaderSection(br, tc.limit)
			if err != nil || complete != tc.complete {
				t.Fatalf("complete %v, err %v", complete, err)
			}
			if tc.complete && string(h) != tc.header {
				t.Errorf("header %q, want %q", h, tc.header)
			}
			if !tc.complete && len(h) <= tc.limit {
				t.Errorf("incomplete after %d bytes, limit %d", len(h), tc.limit)
			}
			rest, _ := io.ReadAll(br)
			if string(h)+string(rest) != tc.msg {
				t.Error("header and rest are not the message")
			}
		})
	}
	if _, _, err := readHeaderSection(bufio.NewReader(iotestErr{}), 100); err == nil {
		t.Error("read error not returned")
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection lost") }

// spoolBuffer is a Spool's writing half in memory.
type spoolBuffer struct{ bytes.Buffer }

// TestSpoolSigned: the message is spooled whole while each signer reads
// it, and each signature is the one the signer makes of the message alone
// (both algorithms are deterministic: same time, same field); a reader
// that fails mid-way fails the spooling, and no signer is left waiting.
func TestSpoolSigned(t *testing.T) {
	rsaKey, edKey := testKeys()
	now := func() time.Time { return time.Unix(1800000000, 0) }
	var signers []*dkim.Signer
	for _, k := range []crypto.Signer{edKey, rsaKey} {
		s, err := dkim.NewSigner("x.test", "s", k)
		if err != nil {
			t.Fatal(err)
		}
		s.Now = now
		signers = append(signers, s)
	}
	msg := "From: a@x.test\r\nSubject: big\r\n\r\n" + strings.Repeat("line of the body \r\n", 100000)
	var want []byte
	for _, s := range signers {
		sig, err := s.Sign(strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sig...)
	}
	for _, n := range []int{0, 1, 2} {
		var sp spoolBuffer
		sigs, err := spoolSigned(&sp, strings.NewReader(msg), signers[:n])
		if err != nil {
			t.Fatal(err)
		}
		if sp.String() != msg {
			t.Errorf("%d signers: spooled %d bytes, want the %d of the message", n, sp.Len(), len(msg))
		}
		if n == 2 && !bytes.Equal(sigs, want) {
			t.Errorf("signatures\n%s\nwant\n%s", sigs, want)
		}
		if n == 0 && sigs != nil {
			t.Errorf("signatures without signers: %q", sigs)
		}
	}
	lost := io.MultiReader(strings.NewReader(msg[:50000]), iotestErr{})
	if _, err := spoolSigned(&spoolBuffer{}, lost, signers); err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Errorf("reader failure: %v", err)
	}
}

// txtStrings is the rdata of a TXT record in a zone file: quoted strings
// separated by a space.
var txtStrings = regexp.MustCompile(`^"[^"]*"( "[^"]*")*$`)

// TestDNSRecordLine: the TXT record an operator publishes, in zone-file
// form, split into strings of at most 255 octets (RFC 1035 3.3.14), which
// a resolver joins back into the record (RFC 6376 3.6.2.2).
func TestDNSRecordLine(t *testing.T) {
	rsaKey, edKey := testKeys()
	for _, k := range []crypto.Signer{edKey, rsaKey} {
		line, err := dnsRecordLine(dkimSpec{"x.test", "sel", ""}, k)
		if err != nil {
			t.Fatal(err)
		}
		name, rest, ok := strings.Cut(line, " IN TXT ")
		if !ok || name != "sel._domainkey.x.test." || !txtStrings.MatchString(rest) {
			t.Fatalf("line %q", line)
		}
		var joined string
		for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(rest, -1) {
			if len(m[1]) > 255 {
				t.Errorf("string of %d octets", len(m[1]))
			}
			joined += m[1]
		}
		want, _ := dkim.PublicKeyRecord(k)
		if joined != want {
			t.Errorf("record %q, want %q", joined, want)
		}
	}
}

// TestDeliverPrefixAndSignedBounce: the DKIM-Signature fields kept with a
// queued message (Prefix) go out before its data, and are in the
// original the bounce returns; the bounce is signed for the domain of
// the relay's host name, its From.
func TestDeliverPrefixAndSignedBounce(t *testing.T) {
	_, edKey := testKeys()
	file := writeKey(t, t.TempDir(), "ed.pem", edKey, false, 0o600)
	keys, err := loadDKIMKeys([]dkimSpec{{"relay.test", "b", file}})
	if err != nil {
		t.Fatal(err)
	}
	tr := newFake()
	tr.set("nobody@y.test", permanent)
	r := newTestRelay(t, t.TempDir(), tr)
	r.d.dkim = func() *dkimKeys { return keys }
	prefix := "DKIM-Signature: v=1; a=ed25519-sha256; d=x.test; s=s; bh=AA==;\r\n\tb=AA==\r\n"
	m := &queue.Message{From: "a@x.test", Created: r.now, NextAttempt: r.now, Prefix: prefix,
		Recipients: []queue.Recipient{{Addr: "b@y.test", State: queue.Pending}, {Addr: "nobody@y.test", State: queue.Pending}}}
	data := "Subject: test\r\n\r\nbody\r\n"
	if err := r.q.q.Add(m, []byte(data)); err != nil {
		t.Fatal(err)
	}
	r.process(context.Background(), m.ID)
	if got := string(tr.data["b@y.test"]); got != prefix+data {
		t.Errorf("sent %q, want %q", got, prefix+data)
	}
	ids := r.ids(t)
	if len(ids) != 1 {
		t.Fatalf("queue %v, want the bounce", ids)
	}
	b, _ := r.q.q.ReadData(ids[0])
	if sigs := e2e.ResignDKIM(t, b, map[string]crypto.Signer{"b": edKey}); len(sigs) != 1 || sigs[0].Domain != "relay.test" {
		t.Errorf("bounce signatures %+v", sigs)
	}
	if !strings.Contains(string(b), prefix+data) {
		t.Errorf("the bounce does not return the message as sent:\n%s", b)
	}
	if !strings.Contains(r.log.String(), "DKIM-Signature field added (s=b, d=relay.test)") {
		t.Errorf("log:\n%s", r.log.String())
	}
}

// TestRequireTLSCarried: a REQUIRETLS message asks the Deliverer for it
// (RFC 8689 4.2.1), and its bounce is redacted (RFC 8689 5): the
// explanation and the status only, nothing of the message, and the bounce
// itself does not require TLS, so that it reaches the sender.
func TestRequireTLSCarried(t *testing.T) {
	env, bad := buildEnvelope(&queue.Message{From: "a@x.test", RequireTLS: true,
		Recipients: []queue.Recipient{{Addr: "b@y.test"}}}, []int{0})
	if bad != nil || !env.Mail.RequireTLS {
		t.Errorf("envelope %+v, %v: want REQUIRETLS", env.Mail, bad)
	}
	tr := newFake()
	tr.set("b@y.test", outcome{state: queue.Failed, status: "5.7.30", diag: "REQUIRETLS needed, and 127.0.0.1 does not offer STARTTLS"})
	r := newTestRelay(t, t.TempDir(), tr)
	m := &queue.Message{From: "a@x.test", Created: r.now, NextAttempt: r.now, RequireTLS: true, Ret: "FULL",
		Recipients: []queue.Recipient{{Addr: "b@y.test", State: queue.Pending}}}
	if err := r.q.q.Add(m, []byte("Subject: secret\r\n\r\nthe secret\r\n")); err != nil {
		t.Fatal(err)
	}
	r.process(context.Background(), m.ID)
	ids := r.ids(t)
	if len(ids) != 1 {
		t.Fatalf("queue %v, want the bounce", ids)
	}
	bm, _ := r.q.q.Get(ids[0])
	b, _ := r.q.q.ReadData(ids[0])
	if bm.RequireTLS || strings.Contains(string(b), "secret") || !strings.Contains(string(b), "Status: 5.7.30") {
		t.Errorf("bounce (REQUIRETLS %v):\n%s", bm.RequireTLS, b)
	}
}

// BenchmarkSpoolSigned: what signing at intake costs a submission, by
// message size and signers (none; Ed25519; Ed25519 and RSA-2048, a
// rollover or dual signing).
func BenchmarkSpoolSigned(b *testing.B) {
	rsaKey, edKey := testKeys()
	var all []*dkim.Signer
	for _, k := range []crypto.Signer{edKey, rsaKey} {
		s, err := dkim.NewSigner("x.test", "s", k)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, s)
	}
	for _, size := range []int{10 << 10, 1 << 20} {
		msg := []byte("From: a@x.test\r\nSubject: bench\r\n\r\n" + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/=\r\n", size/68))
		for _, n := range []int{0, 1, 2} {
			b.Run(fmt.Sprintf("%dKiB/signers=%d", size>>10, n), func(b *testing.B) {
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := spoolSigned(io.Discard.(io.ReaderFrom), bytes.NewReader(msg), all[:n]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// FuzzSignerChoice: whatever a submitted message holds, reading its header
// section and choosing its signers neither panics nor loses a byte, and
// a message is signed only for a From domain equal to or under a key's.
func FuzzSignerChoice(f *testing.F) {
	for _, seed := range []string{
		"From: a@example.org\r\n\r\nbody\r\n",
		"From: A <a@sub.example.org>, b@example.org\r\nFrom: c@x\r\n\r\n",
		"from: =?utf-8?q?J=C3=B6rg?= <j@bücher.example>\n\nx",
		"From: team: a@example.org;\r\n X: y\r\n\r\n",
		" folded first\r\nFrom: a@example.org\r\n\r\n",
		"From: \"quoted\\\"name\" <\"q l\"@example.org>\r\n\r\n",
		"From: a@example.org.evil\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	_, edKey := testKeys()
	dir := f.TempDir()
	keys, err := loadDKIMKeys([]dkimSpec{{"example.org", "s", e2e.WriteKey(f, dir, "k.pem", edKey, false, 0o600)}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(msg), 16)
		header, complete, err := readHeaderSection(br, 200)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(br)
		if !bytes.Equal(append(header, rest...), msg) {
			t.Fatal("header and rest are not the message")
		}
		signers, why := keys.choose(header, complete, "", nil)
		if (len(signers) > 0) == (why != "") {
			t.Fatalf("signers %d and reason %q", len(signers), why)
		}
		if len(signers) > 0 {
			m, err := mail.ReadMessage(bytes.NewReader(header))
			if err != nil {
				t.Fatalf("signed an unparsable header: %v", err)
			}
			// The signing domain is written in the From field.
			if from := strings.ToLower(m.Header.Get("From")); !strings.Contains(from, "example.org") {
				t.Fatalf("signed for From %q", from)
			}
		}
	})
}
