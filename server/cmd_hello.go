package server

import (
	"strconv"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
)

// cmdHello answers HELO, EHLO and LHLO (RFC 5321 4.1.1.1, RFC 2033 4.1).
func (c *conn) cmdHello(cmd session.Command, arg []byte) *reply.Reply {
	if len(arg) == 0 {
		// RFC 5321 4.1.1.1: the domain (or address literal) is required.
		c.errors++
		return reply.ParamSyntax("Domain name or address literal required")
	}
	// RFC 5321 4.1.4: the greeting resets the session like RSET. The
	// server must not refuse a name that does not match the client's
	// address (RFC 5321 4.1.4), so the name is taken as given, up to the
	// first space.
	c.resetTransaction(false)
	name := arg
	for i, b := range arg {
		if b == ' ' {
			name = arg[:i]
			break
		}
	}
	helo := string(name)
	c.pub.setHello(helo)
	if c.events() {
		c.cfg.events.Event(&c.pub, Event{Kind: EventHello, Command: cmd.String(), Hello: helo})
	}
	if cmd == session.HELO {
		// RFC 5321 4.1.1.1: "250 domain"; no extensions.
		return reply.New(reply.CodeOK, reply.EnhancedCode{}, c.cfg.hostname)
	}
	return reply.Hello(c.cfg.hostname, "greets "+helo, c.extensions()...)
}

// extensions lists the EHLO keywords that apply to the connection now
// (RFC 5321 4.1.1.1: each extension only when offered).
func (c *conn) extensions() []string {
	ext := make([]string, 0, 12)
	ext = append(ext, "PIPELINING") // RFC 2920
	if c.cfg.maxMessage > 0 {
		// RFC 1870 4: SIZE with the fixed maximum.
		ext = append(ext, "SIZE "+strconv.FormatInt(c.cfg.maxMessage, 10))
	} else {
		ext = append(ext, "SIZE")
	}
	ext = append(ext, "8BITMIME", "ENHANCEDSTATUSCODES") // RFC 6152, RFC 2034
	if c.srv.EnableSMTPUTF8 {
		ext = append(ext, "SMTPUTF8") // RFC 6531
	}
	if c.srv.EnableDSN {
		ext = append(ext, "DSN") // RFC 3461
	}
	if c.srv.EnableChunking {
		ext = append(ext, "CHUNKING", "BINARYMIME") // RFC 3030
	}
	if c.srv.TLSConfig != nil && !c.sm.TLS() {
		ext = append(ext, "STARTTLS") // RFC 3207
	}
	if c.authOffered() {
		// RFC 4954 3.
		mechs := c.mechanisms()
		s := "AUTH"
		for _, m := range mechs {
			s += " " + m
		}
		ext = append(ext, s)
	}
	if c.srv.EnableRequireTLS && c.sm.TLS() {
		ext = append(ext, "REQUIRETLS") // RFC 8689 4: only under TLS
	}
	return ext
}

// parseOptions returns the envelope parsing options for MAIL (mail true)
// or RCPT: parameters only of the extensions advertised (RFC 5321
// 4.1.1.11: others get 555), none after HELO.
func (c *conn) parseOptions(mail bool) envelope.ParseOptions {
	var o envelope.ParseOptions
	if !c.sm.Extended() {
		return o
	}
	o.Allowed = envelope.ParamSize | envelope.Param8BitMIME
	if c.srv.EnableSMTPUTF8 {
		o.Allowed |= envelope.ParamSMTPUTF8
	}
	if c.srv.EnableDSN {
		o.Allowed |= envelope.ParamDSN
	}
	if c.srv.EnableChunking {
		o.Allowed |= envelope.ParamBinaryMIME
	}
	if c.authOffered() {
		o.Allowed |= envelope.ParamAuth
	}
	if c.srv.EnableRequireTLS && c.sm.TLS() {
		o.Allowed |= envelope.ParamRequireTLS
	}
	if !mail {
		o.SMTPUTF8 = c.mailParams.SMTPUTF8
	}
	return o
}
