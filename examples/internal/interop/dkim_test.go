//go:build unix

package interop

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/client/dkim"
	"github.com/smtpkit/smtp/envelope"
)

// pyDKIMVerify verifies every DKIM-Signature of the message in argv[1]
// with dkimpy, the key records given as JSON in argv[2] ({"sel._domainkey.
// domain": "v=DKIM1; ..."}) instead of the DNS, and prints one JSON list
// of booleans, one per signature, top to bottom.
const pyDKIMVerify = `
import dkim, json, sys
msg = open(sys.argv[1], "rb").read()
records = json.loads(sys.argv[2])
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    return records.get(n.rstrip("."), "").encode()
d = dkim.DKIM(msg)
n = sum(1 for line in msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n") if line.lower().startswith(b"dkim-signature:"))
def ok(i):
    try:
        return bool(d.verify(idx=i, dnsfunc=dnsfunc))
    except dkim.ValidationError as e:
        print(e, file=sys.stderr)
        return False
print(json.dumps([ok(i) for i in range(n)]))
`

// TestDKIMVerifiedByDkimpy: messages signed by client/dkim, with RSA (2048
// bits) and Ed25519 keys and both canonicalizations, sent by our client to
// our server over loopback, verify with dkimpy as the server stored them.
// The messages have what the wire changes (bare LF line ends, dot lines)
// and what relaxed canonicalization smooths (trailing white space,
// folding), and a tampered copy must fail.
func TestDKIMVerifiedByDkimpy(t *testing.T) {
	py := needPython(t, "dkim")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rec := startRecorder(t, nil)
	msg := "From: Alice <alice@dkim.interop.test>\n" +
		"To: Bob <bob@interop.test>,\n\tCarol <carol@interop.test>\n" +
		"Subject:   signed  \t\n" +
		"Date: Mon, 7 Dec 2026 03:00:00 +0000\n" +
		"Message-ID: <dkim.1@dkim.interop.test>\n" +
		"\n" +
		"Hello Bob,  \n.a line with a leading dot\n..two dots\n.\n\n\n"
	cases := []struct {
		name  string
		key   crypto.Signer
		canon dkim.Canonicalization
	}{
		{"RSARelaxed", rsaKey, dkim.Relaxed},
		{"RSASimple", rsaKey, dkim.Simple},
		{"Ed25519Relaxed", edKey, dkim.Relaxed},
		{"Ed25519Simple", edKey, dkim.Simple},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := dkim.NewSigner("dkim.interop.test", "sel"+string(rune('a'+i)), tc.key)
			if err != nil {
				t.Fatal(err)
			}
			s.HeaderCanonicalization, s.BodyCanonicalization = tc.canon, tc.canon
			sig, err := s.Sign(strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			record, err := dkim.PublicKeyRecord(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			rcpt := "bob+" + strings.ToLower(tc.name) + "@interop.test"
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			defer cancel()
			c, err := client.Dial(ctx, rec.Addr, &client.Options{LocalName: "client.interop.test"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			env := envelope.Envelope{From: path("alice@dkim.interop.test"), To: []envelope.Recipient{{Path: path(rcpt)}}}
			if _, err := c.Send(ctx, env, io.MultiReader(strings.NewReader(string(sig)), strings.NewReader(msg))); err != nil {
				t.Fatal(err)
			}
			c.Quit(ctx)
			got := rec.next(t, rcpt)

			records, _ := json.Marshal(map[string]string{s.Selector + "._domainkey.dkim.interop.test": record})
			dir := t.TempDir()
			check := func(data []byte, want bool) {
				t.Helper()
				file := filepath.Join(dir, "msg.eml")
				if err := os.WriteFile(file, data, 0o600); err != nil {
					t.Fatal(err)
				}
				out := runPeer(t, nil, py, "-c", pyDKIMVerify, file, string(records))
				var res []bool
				if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil || len(res) != 1 {
					t.Fatalf("dkimpy: %v %s", err, out)
				}
				if res[0] != want {
					t.Errorf("dkimpy says %v, want %v for\n%s", res[0], want, data)
				}
			}
			check(got.Data, true)
			check([]byte(strings.Replace(string(got.Data), "Hello Bob", "Hello Bib", 1)), false)
		})
	}
}
