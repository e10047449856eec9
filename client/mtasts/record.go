package mtasts

import (
	"errors"
	"fmt"
	"strings"
)

// Record is a parsed _mta-sts TXT record (RFC 8461 3.1).
type Record struct {
	// ID identifies the current policy; a change means a new policy.
	ID string
	// Extensions are the other fields, in order.
	Extensions []Extension
}

// Extension is one extension field of a record.
type Extension struct{ Name, Value string }

// RecordError is a TXT record that is not a valid STSv1 record.
type RecordError struct {
	Record string
	Reason string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("mtasts: TXT record %q: %s", e.Record, e.Reason)
}

// ParseRecord parses one TXT record (RFC 8461 3.1):
//
//	v=STSv1; id=20160831085700Z; ext-name=value
//
// v=STSv1 must come first, id must follow (1 to 32 letters and digits);
// fields are separated by ";" with optional white space; unknown fields
// are kept as extensions.
func ParseRecord(txt string) (*Record, error) {
	bad := func(reason string) error { return &RecordError{Record: txt, Reason: reason} }
	fields := strings.Split(txt, ";")
	if n := len(fields); n > 1 && strings.Trim(fields[n-1], " \t") == "" {
		fields = fields[:n-1] // the optional final ";"
	}
	r := &Record{}
	for i, f := range fields {
		f = strings.Trim(f, " \t")
		name, value, ok := strings.Cut(f, "=")
		if !ok {
			return nil, bad("field without '='")
		}
		switch {
		case i == 0:
			// RFC 8461 3.1: "v" first, exactly "STSv1" (case-sensitive).
			if name != "v" || value != "STSv1" {
				return nil, bad("does not start with v=STSv1")
			}
		case i == 1:
			if name != "id" {
				return nil, bad("id must follow v")
			}
			if !validID(value) {
				return nil, bad("id must be 1 to 32 letters and digits")
			}
			r.ID = value
		default:
			if name == "id" || name == "v" {
				return nil, bad("field " + name + " repeated")
			}
			if !validExtName(name) || !validExtValue(value) {
				return nil, bad("malformed extension field")
			}
			r.Extensions = append(r.Extensions, Extension{name, value})
		}
	}
	if r.ID == "" {
		return nil, bad("no id")
	}
	return r, nil
}

// validID: sts-id-value = 1*32(ALPHA / DIGIT).
func validID(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// validExtName: sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func validExtName(s string) bool {
	if len(s) == 0 || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validExtValue: sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E), printable
// ASCII without ";" and "=".
func validExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// errNoRecord is the outcome of a lookup without a usable record.
var errNoRecord = errors.New("mtasts: no STSv1 TXT record")

// SelectRecord picks the record among a name's TXT records (RFC 8461
// 3.1): those not starting with "v=STSv1;" are discarded, and unless
// exactly one remains and parses, the domain has no available policy.
func SelectRecord(txts []string) (*Record, error) {
	var found []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1;") || t == "v=STSv1" {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return nil, errNoRecord
	case 1:
		return ParseRecord(found[0])
	}
	return nil, &RecordError{Record: strings.Join(found, " | "), Reason: fmt.Sprintf("%d STSv1 records, exactly one allowed", len(found))}
}
