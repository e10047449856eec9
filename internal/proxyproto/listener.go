package proxyproto

import (
	"net"
	"slices"
)

// Listener wraps a [net.Listener] whose connections start with a PROXY
// protocol header. Accept returns [*Conn] values without reading from them,
// so a slow or silent peer never delays other connections.
type Listener struct {
	inner net.Listener
	opts  Options
}

// NewListener returns a Listener accepting from inner with opts.
func NewListener(inner net.Listener, opts Options) *Listener {
	opts.TrustedSources = slices.Clone(opts.TrustedSources)
	return &Listener{inner: inner, opts: opts}
}

// Accept waits for the next connection and returns it as a [*Conn]. A
// connection from a rejected untrusted peer is returned too, already closed,
// so that the application can log it; its I/O methods return an
// [*UntrustedSourceError]. Errors come from the inner listener only.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.inner.Accept()
	if err != nil {
		return nil, err
	}
	return NewConn(c, l.opts), nil
}

// Close closes the inner listener.
func (l *Listener) Close() error { return l.inner.Close() }

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }
