package client

import (
	"strconv"
	"strings"
)

// Extensions are the service extensions a server announced in its EHLO (or
// LHLO) reply, RFC 5321 4.1.1.1. The zero value means none (a server that
// only answered HELO). The slices must not be modified.
type Extensions struct {
	// Pipelining is PIPELINING, RFC 2920.
	Pipelining bool
	// EightBitMIME is 8BITMIME, RFC 6152.
	EightBitMIME bool
	// SMTPUTF8 is SMTPUTF8, RFC 6531.
	SMTPUTF8 bool
	// Chunking is CHUNKING (the BDAT command), RFC 3030.
	Chunking bool
	// BinaryMIME is BINARYMIME, RFC 3030; it is only usable with Chunking.
	BinaryMIME bool
	// DSN is DSN, RFC 3461.
	DSN bool
	// EnhancedStatusCodes is ENHANCEDSTATUSCODES, RFC 2034.
	EnhancedStatusCodes bool
	// RequireTLS is REQUIRETLS, RFC 8689.
	RequireTLS bool
	// StartTLS is STARTTLS, RFC 3207.
	StartTLS bool
	// HasSize reports that SIZE was announced, RFC 1870.
	HasSize bool
	// Size is the SIZE parameter: the largest message the server accepts,
	// in octets; 0 means no fixed limit (RFC 1870 4).
	Size int64
	// Auth lists the SASL mechanisms announced with AUTH (RFC 4954 3), in
	// upper case, in the server's order.
	Auth []string
	// List holds every announced line, keyword in upper case, in order.
	List []Extension
}

// Extension is one line of an EHLO reply: a keyword and its parameters.
type Extension struct {
	// Keyword is the ehlo-keyword in upper case (RFC 5321 4.1.1.1: keywords
	// are case-insensitive).
	Keyword string
	// Params is the rest of the line after the keyword and one space,
	// verbatim; empty when there is none.
	Params string
}

// Has reports whether the server announced keyword (case-insensitive).
func (e Extensions) Has(keyword string) bool {
	_, ok := e.Param(keyword)
	return ok
}

// Param returns the parameters announced with keyword (case-insensitive)
// and whether it was announced at all.
func (e Extensions) Param(keyword string) (string, bool) {
	for _, x := range e.List {
		if strings.EqualFold(x.Keyword, keyword) {
			return x.Params, true
		}
	}
	return "", false
}

// HasAuth reports whether mechanism (case-insensitive) was announced.
func (e Extensions) HasAuth(mechanism string) bool {
	for _, m := range e.Auth {
		if strings.EqualFold(m, mechanism) {
			return true
		}
	}
	return false
}

// parseExtensions reads the lines of a positive EHLO reply. The first line
// is the server's name and greeting (RFC 5321 4.1.1.1), the others are
// extensions. Unknown or malformed lines are kept in List and otherwise
// ignored: a client must not fail on an extension it does not know.
func parseExtensions(lines []string) Extensions {
	var e Extensions
	if len(lines) <= 1 {
		return e
	}
	e.List = make([]Extension, 0, len(lines)-1)
	var seen map[string]bool // AUTH mechanisms
	for _, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		kw, params, _ := strings.Cut(line, " ")
		// Some old servers announce "AUTH=LOGIN PLAIN" besides or instead of
		// the RFC 4954 form; accept it for the mechanism list.
		oldAuth := false
		if k, p, ok := strings.Cut(kw, "="); ok && strings.EqualFold(k, "AUTH") {
			kw, oldAuth = "AUTH", true
			params = strings.TrimSpace(p + " " + params)
		}
		kw = strings.ToUpper(kw)
		params = strings.TrimSpace(params)
		if !oldAuth {
			e.List = append(e.List, Extension{Keyword: kw, Params: params})
		}
		switch kw {
		case "PIPELINING":
			e.Pipelining = true
		case "8BITMIME":
			e.EightBitMIME = true
		case "SMTPUTF8":
			e.SMTPUTF8 = true
		case "CHUNKING":
			e.Chunking = true
		case "BINARYMIME":
			e.BinaryMIME = true
		case "DSN":
			e.DSN = true
		case "ENHANCEDSTATUSCODES":
			e.EnhancedStatusCodes = true
		case "REQUIRETLS":
			e.RequireTLS = true
		case "STARTTLS":
			e.StartTLS = true
		case "SIZE":
			e.HasSize = true
			// RFC 1870 4: "SIZE" alone or "SIZE 0" means no fixed limit.
			if n, err := strconv.ParseInt(params, 10, 64); err == nil && n > 0 {
				e.Size = n
			}
		case "AUTH":
			// A set, so that a hostile reply of thousands of names costs
			// linear time, not quadratic.
			if seen == nil {
				seen = make(map[string]bool)
			}
			for _, m := range strings.Fields(params) {
				m = strings.ToUpper(m)
				if !seen[m] {
					seen[m] = true
					e.Auth = append(e.Auth, m)
				}
			}
		}
	}
	return e
}
