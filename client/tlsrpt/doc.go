// Package tlsrpt implements the sending side's half of SMTP TLS Reporting
// (RFC 8460): a Collector counts the successful and failed TLS sessions
// per policy domain and policy (MTA-STS, DANE, or none found), with the
// failure details of RFC 8460 4.3, and writes each domain's daily report
// in the JSON format of RFC 8460 4.4, deterministically. ParseRecord reads
// the domain's _smtp._tls TXT record that says where reports go (rua=
// mailto: or https: URIs); sending them is the caller's job (RFC 8460 5).
//
// Errors of the packages mtasts and dane carry their RFC 8460 result
// type (a ResultType() string method); ResultType reads it from any error.
package tlsrpt
