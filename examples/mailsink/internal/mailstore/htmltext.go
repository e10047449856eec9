package mailstore

import (
	"html"
	"strings"
)

// htmlText returns the text of an HTML body, roughly: tags removed, script
// and style elements removed with their content, entities decoded. Each
// "<" that opens a script or style element looks for its end tag once at
// most: when there is none, no later one has one either, so the work stays
// linear in the body however many unclosed elements it has (a regular
// expression scanned to the end for each, hours for a 4 MiB body of
// "<script>").
func htmlText(h string) string {
	lower := lowerASCII(h) // the same byte offsets as h
	var b strings.Builder
	closable := true // an end tag may still come
	for i := 0; i < len(h); {
		lt := strings.IndexByte(h[i:], '<')
		if lt < 0 {
			b.WriteString(h[i:])
			break
		}
		b.WriteString(h[i : i+lt])
		i += lt
		if closable && rawTextStart(lower[i+1:]) {
			if end := endTagEnd(lower, i+1); end >= 0 {
				b.WriteByte(' ')
				i = end
				continue
			}
			closable = false
		}
		gt := strings.IndexByte(h[i:], '>')
		if gt < 0 {
			// Not a tag: "<" and the rest stay text.
			b.WriteString(h[i:])
			break
		}
		b.WriteByte(' ')
		i += gt + 1
	}
	return html.UnescapeString(b.String())
}

// rawTextStart reports whether s (lower case, after a "<") starts with the
// name of a script or style element.
func rawTextStart(s string) bool {
	for _, name := range []string{"script", "style"} {
		if rest, ok := strings.CutPrefix(s, name); ok {
			return rest == "" || !isWordByte(rest[0])
		}
	}
	return false
}

// endTagEnd returns the offset just past the first "</script>" or
// "</style>" (white space allowed before the ">") in lower from offset
// from, or -1.
func endTagEnd(lower string, from int) int {
	for i := from; ; {
		j := strings.Index(lower[i:], "</")
		if j < 0 {
			return -1
		}
		i += j + 2
		for _, name := range []string{"script", "style"} {
			if rest, ok := strings.CutPrefix(lower[i:], name); ok {
				k := len(rest) - len(strings.TrimLeft(rest, " \t\r\n\f"))
				if k < len(rest) && rest[k] == '>' {
					return i + len(name) + k + 1
				}
			}
		}
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// lowerASCII lower-cases the ASCII letters of s only, so that offsets in
// the result are offsets in s.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
