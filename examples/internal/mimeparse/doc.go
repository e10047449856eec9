// Package mimeparse reads an Internet message (RFC 5322) and its MIME
// structure (RFC 2045-2049) the way a mail reader shows it: the header
// fields in order with their values decoded to UTF-8, the text and HTML
// bodies, the attachments and the inline parts (images an HTML body refers
// to by Content-ID).
//
// It is made for mail as it is really sent, not only as the RFCs describe
// it: multipart/alternative, mixed and related, nested; quoted-printable and
// base64 (decoded leniently, as mail readers do); RFC 2047 encoded words in
// header fields and, where mail programs put them, in file names; RFC 2231
// parameters with continuations and charsets; raw 8-bit header fields in
// UTF-8 (RFC 6532) or, failing that, Windows-1252.
//
// Parse never fails: what does not follow the format is recorded in
// Message.Problems and the parser goes on with its best reading (a
// multipart body whose boundary never appears becomes a text part showing
// the raw body), so a program can show every message and say what was
// wrong with it. Limits (nesting depth, number of parts) are fields of
// Parser with named defaults.
//
// Only the standard library's charsets are decoded natively (UTF-8,
// US-ASCII, ISO-8859-1) plus Windows-1252 and ISO-8859-15 from small tables
// here; text in any other charset is shown as UTF-8 if it is valid UTF-8,
// else as Windows-1252, and a Problem says so.
package mimeparse
