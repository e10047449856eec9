package proxyproto

import "net"

// HeaderError reports a PROXY protocol header that is missing, malformed,
// truncated, too long, or that could not be read or encoded. Err, when not
// nil, is the underlying cause: [io.EOF] when the peer closed the connection
// before sending anything, [io.ErrUnexpectedEOF] for a truncated header, a
// network error such as [os.ErrDeadlineExceeded] when the header did not
// arrive within the timeout, or the context's error when the read was
// cancelled. Use [errors.Is] on the HeaderError to test for them.
type HeaderError struct {
	// Reason says in a few words what is wrong, e.g. "v1: bad source port".
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error implements error.
func (e *HeaderError) Error() string {
	s := "proxyproto: " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *HeaderError) Unwrap() error { return e.Err }

// Timeout reports whether the header read failed because a deadline
// expired, so that a HeaderError satisfies the Timeout half of [net.Error].
func (e *HeaderError) Timeout() bool {
	t, ok := e.Err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

// UntrustedSourceError is returned by every I/O method of a [Conn] whose peer
// is not in [Options.TrustedSources] when [Options.Untrusted] is
// [RejectUntrusted]. The connection has been closed.
type UntrustedSourceError struct {
	// Addr is the real address of the peer.
	Addr net.Addr
}

// Error implements error.
func (e *UntrustedSourceError) Error() string {
	s := "<nil>"
	if e.Addr != nil {
		s = e.Addr.String()
	}
	return "proxyproto: connection from untrusted source " + s
}

func headerErr(reason string) error { return &HeaderError{Reason: reason} }
