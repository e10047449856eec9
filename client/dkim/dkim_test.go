//go:debug rsa1024min=0

package dkim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// crlf turns the \n of a Go literal into CR LF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// RFC 8463 Appendix A: the Ed25519 secret key (A.1), the key records (A.2)
// and the message signed with both algorithms (A.3).
const (
	rfc8463Seed   = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
	rfc8463EdPub  = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	rfc8463RSAKey = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
)

var rfc8463Message = crlf(`DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;
 d=football.example.com; i=@football.example.com;
 q=dns/txt; s=brisbane; t=1528637909; h=from : to :
 subject : date : message-id : from : subject : date;
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
 b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus
 Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;
 d=football.example.com; i=@football.example.com;
 q=dns/txt; s=test; t=1528637909; h=from : to : subject :
 date : message-id : from : subject : date;
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
 b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3
 DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz
 dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=
From: Joe SixPack <joe@football.example.com>
To: Suzie Q <suzie@shopping.example.net>
Subject: Is dinner ready?
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)
Message-ID: <20030712040037.46341.5F8J@football.example.com>

Hi.

We lost the game.  Are you hungry yet?

Joe.
`)

var rfc8463Keys = map[string]string{
	"brisbane._domainkey.football.example.com": "v=DKIM1; k=ed25519; p=" + rfc8463EdPub,
	"test._domainkey.football.example.com":     rfc8463RSAKey,
}

func rfc8463Ed25519Key(t testing.TB) ed25519.PrivateKey {
	seed, err := base64.StdEncoding.DecodeString(rfc8463Seed)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// TestRFC8463Vectors: both signatures of RFC 8463 A.3 verify, which checks
// relaxed canonicalization, the h= pairing with an oversigned field and
// both algorithms against the RFC; and the A.1 secret key gives A.2's
// public key.
func TestRFC8463Vectors(t *testing.T) {
	key := rfc8463Ed25519Key(t)
	if got := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)); got != rfc8463EdPub {
		t.Fatalf("public key from the RFC's seed %s, want %s", got, rfc8463EdPub)
	}
	rec, err := PublicKeyRecord(key)
	if err != nil || rec != rfc8463Keys["brisbane._domainkey.football.example.com"] {
		t.Fatalf("PublicKeyRecord = %q, %v", rec, err)
	}
	results, err := verify([]byte(rfc8463Message), rfc8463Keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results", len(results))
	}
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("s=%s: %v", r.Selector, r.Err)
		}
	}
	// The verifier is not a rubber stamp: a changed body fails both.
	tampered := strings.Replace(rfc8463Message, "hungry", "Hungry", 1)
	results, _ = verify([]byte(tampered), rfc8463Keys)
	for _, r := range results {
		if r.Err == nil {
			t.Errorf("s=%s verifies a changed body", r.Selector)
		}
	}
}

// TestCanonicalizationRFC6376Example is the example of RFC 6376 3.4.5.
func TestCanonicalizationRFC6376Example(t *testing.T) {
	msg := "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n"
	cases := []struct {
		c            Canonicalization
		header, body string
	}{
		{Relaxed, "a:X\r\nb:Y Z\r\n", " C\r\nD E\r\n"},
		{Simple, "A: X\r\nB : Y\t\r\n\tZ  \r\n", " C \r\nD \t E\r\n"},
	}
	for _, tc := range cases {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(msg)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			br := newReader(r)
			fields, err := readHeader(br, DefaultMaxHeaderSize)
			if err != nil {
				t.Fatal(err)
			}
			var hdr []byte
			for _, f := range fields {
				hdr = canonHeader(hdr, f.raw, tc.c)
			}
			if string(hdr) != tc.header {
				t.Errorf("%s header %q, want %q", tc.c, hdr, tc.header)
			}
			rec := &recordHash{}
			bh := newBodyHasher(rec, tc.c)
			if _, err := io.Copy(bh, br); err != nil {
				t.Fatal(err)
			}
			bh.Sum()
			if rec.String() != tc.body {
				t.Errorf("%s body %q, want %q (one byte reads %v)", tc.c, rec.String(), tc.body, oneByte)
			}
		}
	}
}

// TestBodyCanonicalization: the edge cases of RFC 6376 3.4.3/3.4.4 and
// the line ends the client turns into CR LF.
func TestBodyCanonicalization(t *testing.T) {
	cases := []struct {
		name, in        string
		simple, relaxed string
	}{
		{"Empty", "", "\r\n", ""},
		{"OnlyEmptyLines", "\r\n\r\n\r\n", "\r\n", ""},
		{"NoFinalLineEnd", "a", "a\r\n", "a\r\n"},
		{"TrailingEmptyLinesDropped", "a\r\n\r\n\r\n", "a\r\n", "a\r\n"},
		{"InnerEmptyLinesKept", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"WhiteSpaceOnlyLine", "a\r\n \t \r\nb\r\n", "a\r\n \t \r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"TrailingWhiteSpaceLines", "a\r\n  \r\n\t\r\n", "a\r\n  \r\n\t\r\n", "a\r\n"},
		{"LeadingWhiteSpace", "  a", "  a\r\n", " a\r\n"},
		{"BareLF", "a\nb\n\n", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"BareCR", "a\rb\r\r", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"CRAtEnd", "a\r", "a\r\n", "a\r\n"},
		{"CRCRLF", "a\r\r\nb", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []Canonicalization{Simple, Relaxed} {
				want := tc.simple
				if c == Relaxed {
					want = tc.relaxed
				}
				for _, chunk := range []int{len(tc.in) + 1, 1} {
					rec := &recordHash{}
					bh := newBodyHasher(rec, c)
					for in := tc.in; in != ""; {
						n := min(chunk, len(in))
						bh.Write([]byte(in[:n]))
						in = in[n:]
					}
					bh.Sum()
					if rec.String() != want {
						t.Errorf("%s (chunks of %d): %q, want %q", c, chunk, rec.String(), want)
					}
				}
			}
		})
	}
}

// TestRelaxedHeader: RFC 6376 3.4.2 on one field at a time.
func TestRelaxedHeader(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Subject: Hello\r\n", "subject:Hello\r\n"},
		{"SUBJECT \t:   a  b\t c \t\r\n", "subject:a b c\r\n"},
		{"To: a,\r\n\tb,\r\n c\r\n", "to:a, b, c\r\n"},
		{"X-Empty:\r\n", "x-empty:\r\n"},
		{"X-Empty:   \r\n", "x-empty:\r\n"},
		{"X-Fold:\r\n value\r\n", "x-fold:value\r\n"},
	}
	for _, tc := range cases {
		if got := string(canonHeader(nil, []byte(tc.in), Relaxed)); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// recordHash is a hash.Hash that records what is written, to see the
// canonical form.
type recordHash struct{ bytes.Buffer }

func (r *recordHash) Sum(b []byte) []byte { return append(b, r.Bytes()...) }
func (r *recordHash) Reset()              { r.Buffer.Reset() }
func (r *recordHash) Size() int           { return 0 }
func (r *recordHash) BlockSize() int      { return 1 }

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
	})
	return rsaKey
}

const sampleMessage = "Received: from a by b; Mon, 7 Dec 2026 03:00:00 +0000\r\n" +
	"From: Alice <alice@example.org>\r\n" +
	"To: Bob <bob@example.net>,\r\n\tCarol <carol@example.net>\r\n" +
	"Subject: a  test\t \r\n" +
	"Date: Mon, 7 Dec 2026 03:00:00 +0000\r\n" +
	"Message-ID: <1@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"X-Unsigned: yes\r\n" +
	"\r\n" +
	"Hello  Bob,\t\r\n\r\n.leading dot\r\nGrüße\r\n\r\n\r\n"

// TestSignVerify signs with each algorithm and canonicalization and checks
// the signature with the test verifier, then that changes it must detect
// break it and changes relaxed tolerates do not.
func TestSignVerify(t *testing.T) {
	keys := []struct {
		name string
		key  crypto.Signer
	}{{"rsa", testRSAKey(t)}, {"ed25519", rfc8463Ed25519Key(t)}}
	type change struct {
		name    string
		edit    func(string) string
		relaxed bool // still verifies with relaxed/relaxed
		simple  bool // still verifies with simple/simple
	}
	changes := []change{
		{"None", func(s string) string { return s }, true, true},
		{"BodyChanged", func(s string) string { return strings.Replace(s, "Hello", "Jello", 1) }, false, false},
		{"SubjectChanged", func(s string) string { return strings.Replace(s, "a  test", "a  tost", 1) }, false, false},
		{"FromAdded", func(s string) string { return "From: Mallory <m@example.com>\r\n" + s }, false, false},
		{"FromAddedBelow", func(s string) string {
			return strings.Replace(s, "X-Unsigned: yes\r\n", "X-Unsigned: yes\r\nFrom: Mallory <m@example.com>\r\n", 1)
		}, false, false},
		{"UnsignedFieldChanged", func(s string) string { return strings.Replace(s, "X-Unsigned: yes", "X-Unsigned: no", 1) }, true, true},
		{"FieldAddedAbove", func(s string) string { return "Received: from c by d\r\n" + s }, true, true},
		{"Refolded", func(s string) string {
			return strings.Replace(s, "To: Bob <bob@example.net>,\r\n\tCarol", "To: Bob <bob@example.net>, Carol", 1)
		}, true, false},
		{"TrailingSpaceInBody", func(s string) string { return strings.Replace(s, ".leading dot\r\n", ".leading dot  \r\n", 1) }, true, false},
		{"EmptyLinesAdded", func(s string) string { return s + "\r\n\r\n" }, true, true},
		{"LFLineEnds", func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }, true, true},
	}
	for _, k := range keys {
		for _, c := range []Canonicalization{Relaxed, Simple} {
			s, err := NewSigner("example.org", "sel1", k.key)
			if err != nil {
				t.Fatal(err)
			}
			s.HeaderCanonicalization, s.BodyCanonicalization = c, c
			s.Identity = "alice@mail.example.org"
			s.Expiration = time.Hour
			s.Now = func() time.Time { return time.Unix(1765000000, 0) }
			sig, err := s.Sign(iotest.OneByteReader(strings.NewReader(sampleMessage)))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSuffix(string(sig), "\r\n"), "\r\n") {
				if len(line) > maxLineLength {
					t.Errorf("%s/%s: line of %d characters: %q", k.name, c, len(line), line)
				}
			}
			rec, err := PublicKeyRecord(k.key)
			if err != nil {
				t.Fatal(err)
			}
			records := map[string]string{"sel1._domainkey.example.org": rec}
			for _, ch := range changes {
				msg := ch.edit(string(sig) + sampleMessage)
				results, err := verify([]byte(msg), records)
				if err != nil {
					t.Fatal(err)
				}
				want := ch.relaxed
				if c == Simple {
					want = ch.simple
				}
				if ok := results[0].Err == nil; ok != want {
					t.Errorf("%s/%s/%s: verifies %v (%v), want %v\n%s", k.name, c, ch.name, ok, results[0].Err, want, sig)
				}
			}
		}
	}
}

// TestSignedHeaderList: h= lists each present field of DefaultHeaders as
// many times as it appears, From once more (RFC 6376 5.4.1, 8.15), and
// neither absent nor unlisted fields; the tags are as configured.
func TestSignedHeaderList(t *testing.T) {
	s, err := NewSigner("example.org", "sel1", rfc8463Ed25519Key(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return time.Unix(1765000000, 0) }
	msg := "From: a@example.org\r\nTo: b@example.net\r\nTo: c@example.net\r\nX-Mailer: x\r\nSubject: s\r\n\r\nbody\r\n"
	sig, err := s.Sign(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	tags, err := parseTagList(string(sig[len("DKIM-Signature:"):]))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"v": "1", "a": "ed25519-sha256", "c": "relaxed/relaxed", "d": "example.org", "s": "sel1",
		"t": "1765000000", "h": "from:from:subject:to:to",
	}
	for k, v := range want {
		if got := stripFWS(tags[k]); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"l", "x", "i", "z"} {
		if _, ok := tags[k]; ok {
			t.Errorf("unexpected %s= tag", k)
		}
	}
	// bh is the SHA-256 of the relaxed body "body\r\n".
	sum := sha256.Sum256([]byte("body\r\n"))
	if tags["bh"] != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("bh=%s", tags["bh"])
	}
	// Oversigning off, own header list.
	s.Oversign = []string{}
	s.Headers = []string{"X-Mailer"}
	sig, _ = s.Sign(strings.NewReader(msg))
	tags, _ = parseTagList(string(sig[len("DKIM-Signature:"):]))
	if got := stripFWS(tags["h"]); got != "from:x-mailer" {
		t.Errorf("h=%q, want from:x-mailer", got)
	}
}

// TestSignRefuses: a message without From, a header over the limit, bad
// configuration.
func TestSignRefuses(t *testing.T) {
	key := rfc8463Ed25519Key(t)
	s, _ := NewSigner("example.org", "sel1", key)
	if _, err := s.Sign(strings.NewReader("To: b@example.net\r\n\r\nbody\r\n")); !errors.Is(err, errNoFrom) {
		t.Errorf("no From: %v", err)
	}
	if _, err := s.Sign(strings.NewReader(" X: y\r\nFrom: a@example.org\r\n\r\n")); !errors.Is(err, errLeadingWSP) {
		t.Errorf("leading continuation line: %v", err)
	}
	s.MaxHeaderSize = 100
	_, err := s.Sign(strings.NewReader("From: a@example.org\r\nX: " + strings.Repeat("x", 200) + "\r\n\r\n"))
	var tl *HeaderTooLargeError
	if !errors.As(err, &tl) || tl.Limit != 100 {
		t.Errorf("large header: %v", err)
	}
	for _, bad := range []struct{ domain, selector string }{
		{"", "s"}, {"example.org", ""}, {"exa mple.org", "s"}, {"example.org", "s;x=1"}, {"-a.org", "s"},
	} {
		if _, err := NewSigner(bad.domain, bad.selector, key); err == nil {
			t.Errorf("NewSigner(%q, %q) accepted", bad.domain, bad.selector)
		}
	}
	s, _ = NewSigner("example.org", "sel1", key)
	s.Identity = "a@example.com"
	if _, err := s.Sign(strings.NewReader("From: a@example.org\r\n\r\n")); err == nil {
		t.Error("i= outside d= accepted")
	}
	s.Identity, s.Headers = "", []string{"Bad:Name"}
	if _, err := s.Sign(strings.NewReader("From: a@example.org\r\n\r\n")); err == nil {
		t.Error("bad field name accepted")
	}
}

// TestMessageWithoutBody: only a header section, with or without the empty
// line, signs and verifies.
func TestMessageWithoutBody(t *testing.T) {
	key := rfc8463Ed25519Key(t)
	rec, _ := PublicKeyRecord(key)
	for _, msg := range []string{"From: a@example.org\r\n", "From: a@example.org\r\n\r\n", "From: a@example.org"} {
		for _, c := range []Canonicalization{Relaxed, Simple} {
			s, _ := NewSigner("example.org", "sel1", key)
			s.HeaderCanonicalization, s.BodyCanonicalization = c, c
			sig, err := s.Sign(strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			// What goes on the wire: the field ends with CR LF.
			wire := string(sig) + msg
			if !strings.HasSuffix(msg, "\r\n") {
				wire += "\r\n"
			}
			res, err := verify([]byte(wire), map[string]string{"sel1._domainkey.example.org": rec})
			if err != nil || res[0].Err != nil {
				t.Errorf("%q %s: %v %v", msg, c, err, res)
			}
		}
	}
}

// TestKeys: PEM keys in every accepted form, and the refused ones.
func TestKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rsaK := testRSAKey(t)
	pkcs8RSA, _ := x509.MarshalPKCS8PrivateKey(rsaK)
	pkcs8Ed, _ := x509.MarshalPKCS8PrivateKey(rfc8463Ed25519Key(t))
	ecK, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8EC, _ := x509.MarshalPKCS8PrivateKey(ecK)
	small, err := rsa.GenerateKey(rand.Reader, 768) // allowed by the go:debug line above
	if err != nil {
		t.Fatal(err)
	}
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := []struct {
		name, typ string
		der       []byte
		ok, weak  bool
	}{
		{"pkcs8-rsa.pem", "PRIVATE KEY", pkcs8RSA, true, false},
		{"pkcs1-rsa.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaK), true, false},
		{"pkcs8-ed25519.pem", "PRIVATE KEY", pkcs8Ed, true, false},
		{"pkcs1-rsa-1024.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(weak), true, true},
		{"pkcs1-rsa-768.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small), false, false},
		{"pkcs8-ec.pem", "PRIVATE KEY", pkcs8EC, false, false},
		{"encrypted.pem", "ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}, false, false},
		{"cert-only.pem", "CERTIFICATE", []byte{1, 2, 3}, false, false},
		{"garbage.pem", "PRIVATE KEY", []byte{1, 2, 3}, false, false},
	}
	for _, tc := range cases {
		key, err := LoadPrivateKey(write(tc.name, tc.typ, tc.der))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		s, err := NewSigner("example.org", "s", key)
		if err != nil {
			t.Errorf("%s: NewSigner: %v", tc.name, err)
			continue
		}
		if s.WeakKey() != tc.weak {
			t.Errorf("%s: WeakKey %v", tc.name, s.WeakKey())
		}
	}
	var ke *KeyError
	if _, err := NewSigner("example.org", "s", small); !errors.As(err, &ke) || ke.Bits != 768 {
		t.Errorf("768-bit key: %v", err)
	}
	if _, err := LoadPrivateKey(filepath.Join(dir, "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// lineReader yields n bytes of body lines without holding them.
type lineReader struct{ n int }

func (r *lineReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	const line = "0123456789 abcdefghij  klmnopqrst \t uvwxyz.\r\n"
	k := 0
	for k < len(p) && r.n > 0 {
		p[k] = line[r.n%len(line)]
		k++
		r.n--
	}
	return k, nil
}

// TestSignStreamsBody: signing an 8 MiB message allocates a small,
// fixed amount: the body is hashed as it streams, never held.
func TestSignStreamsBody(t *testing.T) {
	s, _ := NewSigner("example.org", "sel1", rfc8463Ed25519Key(t))
	const size = 8 << 20
	msg := func() io.Reader {
		return io.MultiReader(strings.NewReader("From: a@example.org\r\nSubject: big\r\n\r\n"), &lineReader{n: size})
	}
	if _, err := s.Sign(msg()); err != nil { // warm up
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := s.Sign(msg()); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("signing a %d-byte message allocated %d bytes", size, alloc)
	}
}
