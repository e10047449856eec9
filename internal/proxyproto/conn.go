package proxyproto

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHeaderTimeout is how long a connection may take to deliver its
// header when [Options.HeaderTimeout] is zero. Spec 2 allows a short
// timeout of "at least 3 seconds to cover a TCP retransmit"; 10 seconds
// covers a few retransmits.
const DefaultHeaderTimeout = 10 * time.Second

// headerBufferSize is the buffer used to read the header: a version 1 line,
// or the fixed part and addresses of a version 2 header, plus the first
// bytes that follow, in one read.
const headerBufferSize = 512

// UntrustedPolicy says what happens to a connection from a peer outside
// [Options.TrustedSources].
type UntrustedPolicy uint8

const (
	// RejectUntrusted closes the connection; its I/O methods return an
	// [*UntrustedSourceError]. This is the default.
	RejectUntrusted UntrustedPolicy = iota
	// DirectUntrusted serves the connection as a direct one: no header is
	// read, RemoteAddr is the real peer, and a header the peer sends anyway
	// reaches the application as ordinary data (an SMTP server answers it
	// with a syntax error).
	DirectUntrusted
)

// Options configures a [Listener] or a [Conn]. The zero value requires a
// valid header from every peer within [DefaultHeaderTimeout].
type Options struct {
	// HeaderTimeout bounds the time between the first use of the
	// connection and the end of its header. Zero means
	// DefaultHeaderTimeout; negative means no timeout (not recommended:
	// a peer that sends nothing then holds the connection until the
	// application's own deadlines apply).
	HeaderTimeout time.Duration

	// MaxHeaderLength bounds a version 2 header in bytes, the 16-byte
	// fixed part included. Zero means DefaultMaxHeaderLength; values below
	// MinMaxHeaderLength are raised to it. Version 1 lines are bounded by
	// MaxV1Length.
	MaxHeaderLength int

	// TrustedSources lists the networks of the proxies allowed to send a
	// header (spec 2: "only trusted proxies are allowed to use this
	// protocol"). Empty means every peer must send one. IPv4 peers are
	// matched in their 4-byte form, so write IPv4 prefixes as such.
	TrustedSources []netip.Prefix

	// Untrusted says what to do with peers outside TrustedSources; it is
	// unused when TrustedSources is empty. The zero value rejects them.
	Untrusted UntrustedPolicy
}

// aLongTimeAgo is a deadline in the past, to make a blocked Read return.
var aLongTimeAgo = time.Unix(1, 0)

// Conn is a connection that starts with a PROXY protocol header. It reads
// the header on first use (see the package documentation), then behaves as
// the underlying connection, with RemoteAddr and LocalAddr taken from the
// header. It is safe for concurrent use as a [net.Conn] is.
//
// If reading the header fails, the underlying connection is closed and every
// Read, Write, Header and HeaderContext call returns the same error, a
// [*HeaderError] or [*UntrustedSourceError].
type Conn struct {
	conn    net.Conn
	timeout time.Duration
	maxLen  int

	// Handshake: hsMu serialises the header read; hsDone publishes hdr and
	// hsErr, which never change once it is set.
	hsMu   sync.Mutex
	hsDone atomic.Bool
	hdr    *Header
	hsErr  error

	// Bytes read past the header, returned by Read first.
	rmu         sync.Mutex
	leftover    []byte
	hasLeftover atomic.Bool

	// Read deadlines while the header is being read: the effective
	// deadline is the earlier of the application's and the header's.
	dlMu         sync.Mutex
	inHandshake  bool
	cancelled    bool
	hdrDeadline  time.Time
	userDeadline time.Time

	aborted atomic.Bool // we closed conn after a failure
}

// NewConn wraps c, which must not have been read from, for a server that
// accepts connections itself. See [Options] for the configuration. It does
// no I/O, except closing c at once if its peer is untrusted and rejected.
func NewConn(c net.Conn, opts Options) *Conn {
	pc := &Conn{conn: c, timeout: opts.HeaderTimeout, maxLen: opts.MaxHeaderLength}
	if pc.timeout == 0 {
		pc.timeout = DefaultHeaderTimeout
	}
	if len(opts.TrustedSources) > 0 && !Trusted(c.RemoteAddr(), opts.TrustedSources) {
		if opts.Untrusted != DirectUntrusted {
			pc.hsErr = &UntrustedSourceError{Addr: c.RemoteAddr()}
			pc.aborted.Store(true)
			c.Close()
		}
		pc.hsDone.Store(true)
	}
	return pc
}

// Trusted reports whether the peer address a lies in one of the prefixes.
func Trusted(a net.Addr, prefixes []netip.Prefix) bool {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.IPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if a == nil {
			return false
		}
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return false
		}
		ip = ap.Addr()
	}
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Header reads the header if that has not been done yet and returns it. It
// returns (nil, nil) for a connection served directly under
// [DirectUntrusted]. The Header is shared: do not modify it.
func (c *Conn) Header() (*Header, error) {
	return c.HeaderContext(context.Background())
}

// HeaderContext is like Header, and gives up when ctx is done as well as
// after HeaderTimeout. Only the first call reads; later and concurrent calls
// wait for it and share its outcome, whatever their own ctx. A server
// should call it before sending its greeting (spec 2).
func (c *Conn) HeaderContext(ctx context.Context) (*Header, error) {
	if err := c.handshake(ctx); err != nil {
		return nil, err
	}
	return c.hdr, nil
}

func (c *Conn) handshake(ctx context.Context) error {
	if c.hsDone.Load() {
		return c.hsErr
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone.Load() {
		return c.hsErr
	}
	c.hdr, c.hsErr = c.readHeader(ctx)
	c.hsDone.Store(true)
	return c.hsErr
}

// readHeader reads the header under the header deadline, keeps the bytes
// read past it, and restores the application's read deadline.
func (c *Conn) readHeader(ctx context.Context) (*Header, error) {
	if err := ctx.Err(); err != nil {
		c.abort()
		return nil, &HeaderError{Reason: "reading header", Err: context.Cause(ctx)}
	}
	c.dlMu.Lock()
	c.inHandshake = true
	if c.timeout > 0 {
		c.hdrDeadline = time.Now().Add(c.timeout)
	}
	if d, ok := ctx.Deadline(); ok && (c.hdrDeadline.IsZero() || d.Before(c.hdrDeadline)) {
		c.hdrDeadline = d
	}
	err := c.conn.SetReadDeadline(earliest(c.hdrDeadline, c.userDeadline))
	c.dlMu.Unlock()

	var h *Header
	var br *bufio.Reader
	if err == nil {
		if ctx.Done() != nil {
			stop := context.AfterFunc(ctx, func() {
				c.dlMu.Lock()
				defer c.dlMu.Unlock()
				if c.inHandshake {
					c.cancelled = true
					c.conn.SetReadDeadline(aLongTimeAgo)
				}
			})
			defer stop()
		}
		br = bufio.NewReaderSize(c.conn, headerBufferSize)
		h, err = ReadHeaderLimit(br, c.maxLen)
	}

	c.dlMu.Lock()
	c.inHandshake = false
	cancelled := c.cancelled
	if err == nil {
		err = c.conn.SetReadDeadline(c.userDeadline)
	}
	c.dlMu.Unlock()

	if err != nil {
		if cancelled {
			err = &HeaderError{Reason: "reading header", Err: context.Cause(ctx)}
		} else if _, ok := err.(*HeaderError); !ok {
			err = &HeaderError{Reason: "reading header", Err: err}
		}
		c.abort()
		return nil, err
	}
	if n := br.Buffered(); n > 0 {
		c.leftover, _ = br.Peek(n)
		c.hasLeftover.Store(true)
	}
	return h, nil
}

// abort closes the connection after a failed header: spec 2.1 asks to abort
// as soon as possible so that the sender notices.
func (c *Conn) abort() {
	c.aborted.Store(true)
	c.conn.Close()
}

// earliest returns the earlier of two deadlines, the zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// Read reads the header first if needed, then returns the bytes that
// followed it before reading from the underlying connection.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.handshake(context.Background()); err != nil {
		return 0, err
	}
	if c.hasLeftover.Load() {
		c.rmu.Lock()
		if len(c.leftover) > 0 {
			n := copy(b, c.leftover)
			c.leftover = c.leftover[n:]
			if len(c.leftover) == 0 {
				c.leftover = nil
				c.hasLeftover.Store(false)
			}
			c.rmu.Unlock()
			return n, nil
		}
		c.rmu.Unlock()
	}
	return c.conn.Read(b)
}

// Write reads the header first if needed, so that nothing (such as an SMTP
// greeting) is sent to a peer whose header is missing or invalid (spec 2:
// the receiver must not start processing the connection before).
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.handshake(context.Background()); err != nil {
		return 0, err
	}
	return c.conn.Write(b)
}

// Close closes the underlying connection. It does not wait for the header.
// It returns nil if the connection was already closed because its header
// was rejected.
func (c *Conn) Close() error {
	err := c.conn.Close()
	if c.aborted.Load() {
		return nil
	}
	return err
}

// RemoteAddr returns the source address from the header, reading the header
// first if needed (so call it from the connection's goroutine, not from an
// accept loop). It returns the real peer address for a LOCAL or UNKNOWN
// header, an unspecified family, a direct connection, or if the header
// could not be read.
func (c *Conn) RemoteAddr() net.Addr {
	if c.handshake(context.Background()) == nil && c.hdr != nil && c.hdr.Source != nil {
		return c.hdr.Source
	}
	return c.conn.RemoteAddr()
}

// LocalAddr returns the destination address from the header (the address
// the client connected to on the proxy), with the same rules as RemoteAddr.
func (c *Conn) LocalAddr() net.Addr {
	if c.handshake(context.Background()) == nil && c.hdr != nil && c.hdr.Destination != nil {
		return c.hdr.Destination
	}
	return c.conn.LocalAddr()
}

// SetDeadline sets the read and write deadlines, as SetReadDeadline and
// SetWriteDeadline do.
func (c *Conn) SetDeadline(t time.Time) error {
	if c.hsDone.Load() {
		return c.conn.SetDeadline(t)
	}
	if err := c.conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// SetReadDeadline sets the read deadline of the underlying connection.
// While the header is being read, the earlier of t and the header deadline
// applies (so a past t aborts the header read, e.g. on server shutdown), and
// t is restored once the header has been read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.hsDone.Load() {
		return c.conn.SetReadDeadline(t)
	}
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.userDeadline = t
	if !c.inHandshake {
		return c.conn.SetReadDeadline(t)
	}
	if c.cancelled {
		return nil
	}
	return c.conn.SetReadDeadline(earliest(t, c.hdrDeadline))
}

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.conn.SetWriteDeadline(t)
}

// NetConn returns the underlying connection. Reading from it directly skips
// the bytes this Conn buffered after the header.
func (c *Conn) NetConn() net.Conn { return c.conn }
