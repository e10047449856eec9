package client

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/smtpkit/smtp/internal/sasl"
	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
)

// Mechanism is the client side of a SASL mechanism (RFC 4422) for Auth.
// The constructors below return the ones this package implements; any
// other implementation works too. Start and Next deal in raw bytes: Auth
// does the base64 of RFC 4954 4.
type Mechanism interface {
	// Name returns the mechanism name, e.g. "SCRAM-SHA-256".
	Name() string
	// Start returns the initial response; nil means none, an empty
	// non-nil slice an empty one.
	Start() ([]byte, error)
	// Next answers a server challenge; an error cancels the exchange.
	Next(challenge []byte) ([]byte, error)
}

// Finisher is implemented by a Mechanism that has its own check to make
// when the server reports success (235), because the mechanism requires
// something of the server first: SCRAM-SHA-256 requires the server's
// signature, which proves that the server holds the user's keys (RFC 5802
// 5, RFC 7677: mutual authentication), and the OAuth mechanisms require
// that the server did not refuse the token before (RFC 7628 3.2.3). Auth
// calls Finish on a 235 reply; an error fails the exchange with a
// *ServerAuthError and the connection is closed. Every mechanism of this
// package that needs it implements it; PLAIN, LOGIN and CRAM-MD5
// authenticate only the client, so a 235 is the server's decision alone.
type Finisher interface {
	Finish() error
}

// PlainAuth returns the PLAIN mechanism (RFC 4616). identity is the
// authorization identity, usually empty.
func PlainAuth(identity, username, password string) Mechanism {
	return sasl.NewPlainClient(identity, username, password)
}

// LoginAuth returns the non-standard but widespread LOGIN mechanism.
func LoginAuth(username, password string) Mechanism {
	return sasl.NewLoginClient(username, password)
}

// CramMD5Auth returns the CRAM-MD5 mechanism (RFC 2195).
func CramMD5Auth(username, secret string) Mechanism {
	return sasl.NewCramMD5Client(username, secret)
}

// ScramSHA256Auth returns the SCRAM-SHA-256 mechanism (RFC 7677), which
// never shows the password to the server and checks the server's proof.
func ScramSHA256Auth(username, password string) Mechanism {
	return sasl.NewScramSHA256Client(username, password)
}

// XOAuth2Auth returns Google's XOAUTH2 mechanism with an OAuth 2.0 token.
func XOAuth2Auth(username, token string) Mechanism {
	return sasl.NewXOAuth2Client(username, token)
}

// OAuthBearerAuth returns the OAUTHBEARER mechanism (RFC 7628); host and
// port name the server, as the mechanism sends them.
func OAuthBearerAuth(username, host string, port int, token string) Mechanism {
	return sasl.NewOAuthBearerClient(username, host, port, token)
}

// Credentials are what AuthAuto may use: a password, or an OAuth 2.0 bearer
// token (then Password is ignored).
type Credentials struct {
	// Identity is the authorization identity (PLAIN only), usually empty.
	Identity string
	Username string
	Password string
	Token    string
}

// AuthAuto authenticates with the strongest mechanism that both the server
// announced and cr allows, by the order of SCRAM-SHA-256, CRAM-MD5, PLAIN,
// LOGIN for a password and OAUTHBEARER, XOAUTH2 for a token. It never
// tries a weaker mechanism after a stronger one failed (that would let a
// man in the middle downgrade the exchange). PLAIN, LOGIN and the token
// mechanisms are not used over a connection without TLS, unless
// Options.InsecureAuth is set or Dial reached a loopback host directly
// (see Auth).
//
// SCRAM-SHA-256 comes first: the password never reaches the server and
// the server proves that it knows the user's keys. CRAM-MD5 comes before
// PLAIN even over TLS: it never hands the password itself to the peer,
// which matters when the peer is not the server it claims to be (a
// certificate not verified, InsecureSkipVerify, or a compromised one),
// while PLAIN gives no more to an honest server than CRAM-MD5 does (a
// server that offers CRAM-MD5 keeps the secret anyway). LOGIN, the
// non-standard form of PLAIN, comes last.
func (c *Client) AuthAuto(ctx context.Context, cr Credentials) error {
	if err := c.ensureHello(ctx, "AUTH"); err != nil {
		return err
	}
	if len(c.ext.Auth) == 0 {
		return errNoAuth()
	}
	usable := sasl.PasswordMechanisms()
	if cr.Token != "" {
		usable = sasl.TokenMechanisms()
	}
	why := ""
	if !c.clearTextOK() {
		why = " (PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER need TLS)"
		kept := usable[:0]
		for _, m := range usable {
			if !clearText(m) {
				kept = append(kept, m)
			}
		}
		usable = kept
	}
	var m Mechanism
	switch sasl.Choose(c.ext.Auth, usable) {
	case sasl.ScramSHA256:
		m = ScramSHA256Auth(cr.Username, cr.Password)
	case sasl.CramMD5:
		m = CramMD5Auth(cr.Username, cr.Password)
	case sasl.Plain:
		m = PlainAuth(cr.Identity, cr.Username, cr.Password)
	case sasl.Login:
		m = LoginAuth(cr.Username, cr.Password)
	case sasl.OAuthBearer:
		host, port := c.hostPort()
		m = OAuthBearerAuth(cr.Username, host, port, cr.Token)
	case sasl.XOAuth2:
		m = XOAuth2Auth(cr.Username, cr.Token)
	default:
		return localError("AUTH", reply.New(reply.CodeAuthTooWeak, reply.EnhAuthTooWeak(),
			"no usable authentication mechanism in "+strings.Join(c.ext.Auth, " ")+why),
			&ExtensionError{Extension: "AUTH", Reason: "no common mechanism"})
	}
	return c.Auth(ctx, m)
}

func errNoAuth() *Error {
	return localError("AUTH", reply.New(reply.CodeNotImplemented, reply.Enh(5, 5, 1), "AUTH not offered"),
		&ExtensionError{Extension: "AUTH", Reason: "authentication requested"})
}

// clearText reports a mechanism that shows a reusable credential to
// whoever reads the connection: the password (PLAIN, LOGIN) or an OAuth
// bearer token, which anyone who sees it can replay (RFC 6750 5.3, RFC
// 7628 5: TLS is required).
func clearText(mech string) bool {
	for _, m := range [...]string{sasl.Plain, sasl.Login, sasl.XOAuth2, sasl.OAuthBearer} {
		if strings.EqualFold(mech, m) {
			return true
		}
	}
	return false
}

// clearTextOK reports whether a password may go in clear: over TLS, to a
// loopback host that Dial reached directly (see dialled), or when the
// caller allowed it.
func (c *Client) clearTextOK() bool {
	return c.isTLS || c.opts.InsecureAuth || c.loopback
}

// hostPort names the server for OAUTHBEARER (RFC 7628 3.1): the host and
// port dialled; for NewClient, the host given and the connection's peer
// port.
func (c *Client) hostPort() (string, int) {
	host, port := c.host, c.port
	ta, ok := c.conn.RemoteAddr().(*net.TCPAddr)
	if port == 0 && ok {
		port = ta.Port
	}
	if host == "" && ok {
		host = ta.IP.String()
	}
	return host, port
}

// maxAuthLine is the longest AUTH command with an initial response a
// client sends (RFC 4954 4: the command is subject to the 512-octet line
// limit of RFC 5321 4.5.3.1.4; a longer initial response waits for the
// first challenge instead).
const maxAuthLine = 512 - 2

// Auth authenticates with the mechanism m (RFC 4954). The trace shows the
// exchange with every credential replaced by "***".
//
// Before anything is sent, it refuses (a Local *Error): a mechanism the
// server did not announce (504 5.5.4, with an *ExtensionError for "AUTH
// name": RFC 4954 3), and a mechanism that sends the password in clear
// (PLAIN, LOGIN) or an OAuth bearer token (XOAUTH2, OAUTHBEARER) over a
// connection without TLS (538 5.7.11), unless
// Options.InsecureAuth is set or the client dialled a loopback host itself
// (Dial without a custom Dialer, to 127.0.0.1, ::1 or localhost: never
// through a proxy, and never over a connection given to NewClient).
//
// A refusal by the server is an *Error (535 5.7.8 for wrong credentials,
// 454 temporary). A server that reports success without what the mechanism
// requires of it (see Finisher: SCRAM-SHA-256's server signature), or that
// answers 235 to the client's cancellation, gets no further command: Auth
// closes the connection and returns a *ServerAuthError.
func (c *Client) Auth(ctx context.Context, m Mechanism) error {
	if err := c.ensureHello(ctx, "AUTH"); err != nil {
		return err
	}
	if len(c.ext.Auth) == 0 {
		return errNoAuth()
	}
	if err := c.check(session.AUTH, "AUTH"); err != nil {
		return err
	}
	if !validMechanismName(m.Name()) {
		return errBadArgument("AUTH", errors.New("invalid SASL mechanism name "+strconv.Quote(m.Name())))
	}
	if !c.ext.HasAuth(m.Name()) {
		// RFC 4954 3: the client uses a mechanism the server announced;
		// 504 5.5.4 is the server's reply to an unknown one (RFC 4954 6).
		return localError("AUTH", reply.New(reply.CodeParamNotImplemented, reply.Enh(5, 5, 4),
			m.Name()+" not offered (the server offers "+strings.Join(c.ext.Auth, " ")+")"),
			&ExtensionError{Extension: "AUTH " + m.Name(), Reason: m.Name() + " authentication requested"})
	}
	if clearText(m.Name()) && !c.clearTextOK() {
		return localError("AUTH", reply.New(reply.CodeEncryptionRequired, reply.EnhEncryptionRequired(),
			m.Name()+" would send the credentials in clear"), errors.New("credentials in clear without TLS"))
	}
	defer c.unwatch(c.watch(ctx))
	ir, err := m.Start()
	if err != nil {
		return localError("AUTH", reply.New(reply.CodeParamSyntax, reply.EnhInvalidArguments(), err.Error()), err)
	}
	c.cmd = append(append(c.cmd[:0], "AUTH "...), m.Name()...)
	pendingIR := false
	if ir != nil {
		// RFC 4954 4: "=" is an empty initial response.
		if len(c.cmd)+1+base64.StdEncoding.EncodedLen(len(ir)) > maxAuthLine {
			pendingIR = true
		} else if len(ir) == 0 {
			c.cmd = append(c.cmd, " ="...)
		} else {
			c.cmd = append(c.cmd, ' ')
			c.cmd = base64.StdEncoding.AppendEncode(c.cmd, ir)
		}
	}
	redacted := "AUTH " + m.Name()
	if ir != nil && !pendingIR {
		redacted += " ***"
	}
	r, err := c.authStep(ctx, c.cmd, redacted)
	for err == nil {
		switch r.Code {
		case reply.CodeAuthSucceeded:
			if f, ok := m.(Finisher); ok {
				if ferr := f.Finish(); ferr != nil {
					return c.distrust(m.Name(), r, ferr)
				}
			}
			c.m.Apply(session.AUTH)
			c.authed = true
			return nil
		case reply.CodeAuthContinue:
		default:
			c.m.Fail(session.AUTH)
			return newReplyError("AUTH", r)
		}
		var resp []byte
		if pendingIR {
			resp, pendingIR = ir, false
		} else {
			ch, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Text()))
			if derr == nil {
				resp, derr = m.Next(ch)
			}
			if derr != nil {
				return c.cancelAuth(ctx, m.Name(), derr)
			}
		}
		c.cmd = base64.StdEncoding.AppendEncode(c.cmd[:0], resp)
		r, err = c.authStep(ctx, c.cmd, "***")
	}
	return err
}

// cancelAuth cancels an exchange the mechanism cannot go on with (RFC 4954
// 4: "*", which the server answers with 501) and returns why. A server
// whose signature was wrong (SCRAM), or that answers the cancellation with
// a success, is not talked to any more.
func (c *Client) cancelAuth(ctx context.Context, mech string, why error) error {
	r, err := c.authStep(ctx, append(c.cmd[:0], '*'), "*")
	if err != nil {
		return err
	}
	if r.Code == reply.CodeAuthSucceeded {
		return c.distrust(mech, r, errors.New("success reported to a cancelled exchange: "+why.Error()))
	}
	if errors.Is(why, sasl.ErrServerSignature) {
		return c.distrust(mech, r, why)
	}
	c.m.Fail(session.AUTH)
	if errors.Is(why, sasl.ErrAuthFailed) {
		// The server said in the mechanism's own terms that the
		// credentials are wrong (SCRAM "e="): RFC 4954 6.
		return localError("AUTH", reply.New(reply.CodeAuthInvalid, reply.EnhAuthInvalid(), why.Error()), why)
	}
	return localError("AUTH", reply.New(reply.CodeParamSyntax, reply.EnhSyntaxError(), why.Error()), why)
}

// distrust ends a session with a server that did not authenticate itself
// as the mechanism requires: nothing more is sent to it.
func (c *Client) distrust(mech string, r *reply.Reply, why error) error {
	e := &ServerAuthError{Mechanism: mech, Reply: r, Err: why}
	c.err = &NetError{Command: "AUTH", Err: errDistrust}
	c.logWarn("server did not authenticate itself; connection closed", slog.String("mechanism", mech), slog.Any("err", why))
	c.conn.Close()
	return e
}

// validMechanismName checks a SASL mechanism name: 1 to 20 upper-case
// letters, digits, hyphens and underscores (RFC 4422 3.1).
func validMechanismName(name string) bool {
	if len(name) == 0 || len(name) > 20 {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch b := name[i]; {
		case 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}

// authStep sends one line of the AUTH exchange, traced as redacted, and
// reads the reply.
func (c *Client) authStep(ctx context.Context, line []byte, redacted string) (*reply.Reply, error) {
	c.setDeadline(ctx, c.cmdTimeout())
	if c.opts.Trace != nil {
		c.trace('C', []byte(redacted))
	}
	if _, err := c.w.Write(line); err != nil {
		return nil, c.broken(ctx, "AUTH", err)
	}
	if _, err := c.w.WriteString("\r\n"); err != nil {
		return nil, c.broken(ctx, "AUTH", err)
	}
	if err := c.flush(); err != nil {
		return nil, c.broken(ctx, "AUTH", err)
	}
	return c.readReply(ctx, "AUTH")
}
