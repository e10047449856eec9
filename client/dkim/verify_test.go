package dkim

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// This file is a DKIM verifier for the tests only (RFC 6376 6): it checks
// the signatures the Signer makes and the examples of the RFCs. It is
// strict: l= is refused, every required tag is checked.

// parseTagList parses a tag=value list (RFC 6376 3.2). Values keep their
// inner white space; a repeated tag is an error.
func parseTagList(s string) (map[string]string, error) {
	tags := map[string]string{}
	for part := range strings.SplitSeq(s, ";") {
		if strings.Trim(part, " \t\r\n") == "" {
			continue // the optional final ";" (or an empty list)
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("tag without '=': %q", part)
		}
		name = strings.Trim(name, " \t\r\n")
		if name == "" {
			return nil, errors.New("empty tag name")
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') || (i == 0 && '0' <= c && c <= '9') {
				return nil, fmt.Errorf("bad tag name %q", name)
			}
		}
		if _, dup := tags[name]; dup {
			return nil, fmt.Errorf("tag %q repeated", name)
		}
		tags[name] = strings.Trim(value, " \t\r\n")
	}
	return tags, nil
}

// stripFWS removes all white space and line ends (for base64 values).
func stripFWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// publicKey parses a key record (RFC 6376 3.6.1, RFC 8463 4).
func publicKey(record string) (crypto.PublicKey, error) {
	tags, err := parseTagList(record)
	if err != nil {
		return nil, err
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return nil, fmt.Errorf("key record version %q", v)
	}
	p, err := base64.StdEncoding.DecodeString(stripFWS(tags["p"]))
	if err != nil || len(p) == 0 {
		return nil, fmt.Errorf("key record p=: %v (revoked or bad)", err)
	}
	switch k := tags["k"]; k {
	case "", "rsa":
		pub, err := x509.ParsePKIXPublicKey(p)
		if err != nil {
			return nil, err
		}
		if _, ok := pub.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("k=rsa with a %T", pub)
		}
		return pub, nil
	case "ed25519":
		if len(p) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("ed25519 key of %d bytes", len(p))
		}
		return ed25519.PublicKey(p), nil
	default:
		return nil, fmt.Errorf("key type %q", k)
	}
}

// withoutB returns the raw signature field with the value of its b= tag
// removed (RFC 6376 3.7), everything else untouched.
func withoutB(raw []byte) ([]byte, error) {
	colon := bytes.IndexByte(raw, ':')
	start := colon + 1
	for start < len(raw) {
		end := bytes.IndexByte(raw[start:], ';')
		if end < 0 {
			end = len(raw) - start
		}
		part := raw[start : start+end]
		name, _, ok := bytes.Cut(part, []byte("="))
		if ok && string(bytes.Trim(name, " \t\r\n")) == "b" {
			eq := start + bytes.IndexByte(part, '=') + 1
			valueEnd := start + end
			out := append([]byte(nil), raw[:eq]...)
			rest := raw[valueEnd:]
			if valueEnd == len(raw) {
				// b= is the last tag: keep the final CR LF.
				out = append(out, '\r', '\n')
				return out, nil
			}
			return append(out, rest...), nil
		}
		start += end + 1
	}
	return nil, errors.New("no b= tag")
}

// verifyResult is the outcome of one DKIM-Signature field.
type verifyResult struct {
	Domain, Selector string
	Err              error
}

// verify checks every DKIM-Signature of msg against the key records in
// keys ("selector._domainkey.domain" to the TXT record).
func verify(msg []byte, keys map[string]string) ([]verifyResult, error) {
	br := bufio.NewReader(bytes.NewReader(msg))
	fields, err := readHeader(br, DefaultMaxHeaderSize)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	br.WriteTo(&body)
	var results []verifyResult
	for i, f := range fields {
		if !strings.EqualFold(f.name, "DKIM-Signature") {
			continue
		}
		r := verifyResult{}
		r.Err = verifyOne(fields, i, body.Bytes(), keys, &r)
		results = append(results, r)
	}
	if len(results) == 0 {
		return nil, errors.New("no DKIM-Signature")
	}
	return results, nil
}

func verifyOne(fields []field, idx int, body []byte, keys map[string]string, r *verifyResult) error {
	raw := fields[idx].raw
	tags, err := parseTagList(string(raw[bytes.IndexByte(raw, ':')+1:]))
	if err != nil {
		return err
	}
	for _, t := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := tags[t]; !ok {
			return fmt.Errorf("missing %s= tag", t)
		}
	}
	if tags["v"] != "1" {
		return fmt.Errorf("v=%s", tags["v"])
	}
	if _, ok := tags["l"]; ok {
		return errors.New("l= is refused")
	}
	r.Domain, r.Selector = tags["d"], tags["s"]
	hc, bc := Simple, Simple // RFC 6376 3.5: c= defaults to simple/simple
	if c, ok := tags["c"]; ok {
		h, b, slash := strings.Cut(c, "/")
		hc = Canonicalization(h)
		if slash {
			bc = Canonicalization(b)
		}
		if !hc.valid() || !bc.valid() {
			return fmt.Errorf("c=%s", c)
		}
	}
	var names []string
	fromSigned := false
	for n := range strings.SplitSeq(tags["h"], ":") {
		n = strings.ToLower(stripFWS(n))
		names = append(names, n)
		fromSigned = fromSigned || n == "from"
	}
	if !fromSigned {
		return errors.New("From is not signed")
	}
	record, ok := keys[tags["s"]+"._domainkey."+tags["d"]]
	if !ok {
		return fmt.Errorf("no key record for %s._domainkey.%s", tags["s"], tags["d"])
	}
	pub, err := publicKey(record)
	if err != nil {
		return err
	}
	bodyHash := newBodyHasher(sha256.New(), bc)
	bodyHash.Write(body)
	if got := base64.StdEncoding.EncodeToString(bodyHash.Sum()); got != stripFWS(tags["bh"]) {
		return fmt.Errorf("body hash %s, signature says %s", got, stripFWS(tags["bh"]))
	}
	h := sha256.New()
	var buf []byte
	for _, f := range selectFields(fields, names) {
		buf = canonHeader(buf[:0], f, hc)
		h.Write(buf)
	}
	unsigned, err := withoutB(raw)
	if err != nil {
		return err
	}
	buf = canonHeader(buf[:0], unsigned, hc)
	h.Write(buf[:len(buf)-2])
	digest := h.Sum(nil)
	sig, err := base64.StdEncoding.DecodeString(stripFWS(tags["b"]))
	if err != nil {
		return fmt.Errorf("b=: %v", err)
	}
	switch a := tags["a"]; a {
	case "rsa-sha256":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("a=rsa-sha256 with a non-RSA key")
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig)
	case "ed25519-sha256":
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return errors.New("a=ed25519-sha256 with a non-Ed25519 key")
		}
		if !ed25519.Verify(k, digest, sig) {
			return errors.New("ed25519 signature does not verify")
		}
		return nil
	default:
		return fmt.Errorf("a=%s", a)
	}
}
