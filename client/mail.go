package client

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/textproto"
)

// Local refusals, each with the reply a bounce would carry.

// errNeeds8BitMIME: RFC 6152 3: 8-bit content only to a server that
// announced 8BITMIME; RFC 3463 5.6.3 "conversion required but not
// supported".
func errNeeds8BitMIME(cmd string) *Error {
	return localError(cmd, reply.New(reply.CodeTransactionFailed, reply.Enh(5, 6, 3),
		"8-bit message content, and the server does not offer 8BITMIME"),
		&ExtensionError{Extension: "8BITMIME", Reason: "8-bit message content"})
}

// errNeedsSMTPUTF8: RFC 6531 3.4: UTF-8 addresses only with SMTPUTF8; 553
// 5.6.7 (RFC 6531 3.7.4.1, RFC 5248).
func errNeedsSMTPUTF8(cmd string) *Error {
	return localError(cmd, reply.New(reply.CodeMailboxNameNotAllowed, reply.EnhNonASCIIAddress(),
		"non-ASCII address, and the server does not offer SMTPUTF8"),
		&ExtensionError{Extension: "SMTPUTF8", Reason: "non-ASCII address"})
}

// errNeedsExtension is a MAIL or RCPT parameter of an extension the server
// did not announce (RFC 5321 4.1.1.11: the client must not send it); 555
// 5.5.4.
func errNeedsExtension(cmd, ext, what string) *Error {
	return localError(cmd, reply.New(reply.CodeParamsNotRecognized, reply.EnhInvalidArguments(),
		what+", and the server does not offer "+ext),
		&ExtensionError{Extension: ext, Reason: what})
}

// errTooLarge: RFC 1870 4, 6.1: a message larger than the announced SIZE
// would be refused; 552 5.3.4.
func errTooLarge(cmd string, size, limit int64) *Error {
	return localError(cmd, reply.New(reply.CodeExceededStorage, reply.EnhMessageTooBig(),
		"message larger than the server's SIZE "+itoa(limit)),
		&SizeError{Size: size, Limit: limit})
}

// errBadArgument wraps an envelope error (an address or parameter that
// cannot be sent as it is) into a Local *Error.
func errBadArgument(cmd string, err error) *Error {
	var ee *envelope.Error
	if errors.As(err, &ee) {
		return localError(cmd, ee.Reply(), err)
	}
	return localError(cmd, reply.New(reply.CodeParamSyntax, reply.EnhInvalidArguments(), err.Error()), err)
}

// mailParams checks p against the server's extensions and completes it:
// SMTPUTF8 when an address needs it (RFC 6531 3.4), BODY=8BITMIME for
// 8-bit content (RFC 6152 2), SIZE when known (RFC 1870 5). eightBit is -1
// unknown, 0 no, 1 yes; size is -1 when unknown.
func (c *Client) mailParams(p envelope.MailParams, utf8 bool, eightBit int, size int64) (envelope.MailParams, error) {
	x := &c.ext
	if utf8 || p.SMTPUTF8 {
		if !x.SMTPUTF8 {
			return p, errNeedsSMTPUTF8("MAIL")
		}
		p.SMTPUTF8 = true
	}
	switch p.Body {
	case envelope.BodyBinaryMIME:
		// RFC 3030 3: BINARYMIME needs BDAT, hence CHUNKING as well.
		if !x.BinaryMIME {
			return p, errNeedsExtension("MAIL", "BINARYMIME", "binary message content")
		}
		if !x.Chunking {
			return p, errNeedsExtension("MAIL", "CHUNKING", "binary message content (BINARYMIME is sent with BDAT)")
		}
	case envelope.Body8BitMIME:
		if !x.EightBitMIME {
			return p, errNeeds8BitMIME("MAIL")
		}
	case envelope.Body7Bit:
		if eightBit == 1 {
			return p, localError("MAIL", reply.New(reply.CodeTransactionFailed, reply.Enh(5, 6, 3),
				"8-bit content declared BODY=7BIT"), errors.New("8-bit content declared BODY=7BIT"))
		}
	default:
		switch {
		case eightBit == 1 && !x.EightBitMIME:
			return p, errNeeds8BitMIME("MAIL")
		case eightBit == 1, eightBit == -1 && x.EightBitMIME:
			// RFC 6152 3: declare 8-bit content. When the content is not
			// known yet (a long stream), declaring it is harmless and lets
			// 8-bit bytes further on go through.
			p.Body = envelope.Body8BitMIME
		}
	}
	if p.Ret != envelope.RetUnspecified || p.EnvID != "" {
		if !x.DSN {
			return p, errNeedsExtension("MAIL", "DSN", "RET or ENVID parameter")
		}
	}
	if p.RequireTLS {
		if err := c.requireTLS(); err != nil {
			return p, err
		}
	}
	if p.Auth != "" && len(x.Auth) == 0 {
		// RFC 4954 5: AUTH= only to a server that supports AUTH; drop it.
		p.Auth = ""
	}
	if size < 0 {
		size = p.Size
	}
	if x.Size > 0 && size > x.Size {
		return p, errTooLarge("MAIL", size, x.Size)
	}
	if x.HasSize && size > 0 {
		p.Size = size // RFC 1870 5: declare the size when it is known
	} else if !x.HasSize {
		p.Size = 0 // RFC 5321 4.1.1.11: SIZE= only to a server that offers SIZE
	}
	return p, nil
}

// requireTLS checks that a REQUIRETLS message may go on this connection
// (RFC 8689 4.2.1): the server announced REQUIRETLS, and announced it over
// TLS whose certificate the client verified. A man in the middle can
// announce REQUIRETLS in clear after stripping STARTTLS, or offer TLS with
// a certificate of its own: neither gets the message. 554 5.7.30 (RFC 8689
// 5): this connection offers no path for the message.
func (c *Client) requireTLS() error {
	if !c.ext.RequireTLS {
		return localError("MAIL", reply.New(reply.CodeTransactionFailed, reply.EnhRequireTLS(),
			"REQUIRETLS needed, and the server does not offer it"),
			&ExtensionError{Extension: "REQUIRETLS", Reason: "REQUIRETLS message"})
	}
	if !c.tlsVerified() {
		return localError("MAIL", reply.New(reply.CodeTransactionFailed, reply.EnhRequireTLS(),
			"REQUIRETLS needed, and the connection is not TLS with a verified certificate"), ErrNoVerifiedTLS)
	}
	return nil
}

// tlsVerified reports a TLS connection whose certificate the client
// verified: crypto/tls filled VerifiedChains (the Web PKI; not with
// InsecureSkipVerify), or the Deliverer matched it against DANE TLSA
// records (RFC 7672 3, RFC 8689 4.2.1).
func (c *Client) tlsVerified() bool {
	tc, ok := c.conn.(*tls.Conn)
	return ok && (len(tc.ConnectionState().VerifiedChains) > 0 || c.authenticated)
}

// rcptCheck checks a recipient's parameters against the extensions.
func (c *Client) rcptCheck(r *envelope.Recipient) error {
	if (r.Params.Notify != 0 || r.Params.ORcpt != nil) && !c.ext.DSN {
		return errNeedsExtension("RCPT", "DSN", "NOTIFY or ORCPT parameter")
	}
	return nil
}

// Mail starts a transaction with MAIL FROM (RFC 5321 4.1.1.2). p may be
// nil. SMTPUTF8 is added when the address needs it and the server offers it
// (else a Local *Error), and parameters of extensions the server did not
// announce are refused before anything is sent. Use Send to send a whole
// message at once.
func (c *Client) Mail(ctx context.Context, from envelope.Path, p *envelope.MailParams) error {
	if err := c.ensureHello(ctx, "MAIL"); err != nil {
		return err
	}
	if err := c.check(session.MAIL, "MAIL"); err != nil {
		return err
	}
	var mp envelope.MailParams
	if p != nil {
		mp = *p
	}
	// The content is the caller's business here: 0 adds no BODY.
	mp, err := c.mailParams(mp, needsUTF8(from), 0, -1)
	if err != nil {
		return err
	}
	line, err := envelope.AppendMailCommand(c.cmd[:0], c.asciiPath(from, mp.SMTPUTF8), mp)
	if err != nil {
		return errBadArgument("MAIL", err)
	}
	c.cmd = line
	if err := c.command(ctx, "MAIL", line, c.opts.timeout(c.opts.MailTimeout, DefaultMailTimeout), reply.CodeOK); err != nil {
		c.m.Fail(session.MAIL)
		return err
	}
	c.m.Apply(session.MAIL)
	c.smtputf8 = mp.SMTPUTF8
	c.binary = mp.Body == envelope.BodyBinaryMIME
	c.rcpts = c.rcpts[:0]
	return nil
}

// Rcpt adds a recipient with RCPT TO (RFC 5321 4.1.1.3). p may be nil. A
// 2yz reply (250, 251) accepts the recipient; any other is an *Error.
func (c *Client) Rcpt(ctx context.Context, to envelope.Path, p *envelope.RcptParams) error {
	if err := c.ready(ctx, "RCPT"); err != nil {
		return err
	}
	if err := c.check(session.RCPT, "RCPT"); err != nil {
		return err
	}
	r := envelope.Recipient{Path: to}
	if p != nil {
		r.Params = *p
	}
	if needsUTF8(to) && !c.smtputf8 {
		return errNeedsSMTPUTF8("RCPT")
	}
	if err := c.rcptCheck(&r); err != nil {
		return err
	}
	line, err := envelope.AppendRcptCommand(c.cmd[:0], c.asciiPath(to, c.smtputf8), r.Params, c.smtputf8)
	if err != nil {
		return errBadArgument("RCPT", err)
	}
	c.cmd = line
	// RFC 5321 4.2.2: 251 "User not local; will forward" accepts too, as
	// does any 2yz (4.2.1).
	if err := c.command(ctx, "RCPT", line, c.opts.timeout(c.opts.RcptTimeout, DefaultRcptTimeout), reply.CodeOK); err != nil {
		c.m.Fail(session.RCPT)
		return err
	}
	c.m.Apply(session.RCPT)
	c.rcpts = append(c.rcpts, to)
	return nil
}

// needsUTF8 reports whether a path cannot be sent without SMTPUTF8: a
// non-ASCII local part, or a domain with no A-label form (RFC 6531 3.2).
func needsUTF8(p envelope.Path) bool {
	if p.Null || p.IsASCII() {
		return false
	}
	e := envelope.Envelope{From: p}
	return e.NeedsSMTPUTF8()
}

// asciiPath returns p with its domain as A-labels when the server does not
// take UTF-8 (RFC 6531 3.2: a client may convert the domain part).
func (c *Client) asciiPath(p envelope.Path, smtputf8 bool) envelope.Path {
	if smtputf8 || p.Null || p.IsASCII() {
		return p
	}
	if a, err := p.Address.ASCII(); err == nil {
		p.Address = a
	}
	return p
}

// Data sends DATA (RFC 5321 4.1.1.4) and, after the 354 reply, returns a
// writer for the message. The writer stuffs dots and turns every line end
// into CRLF; its Close sends the final "." and reads the reply (for LMTP,
// one reply per accepted recipient, RFC 2033 4.2). ctx bounds the writes
// and Close too. Without 8BITMIME, an 8-bit byte in the message aborts the
// connection (the message is not sent) and Write returns an *AbortError.
func (c *Client) Data(ctx context.Context) (*DataWriter, error) {
	if err := c.ready(ctx, "DATA"); err != nil {
		return nil, err
	}
	if err := c.check(session.DATA, "DATA"); err != nil {
		return nil, err
	}
	if c.binary {
		return nil, localError("DATA", reply.New(reply.CodeBadSequence, reply.Enh(5, 5, 1),
			"BODY=BINARYMIME needs BDAT"), ErrBadSequence)
	}
	if err := c.command(ctx, "DATA", append(c.cmd[:0], "DATA"...), c.opts.timeout(c.opts.DataInitTimeout, DefaultDataInitTimeout), reply.CodeStartMailInput); err != nil {
		c.m.Fail(session.DATA)
		return nil, err
	}
	c.m.Apply(session.DATA)
	pol := textproto.OutputPolicy()
	if !c.ext.EightBitMIME {
		pol.EightBit = textproto.Reject
	}
	c.dw = DataWriter{c: c, ctx: ctx, dot: c.w.DotWriter(pol), rcpts: c.rcpts, watch: c.watch(ctx)}
	return &c.dw, nil
}

// DataWriter is the message writer returned by Data.
type DataWriter struct {
	c      *Client
	ctx    context.Context
	dot    *textproto.DotWriter
	rcpts  []envelope.Path
	watch  watching // the context watch started by Data
	err    error
	done   bool
	final  *reply.Reply
	lmtp   []RecipientResult
	result error
}

// Write writes message data, each call under the data block timeout
// (RFC 5321 4.5.3.2.5).
func (w *DataWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, errors.New("smtp: write after Close")
	}
	c := w.c
	c.setWriteDeadline(w.ctx, c.opts.timeout(c.opts.DataBlockTimeout, DefaultDataBlockTimeout))
	n, err := w.dot.Write(p)
	if err != nil {
		var ve *textproto.ViolationError
		if errors.As(err, &ve) {
			// The message cannot be ended without sending what precedes:
			// drop the connection so that nothing is delivered.
			w.err = c.abort(errNeeds8BitMIME("DATA"))
			w.unwatch()
			return n, w.err
		}
		w.err = c.broken(w.ctx, "DATA", err)
		w.unwatch()
	}
	return n, w.err
}

func (w *DataWriter) unwatch() {
	w.c.unwatch(w.watch)
	w.watch = watching{}
}

// Close ends the message with "." (RFC 5321 4.1.1.4) and reads the reply.
// A broken connection after the dot is an *OutcomeUnknownError. For LMTP
// the per-recipient outcomes are in Recipients, and the error is a
// *RecipientsError when some recipient failed.
func (w *DataWriter) Close() error {
	if w.done {
		return w.result
	}
	w.done = true
	defer w.unwatch()
	if w.err != nil {
		w.result = w.err
		return w.err
	}
	c := w.c
	c.setWriteDeadline(w.ctx, c.opts.timeout(c.opts.DataBlockTimeout, DefaultDataBlockTimeout))
	if err := w.dot.Close(); err != nil {
		w.result = c.broken(w.ctx, "DATA", err)
		return w.result
	}
	w.result = w.readFinal()
	return w.result
}

func (w *DataWriter) readFinal() error {
	c := w.c
	c.setReadDeadline(w.ctx, c.opts.timeout(c.opts.DataTermTimeout, DefaultDataTermTimeout))
	defer func() { c.m.EndMessage() }()
	if !c.opts.LMTP {
		r, err := c.readEnd(w.ctx, "DATA")
		if err != nil {
			return err
		}
		w.final = r
		if !r.Code.IsPositive() { // RFC 5321 4.2.1
			return newReplyError("DATA", w.final)
		}
		return nil
	}
	// RFC 2033 4.2: one reply per accepted recipient, in RCPT order.
	w.lmtp = make([]RecipientResult, len(w.rcpts))
	for i, p := range w.rcpts {
		w.lmtp[i].Path = p
	}
	for i := range w.lmtp {
		if i > 0 {
			// RFC 2033 4.2: each reply comes as its mailbox is done.
			c.setReadDeadline(w.ctx, c.opts.timeout(c.opts.DataTermTimeout, DefaultDataTermTimeout))
		}
		r, err := c.readEnd(w.ctx, "DATA")
		if err != nil {
			for j := i; j < len(w.lmtp); j++ {
				w.lmtp[j].Err = err
			}
			break
		}
		w.lmtp[i].Code, w.lmtp[i].Enhanced = r.Code, r.Enhanced
		if !r.Code.IsPositive() {
			w.lmtp[i].Err = newReplyError("DATA", r)
		}
		if i == 0 {
			w.final = r
		}
	}
	var failed []RecipientResult
	for _, r := range w.lmtp {
		if r.Err != nil {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		return &RecipientsError{Accepted: len(w.lmtp) - len(failed), Failed: failed}
	}
	return nil
}

// Reply returns the server's reply to the end of the message (for LMTP,
// the first recipient's), or nil before Close.
func (w *DataWriter) Reply() *reply.Reply { return w.final }

// Recipients returns, for LMTP, one outcome per recipient accepted by
// Rcpt, after Close.
func (w *DataWriter) Recipients() []RecipientResult { return w.lmtp }

// setReadDeadline and setWriteDeadline set one direction's deadline to d
// from now, or to ctx's deadline when earlier; a cancelled ctx sets a past
// deadline (checked after setting, so a cancellation racing with the call
// is not lost).
func (c *Client) setReadDeadline(ctx context.Context, d time.Duration) {
	c.pc.live()
	c.pc.setRead(deadline(ctx, d))
	if ctx.Done() != nil && ctx.Err() != nil {
		c.pc.abort()
	}
}

func (c *Client) setWriteDeadline(ctx context.Context, d time.Duration) {
	c.pc.live()
	c.pc.setWrite(deadline(ctx, d))
	if ctx.Done() != nil && ctx.Err() != nil {
		c.pc.abort()
	}
}

func deadline(ctx context.Context, d time.Duration) time.Time {
	t := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	return t
}

var _ io.WriteCloser = (*DataWriter)(nil)
