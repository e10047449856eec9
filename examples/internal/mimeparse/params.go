package mimeparse

import (
	"sort"
	"strconv"
	"strings"
)

// parseMediaType reads a Content-Type or Content-Disposition value (RFC 2045
// 5.1, RFC 2183 2): the lower-cased type and the parameters, keys lower-cased,
// RFC 2231 continuations joined and charsets decoded. It is lenient, as
// mail readers are: an unquoted value may hold spaces, a parameter without
// "=" is skipped, the first of duplicate parameters wins. clean is false
// when something had to be skipped.
func parseMediaType(s string) (typ string, params map[string]string, clean bool) {
	clean = true
	typ, rest, _ := strings.Cut(s, ";")
	typ = strings.ToLower(strings.TrimSpace(stripComment(typ)))
	raw := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " \t\r\n;")
		if rest == "" {
			break
		}
		eq := strings.IndexAny(rest, "=;")
		if eq < 0 || rest[eq] == ';' {
			// An attribute without a value.
			clean = false
			if eq < 0 {
				break
			}
			rest = rest[eq:]
			continue
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t\r\n")
		var val string
		if strings.HasPrefix(rest, `"`) {
			val, rest = readQuoted(rest[1:])
		} else {
			end := strings.IndexByte(rest, ';')
			if end < 0 {
				end = len(rest)
			}
			val, rest = strings.TrimSpace(stripComment(rest[:end])), rest[end:]
		}
		if key == "" {
			clean = false
			continue
		}
		if _, dup := raw[key]; dup {
			clean = false
			continue
		}
		raw[key] = val
	}
	params, ok := joinRFC2231(raw)
	return typ, params, clean && ok
}

// readQuoted reads a quoted-string's content after its opening quote (RFC
// 5322 3.2.4: backslash quotes the next character) and returns it and what
// follows the closing quote. An unterminated string runs to the end.
func readQuoted(s string) (val, rest string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// stripComment removes a trailing RFC 5322 comment, as in
// "us-ascii (Plain text)".
func stripComment(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndexByte(s, '('); i > 0 {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

// joinRFC2231 turns the raw parameters into their values (RFC 2231):
// "name*=charset'lang'%XX" is decoded, "name*0", "name*1*"... are joined in
// order; an extended value wins over a plain one of the same name. Encoded
// words, which many mail programs put in file names against RFC 2047 5,
// are decoded too. ok is false when sections are missing.
func joinRFC2231(raw map[string]string) (map[string]string, bool) {
	ok := true
	out := make(map[string]string, len(raw))
	type section struct {
		n       int
		encoded bool
		val     string
	}
	sections := map[string][]section{}
	for key, val := range raw {
		name, ext, isExt := strings.Cut(key, "*")
		switch {
		case !isExt:
			if _, set := out[name]; !set {
				out[name] = val
			}
		case ext == "":
			out[name] = decode2231(val)
		default:
			num, enc := strings.CutSuffix(ext, "*")
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 || n > maxSections {
				ok = false
				continue
			}
			sections[name] = append(sections[name], section{n, enc, val})
		}
	}
	for name, secs := range sections {
		sort.Slice(secs, func(i, j int) bool { return secs[i].n < secs[j].n })
		var charset string
		var buf []byte
		for i, s := range secs {
			if s.n != i {
				ok = false // a section is missing: join what there is
			}
			v := s.val
			if s.encoded {
				if i == 0 {
					charset, _, v = split2231(v)
				}
				buf = append(buf, percentDecode(v)...)
			} else {
				buf = append(buf, v...)
			}
		}
		val, _ := decodeCharset(charset, buf)
		out[name] = val
	}
	for name, val := range out {
		if strings.Contains(val, "=?") {
			out[name] = decodeWords(val)
		}
	}
	return out, ok
}

// maxSections bounds the number of an RFC 2231 continuation section, so a
// hostile "name*99999999" cannot make a large allocation.
const maxSections = 999

// split2231 splits "charset'language'value" (RFC 2231 4); a value without
// the two quotes has neither.
func split2231(v string) (charset, lang, rest string) {
	parts := strings.SplitN(v, "'", 3)
	if len(parts) != 3 {
		return "", "", v
	}
	return parts[0], parts[1], parts[2]
}

// decode2231 decodes a single extended value, "charset'lang'%XX...".
func decode2231(v string) string {
	charset, _, rest := split2231(v)
	s, _ := decodeCharset(charset, percentDecode(rest))
	return s
}

// percentDecode decodes %XX escapes; a "%" not followed by two hex digits
// stays as it is.
func percentDecode(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return b
}
