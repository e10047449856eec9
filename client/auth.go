package client

import (
	"context"
	"encoding/base64"
	"errors"
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
// LOGIN for a password and OAUTHBEARER, XOAUTH2 for a token. PLAIN and LOGIN
// are not used over a connection without TLS, unless the server is on a
// loopback address or Options.InsecureAuth is set.
func (c *Client) AuthAuto(ctx context.Context, cr Credentials) error {
	if err := c.ensureHello(ctx); err != nil {
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
		why = " (PLAIN and LOGIN need TLS)"
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

func clearText(mech string) bool {
	return strings.EqualFold(mech, sasl.Plain) || strings.EqualFold(mech, sasl.Login)
}

// clearTextOK reports whether a password may go in clear: over TLS, to a
// loopback address, or when the caller allowed it.
func (c *Client) clearTextOK() bool {
	if c.isTLS || c.opts.InsecureAuth {
		return true
	}
	if ta, ok := c.conn.RemoteAddr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return true
	}
	return false
}

func (c *Client) hostPort() (string, int) {
	port := 0
	if ta, ok := c.conn.RemoteAddr().(*net.TCPAddr); ok {
		port = ta.Port
	}
	host := c.host
	if host == "" {
		if ta, ok := c.conn.RemoteAddr().(*net.TCPAddr); ok {
			host = ta.IP.String()
		}
	}
	return host, port
}

// maxAuthLine is the longest AUTH command with an initial response a
// client sends (RFC 4954 4: the command is subject to the 512-octet line
// limit of RFC 5321 4.5.3.1.4; a longer initial response waits for the
// first challenge instead).
const maxAuthLine = 512 - 2

// Auth authenticates with the mechanism m (RFC 4954). The trace shows the
// exchange with every credential replaced by "***". A mechanism that sends
// the password in clear (PLAIN, LOGIN) is refused without TLS unless the
// server is on a loopback address or Options.InsecureAuth is set. A
// refusal is an *Error (535 for wrong credentials, 454 temporary).
func (c *Client) Auth(ctx context.Context, m Mechanism) error {
	if err := c.ensureHello(ctx); err != nil {
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
	if clearText(m.Name()) && !c.clearTextOK() {
		return localError("AUTH", reply.New(reply.CodeEncryptionRequired, reply.EnhEncryptionRequired(),
			m.Name()+" would send the password in clear"), errors.New("password in clear without TLS"))
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
				// RFC 4954 4: "*" cancels the exchange; the server answers
				// 501.
				r, err = c.authStep(ctx, append(c.cmd[:0], '*'), "*")
				if err == nil {
					c.m.Fail(session.AUTH)
					e := localError("AUTH", reply.New(reply.CodeParamSyntax, reply.EnhSyntaxError(), derr.Error()), derr)
					return e
				}
				break
			}
		}
		c.cmd = base64.StdEncoding.AppendEncode(c.cmd[:0], resp)
		r, err = c.authStep(ctx, c.cmd, "***")
	}
	return err
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
