package mtasts

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mode is a policy's mode (RFC 8461 5).
type Mode string

const (
	// Enforce: deliver only to matching MX hosts with valid certificates.
	Enforce Mode = "enforce"
	// Testing: deliver as usual, report failures (RFC 8460).
	Testing Mode = "testing"
	// None: the domain withdraws its policy.
	None Mode = "none"
)

// MaxMaxAge is the largest max_age (RFC 8461 3.2: 31557600 seconds, about
// a year). A larger value is taken as this one.
const MaxMaxAge = 31557600 * time.Second

// Policy is a parsed policy (RFC 8461 3.2).
type Policy struct {
	Mode Mode
	// MX are the allowed MX patterns: host names, and "*.domain" for any
	// name of one more label (RFC 8461 4.1).
	MX []string
	// MaxAge is how long the policy may be cached.
	MaxAge time.Duration
	// Extensions are fields the package does not know, in order.
	Extensions []Extension
	// Text is the policy as fetched.
	Text string
}

// PolicyError is a policy body that is not a valid policy. Its
// ResultType is "sts-policy-invalid" (RFC 8460 4.3).
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return "mtasts: invalid policy: " + e.Reason }

// ResultType returns the RFC 8460 4.3 result type.
func (e *PolicyError) ResultType() string { return ResultPolicyInvalid }

// ParsePolicy parses a policy body (RFC 8461 3.2): "key: value" lines
// ended by LF or CR LF, with version (STSv1), mode, max_age and, unless
// the mode is none, at least one mx. Unknown keys are kept as extensions;
// a repeated field other than mx keeps its first value.
func ParsePolicy(body []byte) (*Policy, error) {
	p := &Policy{Text: string(body)}
	var version string
	seen := map[string]bool{}
	for _, line := range bytes.Split(body, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		// RFC 8461 3.2: trailing white space after a field is allowed.
		s := strings.TrimRight(string(line), " \t")
		if s == "" {
			continue
		}
		key, value, ok := strings.Cut(s, ":")
		if !ok {
			return nil, &PolicyError{Reason: fmt.Sprintf("line %q is not key: value", s)}
		}
		value = strings.TrimLeft(value, " \t")
		if seen[key] && key != "mx" {
			continue
		}
		seen[key] = true
		switch key {
		case "version":
			version = value
		case "mode":
			switch Mode(value) {
			case Enforce, Testing, None:
				p.Mode = Mode(value)
			default:
				return nil, &PolicyError{Reason: fmt.Sprintf("unknown mode %q", value)}
			}
		case "max_age":
			// RFC 8461 3.2: 1*10DIGIT, at most 31557600.
			if len(value) == 0 || len(value) > 10 || strings.Trim(value, "0123456789") != "" {
				return nil, &PolicyError{Reason: fmt.Sprintf("bad max_age %q", value)}
			}
			n, _ := strconv.ParseInt(value, 10, 64)
			// Clamped before the conversion: 10 digits of seconds
			// overflow a Duration.
			p.MaxAge = time.Duration(min(n, int64(MaxMaxAge/time.Second))) * time.Second
		case "mx":
			if !validPattern(value) {
				return nil, &PolicyError{Reason: fmt.Sprintf("bad mx pattern %q", value)}
			}
			p.MX = append(p.MX, strings.ToLower(strings.TrimSuffix(value, ".")))
		default:
			if !validExtName(key) {
				return nil, &PolicyError{Reason: fmt.Sprintf("bad field name %q", key)}
			}
			p.Extensions = append(p.Extensions, Extension{key, value})
		}
	}
	switch {
	case version != "STSv1":
		return nil, &PolicyError{Reason: "version is not STSv1"}
	case p.Mode == "":
		return nil, &PolicyError{Reason: "no mode"}
	case !seen["max_age"]:
		return nil, &PolicyError{Reason: "no max_age"}
	case len(p.MX) == 0 && p.Mode != None:
		return nil, &PolicyError{Reason: "no mx"}
	}
	return p, nil
}

// validPattern checks an mx value: a domain name, optionally starting
// with "*." (RFC 8461 3.2 sts-policy-mx-value).
func validPattern(s string) bool {
	s = strings.TrimPrefix(strings.TrimSuffix(s, "."), "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// Match reports whether the MX host name matches one of the policy's
// patterns (RFC 8461 4.1): equal without regard to case, or, for
// "*.example.com", one label followed by example.com ("mail.example.com",
// but neither "example.com" nor "a.b.example.com").
func (p *Policy) Match(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			label, parent, found := strings.Cut(host, ".")
			if found && label != "" && parent == rest {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

// TLSConfig returns a copy of base (nil: a default configuration) that
// verifies the MX host's certificate as RFC 8461 4.2 requires: chained to
// a trusted root (base.RootCAs, or the system's), not expired, valid for
// the MX host name.
func (p *Policy) TLSConfig(base *tls.Config, mxHost string) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	cfg.ServerName = strings.TrimSuffix(mxHost, ".")
	cfg.InsecureSkipVerify = false
	return cfg
}

// String formats the policy as a policy file.
func (p *Policy) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: STSv1\r\nmode: %s\r\n", p.Mode)
	for _, mx := range p.MX {
		fmt.Fprintf(&b, "mx: %s\r\n", mx)
	}
	fmt.Fprintf(&b, "max_age: %d\r\n", int64(p.MaxAge/time.Second))
	for _, e := range p.Extensions {
		fmt.Fprintf(&b, "%s: %s\r\n", e.Name, e.Value)
	}
	return b.String()
}
