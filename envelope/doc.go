// Package envelope parses and formats the SMTP envelope: the paths and
// parameters of the MAIL and RCPT commands (RFC 5321 4.1.1.2, 4.1.1.3,
// 4.1.2) and the Envelope that the client and the server of smtpkit share.
//
// # Paths and addresses
//
// An Address is a mailbox, Local "@" Domain, with the local part stored
// unquoted and the domain as received (a domain name or an address literal
// such as "[192.0.2.1]" or "[IPv6:2001:db8::1]", RFC 5321 4.1.3). A Path
// is an Address in angle brackets or the null reverse-path "<>". Source
// routes ("<@relay1,@relay2:user@host>") are checked and dropped
// (RFC 5321 4.1.1.3, appendix C). "<Postmaster>" without a domain is
// accepted as a recipient (RFC 5321 4.1.1.3, 4.5.1).
//
// The length limits of RFC 5321 4.5.3.1 apply by default (64 octets for a
// local part, 255 for a domain, 256 for a path); ParseOptions changes them.
//
// # Internationalised addresses
//
// UTF-8 local parts and domains (RFC 6531 3.3) are accepted only under
// SMTPUTF8; otherwise they get 553 5.6.7 (RFC 6531 3.5). A non-ASCII
// domain label must be a valid IDNA2008 U-label, one that converts to an
// A-label and back to itself (RFC 5890 2.3.2.1, checked with
// golang.org/x/net/idna), and an "xn--" label a valid A-label; any other
// gets 553 5.1.3 (5.1.7 for a sender). Nothing is mapped: a domain
// written in full-width letters (ｅｘａｍｐｌｅ.com), with capitals
// (BÜCHER.de) or not in NFC is refused rather than turned into another
// domain, so that the domain a backend checks is the one mail goes to.
// Address.ASCII and Address.Unicode convert between U-labels and A-labels
// under the same rule.
//
// # Parameters
//
// MailParams and RcptParams hold the parameters of SIZE (RFC 1870), BODY
// (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531), RET, ENVID, NOTIFY and ORCPT
// (RFC 3461, with the xtext encoding of EncodeXtext and DecodeXtext), AUTH
// (RFC 4954) and REQUIRETLS (RFC 8689). A server passes the extensions it
// advertised in ParseOptions.Allowed; parameters of other extensions are
// refused with 555 5.5.4 (RFC 5321 4.1.1.11), and unknown ones are either
// refused the same way or, with ParamOther, kept in Extra.
//
// # Errors
//
// Every parse error is an *Error carrying the reply code, the enhanced
// status code and the reason, and (*Error).Reply builds the *reply.Reply
// to send: 501 5.5.2 for a command without "FROM:<...>" or "TO:<...>",
// 501 5.1.7 or 5.1.3 for a bad sender or recipient address, 553 5.1.7 or
// 5.1.3 for a domain that is not a valid IDN, 553 5.6.7 for a non-ASCII
// address without SMTPUTF8, 501 5.5.4 for a malformed or
// repeated parameter and 555 5.5.4 for one that is not recognised.
//
// # Formatting
//
// A client formats commands without fmt: AppendMailCommand and
// AppendRcptCommand write "MAIL FROM:<a@b> SIZE=123 BODY=8BITMIME" into a
// buffer and check that what they wrote parses back, so that no address
// or parameter can inject bytes into the session. Path.AppendTo,
// MailParams.AppendTo and RcptParams.AppendTo are the unchecked building
// blocks.
package envelope
