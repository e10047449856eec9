// Package dane authenticates SMTP servers with DANE (RFC 7672, on RFC 6698
// and RFC 7671): TLSA records, published under DNSSEC at
// _25._tcp.<mx host>, say which certificate or public key the server must
// present; an attacker who strips STARTTLS or presents another
// certificate cannot make the client deliver.
//
// A Resolver asks a DNSSEC-validating recursive resolver (one the host
// trusts, usually on 127.0.0.1) and reads the AD bit of its answers; it
// also serves as the client.Resolver of a Deliverer and as the TXT lookup
// of MTA-STS. Resolver.Host applies RFC 7672 2.2: DANE applies to an MX
// host only when the MX records, the host's addresses and its TLSA records
// are all secure. The HostPolicy it returns says whether TLS is then
// required and authenticated by the records (usable records), required
// without authentication (only unusable records), or not DANE's business
// (no secure TLSA records: MTA-STS or opportunistic TLS decide), and gives
// the tls.Config that checks the server's certificate against the records.
//
// Verify is the matching itself (RFC 7672 3): DANE-EE(3) records match the
// server's own certificate or key, ignoring its names and dates; DANE-TA(2)
// records match a trust anchor in the chain the server sends, and the
// chain is then validated with the names of RFC 7672 3.2.2. PKIX-TA(0) and
// PKIX-EE(1) records are unusable for SMTP (RFC 7672 3.1.3).
//
// When usable TLSA records exist and the server fails to match them, or
// does not offer STARTTLS, the mail must wait (RFC 7672 2.2): the caller
// must neither fall back to clear text nor to an unauthenticated
// connection. DANE takes precedence over MTA-STS (RFC 8461 2).
package dane
