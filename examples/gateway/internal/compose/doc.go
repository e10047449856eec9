// Package compose builds an Internet message (RFC 5322) with its MIME
// structure (RFC 2045-2049) from values: addresses, a subject, a text and an
// HTML body, attachments and extra header fields. It is the message builder
// of the gateway's HTTP API.
//
// What it writes is what strict receivers accept:
//
//   - only CRLF line ends, every line at most FoldAt characters where a
//     field can be folded (RFC 5322 2.1.1 asks for 78, RFC 2047 2 for 76 on
//     lines with encoded words) and never more than MaxLineLength (998);
//   - non-ASCII display names and subjects as RFC 2047 encoded words, each
//     at most 75 characters and holding whole characters; non-ASCII
//     attachment names as RFC 2231 parameters, split into continuations;
//   - bodies in 7bit when they are short-lined ASCII, else in
//     quoted-printable or base64 (whichever is smaller), so the message is
//     7-bit clean and needs neither 8BITMIME nor BINARYMIME; attachments in
//     base64;
//   - a Date and a Message-ID (RFC 5322 3.6.1, 3.6.4) and MIME-Version;
//     multipart/alternative for a text and an HTML body, multipart/related
//     for inline parts the HTML refers to by Content-ID (RFC 2387, RFC
//     2392), multipart/mixed for attachments;
//   - no Bcc field: blind recipients belong in the envelope only.
//
// An address whose local part is not ASCII can only be written in UTF-8
// (RFC 6532); Built.SMTPUTF8 then says that the message must travel with
// SMTPUTF8 (RFC 6531). A domain in Unicode is written as A-labels whenever
// the local part allows it, so the message stays ASCII.
//
// Every error is a *FieldError naming the field at fault in the gateway
// API's terms ("to[1]", "attachments[0].filename", "headers.X-Tag").
package compose
