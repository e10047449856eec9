package mta

import (
	"fmt"
	"strings"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/cli"
)

// senderPolicy binds envelope senders to logins: the -senders file, one
// line per login,
//
//	alice: alice@example.org @sales.example.org <>
//
// names the reverse-paths the login may give in MAIL FROM: an address, any
// address of a domain ("@domain", that domain only, not its subdomains),
// or the null reverse-path ("<>", for a login that sends notifications).
// A login may have several lines; one without a line may use no sender.
// Addresses and domains compare case-insensitively (as Postfix's lookup
// tables do), IDN domains as A-labels. Blank lines and lines starting
// with '#' are ignored. It is immutable once read.
type senderPolicy struct {
	byUser map[string]*senderSet
}

// senderSet is what one login may use.
type senderSet struct {
	addrs   map[string]bool // senderKey of each address
	domains map[string]bool // domainKey of each domain
	null    bool
}

// readSenders reads and parses a -senders file. The file must not be
// writable by group or others, who could grant themselves any sender.
func readSenders(path string) (*senderPolicy, error) {
	data, err := cli.ReadPolicyFile(path)
	if err != nil {
		return nil, err
	}
	return parseSenders(path, data)
}

// parseSenders parses the content of a -senders file; errors name the
// file and the line.
func parseSenders(path string, data []byte) (*senderPolicy, error) {
	p := &senderPolicy{byUser: map[string]*senderSet{}}
	opts := envelope.ParseOptions{SMTPUTF8: true}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s", path, n+1, why) }
		user, list, ok := strings.Cut(line, ":")
		user = strings.TrimSpace(user)
		if !ok || user == "" {
			return nil, bad(`want "user: address @domain <> ..."`)
		}
		set := p.byUser[user]
		if set == nil {
			set = &senderSet{addrs: map[string]bool{}, domains: map[string]bool{}}
			p.byUser[user] = set
		}
		for _, tok := range strings.Fields(list) {
			switch {
			case tok == "<>":
				set.null = true
			case strings.HasPrefix(tok, "@"):
				a, err := envelope.ParseAddress("postmaster"+tok, opts)
				if err != nil {
					return nil, bad(fmt.Sprintf("domain %q: %v", tok, err))
				}
				set.domains[domainKey(a)] = true
			default:
				a, err := envelope.ParseAddress(tok, opts)
				if err != nil {
					return nil, bad(fmt.Sprintf("address %q: %v", tok, err))
				}
				set.addrs[senderKey(a)] = true
			}
		}
	}
	return p, nil
}

// allows reports whether user may give from as the reverse-path.
func (p *senderPolicy) allows(user string, from envelope.Path) bool {
	set := p.byUser[user]
	if set == nil {
		return false
	}
	if from.Null {
		return set.null
	}
	return set.addrs[senderKey(from.Address)] || set.domains[domainKey(from.Address)]
}

// domainKey is a's domain in lower case, as A-labels.
func domainKey(a envelope.Address) string {
	if ascii, err := a.ASCII(); err == nil {
		a = ascii
	}
	return strings.ToLower(a.Domain)
}

// senderKey is a's local part and domain in lower case, the domain as
// A-labels.
func senderKey(a envelope.Address) string {
	return strings.ToLower(a.Local) + "@" + domainKey(a)
}
