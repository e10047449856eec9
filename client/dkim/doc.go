// Package dkim signs messages with DomainKeys Identified Mail (RFC 6376):
// rsa-sha256 and ed25519-sha256 (RFC 8463), relaxed or simple
// canonicalization, the header fields of RFC 6376 5.4.1 with From signed
// once more than it appears (so that no From can be added), and the body
// hashed as it streams past.
//
// A Signer reads a message once and returns the DKIM-Signature header
// field to put in front of it; the message itself is not kept, so a relay
// signs a message from its queue file and then sends the field followed by
// the file. The signature covers the message as a Client sends it: every
// line end (CR LF, a bare LF or a bare CR) counts as CR LF, as the client's
// DATA and BDAT writers turn each of them into CR LF on the wire.
//
// The package signs only; verification belongs to the receiving side.
// Keys come from PEM files (PKCS#8 RSA or Ed25519, PKCS#1 RSA) through
// ParsePrivateKey and LoadPrivateKey, and PublicKeyRecord gives the TXT
// record to publish at SELECTOR._domainkey.DOMAIN.
//
// It sits under client/ because signing is what the sending side does; it
// imports nothing of the client, so a server or a program of its own may
// use it too.
package dkim
