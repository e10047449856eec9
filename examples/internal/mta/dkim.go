package mta

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"sync"

	"github.com/smtpkit/smtp/client/dkim"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/cli"
)

// dkimSpec is one -dkim value: DOMAIN:SELECTOR:KEYFILE.
type dkimSpec struct {
	domain   string // lower case, A-labels
	selector string
	keyFile  string
}

// parseDKIMSpec parses DOMAIN:SELECTOR:KEYFILE (the file name may hold
// colons).
func parseDKIMSpec(v string) (dkimSpec, error) {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return dkimSpec{}, fmt.Errorf("-dkim %q: want DOMAIN:SELECTOR:KEYFILE", v)
	}
	dom, err := cli.DomainKey(parts[0])
	if err != nil {
		return dkimSpec{}, fmt.Errorf("-dkim %q: invalid domain: %v", v, err)
	}
	// The signer's checks of the domain and selector, before any file is
	// read (with a stand-in key).
	standIn := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	if _, err := dkim.NewSigner(dom, parts[1], standIn); err != nil {
		return dkimSpec{}, fmt.Errorf("-dkim %q: %v", v, err)
	}
	return dkimSpec{domain: dom, selector: parts[1], keyFile: parts[2]}, nil
}

func (s dkimSpec) String() string { return s.domain + ":" + s.selector + ":" + s.keyFile }

// loadDKIMKey reads the private key of s: a PEM file (PKCS#8 RSA or
// Ed25519, PKCS#1 RSA) that only its owner may access, as the relay's
// other secrets (cli.ReadSecretFile), since whoever reads it may sign as
// the domain.
func loadDKIMKey(s dkimSpec) (crypto.Signer, error) {
	data, err := cli.ReadSecretFile(s.keyFile)
	if err != nil {
		return nil, fmt.Errorf("-dkim %s: %w", s, err)
	}
	key, err := dkim.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("-dkim %s: %s: %w", s, s.keyFile, err)
	}
	return key, nil
}

// dkimKeys are the signers of the -dkim flags, by signing domain, in the
// order given: several for one domain (two selectors while a key is
// rolled over) all sign. It is immutable once loaded; nil has no keys.
type dkimKeys struct {
	byDomain map[string][]*dkim.Signer
}

// loadDKIMKeys reads the keys of specs; nil without specs.
func loadDKIMKeys(specs []dkimSpec) (*dkimKeys, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	k := &dkimKeys{byDomain: map[string][]*dkim.Signer{}}
	for _, s := range specs {
		key, err := loadDKIMKey(s)
		if err != nil {
			return nil, err
		}
		signer, err := dkim.NewSigner(s.domain, s.selector, key)
		if err != nil {
			return nil, fmt.Errorf("-dkim %s: %w", s, err)
		}
		k.byDomain[s.domain] = append(k.byDomain[s.domain], signer)
	}
	return k, nil
}

// count returns the number of keys.
func (k *dkimKeys) count() int {
	if k == nil {
		return 0
	}
	n := 0
	for _, ss := range k.byDomain {
		n += len(ss)
	}
	return n
}

// weak describes the RSA keys shorter than RFC 8301 3.2 recommends, which
// some receivers treat as no signature: "x.test:sel (1024 bits)".
func (k *dkimKeys) weak() []string {
	var out []string
	if k == nil {
		return nil
	}
	for _, ss := range k.byDomain {
		for _, s := range ss {
			if note := weakKeyNote(s); note != "" {
				out = append(out, note)
			}
		}
	}
	return out
}

// weakKeyNote describes the key of s when it is an RSA key under 2048
// bits, "x.test:sel (1024 bits)"; "" for another.
func weakKeyNote(s *dkim.Signer) string {
	if !s.WeakKey() {
		return ""
	}
	return s.Domain + ":" + s.Selector + " (" + strconv.Itoa(s.Key.(*rsa.PrivateKey).N.BitLen()) + " bits)"
}

// signersFor returns the signers for mail from domain dom (lower case,
// A-labels): dom's own keys, else those of its closest parent domain that
// has keys. d= then equals the From domain or is its organizational
// domain or a parent of it, which is what DMARC's relaxed alignment
// accepts (RFC 7489 3.1.1).
func (k *dkimKeys) signersFor(dom string) []*dkim.Signer {
	if k == nil {
		return nil
	}
	for d := dom; d != ""; {
		if ss := k.byDomain[d]; len(ss) > 0 {
			return ss
		}
		_, d, _ = strings.Cut(d, ".")
	}
	return nil
}

// tolerantWords decodes RFC 2047 encoded-words in display names whatever
// their charset: only the address matters here.
var tolerantWords = &mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}

// choose returns the signers for a message whose header section is
// header, submitted by user, or why it is not signed; both empty without
// keys. complete says that header is the whole header section (a larger
// one than the signer reads is not signed). A message is signed for its
// author, the domain of its one From address (RFC 6376 5.4: From is the
// field a signature must cover); one with no From or several (RFC 5322
// 3.6.2 allows a list) has no single author domain to align with. Under
// -senders, the From address must be one the login may use as a sender,
// so that a login cannot have a signature made for another's address.
func (k *dkimKeys) choose(header []byte, complete bool, user string, senders *senderPolicy) ([]*dkim.Signer, string) {
	if k.count() == 0 {
		return nil, ""
	}
	if !complete {
		return nil, fmt.Sprintf("header section over %d bytes", dkim.DefaultMaxHeaderSize)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(header))
	if err != nil {
		return nil, "header section unparsable: " + err.Error()
	}
	froms := msg.Header["From"]
	switch len(froms) {
	case 0:
		return nil, "no From field"
	case 1:
	default:
		return nil, strconv.Itoa(len(froms)) + " From fields"
	}
	list, err := tolerantWords.ParseList(froms[0])
	if err != nil {
		return nil, "From field unparsable: " + err.Error()
	}
	if len(list) != 1 {
		return nil, strconv.Itoa(len(list)) + " From addresses"
	}
	at := strings.LastIndexByte(list[0].Address, '@')
	from := envelope.Address{Local: list[0].Address[:at], Domain: list[0].Address[at+1:]}
	dom, err := cli.DomainKey(from.Domain)
	if err != nil {
		return nil, "From domain " + from.Domain + " invalid: " + err.Error()
	}
	if senders != nil && !senders.allows(user, envelope.Path{Address: from}) {
		return nil, "From <" + list[0].Address + "> is not a sender of user " + user + " (-senders)"
	}
	ss := k.signersFor(dom)
	if ss == nil {
		return nil, "no -dkim key for " + dom
	}
	return ss, ""
}

// readHeaderSection reads the header section of a message from br, its
// empty line included (RFC 5322 2.1; either line end), or all of it when
// it has no body. complete is false when the section is longer than limit:
// then header holds the first limit+1 bytes or a little more, and br the
// rest.
func readHeaderSection(br *bufio.Reader, limit int) (header []byte, complete bool, err error) {
	lineStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		empty := lineStart && (string(chunk) == "\r\n" || string(chunk) == "\n")
		header = append(header, chunk...)
		switch {
		case err == io.EOF:
			return header, true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			lineStart = false
		case err != nil:
			return header, false, err
		default:
			lineStart = true
		}
		if empty {
			return header, true, nil
		}
		if len(header) > limit {
			return header, false, nil
		}
	}
}

// dkimSignError is a signature that could not be made (not one that was
// not asked for).
type dkimSignError struct {
	domain, selector string
	err              error
}

func (e *dkimSignError) Error() string {
	return "DKIM signing for " + e.domain + " (selector " + e.selector + "): " + e.err.Error()
}

func (e *dkimSignError) Unwrap() error { return e.err }

// spoolSigned copies src into w while each signer reads the same bytes,
// and returns their DKIM-Signature fields in order: the message is read
// once, hashed as it streams by, and never held in memory. A failure of
// src or w is returned as it is; a signer's failure as a *dkimSignError.
func spoolSigned(w io.ReaderFrom, src io.Reader, signers []*dkim.Signer) ([]byte, error) {
	if len(signers) == 0 {
		_, err := w.ReadFrom(src)
		return nil, err
	}
	type result struct {
		sig []byte
		err error
	}
	results := make([]result, len(signers))
	pipes := make([]*io.PipeWriter, len(signers))
	writers := make([]io.Writer, len(signers))
	var wg sync.WaitGroup
	for i, s := range signers {
		pr, pw := io.Pipe()
		pipes[i], writers[i] = pw, pw
		wg.Go(func() {
			sig, err := s.Sign(pr)
			// A signer that stopped early must not block the others.
			io.Copy(io.Discard, pr)
			results[i] = result{sig, err}
		})
	}
	_, err := w.ReadFrom(io.TeeReader(src, io.MultiWriter(writers...)))
	for _, pw := range pipes {
		if err != nil {
			pw.CloseWithError(err)
		} else {
			pw.Close()
		}
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	var sigs []byte
	for i, r := range results {
		if r.err != nil {
			return nil, &dkimSignError{domain: signers[i].Domain, selector: signers[i].Selector, err: r.err}
		}
		sigs = append(sigs, r.sig...)
	}
	return sigs, nil
}

// signBytes returns the DKIM-Signature fields of msg, a message the relay
// writes itself (a bounce, a TLS report), for the domain of its From
// address; none when no key applies. extra are header fields to sign
// besides dkim.DefaultHeaders.
func (k *dkimKeys) signBytes(msg []byte, extra ...string) ([]byte, []*dkim.Signer, error) {
	if k.count() == 0 {
		return nil, nil, nil
	}
	header, _, err := readHeaderSection(bufio.NewReader(bytes.NewReader(msg)), dkim.DefaultMaxHeaderSize)
	if err != nil {
		return nil, nil, err
	}
	signers, _ := k.choose(header, true, "", nil)
	if len(extra) > 0 {
		// Copies: the chosen signers are the keys' own.
		own := signers
		signers = make([]*dkim.Signer, len(own))
		for i, s := range own {
			c := *s
			c.Headers = append(dkim.DefaultHeaders(), extra...)
			signers[i] = &c
		}
	}
	var sigs []byte
	for _, s := range signers {
		sig, err := s.Sign(bytes.NewReader(msg))
		if err != nil {
			return nil, nil, &dkimSignError{domain: s.Domain, selector: s.Selector, err: err}
		}
		sigs = append(sigs, sig...)
	}
	return sigs, signers, nil
}

// signedNote is the mail log's note of the signatures added, in
// OpenDKIM's words: "DKIM-Signature field added (s=a,b, d=x.test)".
func signedNote(signers []*dkim.Signer) string {
	sels := make([]string, len(signers))
	for i, s := range signers {
		sels[i] = s.Selector
	}
	return "DKIM-Signature field added (s=" + strings.Join(sels, ",") + ", d=" + signers[0].Domain + ")"
}

// maxTXTString is the longest character-string of a TXT record (RFC 1035
// 3.3.14); a longer record (an RSA key) is several strings, which the
// resolver joins (RFC 6376 3.6.2.2).
const maxTXTString = 255

// dnsRecordLine returns the DNS record that publishes key for s, in zone
// file form: `sel._domainkey.example.org. IN TXT "v=DKIM1; k=ed25519; p=..."`.
func dnsRecordLine(s dkimSpec, key crypto.Signer) (string, error) {
	rec, err := dkim.PublicKeyRecord(key)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(s.selector + "._domainkey." + s.domain + ". IN TXT ")
	for i := 0; i < len(rec); i += maxTXTString {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(`"` + rec[i:min(i+maxTXTString, len(rec))] + `"`)
	}
	return b.String(), nil
}
