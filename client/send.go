package client

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/textproto"
)

// Result is the outcome of Send: one RecipientResult per recipient of the
// envelope, each with a Status that says what a caller may do about it,
// and Retry, the envelope that is safe to send again. The Result returned
// by Send belongs to the Client and is overwritten by its next Send; copy
// what you keep (Clone).
type Result struct {
	// Recipients has one entry per recipient of the envelope, in order.
	Recipients []RecipientResult
	// Code and Enhanced are the server's reply to the end of the message
	// (for LMTP: the first recipient's; when the server limited the
	// recipients of a transaction, the first transaction's); Code is 0
	// when the message was not sent.
	Code     reply.Code
	Enhanced reply.EnhancedCode
	text     []byte
}

// Text returns the text of the reply to the end of the message (lines
// joined with "\n"), which often carries the server's queue ID.
func (r *Result) Text() string { return string(r.text) }

// Reply returns the reply to the end of the message, or nil when the
// message was not sent.
func (r *Result) Reply() *reply.Reply {
	if r.Code == 0 {
		return nil
	}
	return reply.New(r.Code, r.Enhanced, string(r.text))
}

// Accepted returns the number of recipients the message was delivered to
// (that is, whose Err is nil).
func (r *Result) Accepted() int { return r.Count(StatusAccepted) }

// Count returns the number of recipients whose Status is st.
func (r *Result) Count(st RecipientStatus) int {
	n := 0
	for i := range r.Recipients {
		if r.Recipients[i].Status() == st {
			n++
		}
	}
	return n
}

// Retry returns the envelope to send again later: env (the envelope given
// to Send) with only the recipients whose Status is StatusDeferred, in
// order and with their parameters; its To is empty when there is nothing
// to retry. It never holds a recipient that got the message
// (StatusAccepted), one refused for good (StatusRefused), nor one whose
// outcome is unknown (StatusUnknown: the server may have taken the message;
// a queue that prefers a possible duplicate to a possible loss, as RFC 5321
// 6.1 suggests, adds those itself). The new envelope's To does not share
// memory with env's.
func (r *Result) Retry(env envelope.Envelope) envelope.Envelope {
	var to []envelope.Recipient
	for i := range r.Recipients {
		rr := &r.Recipients[i]
		if rr.Status() != StatusDeferred {
			continue
		}
		if i < len(env.To) && env.To[i].Path == rr.Path {
			to = append(to, env.To[i])
			continue
		}
		for _, e := range env.To { // env is not the one given to Send
			if e.Path == rr.Path {
				to = append(to, e)
				break
			}
		}
	}
	env.To = to
	return env
}

// Clone returns a copy of r that the Client does not reuse.
func (r *Result) Clone() *Result {
	c := &Result{Code: r.Code, Enhanced: r.Enhanced}
	c.Recipients = append([]RecipientResult(nil), r.Recipients...)
	c.text = append([]byte(nil), r.text...)
	return c
}

// RecipientResult is the outcome for one recipient.
type RecipientResult struct {
	// Path is the recipient.
	Path envelope.Path
	// Code and Enhanced are the reply to RCPT, or for LMTP the
	// recipient's reply after the message; zero when nothing was sent.
	Code     reply.Code
	Enhanced reply.EnhancedCode
	// Err is nil when the server took the message for this recipient.
	// Otherwise it is an *Error (the recipient, MAIL, or the message was
	// refused, or the client refused to send), an *OutcomeUnknownError, a
	// *NetError, a *ContextError, an *AbortError or a *MessageError.
	Err error

	// again marks a recipient past the server's limit of recipients per
	// transaction (RFC 5321 4.5.3.1.10), for another transaction.
	again bool
}

// Status tells what became of the message for the recipient.
func (r *RecipientResult) Status() RecipientStatus { return statusOf(r.Err) }

// RecipientStatus is what became of a message for one recipient, and so
// what may be done about it. Send's RecipientResult and the Deliverer's
// RecipientOutcome classify errors the same way.
type RecipientStatus int

const (
	// StatusAccepted: the server took the message for the recipient (a
	// 250, or any 2yz, to the end of the message; for LMTP, the
	// recipient's own).
	// Never send it to this recipient again.
	StatusAccepted RecipientStatus = iota + 1
	// StatusDeferred: not delivered, and it may succeed later (RFC 5321
	// 4.2.1: a 4xx reply; or a network failure, a done context, a failed
	// read of the message, a local refusal with a 4xx code). Safe to
	// retry: Result.Retry holds these recipients.
	StatusDeferred
	// StatusRefused: not delivered, and sending the same again will fail
	// the same way (a 5xx reply, or a refusal of the client with a 5xx
	// code: a missing extension, SIZE, REQUIRETLS). Bounce.
	StatusRefused
	// StatusUnknown: the connection broke after the end of the message
	// and before the server's reply (an *OutcomeUnknownError): the
	// message may have been delivered. Resending may duplicate it.
	StatusUnknown
)

// String returns the status's name: "accepted", "deferred", "refused" or
// "unknown".
func (s RecipientStatus) String() string {
	switch s {
	case StatusAccepted:
		return "accepted"
	case StatusDeferred:
		return "deferred"
	case StatusRefused:
		return "refused"
	case StatusUnknown:
		return "unknown"
	}
	return "RecipientStatus(" + strconv.Itoa(int(s)) + ")"
}

// statusOf classifies a recipient's error.
func statusOf(err error) RecipientStatus {
	if err == nil {
		return StatusAccepted
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		return StatusUnknown
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Temporary() {
			return StatusDeferred
		}
		return StatusRefused
	}
	var ae *AbortError
	if errors.As(err, &ae) && !ae.Temporary() {
		return StatusRefused
	}
	var se *ServerAuthError
	if errors.As(err, &se) {
		return StatusRefused
	}
	// Network failures, done contexts, the caller's reader, anything
	// else: nothing was delivered, and it may work later.
	return StatusDeferred
}

// RecipientsError reports that the message did not reach every recipient,
// while MAIL and the message themselves were not refused as a whole: some
// RCPT was refused, or (LMTP) some recipient's delivery failed. Accepted
// may be 0 (every recipient refused: nothing was sent).
//
// Temporary and Permanent speak for the whole message. Temporary is true
// only when sending the same message to the same envelope again is safe
// and may succeed: nothing was delivered and every failure is transient.
// Permanent is true when no failed recipient can get it later: every
// failure is permanent, whether or not other recipients got the message
// (then nothing is left to retry; bounce the refused ones). Once some
// recipient has the message Temporary is false, and deferred and refused
// recipients together make neither true: retry Result.Retry, bounce the
// refused ones.
//
// errors.As finds a recipient's *Error through it only when the outcome is
// uniform: nothing was delivered and every failure has the same Status, so
// that the error found says the truth about the whole message (a single
// recipient refused with 550, say). In a mixed outcome it finds none: the
// first failure's 450 would invite resending the message to recipients
// that have it, or that were refused for good; look at Failed, or at the
// Result. errors.Is matches ErrOutcomeUnknown when some recipient's outcome
// is unknown (LMTP).
type RecipientsError struct {
	// Accepted is the number of recipients that got the message.
	Accepted int
	// Failed are the others, with their errors, in envelope order.
	Failed []RecipientResult
}

// Error implements error.
func (e *RecipientsError) Error() string {
	var b strings.Builder
	b.WriteString("smtp: message refused for ")
	b.WriteString(strconv.Itoa(len(e.Failed)))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(len(e.Failed) + e.Accepted))
	b.WriteString(" recipients")
	if e.Accepted > 0 {
		b.WriteString(" (delivered to the other ")
		b.WriteString(strconv.Itoa(e.Accepted))
		b.WriteString(": do not send it to them again)")
	}
	for i, f := range e.Failed {
		if i == 3 {
			b.WriteString("; ...")
			break
		}
		b.WriteString("; ")
		b.WriteString(f.Path.String())
		b.WriteString(": ")
		b.WriteString(f.Err.Error())
	}
	return b.String()
}

// Temporary reports whether the whole message may be sent again as it is:
// no recipient got it and every failure is transient (StatusDeferred).
func (e *RecipientsError) Temporary() bool {
	if e.Accepted > 0 {
		return false
	}
	for i := range e.Failed {
		if e.Failed[i].Status() != StatusDeferred {
			return false
		}
	}
	return true
}

// Permanent reports whether every failure is permanent (StatusRefused):
// no failed recipient can get the message later.
func (e *RecipientsError) Permanent() bool {
	for i := range e.Failed {
		if e.Failed[i].Status() != StatusRefused {
			return false
		}
	}
	return true
}

// Unwrap returns the failed recipients' errors when the outcome is
// uniform (see RecipientsError), and nothing otherwise.
func (e *RecipientsError) Unwrap() []error {
	if e.Accepted > 0 || len(e.Failed) == 0 {
		return nil
	}
	st := e.Failed[0].Status()
	errs := make([]error, 0, len(e.Failed))
	for i := range e.Failed {
		if e.Failed[i].Status() != st {
			return nil
		}
		errs = append(errs, e.Failed[i].Err)
	}
	return errs
}

// Is reports whether target is ErrOutcomeUnknown and some recipient's
// outcome is unknown.
func (e *RecipientsError) Is(target error) bool {
	if target != ErrOutcomeUnknown {
		return false
	}
	for i := range e.Failed {
		if e.Failed[i].Status() == StatusUnknown {
			return true
		}
	}
	return false
}

// newRecipientsError returns the RecipientsError of rs, or nil when every
// recipient got the message.
func newRecipientsError(rs []RecipientResult) error {
	failed := 0
	for i := range rs {
		if rs[i].Err != nil {
			failed++
		}
	}
	if failed == 0 {
		return nil
	}
	re := &RecipientsError{Accepted: len(rs) - failed, Failed: make([]RecipientResult, 0, failed)}
	for i := range rs {
		if rs[i].Err != nil {
			re.Failed = append(re.Failed, rs[i])
		}
	}
	return re
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// ErrNoRecipients is the cause of the Local *Error Send returns for an
// envelope without recipients.
var ErrNoRecipients = errors.New("no recipients")

// pending is a reply the client waits for.
type pending struct {
	kind uint8
	idx  int        // recipient index for RCPT
	st   *sendState // the transaction it belongs to
}

const (
	pRset uint8 = iota
	pMail
	pRcpt
	pData
	pBdat
	pBdatLast
)

// sendState is the state of one Send, kept in the Client to be reused.
type sendState struct {
	src      io.Reader
	n        int   // bytes of the current chunk in c.body
	eof      bool  // the message ends with the current chunk
	total    int64 // bytes read so far
	check8   bool  // 8-bit bytes are not allowed
	lmtp     bool
	mailErr  error
	dataErr  error // DATA/BDAT refused, or the end of message refused (SMTP)
	fatal    error // network or protocol failure, or local abort
	accepted int
	dataOK   bool // 354 received
	ended    bool // the end-of-message reply(ies) were read
	mailSent bool // MAIL went on the wire
	res      *Result
	deferred bool  // SendBatch: the end reply is read with the next message
	endErr   error // the end reply could not be read: outcome unknown
	// endSent: the end of the message (BDAT LAST) left with replies to
	// earlier commands still unread; losing the connection while reading
	// them leaves the outcome unknown too (see lostAfterEnd).
	endSent  bool
	lastCmd  string
	again    int   // recipients put off by the server's limit per transaction
	againErr error // the reply that put the first of them off
}

// Send sends one message: MAIL FROM with env.From and env.Mail, RCPT TO for
// every recipient, then the message read from msg with DATA, or with BDAT
// when the server offers CHUNKING (RFC 3030; needed for BODY=BINARYMIME).
// When the server offers PIPELINING (RFC 2920) MAIL, every RCPT and DATA go
// in one round trip, and BDAT chunks are pipelined with them; otherwise each
// command waits for its reply. Hello is said first if it was not.
//
// Before anything is sent it refuses (a Local *Error): UTF-8 addresses
// without SMTPUTF8, 8-bit content without 8BITMIME, binary content without
// BINARYMIME and CHUNKING, a message larger than the server's SIZE when
// the size is known (the message fits the read-ahead buffer, or msg has a
// Len or Size method), and a REQUIRETLS message (RFC 8689) on a connection
// that is not TLS with a verified certificate, or to a server that does
// not offer REQUIRETLS there (554 5.7.30). It adds SMTPUTF8, BODY=8BITMIME
// and SIZE= when they apply and the server offers them. When 8-bit content
// or an excess of SIZE only shows further in a long stream, the message is
// abandoned (an *AbortError: with BDAT the transaction is reset, with DATA
// the connection is closed, so nothing is delivered). Line ends are sent as
// CRLF, except for BODY=BINARYMIME, which is sent verbatim.
//
// # Partial delivery
//
// A message may reach some recipients and not others. The Result is never
// nil and has one RecipientResult per recipient, whose Status is
// StatusAccepted (delivered: never send it to them again), StatusDeferred
// (a 4xx or a transient failure: retry later), StatusRefused (a 5xx:
// bounce) or StatusUnknown (the connection broke after the end of the
// message). Result.Retry(env) is the envelope that is safe to send again:
// the deferred recipients only. A retry loop sends that, never env itself:
//
//	res, err := c.Send(ctx, env, msg)
//	if err != nil {
//		later := res.Retry(env) // queue later.To for another attempt
//		...                     // bounce the StatusRefused ones
//	}
//
// A server may limit the recipients of one transaction and answer 452
// 4.5.3 to those past its limit (RFC 5321 4.5.3.1.10; also 552 5.5.3, and
// a 452 without an enhanced code once some recipient was taken). Send then
// sends the message again to the rest in further transactions on the same
// connection, as long as each one delivers to some recipient, when msg
// can be read again from where Send found it: it implements io.Seeker
// (*bytes.Reader, *strings.Reader, *os.File, *io.SectionReader). Otherwise
// those recipients are StatusDeferred, with the 452 reply as their error.
//
// err is nil when every recipient got the message. Otherwise it is the
// failure of the transaction as a whole: an *Error (MAIL or the message
// refused, or a Local refusal), a *NetError, a *ContextError (the context
// was done before anything was sent: the Client is still usable), an
// *AbortError, a *MessageError, or an *OutcomeUnknownError when the
// connection broke after the end of the message; or, when recipients
// fared differently, a *RecipientsError, whose Temporary is true only
// when resending the whole message is safe. Every recipient's
// RecipientResult carries the error that applies to it. Send resets a
// transaction left open by a failed Send first; a server that refuses
// that RSET (RFC 5321 4.1.1.5 asks for 250) is out of step, and Send
// closes the connection: a *NetError, or an *OutcomeUnknownError when the
// end of the message had been pipelined with it.
func (c *Client) Send(ctx context.Context, env envelope.Envelope, msg io.Reader) (*Result, error) {
	res := &c.res
	res.Code, res.Enhanced, res.text = 0, reply.EnhancedCode{}, res.text[:0]
	res.Recipients = res.Recipients[:0]
	for i := range env.To {
		res.Recipients = append(res.Recipients, RecipientResult{Path: env.To[i].Path})
	}
	if err := c.ensureHello(ctx, "MAIL"); err != nil {
		setAllErr(res.Recipients, err)
		return res, err
	}
	defer c.unwatch(c.watch(ctx))
	// Where the message starts, to send it again to recipients past the
	// server's limit.
	seeker, _ := msg.(io.Seeker)
	start := int64(-1)
	if seeker != nil {
		if off, err := seeker.Seek(0, io.SeekCurrent); err == nil {
			start = off
		}
	}
	s := &c.sts[0]
	*s = sendState{lmtp: c.opts.LMTP, res: res}
	c.cur = s
	c.pend, c.pendRead = c.pend[:0], 0
	err := c.finish(s, c.send(ctx, &env, msg))
	if s.again == 0 {
		return res, err
	}
	if start >= 0 && delivered(res.Recipients) {
		err = c.sendRest(ctx, &env, msg, seeker, start)
	}
	for i := range res.Recipients {
		res.Recipients[i].again = false
	}
	return res, err
}

// delivered reports whether some recipient got the message.
func delivered(rs []RecipientResult) bool {
	for i := range rs {
		if rs[i].Err == nil {
			return true
		}
	}
	return false
}

// sendRest sends the message again, in as many transactions as needed, to
// the recipients the server put off for its limit of recipients per
// transaction (RFC 5321 4.5.3.1.10), while each transaction delivers to
// some recipient. Their outcomes replace the 452 in c.res. It returns
// Send's error for the whole envelope.
func (c *Client) sendRest(ctx context.Context, env *envelope.Envelope, msg io.Reader, seeker io.Seeker, start int64) error {
	res := &c.res
	var idx []int
	sub := envelope.Envelope{From: env.From, Mail: env.Mail}
	var subRes Result
	for {
		idx = idx[:0]
		for i := range res.Recipients {
			if res.Recipients[i].again {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 || c.ready(ctx, "MAIL") != nil {
			break
		}
		if _, err := seeker.Seek(start, io.SeekStart); err != nil {
			break
		}
		sub.To = sub.To[:0]
		subRes.Recipients = subRes.Recipients[:0]
		for _, i := range idx {
			sub.To = append(sub.To, env.To[i])
			subRes.Recipients = append(subRes.Recipients, RecipientResult{Path: env.To[i].Path})
		}
		subRes.Code, subRes.text = 0, subRes.text[:0]
		s := &c.sts[0]
		*s = sendState{lmtp: c.opts.LMTP, res: &subRes}
		c.cur = s
		c.pend, c.pendRead = c.pend[:0], 0
		c.finish(s, c.send(ctx, &sub, msg))
		for k, i := range idx {
			res.Recipients[i] = subRes.Recipients[k]
		}
		if res.Code == 0 && subRes.Code != 0 {
			res.Code, res.Enhanced = subRes.Code, subRes.Enhanced
			res.text = append(res.text[:0], subRes.text...)
		}
		if s.again == 0 || !delivered(subRes.Recipients) {
			break
		}
	}
	// The first transaction delivered to some recipient: whatever the
	// others got, the outcome is partial or complete.
	return newRecipientsError(res.Recipients)
}

// setAllErr gives err to every recipient that has no error yet.
func setAllErr(rs []RecipientResult, err error) {
	for i := range rs {
		if rs[i].Err == nil {
			rs[i].Err = err
		}
	}
}

// send runs the transaction; its error is a failure before MAIL's reply
// or a local refusal, recorded for every recipient by finish.
func (c *Client) send(ctx context.Context, env *envelope.Envelope, msg io.Reader) error {
	s := c.cur
	if len(env.To) == 0 {
		return localError("RCPT", reply.New(reply.CodeBadSequence, reply.Enh(5, 5, 1), "no recipients"), ErrNoRecipients)
	}
	reset := c.needReset || c.m.InTransaction()
	if !reset {
		if err := c.check(session.MAIL, "MAIL"); err != nil {
			return err
		}
	}

	// Read ahead, to know the size and the 8-bit content before MAIL.
	binary := env.Mail.Body == envelope.BodyBinaryMIME
	s.src = msg
	if !binary {
		// RFC 5321 2.3.8: only CRLF line ends go out. The filter keeps its
		// state across reads, so a CR at the end of one read and an LF at
		// the start of the next stay one CRLF.
		c.filter.Reset(textproto.OutputPolicy())
		s.src = c.filter.Chunk(msg, true)
	}
	// The first read is sized to the message when it tells its length, so
	// that a small message does not cost a full chunk buffer per
	// connection. The length is asked before the first read: a Size method
	// (as io.SectionReader's) tells the whole length whatever was read.
	first := c.chunkSize()
	msgLen, known := knownLen(msg)
	if known && msgLen+1 < int64(first) {
		first = max(int(msgLen)+1, minFirstRead)
	} else if !known {
		first = min(first, firstReadSize)
	}
	if err := c.fillN(first); err != nil {
		return err
	}
	// Reading the message may have taken a while: a context done
	// meanwhile fails the message before anything is written, and the
	// connection stays usable.
	if err := ctxDone(ctx, "MAIL"); err != nil {
		return err
	}
	size := int64(-1)
	if s.eof {
		size = int64(s.n)
	} else if known {
		// Before line ends are made CRLF: RFC 1870 4 takes an estimate.
		size = msgLen
	}
	eightBit := -1
	switch {
	case binary:
		eightBit = 0
	case has8bit(c.body[:s.n]):
		eightBit = 1
	case s.eof:
		eightBit = 0
	}
	mp, err := c.mailParams(env.Mail, env.NeedsSMTPUTF8(), eightBit, size)
	if err != nil {
		return err
	}
	for i := range env.To {
		if err := c.rcptCheck(&env.To[i]); err != nil {
			return err
		}
	}
	s.check8 = mp.Body != envelope.Body8BitMIME && mp.Body != envelope.BodyBinaryMIME
	bdat := c.ext.Chunking && (binary || !c.opts.NoChunking)
	pipe := c.ext.Pipelining && !c.opts.NoPipelining

	// MAIL is built (and checked) before anything is queued, so that a
	// refusal leaves nothing half-written.
	line, err := envelope.AppendMailCommand(c.cmd[:0], c.asciiPath(env.From, mp.SMTPUTF8), mp)
	if err != nil {
		return errBadArgument("MAIL", err)
	}
	c.cmd = line
	c.setWriteDeadline(ctx, c.cmdTimeout())
	if reset {
		// RFC 2920 3.1: RSET may go anywhere in a pipelined group.
		if err := c.writeString("RSET"); err != nil {
			return c.broken(ctx, "RSET", err)
		}
		c.push(pRset, 0)
		if !pipe {
			if err := c.drain(ctx, 0); err != nil {
				return err
			}
		}
	}
	if err := c.writeLine(c.cmd); err != nil {
		return c.broken(ctx, "MAIL", err)
	}
	s.mailSent = true
	c.push(pMail, 0)
	if !pipe {
		if err := c.drain(ctx, 0); err != nil || s.mailErr != nil {
			return err
		}
	}
	sent := 0
	for i := range env.To {
		r := &env.To[i]
		line, err := envelope.AppendRcptCommand(c.cmd[:0], c.asciiPath(r.Path, mp.SMTPUTF8), r.Params, mp.SMTPUTF8)
		if err != nil {
			s.res.Recipients[i].Err = errBadArgument("RCPT", err)
			continue
		}
		c.cmd = line
		if err := c.writeLine(line); err != nil {
			return c.broken(ctx, "RCPT", err)
		}
		c.push(pRcpt, i)
		sent++
		if !pipe || len(c.pend)-c.pendRead >= c.maxPipelined() {
			// Without PIPELINING, wait for each reply (RFC 5321 4.3.1:
			// an alternating dialogue).
			// With it, read the replies of a full window before writing
			// more: a client that writes without reading deadlocks with a
			// server blocked writing replies the client does not read.
			if err := c.drain(ctx, 0); err != nil {
				return err
			}
			if !pipe && s.again > 0 {
				// RFC 5321 4.5.3.1.10: the server takes no more
				// recipients in this transaction; the rest wait for
				// the next one.
				for j := i + 1; j < len(env.To); j++ {
					if rr := &s.res.Recipients[j]; rr.Err == nil {
						rr.Err, rr.again = s.againErr, true
						s.again++
					}
				}
				break
			}
			c.setWriteDeadline(ctx, c.opts.timeout(c.opts.RcptTimeout, DefaultRcptTimeout))
		}
	}
	if sent == 0 || (!pipe && s.accepted == 0) {
		// Nothing to send the message to: read what is pending and leave
		// the transaction to be reset.
		c.needReset = true
		return c.drain(ctx, 0)
	}
	if bdat {
		return c.sendBDAT(ctx, pipe)
	}
	return c.sendDATA(ctx)
}

// push records a reply to wait for.
func (c *Client) push(kind uint8, idx int) {
	c.pend = append(c.pend, pending{kind: kind, idx: idx, st: c.cur})
}

// firstReadSize is the read-ahead of a message of unknown length, and
// minFirstRead the smallest read-ahead buffer (so that messages of slightly
// different small sizes reuse one buffer).
const (
	firstReadSize = 4096
	minFirstRead  = 512
)

func (c *Client) chunkSize() int {
	if c.opts.ChunkSize > 0 {
		return c.opts.ChunkSize
	}
	return DefaultChunkSize
}

func (c *Client) maxPipelined() int {
	if c.opts.MaxPipelined > 0 {
		return c.opts.MaxPipelined
	}
	return DefaultMaxPipelined
}

// fill reads the next chunk of the message into c.body.
func (c *Client) fill() error { return c.fillN(c.chunkSize()) }

// fillN reads up to size bytes of the message into c.body.
func (c *Client) fillN(size int) error {
	s := c.cur
	if cap(c.body) < size {
		c.body = make([]byte, size)
	}
	buf := c.body[:size]
	n, err := io.ReadFull(s.src, buf)
	s.n = n
	s.total += int64(n)
	switch err {
	case nil:
		return nil
	case io.EOF, io.ErrUnexpectedEOF:
		s.eof = true
		return nil
	}
	return &MessageError{Err: err}
}

// MessageError reports that reading the message from the caller's reader
// failed. Nothing was delivered.
type MessageError struct {
	Err error
}

// Error implements error.
func (e *MessageError) Error() string { return "smtp: reading the message: " + e.Err.Error() }

// Unwrap returns Err.
func (e *MessageError) Unwrap() error { return e.Err }

// checkChunk applies the 8BITMIME and SIZE refusals to a chunk read after
// MAIL was sent.
func (c *Client) checkChunk(cmd string) error {
	s := c.cur
	if s.check8 && has8bit(c.body[:s.n]) {
		return errNeeds8BitMIME(cmd)
	}
	if c.ext.Size > 0 && s.total > c.ext.Size {
		return errTooLarge(cmd, s.total, c.ext.Size)
	}
	return nil
}

// sendDATA ends the pipelined group with DATA, streams the message after
// 354 and reads the end-of-message reply or replies.
func (c *Client) sendDATA(ctx context.Context) error {
	s := c.cur
	if err := c.writeLine(append(c.cmd[:0], "DATA"...)); err != nil {
		return c.broken(ctx, "DATA", err)
	}
	c.push(pData, 0)
	if err := c.drain(ctx, 0); err != nil {
		return err
	}
	if !s.dataOK {
		c.needReset = s.mailErr == nil
		return nil
	}
	if s.accepted == 0 || s.mailErr != nil {
		// RFC 2920 3.1: DATA accepted although no recipient was: send
		// an empty message, whose reply is a failure.
		c.setWriteDeadline(ctx, c.opts.timeout(c.opts.DataBlockTimeout, DefaultDataBlockTimeout))
		if err := c.writeLine(append(c.cmd[:0], '.')); err != nil {
			return c.broken(ctx, "DATA", err)
		}
		c.pend, c.pendRead = append(c.pend[:0], pending{kind: pBdatLast, st: s}), 0
		s.lastCmd = "DATA"
		return c.drain(ctx, 0)
	}
	pol := textproto.OutputPolicy()
	dot := c.w.DotWriter(pol)
	blockTimeout := c.opts.timeout(c.opts.DataBlockTimeout, DefaultDataBlockTimeout)
	for {
		if s.n > 0 {
			c.setWriteDeadline(ctx, blockTimeout)
			if _, err := dot.Write(c.body[:s.n]); err != nil {
				return c.broken(ctx, "DATA", err)
			}
		}
		if s.eof {
			break
		}
		if err := c.fill(); err != nil {
			return c.abort(err)
		}
		if err := c.checkChunk("DATA"); err != nil {
			return c.abort(err)
		}
	}
	c.setWriteDeadline(ctx, blockTimeout)
	c.out.hold = c.deferEnd
	err := dot.Close()
	c.out.hold = false
	if err != nil {
		return c.broken(ctx, "DATA", err)
	}
	if c.deferEnd {
		c.out.end, c.out.endLost = len(c.out.held), false
	}
	c.pend, c.pendRead = append(c.pend[:0], pending{kind: pBdatLast, st: s}), 0
	s.lastCmd = "DATA"
	if c.deferEnd {
		// SendBatch: the reply to the dot is read with the replies to the
		// next message's commands, written right after it (RFC 2920 3.1:
		// the end of the message data may start a group). The transaction
		// is over whatever that reply says (RFC 5321 4.1.1.4).
		s.deferred = true
		c.m.EndMessage()
		return nil
	}
	return c.drain(ctx, 0)
}

// abort gives up a message in the middle of DATA: the only way not to
// deliver a part of it is to drop the connection (RFC 5321 4.1.1.4 has no
// way to cancel DATA). Later calls fail as on a closed connection, not
// with this message's reason.
func (c *Client) abort(cause error) error {
	c.err = &NetError{Command: "DATA", Err: errAbandoned}
	c.conn.Close()
	c.logWarn("message abandoned in DATA; connection closed", slog.Any("reason", cause))
	return abortError("DATA", true, cause)
}

// sendBDAT sends the message in BDAT chunks (RFC 3030 2), the first one
// pipelined with MAIL and RCPT when pipe is set. One chunk's reply is
// allowed to be outstanding while the next chunk is sent.
func (c *Client) sendBDAT(ctx context.Context, pipe bool) error {
	s := c.cur
	s.lastCmd = "BDAT"
	blockTimeout := c.opts.timeout(c.opts.DataBlockTimeout, DefaultDataBlockTimeout)
	keep := 1
	if !pipe {
		keep = 0
	}
	for {
		c.setWriteDeadline(ctx, blockTimeout)
		c.cmd = append(c.cmd[:0], "BDAT "...)
		c.cmd = strconv.AppendInt(c.cmd, int64(s.n), 10)
		kind := pBdat
		if s.eof {
			c.cmd = append(c.cmd, " LAST"...)
			kind = pBdatLast
		}
		if err := c.writeLine(c.cmd); err != nil {
			return c.broken(ctx, "BDAT", err)
		}
		if _, err := c.w.Write(c.body[:s.n]); err != nil {
			return c.broken(ctx, "BDAT", err)
		}
		c.push(kind, 0)
		if s.eof {
			if err := c.flush(); err != nil {
				// The last bytes of the chunk were not taken: the
				// server cannot have the whole message.
				return c.broken(ctx, "BDAT", err)
			}
			s.endSent = true
			return c.drain(ctx, 0)
		}
		if err := c.drain(ctx, keep); err != nil {
			return err
		}
		if s.mailErr != nil || s.dataErr != nil || (c.pendRead >= c.rcptEnd() && s.accepted == 0) {
			break // RFC 3030 2: no more chunks after a failure
		}
		err := c.fill()
		if err == nil {
			err = c.checkChunk("BDAT")
		}
		if err != nil {
			// The chunks sent are complete commands: RSET (before the
			// next transaction) abandons the message and keeps the
			// connection, unless reading the pending replies breaks it.
			c.needReset = true
			c.drain(ctx, 0)
			return abortError("BDAT", c.usable() != nil, err)
		}
	}
	c.needReset = true
	return c.drain(ctx, 0)
}

// rcptEnd returns the index in c.pend just after the last RCPT.
func (c *Client) rcptEnd() int {
	for i := len(c.pend) - 1; i >= 0; i-- {
		if c.pend[i].kind == pRcpt || c.pend[i].kind == pMail {
			return i + 1
		}
	}
	return 0
}

// drain flushes what was written and reads the pending replies until only
// keep remain unread.
func (c *Client) drain(ctx context.Context, keep int) error {
	if err := c.flush(); err != nil {
		return c.broken(ctx, c.pendName(), err)
	}
	for len(c.pend)-c.pendRead > keep {
		p := c.pend[c.pendRead]
		c.pendRead++
		if p.kind == pBdatLast {
			if err := c.readLast(ctx, p.st); err != nil {
				if p.st != c.cur {
					// The end of the previous message of a SendBatch:
					// its outcome is unknown, this message was not sent.
					return notSent(c.pendName(), err)
				}
				return err
			}
			if p.st != c.cur && isClosing(c.err) {
				// The previous message got a 421 (RFC 5321 3.8): the
				// server closed without reading this one.
				return c.err
			}
			continue
		}
		name := kindName(p.kind)
		var d = c.cmdTimeout()
		switch p.kind {
		case pMail:
			d = c.opts.timeout(c.opts.MailTimeout, DefaultMailTimeout)
		case pRcpt:
			d = c.opts.timeout(c.opts.RcptTimeout, DefaultRcptTimeout)
		case pData:
			d = c.opts.timeout(c.opts.DataInitTimeout, DefaultDataInitTimeout)
		case pBdat:
			d = c.opts.timeout(c.opts.DataBlockTimeout, DefaultDataBlockTimeout)
		}
		c.setReadDeadline(ctx, d)
		r, err := c.readRaw(ctx, name)
		if err != nil {
			return c.lostAfterEnd(p, err)
		}
		if p.kind == pRset && !r.Code.IsPositive() && r.Code != reply.CodeServiceNotAvailable {
			// RFC 5321 4.1.1.5: RSET is answered 250. A server that
			// refuses it is out of step: what the commands pipelined
			// after it start on the server is unknown (a lone dot
			// after DATA's 354 could deliver an empty message), so the
			// connection is closed; the replies still unread decide
			// nothing.
			err := c.broken(ctx, "RSET", &resetRefusedError{r.Reply()})
			return c.lostAfterEnd(p, err)
		}
		c.handle(p, r)
		if r.Code == reply.CodeServiceNotAvailable {
			// RFC 5321 3.8: the server closes the connection after a 421
			// and acts on nothing sent after the command it answered:
			// the 421 is the answer for the rest of the transaction,
			// not the broken connection that follows.
			return c.err
		}
	}
	if c.pendRead == len(c.pend) {
		c.pend, c.pendRead = c.pend[:0], 0
	}
	return nil
}

// resetRefusedError is the cause of the *NetError of a Send whose RSET
// the server refused: the client closed the connection.
type resetRefusedError struct{ r *reply.Reply }

func (e *resetRefusedError) Error() string {
	return "RSET refused (" + e.r.Error() + "); connection closed: the server is out of step"
}

// mayDeliver reports whether the replies read so far leave the server
// able to deliver the message: MAIL and the data not refused, and some
// recipient accepted.
func (s *sendState) mayDeliver() bool {
	return s.mailErr == nil && s.dataErr == nil && s.accepted > 0
}

// lostAfterEnd returns the failure to read the reply to p, a command
// before the end of the message: an *OutcomeUnknownError when the end was
// already written (a pipelined BDAT LAST) and the server may have taken
// the message, since a pipelining server may read the whole group before
// it answers MAIL (RFC 2920 3.1). Not when the replies read so far rule
// delivery out: MAIL or a chunk refused, or every recipient refused.
func (c *Client) lostAfterEnd(p pending, err error) error {
	s := p.st
	var ne *NetError
	if !s.endSent || !errors.As(err, &ne) {
		return err
	}
	rcptPending := p.kind == pRset || p.kind == pMail || p.kind == pRcpt
	if !s.mayDeliver() && !(rcptPending && s.mailErr == nil) {
		return err
	}
	c.logWarn("connection lost after the end of the message", slog.String("command", s.lastCmd), slog.Any("err", ne.Err))
	return &OutcomeUnknownError{Command: s.lastCmd, Err: ne.Err}
}

func (c *Client) pendName() string {
	if c.pendRead < len(c.pend) {
		return kindName(c.pend[c.pendRead].kind)
	}
	return "DATA"
}

func kindName(k uint8) string {
	switch k {
	case pRset:
		return "RSET"
	case pMail:
		return "MAIL"
	case pRcpt:
		return "RCPT"
	case pData:
		return "DATA"
	}
	return "BDAT"
}

// advance moves the state machine after a reply to cmd, when the machine
// agrees that cmd was in sequence (a pipelined command may not be).
func (c *Client) advance(cmd session.Command, ok bool) {
	if c.m.Check(cmd) != nil {
		return
	}
	if ok {
		c.m.Apply(cmd)
	} else {
		c.m.Fail(cmd)
	}
}

// handle records the reply to one pipelined command.
func (c *Client) handle(p pending, r reply.RawReply) {
	s := p.st
	switch p.kind {
	case pRset:
		c.advance(session.RSET, r.Code.IsPositive())
		if r.Code.IsPositive() {
			c.needReset = false
		} else {
			s.mailErr = newReplyError("RSET", r.Reply()) // 421
		}
	case pMail:
		// RFC 5321 4.2.1: the first digit decides; 2yz is success.
		ok := r.Code.IsPositive()
		c.advance(session.MAIL, ok)
		if !ok && s.mailErr == nil {
			s.mailErr = newReplyError("MAIL", r.Reply())
		}
	case pRcpt:
		rr := &s.res.Recipients[p.idx]
		rr.Code, rr.Enhanced = r.Code, r.Enhanced
		// RFC 5321 4.2.1: any 2yz accepts the recipient (251 "will
		// forward" among them, 4.2.2).
		ok := r.Code.IsPositive()
		if s.mailErr != nil {
			rr.Err = s.mailErr
			return
		}
		c.advance(session.RCPT, ok)
		if ok {
			s.accepted++
		} else {
			rr.Err = newReplyError("RCPT", r.Reply())
			if s.accepted > 0 && tooManyRecipients(r.Code, r.Enhanced) {
				rr.again = true
				s.again++
				if s.againErr == nil {
					s.againErr = rr.Err
				}
			}
		}
	case pData:
		ok := r.Code == reply.CodeStartMailInput
		if s.mailErr == nil && s.accepted > 0 {
			c.advance(session.DATA, ok)
		}
		if ok {
			s.dataOK = true
		} else if s.mailErr == nil && s.accepted > 0 {
			s.dataErr = newReplyError("DATA", r.Reply())
		}
	case pBdat:
		ok := r.Code.IsPositive()
		if s.mailErr == nil && s.accepted > 0 {
			if ok {
				if c.m.Check(session.BDAT) == nil {
					c.m.ApplyBDAT(false)
				}
			} else {
				c.advance(session.BDAT, false)
				if s.dataErr == nil {
					s.dataErr = newReplyError("BDAT", r.Reply())
				}
			}
		}
	}
}

// tooManyRecipients reports a reply to RCPT that means "no more
// recipients in this transaction" (RFC 5321 4.5.3.1.10): 452 with X.5.3
// (RFC 3463 "too many recipients"), the 552 of servers that follow RFC
// 821 with X.5.3, and a 452 without an enhanced code, which the caller
// takes as such only once some recipient was accepted.
func tooManyRecipients(code reply.Code, enh reply.EnhancedCode) bool {
	x53 := enh.Subject == 5 && enh.Detail == 3
	switch code {
	case reply.CodeInsufficientStorage:
		return enh.IsZero() || x53
	case reply.CodeExceededStorage:
		return x53
	}
	return false
}

// readLast reads the reply, or for LMTP the replies (RFC 2033 4.2: one per
// accepted recipient, in order), to the end of the message.
func (c *Client) readLast(ctx context.Context, s *sendState) error {
	cmd := s.lastCmd
	n := 1
	if s.lmtp && s.accepted > 0 && s.mailErr == nil && s.dataErr == nil {
		n = s.accepted
	}
	next := 0 // next recipient to get an LMTP reply
	for k := 0; k < n; k++ {
		// Each LMTP reply may take as long as a whole SMTP delivery
		// (RFC 2033 4.2: the server answers as each mailbox is done).
		c.setReadDeadline(ctx, c.opts.timeout(c.opts.DataTermTimeout, DefaultDataTermTimeout))
		r, err := c.readEndRaw(ctx, cmd)
		if err != nil {
			if !s.mayDeliver() {
				// The server had no recipient, or refused the
				// transaction: nothing can have been delivered.
				return c.err
			}
			s.endErr = err
			if n > 1 {
				// The recipients answered keep their outcome.
				for ; next < len(s.res.Recipients); next++ {
					if rr := &s.res.Recipients[next]; rr.Err == nil {
						rr.Err = err
					}
				}
				return nil
			}
			return err
		}
		if s.mailErr != nil || s.accepted == 0 || s.dataErr != nil {
			// An answer to data the server had no transaction for.
			if s.dataErr == nil && s.mailErr == nil {
				s.dataErr = newReplyError(cmd, r.Reply())
			}
			continue
		}
		// RFC 5321 4.2.1: a 2yz to the end of the message is a
		// positive completion, whatever its last digits.
		ok := r.Code.IsPositive()
		if k == 0 {
			s.res.Code, s.res.Enhanced = r.Code, r.Enhanced
			s.res.text = appendText(s.res.text[:0], r)
		}
		if n == 1 {
			if !ok {
				s.dataErr = newReplyError(cmd, r.Reply())
			}
			continue
		}
		for next < len(s.res.Recipients) && s.res.Recipients[next].Err != nil {
			next++
		}
		if next < len(s.res.Recipients) {
			rr := &s.res.Recipients[next]
			rr.Code, rr.Enhanced = r.Code, r.Enhanced
			if !ok {
				rr.Err = newReplyError(cmd, r.Reply())
			}
			next++
		}
	}
	s.ended = true
	if !s.deferred {
		c.m.EndMessage()
	}
	return nil
}

func appendText(dst []byte, r reply.RawReply) []byte {
	for i := 0; i < r.NumLines(); i++ {
		if i > 0 {
			dst = append(dst, '\n')
		}
		dst = append(dst, r.Line(i)...)
	}
	return dst
}

// finish turns the transaction's outcome into Send's error, recording it
// for every recipient that has none.
func (c *Client) finish(s *sendState, err error) error {
	if s.mailSent && s.mailErr == nil && (err != nil || s.dataErr != nil || !s.ended) {
		// Whatever the server's state, RSET before the next transaction
		// puts both sides back in step (RFC 5321 4.1.1.5).
		c.needReset = true
	}
	rs := s.res.Recipients
	var whole error // the failure of the transaction as a whole
	switch {
	case err != nil:
		whole = err
	case s.endErr != nil:
		whole = s.endErr
	case s.mailErr != nil:
		whole = s.mailErr
	case s.dataErr != nil && s.accepted > 0:
		whole = s.dataErr
	case !s.ended && c.err != nil:
		whole = c.err
	}
	if whole != nil {
		setAllErr(rs, whole)
		return whole
	}
	if !s.ended && !anyFailed(rs) {
		// Nothing was sent and nothing failed: cannot happen, but never
		// report success for an unsent message.
		e := localError(s.lastCmd, reply.LocalError(), errors.New("message not sent"))
		setAllErr(rs, e)
		return e
	}
	return newRecipientsError(rs)
}

// anyFailed reports whether some recipient has an error.
func anyFailed(rs []RecipientResult) bool {
	for i := range rs {
		if rs[i].Err != nil {
			return true
		}
	}
	return false
}

// knownLen returns the length of msg when it tells it: Len (the unread
// part of a bytes.Reader or strings.Reader) or Size (an io.SectionReader,
// whole), to be asked before reading.
func knownLen(msg io.Reader) (int64, bool) {
	switch m := msg.(type) {
	case interface{ Len() int }:
		return int64(m.Len()), true
	case interface{ Size() int64 }:
		return m.Size(), true
	}
	return 0, false
}

// has8bit reports whether b holds a byte >= 0x80 (RFC 6152: 8-bit data).
// It tests eight bytes at a time (ORed together, sixteen per round): the
// whole message is looked at for every Send.
func has8bit(b []byte) bool {
	const hi = 0x8080808080808080
	i := 0
	for ; i+16 <= len(b); i += 16 {
		if (binary.LittleEndian.Uint64(b[i:i+8])|binary.LittleEndian.Uint64(b[i+8:i+16]))&hi != 0 {
			return true
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return true
		}
	}
	return false
}

// SendMail is Send for plain address strings: from ("" for the null
// reverse-path) and each of to as "local@domain" or "<local@domain>". It
// reuses one envelope, so that a loop of SendMail calls allocates little.
func (c *Client) SendMail(ctx context.Context, from string, to []string, msg io.Reader) error {
	var err error
	c.env.Mail = envelope.MailParams{}
	if c.env.From, err = parsePath(from); err != nil {
		return errBadArgument("MAIL", err)
	}
	c.env.To = c.env.To[:0]
	for _, t := range to {
		p, err := parsePath(t)
		if err != nil || p.Null {
			if err == nil {
				err = errors.New("null recipient path")
			}
			return errBadArgument("RCPT", err)
		}
		c.env.To = append(c.env.To, envelope.Recipient{Path: p})
	}
	_, err = c.Send(ctx, c.env, msg)
	return err
}

// parsePath parses an address given by the caller: "", "<>", "a@b" or
// "<a@b>". UTF-8 is accepted here; Send checks it against SMTPUTF8.
func parsePath(s string) (envelope.Path, error) {
	opts := envelope.ParseOptions{SMTPUTF8: true}
	if s == "" {
		return envelope.Path{Null: true}, nil
	}
	if s[0] == '<' {
		return envelope.ParsePath(s, opts)
	}
	a, err := envelope.ParseAddress(s, opts)
	return envelope.Path{Address: a}, err
}
