// Package mtasts implements the sending side of SMTP MTA Strict Transport
// Security (RFC 8461): a domain publishes a TXT record at _mta-sts.<domain>
// and a policy at https://mta-sts.<domain>/.well-known/mta-sts.txt naming
// the MX hosts that may receive its mail; in "enforce" mode a sender
// delivers only to those hosts, over TLS with a certificate valid for the
// host under the Web PKI.
//
// A Resolver finds the policy of a domain: it looks up the TXT record,
// fetches the policy over HTTPS (certificate verified, no redirects, a
// size and a time limit, text/plain only), and caches it for its max_age,
// in memory and optionally in a Store (FileStore for a relay's disk), so
// that an attacker who later blocks the TXT lookup or the HTTPS fetch
// cannot remove the protection (RFC 8461 5.1, 10.2). The failure modes of
// RFC 8461 5 behave as the RFC says: a cached policy is used while the
// TXT record or the fetch fails; a changed id triggers a fetch; an invalid
// or missing record or policy means no policy, unless one is cached.
//
// The caller enforces: Policy.Match says which MX hosts a policy allows,
// Policy.TLSConfig verifies the MX's certificate. DANE takes precedence
// over MTA-STS (RFC 8461 2): apply a policy only to hosts DANE says
// nothing about.
package mtasts
