package dkim

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

// FuzzParseTagList: the tag-list parser of the test verifier (the format
// of DKIM-Signature fields and key records from the network) never panics,
// and what it accepts has non-empty, unique tag names.
func FuzzParseTagList(f *testing.F) {
	f.Add("v=1; a=rsa-sha256; d=example.org; s=s; h=from : to; bh=abc=; b=de\r\n f=")
	f.Add("v=DKIM1; k=ed25519; p=" + rfc8463EdPub)
	f.Add("a=;;b=1;")
	f.Add("=x")
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseTagList(s)
		if err != nil {
			return
		}
		for k := range tags {
			if k == "" || strings.ContainsAny(k, " \t\r\n=;") {
				t.Fatalf("bad tag name %q from %q", k, s)
			}
		}
		publicKey(s) // key records take the same input; must not panic
	})
}

// FuzzSignVerify: any message the Signer accepts verifies with the test
// verifier after the signature field is put in front, whatever its line
// ends and white space.
func FuzzSignVerify(f *testing.F) {
	f.Add([]byte(sampleMessage), false)
	f.Add([]byte("From: a\n\nb"), true)
	f.Add([]byte("From:\r\n\t\r\n\r\n\r\n"), false)
	f.Add([]byte("X: y\rFrom: a\r\r \r"), true)
	key := rfc8463Ed25519Key(f)
	rec, _ := PublicKeyRecord(key)
	records := map[string]string{"s._domainkey.example.org": rec}
	f.Fuzz(func(t *testing.T, msg []byte, simple bool) {
		s, _ := NewSigner("example.org", "s", key)
		s.Now = func() time.Time { return time.Unix(1765000000, 0) }
		if simple {
			s.HeaderCanonicalization, s.BodyCanonicalization = Simple, Simple
		}
		sig, err := s.Sign(bytes.NewReader(msg))
		if err != nil {
			return
		}
		// The wire form: what the client sends, every line end CR LF.
		wire := normalize(append(sig, msg...))
		res, err := verify(wire, records)
		if err != nil {
			t.Fatalf("verify: %v\n%q", err, wire)
		}
		if res[0].Err != nil {
			t.Fatalf("our signature fails: %v\n%q", res[0].Err, wire)
		}
	})
}

// normalize turns every line end into CR LF and ends the data with one, as
// the client's DATA writer does.
func normalize(b []byte) []byte {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return []byte(s)
}

// FuzzBodyChunks: the streaming body hash does not depend on how the body
// is cut into writes.
func FuzzBodyChunks(f *testing.F) {
	f.Add([]byte("a \r\n\r\n b\t\r\r\n\n"), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, chunk uint8) {
		n := int(chunk%16) + 1
		for _, c := range []Canonicalization{Simple, Relaxed} {
			whole := newBodyHasher(sha256.New(), c)
			whole.Write(body)
			parts := newBodyHasher(sha256.New(), c)
			for b := body; len(b) > 0; {
				k := min(n, len(b))
				parts.Write(b[:k])
				b = b[k:]
			}
			if !bytes.Equal(whole.Sum(), parts.Sum()) {
				t.Fatalf("%s: chunks of %d differ for %q", c, n, body)
			}
		}
	})
}
