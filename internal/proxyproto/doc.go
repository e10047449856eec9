// Package proxyproto implements the receiving and sending sides of the
// HAProxy PROXY protocol, versions 1 and 2, as specified in
// https://www.haproxy.org/download/2.4/doc/proxy-protocol.txt (cited below
// as "spec"): section 2.1 (version 1, a single text line) and section 2.2
// (version 2, a binary header followed by optional TLVs).
//
// A load balancer in front of an SMTP server (HAProxy "send-proxy",
// AWS/GCP/Azure network load balancers) prepends the header to the
// connection so that the server learns the real client address. Because
// SMTP is a protocol where the server speaks first, the server must read the
// header before it sends its greeting (spec 2: "The receiver MUST NOT start
// processing the connection before it receives a complete and valid PROXY
// protocol header").
//
// # Receiving
//
// [NewListener] wraps a [net.Listener]; its Accept returns a [*Conn] at once,
// without reading anything, so a peer that never sends a header cannot stall
// the accept loop. The header is read lazily, bounded by
// [Options.HeaderTimeout], on the first call to [Conn.Header],
// [Conn.HeaderContext], Read, Write, RemoteAddr or LocalAddr, whichever comes
// first. A server should call [Conn.HeaderContext] first thing in the
// connection's goroutine, before writing its greeting, so that it can log and
// drop connections with a bad header.
//
// After the header, RemoteAddr and LocalAddr report the source and
// destination it announced; for a LOCAL command (health checks), a version 1
// UNKNOWN line or an unspecified address family they report the real socket
// addresses (spec 2.1 and 2.2). Bytes that the peer sent right after the
// header (pipelined SMTP commands, a TLS ClientHello) are kept and returned
// by Read before anything else, so the connection can be handed to
// [crypto/tls.Server] unchanged.
//
// The header is mandatory: a connection that does not start with a valid
// header fails with a [*HeaderError] and is closed. The package never
// guesses whether a header is present (spec 2 and 5: the receiver "MUST not
// try to guess whether the protocol header is present or not"). To accept
// direct connections on the same port, list the load balancers in
// [Options.TrustedSources] and set [Options.Untrusted] to [DirectUntrusted]:
// the decision is then made from the peer's address, never from the data.
//
// [ReadHeader] parses a header from any [io.Reader] without reading past its
// end, for callers that manage connections themselves.
//
// # Sending
//
// [Header.AppendV1], [Header.AppendV2] and [Header.Format] encode a header,
// for clients that connect through a receiver expecting one and for tests.
//
// # Limits
//
// A version 1 line is at most [MaxV1Length] (107) bytes including CRLF, as
// fixed by spec 2.1. A version 2 header may announce up to 65535 bytes of
// addresses and TLVs; this package accepts at most
// [DefaultMaxHeaderLength] bytes in total unless [Options.MaxHeaderLength]
// says otherwise.
package proxyproto
