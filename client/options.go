package client

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"time"
)

// Timeouts of RFC 5321 4.5.3.2, the defaults of the Options fields of the
// same name. A command's deadline is the earlier of its timeout and the
// context's deadline.
const (
	// DefaultGreetingTimeout bounds the wait for the 220 greeting
	// (RFC 5321 4.5.3.2.1: 5 minutes).
	DefaultGreetingTimeout = 5 * time.Minute
	// DefaultMailTimeout bounds the wait for the reply to MAIL
	// (RFC 5321 4.5.3.2.2: 5 minutes).
	DefaultMailTimeout = 5 * time.Minute
	// DefaultRcptTimeout bounds the wait for the reply to each RCPT
	// (RFC 5321 4.5.3.2.3: 5 minutes).
	DefaultRcptTimeout = 5 * time.Minute
	// DefaultDataInitTimeout bounds the wait for the 354 reply to DATA
	// (RFC 5321 4.5.3.2.4: 2 minutes).
	DefaultDataInitTimeout = 2 * time.Minute
	// DefaultDataBlockTimeout bounds each write of message data (RFC 5321
	// 4.5.3.2.5: 3 minutes per TCP SEND).
	DefaultDataBlockTimeout = 3 * time.Minute
	// DefaultDataTermTimeout bounds the wait for the reply to the final dot
	// or to BDAT LAST (RFC 5321 4.5.3.2.6: 10 minutes); for LMTP, for each
	// recipient's reply.
	DefaultDataTermTimeout = 10 * time.Minute
	// DefaultCommandTimeout bounds every other command (EHLO, STARTTLS,
	// AUTH, RSET, NOOP, VRFY, QUIT). RFC 5321 names no figure for them; 5
	// minutes matches MAIL and RCPT.
	DefaultCommandTimeout = 5 * time.Minute
	// DefaultLocalName is the name said in EHLO when Options.LocalName is
	// empty and the host name cannot be found.
	DefaultLocalName = "localhost"
	// DefaultChunkSize is the size of each BDAT chunk (RFC 3030 2) and of
	// each DATA write when a message is streamed. Send's first read, which
	// tells it the size and 8-bit content of a small message before MAIL,
	// is only as large as the message when its length is known, and 4 KiB
	// otherwise.
	DefaultChunkSize = 64 << 10
	// DefaultMaxPipelined is the most commands Send writes before reading
	// their replies (Options.MaxPipelined). RFC 2920 sets no figure; 100
	// is the number of recipients a server must accept in one transaction
	// (RFC 5321 4.5.3.1.8), so that a usual transaction is one round trip.
	DefaultMaxPipelined = 100
)

// ContextDialer opens network connections. *net.Dialer implements it, and
// so does the dialer returned by golang.org/x/net/proxy.SOCKS5 (assert it to
// proxy.ContextDialer), which lets a Client go through a SOCKS5 proxy.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options configure a Client. The zero value (or a nil *Options) works:
// every zero field means the documented default.
type Options struct {
	// LocalName is the name the client gives in EHLO, HELO or LHLO
	// (RFC 5321 4.1.1.1: its fully-qualified domain name, or an address
	// literal). Empty means the host name (os.Hostname), or
	// DefaultLocalName when it is not known.
	LocalName string

	// TLSConfig is used by DialTLS and StartTLS. Nil means a default
	// configuration; ServerName defaults to the host dialled.
	TLSConfig *tls.Config

	// Dialer opens the connection in Dial, DialTLS and DialStartTLS. Nil
	// means a net.Dialer. The client cannot see where a custom Dialer's
	// connection leads (a SOCKS5 proxy on 127.0.0.1 relays to any host),
	// so such a connection never counts as a loopback one (see
	// InsecureAuth).
	Dialer ContextDialer

	// GreetingTimeout, MailTimeout, RcptTimeout, DataInitTimeout,
	// DataBlockTimeout, DataTermTimeout and CommandTimeout are the
	// per-command timeouts; zero means the Default constant of the same
	// name (RFC 5321 4.5.3.2).
	GreetingTimeout  time.Duration
	MailTimeout      time.Duration
	RcptTimeout      time.Duration
	DataInitTimeout  time.Duration
	DataBlockTimeout time.Duration
	DataTermTimeout  time.Duration
	CommandTimeout   time.Duration

	// MaxReplyLineLength bounds each reply line the client reads, and
	// MaxReplyLines the lines of one reply; zero means the reply package's
	// defaults. A longer reply fails the command with a limit error.
	MaxReplyLineLength int
	MaxReplyLines      int

	// ChunkSize is the BDAT chunk size and read-ahead buffer size; zero
	// means DefaultChunkSize.
	ChunkSize int

	// NoChunking makes Send use DATA even when the server offers CHUNKING
	// (BINARYMIME content still needs BDAT and is then refused).
	NoChunking bool

	// NoPipelining makes Send wait for each reply even when the server
	// offers PIPELINING.
	NoPipelining bool

	// MaxPipelined is the most commands Send writes before it reads their
	// replies when it pipelines (RFC 2920); zero means
	// DefaultMaxPipelined. It bounds what the server must buffer for a
	// client that is not reading, so that a transaction with many
	// recipients cannot deadlock with both sides blocked writing.
	MaxPipelined int

	// Logger receives connection-level events at debug level and failures
	// at warning level. Nil means no logging.
	Logger *slog.Logger

	// Trace, when set, receives every line sent ("C: ") and received
	// ("S: "), with AUTH credentials replaced by "***". Message content is
	// not traced.
	Trace io.Writer

	// InsecureAuth lets Auth and AuthAuto send a password (PLAIN, LOGIN)
	// or a bearer token (XOAUTH2, OAUTHBEARER) in clear over a connection
	// without TLS. Without it that is allowed only to a loopback host that
	// Dial reached itself (127.0.0.1, ::1 or localhost, no custom Dialer):
	// never through a proxy, and never over a connection given to
	// NewClient, which the client cannot see the end of. Set it for a
	// NewClient connection known to be private (a Unix socket).
	InsecureAuth bool

	// LMTP makes the client speak LMTP (RFC 2033): LHLO instead of EHLO,
	// and one reply per accepted recipient after the message.
	LMTP bool
}

func (o *Options) timeout(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
