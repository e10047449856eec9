package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
)

// Python is the interpreter with Debian's python3-dkim (dkimpy), the
// independent DKIM verifier of the tests.
const Python = "/usr/bin/python3"

// dkimpyCheck verifies each DKIM-Signature of each message named in
// argv[2:], top to bottom, taking the key records from the JSON object in
// argv[1] ({"sel._domainkey.example.org": "v=DKIM1; ..."}) through
// dkimpy's dnsfunc hook instead of the DNS; it prints a JSON list per
// message of [verified, "error"] pairs, one per signature.
const dkimpyCheck = `
import dkim, json, sys
keys = json.loads(sys.argv[1])
def lookup(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    return keys.get(name.rstrip("."), "").encode()
def check(data):
    verifier = dkim.DKIM(data)
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    out = []
    for i in range(count):
        try:
            out.append([bool(verifier.verify(idx=i, dnsfunc=lookup)), ""])
        except Exception as e:
            out.append([False, repr(e)])
    return out
print(json.dumps([check(open(f, "rb").read()) for f in sys.argv[2:]]))
`

// DKIMResult is dkimpy's verdict on one signature.
type DKIMResult struct {
	Verified bool
	Error    string
}

// havePythonDKIM says whether Python imports dkimpy, or why not.
var havePythonDKIM = sync.OnceValue(func() string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, Python, "-c", "import dkim").CombinedOutput(); err != nil {
		return Python + " cannot import dkim (apt-get install python3-dkim): " + strings.TrimSpace(string(out))
	}
	return ""
})

// VerifyDKIM has dkimpy, an independent verifier, check every
// DKIM-Signature field of each message with the key records given (by
// SELECTOR._domainkey.DOMAIN), and returns for each message one result
// per signature, top to bottom. Without python3-dkim the test is skipped,
// or fails under CI=true (CI installs it).
func VerifyDKIM(t testing.TB, records map[string]string, msgs ...[]byte) [][]DKIMResult {
	t.Helper()
	if why := havePythonDKIM(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and " + why)
		}
		t.Skip(why)
	}
	keys, err := json.Marshal(records)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-c", dkimpyCheck, string(keys)}
	dir := t.TempDir()
	for i, m := range msgs {
		file := filepath.Join(dir, strconv.Itoa(i)+".eml")
		if err := os.WriteFile(file, m, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, file)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, Python, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, out)
	}
	var pairs [][][2]any
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &pairs); err != nil || len(pairs) != len(msgs) {
		t.Fatalf("dkimpy output: %v\n%s", err, out)
	}
	res := make([][]DKIMResult, len(pairs))
	for i, ps := range pairs {
		res[i] = make([]DKIMResult, len(ps))
		for j, p := range ps {
			res[i][j].Verified, _ = p[0].(bool)
			res[i][j].Error, _ = p[1].(string)
		}
	}
	return res
}

// FieldEnd returns the length of the header field at the start of b, its
// final CRLF included: up to the first line end not followed by folding
// white space (RFC 5322 2.2.3); -1 when it does not end.
func FieldEnd(b []byte) int {
	end := 0
	for {
		i := bytes.Index(b[end:], []byte("\r\n"))
		if i < 0 {
			return -1
		}
		end += i + 2
		if end >= len(b) || (b[end] != ' ' && b[end] != '\t') {
			return end
		}
	}
}

// DKIMSignature is a DKIM-Signature field at the top of a message.
type DKIMSignature struct {
	// Domain, Selector and Algorithm are its d=, s= and a= tags.
	Domain, Selector, Algorithm string
	// Raw is the field as it arrived, final CRLF included.
	Raw []byte
}

// ResignDKIM checks each DKIM-Signature field at the top of msg (as a
// signer puts them) by signing what follows them once more, with the
// signer's defaults (relaxed/relaxed, From oversigned), the header fields
// its h= tag names, and the key of the field's selector from keys, at the
// time of its t= tag. Both algorithms
// are deterministic (RSASSA-PKCS1-v1_5 and Ed25519), so a field that
// covers the message as it arrived comes out byte for byte the same: the
// check needs no verifier of its own. (The fields below one are in what
// is signed again; DKIM-Signature is not among the fields a signer
// covers.) It returns the fields, top to bottom.
func ResignDKIM(t testing.TB, msg []byte, keys map[string]crypto.Signer) []DKIMSignature {
	t.Helper()
	var sigs []DKIMSignature
	rest := msg
	for bytes.HasPrefix(bytes.ToLower(rest[:min(len(rest), 15)]), []byte("dkim-signature:")) {
		end := FieldEnd(rest)
		if end < 0 {
			t.Fatalf("DKIM-Signature field does not end: %q", rest)
		}
		raw := rest[:end]
		rest = rest[end:]
		tags := map[string]string{}
		_, value, _ := strings.Cut(string(raw), ":")
		for tag := range strings.SplitSeq(value, ";") {
			k, v, _ := strings.Cut(tag, "=")
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
		}
		sigs = append(sigs, DKIMSignature{Domain: tags["d"], Selector: tags["s"], Algorithm: tags["a"], Raw: raw})
		key := keys[tags["s"]]
		if key == nil {
			t.Fatalf("no key for selector %q of %s", tags["s"], raw)
		}
		ts, err := strconv.ParseInt(tags["t"], 10, 64)
		if err != nil {
			t.Fatalf("t= of %s: %v", raw, err)
		}
		s, err := dkim.NewSigner(tags["d"], tags["s"], key)
		if err != nil {
			t.Fatal(err)
		}
		s.Now = func() time.Time { return time.Unix(ts, 0) }
		// The fields of its h= tag, each name once and in order (the
		// signer adds the oversigned From).
		s.Headers = nil
		for name := range strings.SplitSeq(tags["h"], ":") {
			if name = strings.ToLower(name); name != "" && !slices.Contains(s.Headers, name) {
				s.Headers = append(s.Headers, name)
			}
		}
		again, err := s.Sign(bytes.NewReader(rest))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, raw) {
			t.Errorf("DKIM-Signature does not cover the message as delivered:\n%s\nsigned again:\n%s", raw, again)
		}
	}
	return sigs
}

// WriteKey writes key as a PEM file dir/name with mode (whatever the
// umask): PKCS#8, or PKCS#1 ("RSA PRIVATE KEY") for an RSA key when
// pkcs1.
func WriteKey(t testing.TB, dir, name string, key crypto.Signer, pkcs1 bool, mode os.FileMode) string {
	t.Helper()
	var block *pem.Block
	if k, ok := key.(*rsa.PrivateKey); ok && pkcs1 {
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	return WriteFile(t, dir, name, string(pem.EncodeToMemory(block)), mode)
}
