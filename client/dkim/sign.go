package dkim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultHeaders returns the header fields signed when Signer.Headers is
// nil: those RFC 6376 5.4.1 says should be signed, plus Message-ID and the
// MIME fields that say how to read the body. Only the fields present are
// signed, each as many times as it appears.
func DefaultHeaders() []string { return slices.Clone(defaultHeaders) }

var defaultHeaders = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc",
	"Resent-Date", "Resent-From", "Resent-To", "Resent-Cc",
	"In-Reply-To", "References",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner", "List-Archive",
	"Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
}

// defaultOversign are the fields signed once more than they appear when
// Signer.Oversign is nil: the signature then covers their absence too, so
// that a second From added on the way breaks it (RFC 6376 8.15).
var defaultOversign = []string{"From"}

// maxLineLength is where the signature field is folded (RFC 5322 2.1.1:
// lines SHOULD be at most 78 characters).
const maxLineLength = 78

// Signer signs messages for one domain and selector. Its fields must not
// change while Sign runs; Sign may be called concurrently.
type Signer struct {
	// Domain is the signing domain (d=), Selector the selector (s=); the
	// public key is published at Selector._domainkey.Domain.
	Domain, Selector string
	// Key is an *rsa.PrivateKey (rsa-sha256, at least MinRSABits) or an
	// ed25519.PrivateKey (ed25519-sha256, RFC 8463).
	Key crypto.Signer
	// HeaderCanonicalization and BodyCanonicalization; "" means Relaxed.
	HeaderCanonicalization, BodyCanonicalization Canonicalization
	// Headers are the fields to sign; nil means DefaultHeaders(). From
	// is always signed (RFC 6376 5.4).
	Headers []string
	// Oversign are fields signed once more than they appear (RFC 6376
	// 8.15: then none can be added); nil means From only, an empty
	// non-nil slice none.
	Oversign []string
	// Identity is the i= tag (the agent or user the domain signs for,
	// RFC 6376 3.5); empty leaves it out.
	Identity string
	// Expiration, when positive, adds x= that long after t= (RFC 6376 3.5).
	Expiration time.Duration
	// Now returns the signing time (t=); nil means time.Now.
	Now func() time.Time
	// MaxHeaderSize bounds the header section read; zero means
	// DefaultMaxHeaderSize.
	MaxHeaderSize int
}

// NewSigner returns a Signer with the defaults, after checking the key:
// a *KeyError for a key that cannot sign (RSA under MinRSABits, a type
// without DKIM algorithm). Check WeakKey for an RSA key under 2048 bits.
func NewSigner(domain, selector string, key crypto.Signer) (*Signer, error) {
	s := &Signer{Domain: domain, Selector: selector, Key: key}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// WeakKey reports an RSA key shorter than RecommendedRSABits: usable, but
// RFC 8301 3.2 says signers SHOULD use 2048 bits or more, and some
// receivers treat shorter keys as unsigned.
func (s *Signer) WeakKey() bool {
	k, ok := s.Key.(*rsa.PrivateKey)
	return ok && k.N.BitLen() < RecommendedRSABits
}

func (s *Signer) check() error {
	if _, err := algorithm(s.Key); err != nil {
		return err
	}
	if !validDomain(s.Domain) {
		return fmt.Errorf("dkim: bad signing domain %q", s.Domain)
	}
	if !validSelector(s.Selector) {
		return fmt.Errorf("dkim: bad selector %q", s.Selector)
	}
	for _, c := range []Canonicalization{s.HeaderCanonicalization, s.BodyCanonicalization} {
		if c != "" && !c.valid() {
			return fmt.Errorf("dkim: unknown canonicalization %q", c)
		}
	}
	for _, h := range append(append([]string(nil), s.Headers...), s.Oversign...) {
		if !validFieldName(h) {
			return fmt.Errorf("dkim: bad header field name %q", h)
		}
	}
	if s.Identity != "" {
		at := strings.LastIndexByte(s.Identity, '@')
		d := strings.ToLower(s.Identity[at+1:])
		dom := strings.ToLower(s.Domain)
		// RFC 6376 3.5 i=: the domain is d= or a subdomain of it.
		if at < 0 || strings.ContainsAny(s.Identity, " \t;\r\n") || (d != dom && !strings.HasSuffix(d, "."+dom)) {
			return fmt.Errorf("dkim: identity %q is not within %s", s.Identity, s.Domain)
		}
	}
	return nil
}

// validDomain checks d= as RFC 6376 3.5 wants it: a domain name of
// letters, digits, hyphens and dots (A-labels for IDNs).
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || d[0] == '.' || d[len(d)-1] == '.' {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if !validSelector(label) || len(label) > 63 {
			return false
		}
	}
	return true
}

// validSelector checks s= (RFC 6376 3.1: sub-domain *("." sub-domain)).
func validSelector(s string) bool {
	if s == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validFieldName checks a field name (RFC 5322 3.6.8: printable ASCII but
// the colon).
func validFieldName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] <= ' ' || n[i] >= 127 || n[i] == ':' {
			return false
		}
	}
	return true
}

// Sign reads the whole message from r and returns the DKIM-Signature
// header field, final CR LF included, to put before the message. The body
// is hashed as it is read, so only the header section is held in memory.
func (s *Signer) Sign(r io.Reader) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	algo, _ := algorithm(s.Key)
	hc, bc := s.HeaderCanonicalization, s.BodyCanonicalization
	if hc == "" {
		hc = Relaxed
	}
	if bc == "" {
		bc = Relaxed
	}
	limit := s.MaxHeaderSize
	if limit <= 0 {
		limit = DefaultMaxHeaderSize
	}
	br := newReader(r)
	fields, err := readHeader(br, limit)
	if err != nil {
		return nil, err
	}
	if len(fields) > 0 && isWSP(fields[0].raw[0]) {
		// RFC 5322 2.2.3: a continuation line needs a field above it; in
		// front of the message it would continue our signature field.
		return nil, errLeadingWSP
	}
	body := newBodyHasher(sha256.New(), bc)
	if _, err := br.WriteTo(body); err != nil {
		return nil, err
	}
	bh := body.Sum()

	names := s.signedNames(fields)
	if len(names) == 0 || !strings.EqualFold(names[0], "From") {
		return nil, errNoFrom
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().Unix()

	// The tags in a fixed order; b= last and empty while hashing (RFC
	// 6376 3.5, 3.7).
	tags := []string{
		"v=1",
		"a=" + algo,
		"c=" + string(hc) + "/" + string(bc),
		"d=" + s.Domain,
		"s=" + s.Selector,
	}
	if s.Identity != "" {
		tags = append(tags, "i="+s.Identity)
	}
	tags = append(tags, "t="+strconv.FormatInt(t, 10))
	if s.Expiration > 0 {
		tags = append(tags, "x="+strconv.FormatInt(t+int64(s.Expiration/time.Second), 10))
	}
	tags = append(tags, "h="+strings.Join(names, ":"), "bh="+base64.StdEncoding.EncodeToString(bh))
	f := newFolder("DKIM-Signature:")
	for _, tag := range tags {
		if strings.HasPrefix(tag, "h=") {
			f.words(tag, ':')
		} else {
			f.word(" " + tag + ";")
		}
	}
	f.word(" b=")
	unsigned := f.String()

	// RFC 6376 3.7: the signed fields, each with its CR LF, then this
	// field without b='s value and without the final CR LF.
	h := sha256.New()
	var buf []byte
	for _, raw := range selectFields(fields, names) {
		buf = canonHeader(buf[:0], raw, hc)
		h.Write(buf)
	}
	buf = canonHeader(buf[:0], []byte(unsigned+"\r\n"), hc)
	h.Write(buf[:len(buf)-2])
	digest := h.Sum(nil)

	var sig []byte
	switch algo {
	case "rsa-sha256":
		sig, err = s.Key.Sign(rand.Reader, digest, crypto.SHA256)
	default:
		// RFC 8463 3: PureEdDSA over the SHA-256 hash.
		sig, err = s.Key.Sign(rand.Reader, digest, crypto.Hash(0))
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: signing: %w", err)
	}
	f.base64(base64.StdEncoding.EncodeToString(sig))
	return []byte(f.String() + "\r\n"), nil
}

// signedNames returns the h= list: each wanted field once per instance,
// the oversigned ones once more; From first.
func (s *Signer) signedNames(fields []field) []string {
	want := s.Headers
	if want == nil {
		want = defaultHeaders
	}
	over := s.Oversign
	if over == nil {
		over = defaultOversign
	}
	count := func(name string) int {
		n := 0
		for _, f := range fields {
			if strings.EqualFold(f.name, name) {
				n++
			}
		}
		return n
	}
	if count("From") == 0 {
		return nil
	}
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		key := strings.ToLower(name)
		if seen[key] {
			return
		}
		seen[key] = true
		n := count(name)
		for _, o := range over {
			if strings.EqualFold(o, name) {
				n++
			}
		}
		for range n {
			names = append(names, key)
		}
	}
	add("From") // RFC 6376 5.4: From MUST be signed
	for _, n := range want {
		add(n)
	}
	for _, n := range over {
		add(n)
	}
	return names
}

// selectFields returns, for each name of h= in order, the field that
// RFC 6376 5.4.2 pairs it with: the last instance not used yet, then the
// one above it; a name with no instance left pairs with nothing (the
// oversigned absence). The instances of each name are listed once, so a
// header of many fields costs linear time, not a scan per name.
func selectFields(fields []field, names []string) [][]byte {
	// left[name]: the instances not paired yet, top to bottom.
	left := make(map[string][]int)
	for _, n := range names {
		left[strings.ToLower(n)] = nil
	}
	for i := range fields {
		k := strings.ToLower(fields[i].name)
		if l, ok := left[k]; ok {
			left[k] = append(l, i)
		}
	}
	var out [][]byte
	for _, n := range names {
		k := strings.ToLower(n)
		l := left[k]
		if len(l) == 0 {
			continue
		}
		out = append(out, fields[l[len(l)-1]].raw)
		left[k] = l[:len(l)-1]
	}
	return out
}

// folder builds a header field folded before maxLineLength.
type folder struct {
	b    strings.Builder
	line int // length of the current line
}

func newFolder(start string) *folder {
	f := &folder{}
	f.b.WriteString(start)
	f.line = len(start)
	return f
}

// word adds w (starting with its separating space), folding before it when
// the line would get too long.
func (f *folder) word(w string) {
	if f.line+len(w) > maxLineLength && f.line > 1 {
		f.b.WriteString("\r\n\t")
		f.line = 1
		w = strings.TrimPrefix(w, " ")
	}
	f.b.WriteString(w)
	f.line += len(w)
}

// words adds a tag whose value is a sep-separated list, folding after a
// separator where needed (RFC 6376 3.5 allows FWS around h='s colons).
func (f *folder) words(tag string, sep byte) {
	parts := strings.SplitAfter(tag, string(sep))
	parts[len(parts)-1] += ";"
	f.word(" " + parts[0])
	for _, p := range parts[1:] {
		if f.line+len(p) > maxLineLength {
			f.b.WriteString("\r\n\t")
			f.line = 1
		}
		f.b.WriteString(p)
		f.line += len(p)
	}
}

// base64 appends the signature value, folded anywhere (RFC 6376 3.5 b=:
// FWS is allowed between its characters).
func (f *folder) base64(v string) {
	for len(v) > 0 {
		room := maxLineLength - f.line
		if room <= 0 {
			f.b.WriteString("\r\n\t")
			f.line = 1
			continue
		}
		n := min(room, len(v))
		f.b.WriteString(v[:n])
		f.line += n
		v = v[n:]
	}
}

func (f *folder) String() string { return f.b.String() }
