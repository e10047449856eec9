package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/smtpkit/smtp/envelope"
)

// Backend makes a Session for each connection.
type Backend interface {
	// NewSession is called when a client connects, before the greeting.
	// c describes the connection and stays valid (and up to date) for
	// the connection's life. ctx has the deadline of the greeting (RFC
	// 5321 4.5.3.2.1) and, like the context of every Session method,
	// ends when NewSession returns (see Session).
	//
	// A *reply.Reply error is sent instead of the greeting: a 554 makes
	// the server wait for QUIT and answer 503 to everything else (RFC
	// 5321 3.1), any other code closes the connection after it. Any other
	// error, or a nil Session without an error, is logged and the client
	// gets 421 4.3.0.
	NewSession(ctx context.Context, c *Conn) (Session, error)
}

// BackendFunc adapts a function to the Backend interface.
type BackendFunc func(ctx context.Context, c *Conn) (Session, error)

// NewSession calls f.
func (f BackendFunc) NewSession(ctx context.Context, c *Conn) (Session, error) {
	return f(ctx, c)
}

// Session handles the mail transactions of one connection. Its methods
// are called from the connection's goroutine, one at a time.
//
// Every method gets a context of its own that carries the deadline of the
// RFC 5321 4.5.3.2 stage the client is waiting in, so a backend knows how
// long the sender will wait. It ends when the method returns, at that
// deadline, when the connection ends, or when Server.Close is called, and
// then stays done; context.Cause says which: ErrMethodReturned,
// context.DeadlineExceeded, ErrServerClosed. A context kept after its
// method returned (by a goroutine the method started) is therefore done,
// never alive again during a later command.
//
// Errors: a *reply.Reply is sent to the client as it is, whatever its code;
// a 2xx reply counts as success, which is how a backend chooses the text of
// a positive reply (for example the queue id after the message). Any other
// error is logged, never sent: the client gets 451 4.3.0 (a transient
// failure, so no mail is lost). A panic in a method is recovered, logged
// with its stack and answered the same way; the connection goes on. A 3xx
// reply counts as a plain error (the client would send what the server
// does not expect); a 421 is sent, then the connection is closed (RFC 5321
// 3.8). A refused MAIL, RCPT or message (a 4xx or 5xx reply of the
// backend's, not the 451 of a failing backend) counts as an error of the
// client towards Server.MaxErrors, as in Postfix.
type Session interface {
	// Mail starts a transaction (RFC 5321 4.1.1.2). from is the
	// reverse-path (Null for "<>"); params are the parsed MAIL
	// parameters of the extensions the server advertised. An AUTH=
	// parameter from a client that has not authenticated reaches it as
	// "<>" (RFC 4954 5); from one that has, it is the client's claim,
	// for the backend to trust or not.
	Mail(ctx context.Context, from envelope.Path, params envelope.MailParams) error

	// Rcpt adds a recipient (RFC 5321 4.1.1.3). The server has already
	// enforced MaxRecipients.
	Rcpt(ctx context.Context, to envelope.Path, params envelope.RcptParams) error

	// Data receives the message (RFC 5321 4.1.1.4, or the BDAT chunks of
	// RFC 3030) as a stream: dot-unstuffed, ending with the last CRLF of
	// the message, with the line-ending policy and the size limit applied
	// by the reader, which returns an error (such as a
	// *textproto.MessageTooLargeError) when the message must be refused.
	// The library never holds the whole message in memory. The size limit
	// (MaxMessageBytes) and the text line limit (MaxTextLineLength) count
	// what r gives, after bare LFs were made CRLF, so DATA and BDAT give
	// the same answer to the same message. The 354, and the reply to each
	// BDAT chunk but the last, are sent when due, not when Data reads.
	//
	// The client is told 250 only after Data returned nil. If Data
	// returns before reading everything, the server reads the rest to the
	// real end of the data before it answers, and a violation found there
	// still refuses the message: a backend that commits before r returned
	// io.EOF may keep a message the client was told is refused. The
	// deadline of ctx is DataTimeout after the start of the data, moved to
	// DataTimeout after its end once the end was read (RFC 5321
	// 4.5.3.2.6). r reads from the connection until Data returns and fails
	// for good after that. It returns io.EOF only at the real end of the
	// message; a client that leaves earlier makes it fail with another
	// error.
	Data(ctx context.Context, r io.Reader) error

	// Reset aborts the transaction, if any, and forgets what the session
	// learnt of the client: on RSET and after STARTTLS (RFC 3207 4.2),
	// always; on HELO/EHLO/LHLO and before Logout when a transaction is
	// open; after the reply to each message (which is sent first); and
	// when a command interrupts a BDAT transfer.
	Reset(ctx context.Context)

	// Logout is called once when the connection ends.
	Logout(ctx context.Context) error
}

// ErrAuthFailed is what an authentication add-on returns (or wraps) for
// wrong credentials: the client gets 535 5.7.8 (RFC 4954 6). Any other
// error is a failure of the backend: the client gets 454 4.7.0 and the
// error is logged.
//
// Return it for an unknown user as for a wrong secret: every mechanism
// then answers both with the same replies, after the same
// AuthFailureDelay, counted the same towards MaxAuthFailures (SCRAM-SHA-256
// with mock credentials, CRAM-MD5 after the same digest), so that AUTH
// does not tell which users exist. An authenticator's own timing is its
// own: one that checks a password hash should check one for an unknown
// user too.
var ErrAuthFailed = errors.New("smtp server: authentication failed")

// PasswordAuthenticator is implemented by a Session that checks user
// names and passwords; it enables AUTH PLAIN (RFC 4616) and LOGIN.
type PasswordAuthenticator interface {
	// AuthPassword checks a password. identity is the authorization
	// identity the client asked for ("" when it asked for none, meaning
	// username itself); a backend that does not allow acting as another
	// user must refuse a different one.
	AuthPassword(ctx context.Context, identity, username, password string) error
}

// SecretAuthenticator is implemented by a Session that can look up a
// user's shared secret (the password in clear); it enables CRAM-MD5
// (RFC 2195).
type SecretAuthenticator interface {
	// AuthSecret returns the secret of username, or ErrAuthFailed when
	// there is no such user.
	AuthSecret(ctx context.Context, username string) (secret string, err error)
}

// TokenAuthenticator is implemented by a Session that checks OAuth 2.0
// bearer tokens; it enables XOAUTH2 and OAUTHBEARER (RFC 7628).
type TokenAuthenticator interface {
	// AuthToken checks token for username (the user the client named;
	// it may be "" with OAUTHBEARER, then the token alone decides).
	AuthToken(ctx context.Context, mechanism, username, token string) error
}

// LMTPSession is implemented by a Session that reports one status per
// recipient after the message in LMTP mode (RFC 2033 4.2). Without it, the
// result of Data applies to every recipient.
type LMTPSession interface {
	// LMTPData is called instead of Data in LMTP mode. It returns one
	// error per recipient accepted by Rcpt, in the order they were
	// accepted (nil: delivered); a missing entry counts as a 451. A
	// non-nil err applies to every recipient and takes precedence.
	LMTPData(ctx context.Context, r io.Reader) (perRecipient []error, err error)
}

// VerifySession is implemented by a Session that answers VRFY (RFC 5321
// 3.5.3, 4.1.1.6). Without it VRFY gets 252 2.0.0 "Cannot VRFY user, but
// will accept message and attempt delivery".
type VerifySession interface {
	// Verify answers VRFY arg. Return a *reply.Reply (250 with the
	// mailbox, 251, 252, 550, 553...); nil means 252.
	Verify(ctx context.Context, arg string) error
}

// Conn describes a client connection to the backend. Its methods are safe
// for concurrent use and report the current facts: the HELO name, TLS state
// and identity change during the session.
type Conn struct {
	id     string
	srv    *Server
	remote net.Addr
	local  net.Addr

	mu       sync.Mutex
	helo     string
	tls      *tls.ConnectionState
	identity string
	logger   *slog.Logger // made by Logger
}

// Logger returns the server's logger (Server.Logger) with the attribute
// "conn" set to the connection id, so that what the backend logs about a
// connection lines up with what the server logs about it.
func (c *Conn) Logger() *slog.Logger {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logger == nil {
		c.logger = c.srv.cfg.logger.With("conn", c.id)
	}
	return c.logger
}

// ID returns the connection id that every log line and event of this
// connection carries.
func (c *Conn) ID() string { return c.id }

// Server returns the server that accepted the connection.
func (c *Conn) Server() *Server { return c.srv }

// RemoteAddr returns the client's address; behind a PROXY protocol
// listener, the address the proxy reported.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr returns the server's address of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// Hello returns the name the client gave with HELO, EHLO or LHLO, or ""
// before it did (and again after STARTTLS, RFC 3207 4.2).
func (c *Conn) Hello() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.helo
}

// TLS returns the TLS state, or nil when the connection is not (yet)
// encrypted.
func (c *Conn) TLS() *tls.ConnectionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tls
}

// Identity returns the identity the client authenticated as with AUTH
// (the authorization identity if it gave one, else the user name), or ""
// before it did.
func (c *Conn) Identity() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.identity
}

func (c *Conn) setHello(s string) {
	c.mu.Lock()
	c.helo = s
	c.mu.Unlock()
}

func (c *Conn) setTLS(s *tls.ConnectionState) {
	c.mu.Lock()
	c.tls = s
	c.helo = ""
	c.identity = ""
	c.mu.Unlock()
}

func (c *Conn) setIdentity(s string) {
	c.mu.Lock()
	c.identity = s
	c.mu.Unlock()
}
