package tlsrpt

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Record is a parsed _smtp._tls TXT record (RFC 8460 3).
type Record struct {
	// RUA are the report destinations: mailto: and https: URIs, in order.
	RUA []*url.URL
	// Extensions are the other fields.
	Extensions []string
}

// RecordError is a TXT record that is not a valid TLSRPTv1 record.
type RecordError struct {
	Record, Reason string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("tlsrpt: TXT record %q: %s", e.Record, e.Reason)
}

// ErrNoRecord is returned by SelectRecord when no record starts with
// v=TLSRPTv1: the domain wants no reports.
var ErrNoRecord = errors.New("tlsrpt: no TLSRPTv1 record")

// ParseRecord parses a record (RFC 8460 3):
//
//	v=TLSRPTv1; rua=mailto:reports@example.com,https://example.com/tlsrpt
//
// v=TLSRPTv1 comes first; rua is required and lists URIs separated by
// commas (a comma or "!" inside a URI is percent-encoded). URIs of other
// schemes than mailto and https are ignored (RFC 8460 3); a record left
// without any is an error.
func ParseRecord(txt string) (*Record, error) {
	bad := func(reason string) error { return &RecordError{Record: txt, Reason: reason} }
	fields := strings.Split(txt, ";")
	if n := len(fields); n > 1 && strings.Trim(fields[n-1], " \t") == "" {
		fields = fields[:n-1]
	}
	if strings.Trim(fields[0], " \t") != "v=TLSRPTv1" {
		return nil, bad("does not start with v=TLSRPTv1")
	}
	r := &Record{}
	sawRUA := false
	for _, f := range fields[1:] {
		f = strings.Trim(f, " \t")
		name, value, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, bad("malformed field")
		}
		if name != "rua" {
			if name == "v" {
				return nil, bad("v repeated")
			}
			r.Extensions = append(r.Extensions, f)
			continue
		}
		if sawRUA {
			return nil, bad("rua repeated")
		}
		sawRUA = true
		for u := range strings.SplitSeq(value, ",") {
			u = strings.Trim(u, " \t")
			parsed, err := url.Parse(u)
			if err != nil || u == "" {
				return nil, bad(fmt.Sprintf("bad URI %q", u))
			}
			switch parsed.Scheme {
			case "mailto":
				if !strings.Contains(parsed.Opaque, "@") {
					return nil, bad(fmt.Sprintf("bad mailto URI %q", u))
				}
			case "https":
				if parsed.Host == "" {
					return nil, bad(fmt.Sprintf("bad https URI %q", u))
				}
			default:
				continue
			}
			r.RUA = append(r.RUA, parsed)
		}
	}
	if !sawRUA {
		return nil, bad("no rua")
	}
	if len(r.RUA) == 0 {
		return nil, bad("no mailto: or https: URI in rua")
	}
	return r, nil
}

// SelectRecord picks the record among the TXT records of _smtp._tls.<domain>
// (RFC 8460 3): those not starting with "v=TLSRPTv1" are discarded, and
// unless exactly one remains, no report is sent.
func SelectRecord(txts []string) (*Record, error) {
	var found []string
	for _, t := range txts {
		if rest, ok := strings.CutPrefix(t, "v=TLSRPTv1"); ok && (rest == "" || strings.IndexByte("; \t", rest[0]) >= 0) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return nil, ErrNoRecord
	case 1:
		return ParseRecord(found[0])
	}
	return nil, &RecordError{Record: strings.Join(found, " | "), Reason: "more than one TLSRPTv1 record"}
}
