package client

import (
	"context"
	"crypto/tls"
	"log/slog"

	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
)

// StartTLS upgrades the connection with STARTTLS (RFC 3207) and says EHLO
// again over TLS, as RFC 3207 4.2 requires: what the server announced
// before is forgotten. cfg nil means Options.TLSConfig (or a default
// configuration), with ServerName defaulting to the host dialled.
//
// A server that does not announce STARTTLS gets a Local *Error with an
// *ExtensionError, and nothing is sent. Anything the server sent after its
// 220 reply and before the handshake is discarded (RFC 3207 6: it could be
// injected by an attacker between the peers). A failed handshake closes the
// connection: a caller that requires TLS must not go on in clear.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if err := c.ensureHello(ctx, "STARTTLS"); err != nil {
		return err
	}
	if c.isTLS {
		return localError("STARTTLS", reply.New(reply.CodeBadSequence, reply.Enh(5, 5, 1), "TLS already active"), ErrBadSequence)
	}
	if !c.ext.StartTLS {
		return localError("STARTTLS", reply.New(reply.CodeNotImplemented, reply.Enh(5, 5, 1), "STARTTLS not offered"),
			&ExtensionError{Extension: "STARTTLS", Reason: "TLS requested"})
	}
	if err := c.check(session.STARTTLS, "STARTTLS"); err != nil {
		return err
	}
	if err := c.command(ctx, "STARTTLS", append(c.cmd[:0], "STARTTLS"...), c.cmdTimeout(), reply.CodeReady); err != nil {
		c.m.Fail(session.STARTTLS)
		return err
	}
	if n := c.r.rd.Buffered(); n > 0 {
		// RFC 3207 6: bytes after the 220 were not protected by TLS;
		// they are dropped, never read as replies.
		c.logWarn("discarding data the server sent before the TLS handshake", slog.Int("bytes", n))
	}
	if cfg == nil {
		cfg = tlsConfig(&c.opts, c.host)
	} else if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = c.host
	}
	c.pc.exact() // the handshake uses the socket directly
	tc := tls.Client(c.conn, cfg)
	if err := handshake(ctx, tc, &c.opts); err != nil {
		return c.broken(ctx, "STARTTLS", err)
	}
	c.setConn(tc)
	c.r.rd.Reset(&c.pc)
	c.isTLS = true
	c.m.Apply(session.STARTTLS)
	// RFC 3207 4.2: the client must discard what it knew and say EHLO
	// again.
	c.ext = Extensions{}
	c.hello = false
	c.authed = false
	return c.Hello(ctx, c.helloName)
}
