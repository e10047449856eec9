package mailstore

import (
	"strings"
)

// Query is a parsed search: every term must match (AND). A term is a word
// or a "quoted phrase", matched case-insensitively as a substring of the
// sender, recipients, subject or body text; with a prefix from:, to:,
// subject: or body: it matches that field only (to: covers To, Cc and the
// envelope recipients, from: the From field and the envelope sender), and
// a leading "-" negates it. is:attachment matches messages with
// attachments.
type Query struct {
	terms []term
}

type term struct {
	field string // "" for any
	text  string // lower case
	neg   bool
}

// ParseQuery parses a search string; the empty string matches everything.
func ParseQuery(s string) Query {
	var q Query
	for _, w := range splitQuery(s) {
		t := term{}
		if rest, ok := strings.CutPrefix(w, "-"); ok && rest != "" {
			t.neg, w = true, rest
		}
		if f, v, ok := strings.Cut(w, ":"); ok {
			switch f = strings.ToLower(f); f {
			case "from", "to", "subject", "body", "is":
				t.field, w = f, v
			}
		}
		t.text = strings.ToLower(strings.Trim(w, `"`))
		if t.text == "" {
			continue
		}
		q.terms = append(q.terms, t)
	}
	return q
}

// Field adds a term matching only field ("from", "to", "subject", "body")
// with text, for API parameters such as to=addr.
func (q Query) Field(field, text string) Query {
	if text == "" {
		return q
	}
	terms := append(q.terms[:len(q.terms):len(q.terms)], term{field: field, text: strings.ToLower(text)})
	return Query{terms: terms}
}

// splitQuery splits on white space outside double quotes.
func splitQuery(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case !quoted && (r == ' ' || r == '\t' || r == '\n' || r == '\r'):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func (q Query) match(e *entry) bool {
	for _, t := range q.terms {
		if t.matches(e) == t.neg {
			return false
		}
	}
	return true
}

func (t term) matches(e *entry) bool {
	switch t.field {
	case "from":
		return strings.Contains(e.from, t.text)
	case "to":
		return strings.Contains(e.to, t.text)
	case "subject":
		return strings.Contains(e.subject, t.text)
	case "body":
		return strings.Contains(e.body, t.text)
	case "is":
		return t.text == "attachment" && e.Attachments > 0
	}
	return strings.Contains(e.from, t.text) || strings.Contains(e.to, t.text) ||
		strings.Contains(e.subject, t.text) || strings.Contains(e.body, t.text)
}
