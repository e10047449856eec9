package server

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/smtpkit/smtp/internal/sasl"
	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/textproto"
)

// ScramAuthenticator is implemented by a Session that stores SCRAM
// credentials instead of passwords; it enables SCRAM-SHA-256 (RFC 7677).
//
// The exchange does not tell whether a user exists: for ErrAuthFailed the
// server answers with a salt and iteration count of the form
// NewScramCredentials makes by default (16 octets, 4096), derived from a
// secret of the Server and the user name, and refuses the proof that
// follows as it refuses a wrong password (RFC 5802 5.1, 9). Credentials
// made with NewScramCredentials(password, nil, 0) therefore look the same
// as those of no user.
type ScramAuthenticator interface {
	// AuthScram returns the stored credentials of username, or
	// ErrAuthFailed when there is no such user.
	AuthScram(ctx context.Context, username string) (ScramCredentials, error)
}

// ScramCredentials are what a server stores for SCRAM-SHA-256 instead of a
// password (RFC 5802 3): the salt, the iteration count, StoredKey and
// ServerKey (32 bytes each).
type ScramCredentials struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// NewScramCredentials derives the SCRAM-SHA-256 credentials of a password.
// A nil salt is replaced by 16 random bytes, iterations 0 by 4096 (RFC 7677
// 4).
func NewScramCredentials(password string, salt []byte, iterations int) (ScramCredentials, error) {
	c, err := sasl.NewScramCredentials(password, salt, iterations)
	return ScramCredentials(c), err
}

// authOffered reports whether AUTH is advertised now: some mechanism is
// available and the channel is protected, unless AllowInsecureAuth (RFC
// 4954 4, 14: credentials must not cross the network in clear).
func (c *conn) authOffered() bool {
	if c.sess == nil || (!c.sm.TLS() && !c.srv.AllowInsecureAuth) {
		return false
	}
	return len(c.mechanisms()) > 0
}

// mechanisms lists the SASL mechanisms the session's add-on interfaces
// allow, strongest first. The list is made once per connection.
func (c *conn) mechanisms() []string {
	if c.mechsDone || c.sess == nil {
		return c.mechs // inlined: asked before every command (authOffered)
	}
	return c.findMechanisms()
}

// findMechanisms makes the list of mechanisms, once per connection (kept
// out of line so that mechanisms inlines).
//
//go:noinline
func (c *conn) findMechanisms() []string {
	c.mechsDone = true
	var m []string
	if _, ok := c.sess.(ScramAuthenticator); ok {
		m = append(m, sasl.ScramSHA256)
	}
	if _, ok := c.sess.(TokenAuthenticator); ok {
		m = append(m, sasl.OAuthBearer, sasl.XOAuth2)
	}
	if _, ok := c.sess.(SecretAuthenticator); ok {
		m = append(m, sasl.CramMD5)
	}
	if _, ok := c.sess.(PasswordAuthenticator); ok {
		m = append(m, sasl.Plain, sasl.Login)
	}
	c.mechs = m
	return m
}

// saslServer returns the server half of mechanism mech, or nil when the
// session does not offer it. user receives the user name the client gave
// (for the AUTH event, even on failure), then, on success, the identity it
// authenticated as. A credential the backend refuses sets c.authRefused.
func (c *conn) saslServer(mech string, user *string) sasl.Server {
	mapErr := func(err error) error {
		if errors.Is(err, ErrAuthFailed) {
			c.authRefused = true
			return sasl.ErrAuthFailed
		}
		return err
	}
	switch mech {
	case sasl.Plain, sasl.Login:
		pa, ok := c.sess.(PasswordAuthenticator)
		if !ok {
			return nil
		}
		check := func(ctx context.Context, identity, username, password string) error {
			*user = username
			if err := mapErr(pa.AuthPassword(ctx, identity, username, password)); err != nil {
				return err
			}
			if identity != "" {
				*user = identity
			}
			return nil
		}
		if mech == sasl.Plain {
			return sasl.NewPlainServer(check)
		}
		return sasl.NewLoginServer(func(ctx context.Context, username, password string) error {
			return check(ctx, "", username, password)
		})
	case sasl.CramMD5:
		sa, ok := c.sess.(SecretAuthenticator)
		if !ok {
			return nil
		}
		return sasl.NewCramMD5Server(c.cfg.hostname, func(ctx context.Context, username string) (string, error) {
			s, err := sa.AuthSecret(ctx, username)
			*user = username
			return s, mapErr(err)
		})
	case sasl.ScramSHA256:
		sa, ok := c.sess.(ScramAuthenticator)
		if !ok {
			return nil
		}
		return sasl.NewScramSHA256ServerWithMock(func(ctx context.Context, username string) (sasl.Credentials, error) {
			cr, err := sa.AuthScram(ctx, username)
			*user = username
			if errors.Is(err, ErrAuthFailed) {
				// No such user: the exchange goes on with mock
				// credentials and fails at the proof like a wrong
				// password (RFC 5802 5.1, 9), refused there.
				return sasl.Credentials{}, sasl.ErrAuthFailed
			}
			return sasl.Credentials(cr), err
		}, c.cfg.scramMockKey[:])
	case sasl.XOAuth2, sasl.OAuthBearer:
		ta, ok := c.sess.(TokenAuthenticator)
		if !ok {
			return nil
		}
		check := func(ctx context.Context, username, token string) error {
			*user = username
			return mapErr(ta.AuthToken(ctx, mech, username, token))
		}
		if mech == sasl.XOAuth2 {
			return sasl.NewXOAuth2Server(check)
		}
		return sasl.NewOAuthBearerServer(check)
	}
	return nil
}

// cmdAuth runs an AUTH exchange (RFC 4954 4).
func (c *conn) cmdAuth(arg []byte) {
	if c.noAuth() {
		return
	}
	mechArg, ir, _ := cutSpace(arg)
	mech := upperASCII(mechArg)
	var user string
	srv := c.saslServer(mech, &user)
	if srv == nil {
		// RFC 4954 4: an unknown or unavailable mechanism gets 504.
		c.countError()
		c.answer(session.AUTH, reply.ParamNotImplemented("Unrecognized authentication mechanism"))
		return
	}
	var resp []byte
	if len(ir) > 0 {
		var ok bool
		if resp, ok = decodeResponse(ir); !ok {
			c.countError()
			c.answer(session.AUTH, reply.ParamSyntax("Invalid base64 in initial response"))
			return
		}
	}
	c.authRefused = false
	r, err := c.authExchange(srv, resp)
	if r == nil {
		// Authenticated.
		c.pub.setIdentity(user)
		c.authEvent(mech, user, nil)
		c.answer(session.AUTH, reply.AuthSucceeded())
		return
	}
	if c.authRefused && r.Code != reply.CodeServiceNotAvailable {
		// The backend refused a credential (a token that got the RFC
		// 7628 3.2.2 error challenge): the exchange failed, 535 5.7.8
		// (RFC 7628 3.2.3, RFC 4954 6), whatever the client answered
		// after that ("*", garbage, an over-long line), so that guessing
		// pays the delay and meets MaxAuthFailures like any other.
		r = reply.AuthFailed()
		err = &sasl.AuthError{Mechanism: mech, Username: user, Err: sasl.ErrAuthFailed}
	}
	c.authEvent(mech, user, err)
	switch {
	case r.Code == reply.CodeAuthInvalid:
		c.authFailures++
		if c.cfg.maxAuthFailures > 0 && c.authFailures >= c.cfg.maxAuthFailures {
			c.answer(session.AUTH, r)
			c.reply(reply.New(reply.CodeServiceNotAvailable, reply.EnhSecurityError().WithClass(4),
				c.cfg.hostname+" Too many failed authentication attempts, closing connection"))
			c.closing = true
			return
		}
		// Slow down guessing; answer after the delay.
		if d := c.cfg.authDelay; d > 0 {
			c.pause(d)
		}
	case r.Code != reply.CodeServiceNotAvailable:
		// A cancelled or broken exchange, or one the backend failed
		// (454) or refused with a reply of its own: no credential was
		// refused here, but an AUTH loop must not be free (see
		// MaxErrors), whether it guesses against a backend that does
		// not return ErrAuthFailed or hammers one that is down. A 421
		// closes the connection anyway.
		c.countError()
	}
	c.answer(session.AUTH, r)
}

// noAuth answers an AUTH that cannot be accepted now and reports whether
// it did.
func (c *conn) noAuth() bool {
	if len(c.mechanisms()) == 0 {
		c.countError()
		c.answer(session.AUTH, reply.NotImplemented("AUTH not available"))
		return true
	}
	if !c.sm.TLS() && !c.srv.AllowInsecureAuth {
		// RFC 4954 4: refuse credentials sent in clear.
		c.countError()
		c.answer(session.AUTH, reply.EncryptionRequired())
		return true
	}
	return false
}

// authExchange runs the SASL exchange. It returns nil on success, else the
// reply and the error that ended it.
func (c *conn) authExchange(srv sasl.Server, resp []byte) (r *reply.Reply, err error) {
	for {
		ctx := c.begin(c.cfg.commandTimeout)
		var challenge []byte
		var done bool
		err := c.call("Auth", func() error {
			var err error
			challenge, done, err = srv.Next(ctx, resp)
			return err
		})
		c.stage.end()
		if done || err != nil {
			if err == nil {
				return nil, nil
			}
			return c.authErrorReply(err), err
		}
		// RFC 4954 4: a 334 challenge, base64-encoded.
		c.reply(reply.AuthChallenge(base64.StdEncoding.EncodeToString(challenge)))
		c.lineDeadline()
		// A client sitting on a challenge is idle, not in a transaction:
		// Shutdown may interrupt the wait (see conn.Read).
		c.idle.Store(true)
		line, rerr := c.tr.ReadLine(textproto.MaxAuthLine, c.srv.Policy)
		c.idle.Store(false)
		if c.srv.Trace != nil && rerr == nil {
			c.traceCommand(line, true)
		}
		var tooLong *textproto.LineTooLongError
		switch {
		case errors.As(rerr, &tooLong):
			// RFC 4954 4: the reader skipped the rest of the line.
			return reply.AuthLineTooLong(), rerr
		case errors.Is(rerr, errShutdown):
			return c.cfg.canned.shutdown, rerr
		case rerr != nil:
			c.closing = true
			if isTimeout(rerr) {
				return c.cfg.canned.timeout, rerr
			}
			return reply.AuthCancelled(), rerr
		case len(line) == 1 && line[0] == '*':
			// RFC 4954 4: the client cancels with "*".
			return reply.AuthCancelled(), errAuthCancelled
		}
		var ok bool
		if resp, ok = decodeResponse(line); !ok {
			return reply.ParamSyntax("Invalid base64 in response"), errAuthBase64
		}
	}
}

// Errors that end an AUTH exchange on the client's side.
var (
	errAuthCancelled = errors.New("smtp server: AUTH cancelled by the client")
	errAuthBase64    = errors.New("smtp server: invalid base64 in AUTH response")
)

// authErrorReply maps a SASL error to its reply (RFC 4954 6).
func (c *conn) authErrorReply(err error) *reply.Reply {
	var mal *sasl.MalformedError
	var ae *sasl.AuthError
	if r := replyOf(err); r != nil && !r.Code.IsPositive() {
		return r
	}
	switch {
	case errors.Is(err, errBackendPanic):
		return reply.TemporaryAuthFailure()
	case errors.As(err, &mal):
		return reply.ParamSyntax("Malformed authentication response")
	case errors.As(err, &ae) && !ae.Temporary():
		return reply.AuthFailed()
	}
	c.logError("Auth", err)
	return reply.TemporaryAuthFailure()
}

func (c *conn) authEvent(mech, user string, err error) {
	c.emit(Event{Kind: EventAuth, Mechanism: mech, Identity: user, Err: err})
}

// decodeResponse decodes a base64 SASL message; "=" is the empty message
// (RFC 4954 4).
func decodeResponse(b []byte) ([]byte, bool) {
	if len(b) == 1 && b[0] == '=' {
		return []byte{}, true
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}

func cutSpace(b []byte) (before, after []byte, found bool) {
	for i, x := range b {
		if x == ' ' {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func upperASCII(b []byte) string {
	u := make([]byte, len(b))
	for i, x := range b {
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		u[i] = x
	}
	return string(u)
}
