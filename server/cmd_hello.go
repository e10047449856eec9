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
		c.countError()
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
	c.emit(Event{Kind: EventHello, Command: cmd.String(), Hello: helo})
	if cmd == session.HELO {
		// RFC 5321 4.1.1.1: "250 domain"; no extensions.
		return c.cfg.canned.helo
	}
	// RFC 5321 4.1.1.1 (ehlo-ok-rsp): the domain and a greeting, then one
	// keyword per line. Built here rather than with reply.Hello: this is
	// on the path of every connection, and the keywords come ready made.
	ext := c.extensions()
	lines := make([]string, 0, 1+len(ext))
	lines = append(lines, c.cfg.hostname+" greets "+helo)
	lines = append(lines, ext...)
	return &reply.Reply{Code: reply.CodeOK, Lines: lines}
}

// extensions lists the EHLO keywords that apply to the connection now
// (RFC 5321 4.1.1.1: each extension only when offered). The lists without
// AUTH are made once per Server (see keywords); the returned slice must
// not be modified.
func (c *conn) extensions() []string {
	k := &c.cfg.keywords[0]
	if c.sm.TLS() {
		k = &c.cfg.keywords[1]
	}
	if !c.authOffered() {
		return k.all
	}
	// RFC 4954 3: AUTH with the mechanisms, before the keywords that
	// only apply under TLS.
	auth := "AUTH"
	for _, m := range c.mechanisms() {
		auth += " " + m
	}
	ext := make([]string, 0, len(k.all)+1)
	ext = append(ext, k.all[:k.authAt]...)
	ext = append(ext, auth)
	return append(ext, k.all[k.authAt:]...)
}

// keywords are the EHLO keywords of a Server for one TLS state, without
// AUTH, which goes at index authAt when offered.
type keywords struct {
	all    []string
	authAt int
}

// makeKeywords lists the EHLO keywords of s for a connection with or
// without TLS.
func (s *Server) makeKeywords(tls bool, maxMessage int64) keywords {
	ext := make([]string, 0, 12)
	ext = append(ext, "PIPELINING") // RFC 2920
	if maxMessage > 0 {
		// RFC 1870 4: SIZE with the fixed maximum.
		ext = append(ext, "SIZE "+strconv.FormatInt(maxMessage, 10))
	} else {
		ext = append(ext, "SIZE")
	}
	ext = append(ext, "8BITMIME", "ENHANCEDSTATUSCODES") // RFC 6152, RFC 2034
	if s.EnableSMTPUTF8 {
		ext = append(ext, "SMTPUTF8") // RFC 6531
	}
	if s.EnableDSN {
		ext = append(ext, "DSN") // RFC 3461
	}
	if s.EnableChunking {
		ext = append(ext, "CHUNKING", "BINARYMIME") // RFC 3030
	}
	if s.TLSConfig != nil && !tls {
		ext = append(ext, "STARTTLS") // RFC 3207
	}
	k := keywords{authAt: len(ext)}
	if s.EnableRequireTLS && tls {
		ext = append(ext, "REQUIRETLS") // RFC 8689 4: only under TLS
	}
	k.all = ext
	return k
}

// parseOptions returns the envelope parsing options for MAIL (mail true)
// or RCPT: parameters only of the extensions advertised (RFC 5321
// 4.1.1.11: others get 555), none after HELO.
func (c *conn) parseOptions(mail bool) envelope.ParseOptions {
	// They depend on the session's state only through EHLO and TLS: made
	// again when one of them changed.
	key := optionsKey{set: true, ext: c.sm.Extended(), tls: c.sm.TLS()}
	if c.opts.key != key {
		c.opts.key, c.opts.o = key, c.makeParseOptions()
	}
	o := c.opts.o
	if !mail {
		o.SMTPUTF8 = c.mailParams.SMTPUTF8
	}
	return o
}

// optionsKey is what the parse options of MAIL and RCPT depend on.
type optionsKey struct{ set, ext, tls bool }

// parseOptionsCache holds the options made for a key.
type parseOptionsCache struct {
	key optionsKey
	o   envelope.ParseOptions
}

// makeParseOptions is parseOptions for MAIL, made anew.
func (c *conn) makeParseOptions() envelope.ParseOptions {
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
	return o
}
