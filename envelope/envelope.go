package envelope

import "strings"

// Recipient is one forward-path of a transaction with its RCPT parameters.
type Recipient struct {
	Path
	// Params are the RCPT parameters.
	Params RcptParams
}

// Envelope is the SMTP envelope of one message (RFC 5321 2.3.1): the
// reverse-path and parameters of MAIL and the recipients of RCPT. The
// server fills one per transaction; the client sends one.
type Envelope struct {
	// From is the reverse-path; the zero Path is the null path "<>".
	From Path
	// Mail are the MAIL parameters.
	Mail MailParams
	// To are the recipients, in the order given.
	To []Recipient
}

// NeedsSMTPUTF8 reports whether the envelope cannot be sent without the
// SMTPUTF8 extension (RFC 6531 3.2): some local part is not ASCII, or some
// non-ASCII domain cannot be converted to A-labels. A non-ASCII domain
// alone does not need SMTPUTF8, since Address.ASCII converts it.
func (e *Envelope) NeedsSMTPUTF8() bool {
	if needsUTF8(e.From) {
		return true
	}
	for i := range e.To {
		if needsUTF8(e.To[i].Path) {
			return true
		}
	}
	return false
}

func needsUTF8(p Path) bool {
	if p.Null || p.IsASCII() {
		return false
	}
	if !isASCII(p.Local) {
		return true
	}
	_, err := p.Address.ASCII()
	return err != nil
}

// DomainRecipients is the group of an envelope's recipients that share a
// domain; see Envelope.Domains.
type DomainRecipients struct {
	// Domain is the domain in lower case, as A-labels when it converts
	// (so "bücher.Example" and "xn--bcher-kva.example" share a group),
	// or the address literal. It is "" for <Postmaster>.
	Domain string
	// To are the recipients of this domain, in envelope order.
	To []Recipient
}

// linearDomainScan is how many distinct domains Domains groups with a
// linear scan before it switches to a map index (a tuning threshold, not a
// protocol limit).
const linearDomainScan = 16

// Domains groups the recipients by domain, in the order in which each
// domain first appears, as a client delivering directly to MX hosts needs
// (one transaction per destination, RFC 5321 5.1).
func (e *Envelope) Domains() []DomainRecipients {
	var groups []DomainRecipients
	var index map[string]int // domain → position in groups, once there are many
	for _, r := range e.To {
		key := domainKey(r.Address)
		i := -1
		if index != nil {
			if j, ok := index[key]; ok {
				i = j
			}
		} else {
			for j := range groups {
				if groups[j].Domain == key {
					i = j
					break
				}
			}
		}
		if i >= 0 {
			groups[i].To = append(groups[i].To, r)
			continue
		}
		groups = append(groups, DomainRecipients{Domain: key, To: []Recipient{r}})
		// A linear scan is cheapest for the usual handful of domains; a
		// map keeps thousands of them linear overall.
		if index == nil && len(groups) > linearDomainScan {
			index = make(map[string]int, 2*len(groups))
			for j := range groups {
				index[groups[j].Domain] = j
			}
		} else if index != nil {
			index[key] = len(groups) - 1
		}
	}
	return groups
}

func domainKey(a Address) string {
	if a.IsAddressLiteral() {
		return a.Domain
	}
	if ascii, err := a.ASCII(); err == nil {
		return strings.ToLower(ascii.Domain)
	}
	return strings.ToLower(a.Domain)
}
