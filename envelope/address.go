package envelope

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/smtpkit/smtp/reply"
)

// Address is a mailbox (RFC 5321 4.1.2 Mailbox): a local part and a domain.
//
// Local is the local part with any quoting removed: the address
// "john doe"@example.com has Local `john doe`. String and AppendTo put the
// quotes back when they are needed. Local parts are case-sensitive
// (RFC 5321 2.4), so this package never changes their case.
//
// Domain is the domain as received, either a domain name (ASCII, or with
// U-labels under SMTPUTF8) or an address literal with its brackets, such as
// "[192.0.2.1]" or "[IPv6:2001:db8::1]". Domain is empty only for the
// special recipient <Postmaster> (RFC 5321 4.1.1.3).
type Address struct {
	Local  string
	Domain string
}

// Path is a reverse-path or forward-path (RFC 5321 4.1.2): an address in
// angle brackets, or the null reverse-path "<>" (RFC 5321 4.1.1.2, 4.5.5)
// when Null is set. Any source route received with the path is dropped
// (RFC 5321 4.1.1.3, appendix C).
//
// The zero Path formats as "<>", like a null path.
type Path struct {
	Address
	// Null marks the null reverse-path "<>", used by bounces and other
	// notifications (RFC 5321 4.5.5).
	Null bool
}

// IsZero reports whether p is the null path or has no address at all.
func (p Path) IsZero() bool {
	return p.Null || (p.Local == "" && p.Domain == "")
}

// String returns the path as sent on the wire, "<local@domain>" or "<>".
func (p Path) String() string {
	return string(p.AppendTo(make([]byte, 0, len(p.Local)+len(p.Domain)+4)))
}

// AppendTo appends the path as sent on the wire ("<local@domain>", or "<>"
// for a null or zero path) to dst and returns the extended slice. The local
// part is quoted when it is not a valid Dot-string (RFC 5321 4.1.2). It
// does not validate the address; AppendMailCommand and AppendRcptCommand do.
func (p Path) AppendTo(dst []byte) []byte {
	if p.IsZero() {
		return append(dst, '<', '>')
	}
	dst = append(dst, '<')
	dst = p.Address.AppendTo(dst)
	return append(dst, '>')
}

// String returns the address as "local@domain", quoting the local part when
// needed (RFC 5321 4.1.2), or just the local part when Domain is empty.
func (a Address) String() string {
	if a.Domain != "" && isDotString(a.Local) {
		return a.Local + "@" + a.Domain
	}
	return string(a.AppendTo(nil))
}

// AppendTo appends the address as String formats it to dst.
func (a Address) AppendTo(dst []byte) []byte {
	if a.Local == "" && a.Domain == "" {
		return dst
	}
	dst = appendLocal(dst, a.Local)
	if a.Domain != "" {
		dst = append(dst, '@')
		dst = append(dst, a.Domain...)
	}
	return dst
}

// IsASCII reports whether the address is pure ASCII, that is, whether it can
// be sent without SMTPUTF8 as it is.
func (a Address) IsASCII() bool {
	return isASCII(a.Local) && isASCII(a.Domain)
}

// IsPostmaster reports whether the local part is "postmaster", compared
// case-insensitively (RFC 5321 4.5.1), whatever the domain.
func (a Address) IsPostmaster() bool {
	return strings.EqualFold(a.Local, "postmaster")
}

// IsAddressLiteral reports whether Domain is an address literal such as
// "[192.0.2.1]" (RFC 5321 4.1.3).
func (a Address) IsAddressLiteral() bool {
	return strings.HasPrefix(a.Domain, "[")
}

// ASCII returns the address with every U-label of the domain converted to
// its A-label (RFC 5890 2.3.2.1), as needed to look the domain up in the DNS
// or to send the address to a server without SMTPUTF8. The local part is
// left alone: if it is not ASCII the address still needs SMTPUTF8
// (RFC 6531 3.2). An address literal is returned unchanged.
//
// It applies the parser's rule: a non-ASCII label must be a valid U-label
// and an "xn--" label a valid A-label, or ASCII fails with an *Error (553
// 5.1.3). Nothing is mapped: ｅｘａｍｐｌｅ.com (full-width letters) or
// BÜCHER.de is an error, not example.com or xn--bcher-kva.de, so that the
// domain a backend checked is the one mail goes to. A program that takes
// domain names from people may apply the UTS 46 mapping (RFC 5895) to
// their input itself, before it builds the address.
func (a Address) ASCII() (Address, error) {
	if a.IsAddressLiteral() || (isASCII(a.Domain) && !hasALabel(a.Domain)) {
		return a, nil
	}
	d, err := convertLabels(a.Domain, true)
	if err != nil {
		return a, err
	}
	a.Domain = d
	return a, nil
}

// Unicode returns the address with every A-label ("xn--...") of the domain
// converted to its U-label, for display or for delivery under SMTPUTF8.
// Other labels keep their case. An address literal is returned unchanged.
// A label that is not a valid A-label or U-label is an *Error, as in ASCII.
func (a Address) Unicode() (Address, error) {
	if a.IsAddressLiteral() || (isASCII(a.Domain) && !hasALabel(a.Domain)) {
		return a, nil
	}
	d, err := convertLabels(a.Domain, false)
	if err != nil {
		return a, err
	}
	a.Domain = d
	return a, nil
}

// idnaProfile converts internationalised domain names. It is close to
// idna.Lookup (RFC 5891 5 with the UTS 46 mappings and the Bidi rule) but
// does not check hyphens, since ASCII labels such as "r3---sn-abc" exist in
// real domains; RFC 5321 4.1.2 syntax is checked by this package instead,
// and the hyphen rules of U-labels by validULabel. The mappings are never
// applied to an address: toALabel and toULabel accept only labels that
// they leave unchanged. A Profile is immutable once built.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.CheckJoiners(true),
	idna.CheckHyphens(false),
	idna.Transitional(false),
)

// toALabel returns the A-label of label, which has non-ASCII characters,
// when label is a valid U-label: IDNA converts it to an A-label and back
// to exactly itself (RFC 5890 2.3.2.1; RFC 5891 5.3-5.5). The round trip
// refuses every label the UTS 46 mapping would change: full-width or
// capital letters, text not in NFC (RFC 5891 5.3), characters mapped to
// nothing (U+00AD) or to a dot (U+3002, U+2488), as well as disallowed
// code points and Bidi or joiner violations.
func toALabel(label string) (string, bool) {
	if !validULabelHyphens(label) {
		return "", false
	}
	a, err := idnaProfile.ToASCII(label)
	if err != nil || !isALabel(a) || strings.IndexByte(a, '.') >= 0 || !isASCII(a) {
		return "", false
	}
	if u, err := idnaProfile.ToUnicode(a); err != nil || u != label {
		return "", false
	}
	return a, true
}

// toULabel returns the U-label of label, an ASCII "xn--" label, when it is
// a valid A-label: the ACE form of a valid U-label, case aside (RFC 5890
// 2.3.2.1; RFC 5891 5.4: one that decodes to ASCII, or that the encoding
// of its decoded form does not give back, is not one).
func toULabel(label string) (string, bool) {
	u, err := idnaProfile.ToUnicode(label)
	if err != nil || isASCII(u) {
		return "", false
	}
	if a, ok := toALabel(u); !ok || !strings.EqualFold(a, label) {
		return "", false
	}
	return u, true
}

// validULabelHyphens checks the hyphen rules of a U-label that the
// profile leaves to us: no hyphen first or last, none in both the third
// and fourth positions (RFC 5891 4.2.3.1).
func validULabelHyphens(label string) bool {
	if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	n := 0
	for _, r := range label {
		if (n == 2 || n == 3) && r != '-' {
			return true
		}
		if n == 3 {
			return false // '-' third and fourth
		}
		n++
	}
	return true
}

// errBadIDN is the error of a domain with a label that is neither a valid
// U-label nor ASCII, or an "xn--" label that is not a valid A-label: 553,
// "mailbox name not allowed" (RFC 5321 4.2.2), with X.1.3 or X.1.7.
func errBadIDN(kind pathKind) *Error {
	return newError(codeMailboxNotAllowed, kind.enhanced(),
		"Bad "+kind.noun()+": domain is not a valid internationalized domain name (IDNA2008 U-labels only)")
}

// convertLabels converts the labels of domain that need it, to A-labels
// (toASCII) or to U-labels, keeping the others as they are. Every "xn--"
// label must be a valid A-label and every non-ASCII label a valid U-label.
func convertLabels(domain string, toASCII bool) (string, error) {
	var b strings.Builder
	b.Grow(len(domain) + 16)
	for i, label := range strings.Split(domain, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		switch {
		case !isASCII(label):
			a, ok := toALabel(label)
			if !ok {
				return "", errBadIDN(kindAny)
			}
			if toASCII {
				label = a
			}
		case isALabel(label):
			u, ok := toULabel(label)
			if !ok {
				return "", errBadIDN(kindAny)
			}
			if !toASCII {
				label = u
			}
		}
		b.WriteString(label)
	}
	return b.String(), nil
}

func isALabel(label string) bool {
	return len(label) > 4 && hasPrefixFold(label, "XN--")
}

func hasALabel(domain string) bool {
	for domain != "" {
		label, rest, _ := strings.Cut(domain, ".")
		if isALabel(label) {
			return true
		}
		domain = rest
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Character classes of RFC 5321 4.1.2, looked up in charClass.
const (
	classAtext  = 1 << iota // atext (RFC 5322 3.2.3, used by Atom)
	classQtext              // qtextSMTP: printable ASCII and space but '"' and '\'
	classLetDig             // Let-dig: ALPHA / DIGIT
	classLdh                // Let-dig or '-' (Ldh-str)
	classLocal              // atext or '.': the bytes of a Dot-string
	classDomain             // Ldh or '.': the bytes of a Domain
)

// charClass holds the classes of each ASCII byte; bytes >= 0x80 have none.
// Built once and only read.
var charClass = func() (t [256]uint8) {
	for c := 0; c < 128; c++ {
		letDig := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if letDig || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", byte(c)) >= 0 {
			t[c] |= classAtext
		}
		if c == 32 || c == 33 || (35 <= c && c <= 91) || (93 <= c && c <= 126) {
			t[c] |= classQtext
		}
		if letDig {
			t[c] |= classLetDig | classLdh
		}
		if c == '-' {
			t[c] |= classLdh
		}
		if t[c]&classAtext != 0 || c == '.' {
			t[c] |= classLocal
		}
		if t[c]&classLdh != 0 || c == '.' {
			t[c] |= classDomain
		}
	}
	return t
}()

// isAtext reports whether c is an ASCII atext character (RFC 5322 3.2.3,
// used by RFC 5321 4.1.2 Atom).
func isAtext(c byte) bool { return charClass[c]&classAtext != 0 }

// isQtext reports whether c is qtextSMTP (RFC 5321 4.1.2): printable ASCII
// and space, except '"' and '\'.
func isQtext(c byte) bool { return charClass[c]&classQtext != 0 }

func isLetDig(c byte) bool { return charClass[c]&classLetDig != 0 }

// hasPrefixFold reports whether s starts with prefix, ASCII letters
// compared without case; prefix is upper case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// trimSpaces returns s without its leading spaces.
func trimSpaces(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	return s
}

// isDotString reports whether s can be sent unquoted: Atom *("." Atom)
// (RFC 5321 4.1.2), non-ASCII bytes counting as atext (RFC 6531 3.3).
func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case charClass[c]&classAtext != 0 || c >= utf8.RuneSelf:
		case c == '.' && s[i-1] != '.':
		default:
			return false
		}
	}
	return true
}

// appendLocal appends a local part, as a Dot-string when it is one and as a
// Quoted-string otherwise (RFC 5321 4.1.2: '"' and '\' are escaped with a
// backslash). Characters that no Quoted-string can carry (controls) are
// written as they are; AppendMailCommand and AppendRcptCommand reject them.
func appendLocal(dst []byte, local string) []byte {
	if isDotString(local) {
		return append(dst, local...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// pathKind says which grammar a path is parsed with and which enhanced
// status code reports its errors.
type pathKind uint8

const (
	// kindAny is a generic path (ParsePath, ParseAddress): null path and
	// <Postmaster> both accepted.
	kindAny pathKind = iota
	// kindReverse is the argument of MAIL FROM: (RFC 5321 4.1.1.2).
	kindReverse
	// kindForward is the argument of RCPT TO: (RFC 5321 4.1.1.3).
	kindForward
)

func (k pathKind) enhanced() reply.EnhancedCode {
	if k == kindReverse {
		return reply.EnhBadSenderSyntax()
	}
	return reply.EnhBadDestSyntax()
}

func (k pathKind) noun() string {
	switch k {
	case kindReverse:
		return "sender address"
	case kindForward:
		return "recipient address"
	}
	return "address"
}

// addrParser parses one path or mailbox.
type addrParser struct {
	kind      pathKind
	utf8      bool // RFC 6531 3.3: UTF-8 allowed
	maxLocal  int
	maxDomain int
	maxPath   int
}

func newAddrParser(kind pathKind, utf8 bool, opts *ParseOptions) addrParser {
	return addrParser{
		kind:      kind,
		utf8:      utf8,
		maxLocal:  limit(opts.MaxLocalPartLength, DefaultMaxLocalPartLength),
		maxDomain: limit(opts.MaxDomainLength, DefaultMaxDomainLength),
		maxPath:   limit(opts.MaxPathLength, DefaultMaxPathLength),
	}
}

func (p *addrParser) syntax(detail string) *Error {
	return newError(codeSyntax, p.kind.enhanced(), "Bad "+p.kind.noun()+" syntax: "+detail)
}

// nonASCII reports UTF-8 without SMTPUTF8: RFC 6531 3.5 prescribes 553
// with X.6.7 (RFC 5248).
func (p *addrParser) nonASCII() *Error {
	return newError(codeMailboxNotAllowed, reply.EnhNonASCIIAddress(),
		"Non-ASCII "+p.kind.noun()+" not permitted without SMTPUTF8")
}

// checkUTF8 validates the non-ASCII character at s[i] and returns its
// length in bytes.
func (p *addrParser) checkUTF8(s string, i int) (int, *Error) {
	if !p.utf8 {
		return 0, p.nonASCII()
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n <= 1 {
		// RFC 6531 3.3 (via RFC 6532 3.1): only well-formed UTF-8.
		return 0, p.syntax("invalid UTF-8")
	}
	return n, nil
}

// pathEnd returns the index just after the '>' that closes the path that
// starts at s[0] == '<', or -1. A '>' inside a quoted local part does not
// close the path.
func pathEnd(s string) int {
	if end := strings.IndexByte(s, '>'); end > 0 && strings.IndexByte(s[:end], '"') < 0 {
		return end + 1 // the usual path: no quoted local part
	}
	return pathEndQuoted(s)
}

// pathEndQuoted is pathEnd byte by byte, minding quotes.
func pathEndQuoted(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '>':
			return i + 1
		}
	}
	return -1
}

// parsePath parses s, which must be exactly one path in angle brackets.
func (p *addrParser) parsePath(s string) (Path, *Error) {
	// RFC 5321 4.5.3.1.3: the path limit includes the brackets; 4.5.3.1.9
	// gives 501 "Path too long".
	if exceeds(len(s), p.maxPath) {
		return Path{}, p.syntax("path too long")
	}
	if len(s) < 2 || s[0] != '<' || s[len(s)-1] != '>' {
		return Path{}, p.syntax("path must be enclosed in <>")
	}
	in := s[1 : len(s)-1]
	if in == "" {
		// RFC 5321 4.1.1.2: the null reverse-path; 4.1.1.3: a
		// forward-path is never null.
		if p.kind == kindForward {
			return Path{}, p.syntax("null recipient path")
		}
		return Path{Null: true}, nil
	}
	if in[0] == '@' {
		// RFC 5321 4.1.2: A-d-l = At-domain *( "," At-domain ) ":".
		// RFC 5321 4.1.1.3 and appendix C: servers must accept source
		// routes and should ignore them, which we do after checking
		// their syntax.
		colon := strings.IndexByte(in, ':')
		if colon < 0 {
			return Path{}, p.syntax("source route without ':'")
		}
		for _, hop := range strings.Split(in[:colon], ",") {
			if len(hop) < 2 || hop[0] != '@' {
				return Path{}, p.syntax("invalid source route")
			}
			if err := p.checkDomainName(hop[1:]); err != nil {
				return Path{}, err
			}
		}
		in = in[colon+1:]
	} else if p.kind != kindReverse && strings.EqualFold(in, "postmaster") {
		// RFC 5321 4.1.1.3: "<Postmaster>" without a domain is a valid
		// recipient; 4.5.1: compared case-insensitively.
		return Path{Address: Address{Local: in}}, nil
	}
	a, err := p.parseMailbox(in)
	if err != nil {
		return Path{}, err
	}
	return Path{Address: a}, nil
}

// parseMailbox parses Local-part "@" ( Domain / address-literal )
// (RFC 5321 4.1.2).
func (p *addrParser) parseMailbox(s string) (Address, *Error) {
	if a, ok := p.fastMailbox(s); ok {
		return a, nil
	}
	return p.parseMailboxSlow(s)
}

// fastMailbox parses the usual mailbox in one pass: an ASCII Dot-string,
// "@", and a domain name of ASCII letters, digits and hyphens in labels
// that are not "xn--" ones, all within the limits. It reports false for
// anything else (the full parser then decides, with its error).
func (p *addrParser) fastMailbox(s string) (Address, bool) {
	at := 0
	for at < len(s) && charClass[s[at]]&classLocal != 0 {
		at++
	}
	if at == 0 || at == len(s) || s[at] != '@' || s[0] == '.' || s[at-1] == '.' ||
		exceeds(at, p.maxLocal) || strings.Contains(s[:at], "..") {
		return Address{}, false
	}
	d := s[at+1:]
	if d == "" || exceeds(len(d), p.maxDomain) {
		return Address{}, false
	}
	i := 0
	for i < len(d) && charClass[d[i]]&classDomain != 0 {
		i++
	}
	if i != len(d) {
		return Address{}, false
	}
	// Each label: Let-dig [Ldh-str], at most MaxLabelLength, not an
	// A-label (those are checked by the full parser).
	for rest := d; rest != ""; {
		label := rest
		if k := strings.IndexByte(rest, '.'); k >= 0 {
			label, rest = rest[:k], rest[k+1:]
			if rest == "" {
				return Address{}, false // a final dot
			}
		} else {
			rest = ""
		}
		n := len(label)
		if n == 0 || n > MaxLabelLength || !isLetDig(label[0]) || !isLetDig(label[n-1]) ||
			n > 4 && hasPrefixFold(label, "XN--") {
			return Address{}, false
		}
	}
	return Address{Local: s[:at], Domain: d}, true
}

// parseMailboxSlow is parseMailbox without its fast path.
func (p *addrParser) parseMailboxSlow(s string) (Address, *Error) {
	if s == "" {
		return Address{}, p.syntax("empty address")
	}
	var local string
	var end int // index of the '@'
	if s[0] == '"' {
		var err *Error
		local, end, err = p.parseQuoted(s)
		if err != nil {
			return Address{}, err
		}
		if end >= len(s) || s[end] != '@' {
			return Address{}, p.syntax("expected @ after quoted local part")
		}
	} else {
		end = strings.IndexByte(s, '@')
		if end < 0 {
			return Address{}, p.syntax("missing @domain")
		}
		local = s[:end]
		if err := p.checkDotString(local); err != nil {
			return Address{}, err
		}
	}
	// RFC 5321 4.5.3.1.1: the local part as sent, quotes included.
	if exceeds(end, p.maxLocal) {
		return Address{}, p.syntax("local part too long")
	}
	domain := s[end+1:]
	if err := p.checkDomain(domain); err != nil {
		return Address{}, err
	}
	return Address{Local: local, Domain: domain}, nil
}

// parseQuoted parses a Quoted-string (RFC 5321 4.1.2) at the start of s and
// returns its content without quotes and escapes, and the index just after
// the closing quote.
func (p *addrParser) parseQuoted(s string) (string, int, *Error) {
	escaped := false
	i := 1
	for {
		if i >= len(s) {
			return "", 0, p.syntax("unterminated quoted local part")
		}
		c := s[i]
		switch {
		case c == '"':
			content := s[1:i]
			if escaped {
				content = unquote(content)
			}
			return content, i + 1, nil
		case c == '\\':
			// RFC 5321 4.1.2: quoted-pairSMTP = %d92 %d32-126.
			if i+1 >= len(s) || s[i+1] < 32 || s[i+1] > 126 {
				return "", 0, p.syntax("invalid quoted pair in local part")
			}
			escaped = true
			i += 2
		case isQtext(c):
			i++
		case c >= utf8.RuneSelf:
			// RFC 6531 3.3: qtextSMTP =/ UTF8-non-ascii.
			n, err := p.checkUTF8(s, i)
			if err != nil {
				return "", 0, err
			}
			i += n
		default:
			return "", 0, p.syntax("invalid character in quoted local part")
		}
	}
}

// unquote removes the backslashes of quoted pairs from a valid
// Quoted-string content.
func unquote(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// checkDotString checks Dot-string = Atom *("." Atom) (RFC 5321 4.1.2),
// with UTF-8 allowed in atoms under SMTPUTF8 (RFC 6531 3.3: atext =/
// UTF8-non-ascii).
func (p *addrParser) checkDotString(s string) *Error {
	if s == "" {
		return p.syntax("empty local part")
	}
	if isDotString(s) && isASCII(s) {
		return nil // the usual local part
	}
	return p.checkDotStringSlow(s)
}

// checkDotStringSlow is checkDotString without its fast path.
func (p *addrParser) checkDotStringSlow(s string) *Error {
	prevDot := true
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '.':
			if prevDot {
				return p.syntax("invalid dot in local part")
			}
			prevDot = true
			i++
		case isAtext(c):
			prevDot = false
			i++
		case c >= utf8.RuneSelf:
			n, err := p.checkUTF8(s, i)
			if err != nil {
				return err
			}
			prevDot = false
			i += n
		default:
			return p.syntax("invalid character in local part")
		}
	}
	if prevDot {
		return p.syntax("invalid dot in local part")
	}
	return nil
}

// checkDomain checks Domain / address-literal (RFC 5321 4.1.2, 4.1.3).
func (p *addrParser) checkDomain(d string) *Error {
	// RFC 5321 4.5.3.1.2.
	if exceeds(len(d), p.maxDomain) {
		return p.syntax("domain too long")
	}
	if strings.HasPrefix(d, "[") {
		return p.checkAddressLiteral(d)
	}
	return p.checkDomainName(d)
}

// checkDomainName checks Domain = sub-domain *("." sub-domain) with
// sub-domain = Let-dig [Ldh-str] (RFC 5321 4.1.2), or a U-label under
// SMTPUTF8 (RFC 6531 3.3: sub-domain =/ U-label).
func (p *addrParser) checkDomainName(d string) *Error {
	if d == "" {
		return p.syntax("empty domain")
	}
	for d != "" {
		label, rest, more := strings.Cut(d, ".")
		if more && rest == "" {
			return p.syntax("domain ends with a dot")
		}
		if err := p.checkLabel(label); err != nil {
			return err
		}
		d = rest
	}
	return nil
}

func (p *addrParser) checkLabel(label string) *Error {
	if label == "" {
		return p.syntax("empty domain label")
	}
	if isLDHLabel(label) {
		return nil // the usual label: letters, digits and inner hyphens
	}
	return p.checkLabelSlow(label)
}

// checkLabelSlow is checkLabel without its fast path.
func (p *addrParser) checkLabelSlow(label string) *Error {
	if !isASCII(label) {
		if !p.utf8 {
			return p.nonASCII()
		}
		if !utf8.ValidString(label) {
			return p.syntax("invalid UTF-8")
		}
		// RFC 6531 3.3: sub-domain =/ U-label, and only a valid one
		// (RFC 5890 2.3.2.1): a label that IDNA would map to something
		// else (ｅｘａｍｐｌｅ to example) is refused, not mapped, so that
		// the domain a backend sees is the one mail is delivered to.
		a, ok := toALabel(label)
		if !ok {
			return errBadIDN(p.kind)
		}
		label = a
	} else if isALabel(label) {
		// RFC 5890 2.3.2.1: an "xn--" label must be a valid A-label.
		if _, ok := toULabel(label); !ok {
			return errBadIDN(p.kind)
		}
	}
	if len(label) > MaxLabelLength {
		return p.syntax("domain label too long")
	}
	if !isLetDig(label[0]) || !isLetDig(label[len(label)-1]) {
		return p.syntax("invalid domain")
	}
	for i := 1; i < len(label)-1; i++ {
		if charClass[label[i]]&classLdh == 0 {
			return p.syntax("invalid character in domain")
		}
	}
	return nil
}

// isLDHLabel reports whether label is a sub-domain = Let-dig [Ldh-str]
// (RFC 5321 4.1.2) of at most MaxLabelLength octets that is not an
// "xn--" label.
func isLDHLabel(label string) bool {
	n := len(label)
	if n > MaxLabelLength || !isLetDig(label[0]) || !isLetDig(label[n-1]) || isALabel(label) {
		return false
	}
	for i := 1; i < n-1; i++ {
		if charClass[label[i]]&classLdh == 0 {
			return false
		}
	}
	return true
}

// checkAddressLiteral checks address-literal (RFC 5321 4.1.3).
func (p *addrParser) checkAddressLiteral(d string) *Error {
	if len(d) < 3 || d[len(d)-1] != ']' {
		return p.syntax("invalid address literal")
	}
	in := d[1 : len(d)-1]
	if len(in) > 5 && strings.EqualFold(in[:5], "IPv6:") {
		// RFC 5321 4.1.3: IPv6-address-literal = "IPv6:" IPv6-addr, in
		// the text forms of RFC 4291 2.2 (no zone index).
		v6 := in[5:]
		for i := 0; i < len(v6); i++ {
			c := v6[i]
			if !(c == ':' || c == '.' || '0' <= c && c <= '9' ||
				'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return p.syntax("invalid IPv6 address literal")
			}
		}
		ip, err := netip.ParseAddr(v6)
		if err != nil || !ip.Is6() {
			return p.syntax("invalid IPv6 address literal")
		}
		return nil
	}
	if strings.IndexByte(in, ':') >= 0 {
		// RFC 5321 4.1.3: General-address-literal needs a tag
		// registered with IANA; only "IPv6" is.
		return p.syntax("unsupported address literal")
	}
	if !isIPv4Literal(in) {
		return p.syntax("invalid IPv4 address literal")
	}
	return nil
}

// isIPv4Literal checks IPv4-address-literal = Snum 3("." Snum), Snum =
// 1*3DIGIT in 0-255 (RFC 5321 4.1.3). Leading zeros are allowed by the
// grammar, so netip (which rejects them) is not used.
func isIPv4Literal(s string) bool {
	for part := 0; part < 4; part++ {
		if part > 0 {
			if s == "" || s[0] != '.' {
				return false
			}
			s = s[1:]
		}
		n, digits := 0, 0
		for digits < len(s) && '0' <= s[digits] && s[digits] <= '9' {
			n = n*10 + int(s[digits]-'0')
			digits++
			if digits > 3 {
				return false
			}
		}
		if digits == 0 || n > 255 {
			return false
		}
		s = s[digits:]
	}
	return s == ""
}

// ParsePath parses a path in angle brackets: "<local@domain>", with an
// optional source route (dropped), the null path "<>" or "<Postmaster>".
// It is for callers that hold a path outside a command, such as a client
// taking one from its user; servers use ParseMailCommand and
// ParseRcptCommand. Only opts.SMTPUTF8 and the length limits are used.
func ParsePath(s string, opts ParseOptions) (Path, error) {
	p := newAddrParser(kindAny, opts.SMTPUTF8, &opts)
	path, err := p.parsePath(s)
	if err != nil {
		return Path{}, err
	}
	return path, nil
}

// ParseAddress parses a bare mailbox "local@domain" (RFC 5321 4.1.2
// Mailbox), without angle brackets. Only opts.SMTPUTF8 and the local-part
// and domain limits are used.
func ParseAddress(s string, opts ParseOptions) (Address, error) {
	p := newAddrParser(kindAny, opts.SMTPUTF8, &opts)
	a, err := p.parseMailbox(s)
	if err != nil {
		return Address{}, err
	}
	return a, nil
}
