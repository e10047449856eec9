package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/session"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/textproto"
)

// errShutdown ends the wait for a command when the server shuts down.
var errShutdown = errors.New("smtp server: shutting down")

// errTooManyErrors ends a connection that made MaxErrors errors.
var errTooManyErrors = errors.New("smtp server: too many errors")

// conn is the server side of one connection, served by one goroutine.
type conn struct {
	srv *Server
	cfg *config
	nc  net.Conn // the connection; a *tls.Conn once TLS is on
	raw net.Conn // the accepted connection, never changed: for Close and Shutdown
	pub Conn     // what the backend sees

	tr   *textproto.Reader
	out  []byte  // replies queued for the next flush
	outp *[]byte // the pool entry behind out, from Server.outs

	rc   syscall.RawConn // the raw I/O path (see idle.go); nil for TLS
	slab *[]byte         // buffer of pend, from Server.slabs
	pend []byte          // read by waitIdle or pauseReading, not yet given to tr

	readFn, writeFn, idleRead func(fd uintptr) bool // c.readInto, c.writeFrom, c.readIdle, made once
	idleErr                   error                 // set by readIdle

	// What the connection holds only while its goroutine serves it, not
	// while it is handed off (see idle.go): the transaction and the
	// scratch of the raw path.
	*busy

	// The waits of the raw path (see idle.go).
	waiting     atomic.Bool   // blocked in rawRead's wait
	cmdWait     atomic.Bool   // reading a command outside a transaction: may be handed off
	kicked      atomic.Bool   // the sweeper interrupted this wait
	waitEpoch   atomic.Uint32 // Server.epoch when the wait began
	cmdArmed    bool          // the read deadline of the current command is armed
	cmdDeadline mono          // the current command's deadline (see beginWait); 0: none
	transacted  bool          // a MAIL was accepted once: hand off only after sweeps
	deadlineSet bool          // the next command's deadline is set: after a hand-off, between BDAT chunks
	fd          int32         // the socket's file descriptor, for the watcher
	watchGen    uint32        // the watcher whose set has the socket (see watcher.park); 0: none
	parked      atomic.Bool   // handed off to the watcher, no goroutine serves it
	parkTimer   *time.Timer   // the command's deadline while parked
	handingOff  bool          // next ended for a hand-off

	stage stageCtx // also holds the connection's context

	sess      Session
	noService bool // NewSession refused with 554: only QUIT works (RFC 5321 3.1)
	sm        session.Machine

	ipKey string

	// idle is set while the goroutine waits for a command outside a
	// transaction, so that Shutdown can interrupt the wait.
	idle atomic.Bool
	// blockTimeout > 0 sets a read deadline per read (message data, RFC
	// 5321 4.5.3.2.5); 0 means command mode, where one deadline set by
	// setDeadline bounds the whole command line (4.5.3.2.7), so a client
	// sending a byte now and then cannot hold the connection.
	blockTimeout time.Duration
	// In data mode: the time spent waiting in reads, and the bytes read,
	// since the last dataProgress bytes (see Read).
	dataWaited   time.Duration
	dataProgress int
	deadline     mono // the read deadline last set; 0: none
	wdeadline    mono // the write deadline last set; 0: none

	errors       int // see countError and forgive
	junkCmds     int // see junk
	authFailures int
	authRefused  bool     // the backend refused a credential in this AUTH exchange
	errorPause   bool     // the next wait for a command waits ErrorDelay first (see countError)
	pendErr      error    // the read error found by pauseReading, after pend
	mechs        []string // SASL mechanisms of the session
	mechsDone    bool

	cmdEvents bool  // the current command's replies give an EventCommand (see wants)
	wantKnown uint8 // answers of wants kept until the next read (see wantsNow)
	wantYes   uint8
	printable bool            // the line read last is printable ASCII (textproto.Reader.Printable)
	cmd       session.Command // current command; Unknown between commands
	verb      string          // current command, for events; "" between commands
	closing   bool            // close after the reply is flushed
	silenced  bool            // a reply was dropped after Close: so is every later one
	endErr    error           // why the connection ended, for EventDisconnect
}

// busy is the part of a conn held only while a goroutine serves it.
type busy struct {
	// The transaction.
	mailParams envelope.MailParams
	rcpts      []envelope.Path // accepted recipients (kept for LMTP replies)
	nrcpts     int
	overshoot  int // recipients past MaxRecipients in this transaction

	body dataBody   // the DATA stream given to the backend
	bdat *bdatState // the BDAT stream given to the backend, made on first use

	cmdStart  time.Time         // when the current command was read, if cmdEvents
	opts      parseOptionsCache // of MAIL and RCPT (see parseOptions)
	spare     []callCtx         // for backend calls (see newCall)
	spareData []dataCall        // for Data calls (see newData)
	lastArg   [2]string         // the last MAIL and RCPT arguments (see argString)

	// The raw path's scratch (see idle.go).
	rdBuf     []byte // rawRead's destination
	rdN       int
	rdErr     error
	rdCalled  bool   // readInto was called by this rawRead
	wrBuf     []byte // rawWrite's source, what is left of it
	wrErr     error
	wrCalled  bool // writeFrom was called by this rawWrite
	waitStart mono // when the current wait began, in data mode
}

// getBusy gives c a busy from the pool.
func (c *conn) getBusy() {
	c.busy = c.srv.busies.Get().(*busy)
}

// putBusy gives c's busy back to the pool, forgetting the transaction
// (there is none: the connection is idle or ended) but keeping the
// allocations it can reuse.
func (c *conn) putBusy() {
	b := c.busy
	c.busy = nil
	clear(b.rcpts)
	*b = busy{rcpts: b.rcpts[:0], bdat: b.bdat, spare: b.spare, spareData: b.spareData}
	c.srv.busies.Put(b)
}

func (s *Server) newConn(nc net.Conn, implicitTLS bool) *conn {
	c := &conn{srv: s, cfg: &s.cfg, nc: nc, raw: nc}
	c.getBusy()
	n := s.nextID.Add(1)
	c.pub = Conn{
		id:     s.cfg.idPrefix + "-" + strconv.FormatUint(n, 10),
		srv:    s,
		remote: nc.RemoteAddr(),
		local:  nc.LocalAddr(),
	}
	if _, ok := nc.(*tls.Conn); ok || implicitTLS {
		if !ok {
			nc = tls.Server(nc, s.TLSConfig)
			c.nc = nc
		}
	}
	return c
}

// refuse answers a connection the server does not admit, and closes it.
func (c *conn) refuse(r *reply.Reply) {
	defer c.nc.Close()
	if _, ok := c.nc.(*tls.Conn); ok {
		// No greeting can be read before the handshake; just close.
		return
	}
	if c.srv.closed.Load() {
		return // nothing after Close (see reply)
	}
	c.nc.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	c.nc.Write(r.AppendWire(nil, false))
}

// serve runs the connection to its end.
func (c *conn) serve() { c.run(true) }

// run greets the client (if start is set) and serves commands until the
// session ends, then finishes the connection, unless it was handed off to
// another goroutine (see handOff).
func (c *conn) run(start bool) {
	handedOff := false
	defer func() {
		if !handedOff {
			c.finish()
		}
	}()
	defer c.recoverPanic()
	if !start || c.start() {
		handedOff = c.loop()
	}
}

// errPanic is the reason a connection ended on a recovered panic.
var errPanic = errors.New("smtp server: panic serving the connection")

// recoverPanic is the last line of defence, as in net/http: a panic in
// code the server calls that is not a Session method (a TLS callback such
// as GetCertificate, a log handler) or in the server itself ends this
// connection, logged with its stack, and never the process. Backend and
// Events panics are recovered where they are called, and the connection
// goes on.
func (c *conn) recoverPanic() {
	if p := recover(); p != nil {
		c.logPanic("smtp: panic serving connection", p)
		c.endErr = errPanic
	}
}

// start runs the implicit TLS handshake, makes the backend's session and
// greets the client. It reports whether the session goes on.
func (c *conn) start() bool {
	c.stage.base, c.stage.clock = c.srv.baseCtx, &c.srv.clockBase
	if tc, ok := c.nc.(*tls.Conn); ok {
		// Implicit TLS (RFC 8314 3.3): the handshake comes first.
		if !c.handshake(tc, c.cfg.greetingTimeout) {
			return false
		}
		c.sm = session.NewMachine(session.Options{LMTP: c.srv.LMTP, TLS: true})
	} else {
		c.sm = session.NewMachine(session.Options{LMTP: c.srv.LMTP})
	}
	c.tr = c.getReader()
	c.setRawConn(c.nc)
	c.event(EventConnect)

	// The backend's session.
	var sess Session
	ctx := c.begin(c.cfg.greetingTimeout)
	err := c.call("NewSession", func() error {
		var err error
		sess, err = c.srv.Backend.NewSession(ctx, &c.pub)
		return err
	})
	c.stage.end()
	if err == nil && sess == nil {
		err = errors.New("smtp server: Backend.NewSession returned neither a Session nor an error")
	}
	if err == nil {
		c.sess = sess
		c.reply(c.cfg.canned.greeting)
		return true
	}
	if r := replyOf(err); r != nil && !r.Code.IsPositive() {
		c.reply(r)
		if r.Code == reply.CodeTransactionFailed {
			// RFC 5321 3.1: wait for QUIT, 503 to the rest.
			c.noService = true
			return true
		}
	} else {
		c.logError("NewSession", err)
		c.reply(reply.New(reply.CodeServiceNotAvailable, reply.EnhSystemError(),
			c.cfg.hostname+" Service not available, closing transmission channel"))
	}
	c.flush()
	return false
}

// loop reads and answers commands until the session ends, or until the
// connection is handed off to another goroutine (then it reports true
// and the caller must not touch c any more).
func (c *conn) loop() bool {
	for !c.closing && c.next() {
	}
	if c.handingOff {
		c.handingOff = false
		c.handOff()
		return true
	}
	c.flush()
	return false
}

// next reads and answers one command. It reports whether the session goes
// on.
func (c *conn) next() bool {
	c.cmd, c.verb = session.Unknown, ""
	if c.srv.shutdown.Load() && !c.sm.InTransaction() {
		// Shutdown says 421 to an idle session (RFC 5321 3.8); Close
		// cuts it without a word (see reply).
		c.reply(c.cfg.canned.shutdown)
		return false
	}
	if c.errorPause && !c.commandBuffered() {
		// The client waits for the replies to an error past
		// SoftErrorLimit (the start of its next command, if sent, cannot
		// be answered before the rest): they go out after ErrorDelay.
		c.errorPause = false
		c.pauseReading(c.cfg.errorDelay)
	}
	// The replies queued so far go out when the read waits (see Read).
	line, err := c.readCommand()
	if err == errHandOff {
		c.handingOff = true
		return false
	}
	if err != nil {
		if !c.readFailed(err) {
			return false
		}
	} else {
		if c.srv.Trace != nil {
			c.traceCommand(line, false)
		}
		c.command(line)
	}
	if c.tooManyErrors() {
		c.closeTooManyErrors()
		return false
	}
	return true
}

// closeTooManyErrors says 421 to a client that made too many errors (RFC
// 5321 4.2.2 allows 421 in reply to any command).
func (c *conn) closeTooManyErrors() {
	// Not the reply to the command (a HELO or EHLO, whose reply has no
	// enhanced code): this one has one (RFC 2034 4).
	c.cmd = session.Unknown
	c.reply(c.cfg.canned.tooManyErrors)
	c.logger().Info("smtp: closing connection after too many errors", "errors", c.errors)
}

// tooManyErrors reports whether the connection made MaxErrors errors.
func (c *conn) tooManyErrors() bool {
	return c.cfg.maxErrors > 0 && c.errors >= c.cfg.maxErrors
}

// readCommand reads one command line. MAIL and RCPT may be longer than
// MaxLineLength by ParamLineAllowance (RFC 5321 4.5.3.1.4) and AUTH up to
// textproto.MaxAuthLine (RFC 4954 4); the others are checked against
// MaxLineLength by command.
func (c *conn) readCommand() ([]byte, error) {
	c.cmd, c.verb = session.Unknown, ""
	c.blockTimeout = 0
	if c.deadlineSet {
		// The wait for this command began before a hand-off, or is
		// bounded by the message's data timeout (waitChunk): its
		// deadline stands (RFC 5321 4.5.3.2.7, the whole command).
		c.deadlineSet = false
	} else {
		c.lineDeadline()
	}
	idle := !c.sm.InTransaction()
	setFlag(&c.idle, idle)
	setFlag(&c.cmdWait, idle)
	max := c.cfg.maxLine + ParamLineAllowance
	if max < textproto.MaxAuthLine && c.authOffered() {
		// RFC 4954 4: an AUTH line with its initial response may be up
		// to 12288 octets (OAuth tokens are long).
		max = textproto.MaxAuthLine
	}
	line, err := c.tr.ReadLine(max, c.srv.Policy)
	c.printable = c.tr.Printable()
	setFlag(&c.idle, false)
	setFlag(&c.cmdWait, false)
	if err == nil {
		// Whether this command gets an EventCommand is decided now: its
		// latency starts here.
		if c.cmdEvents = c.wantsNow(wantCommand, &commandEvent); c.cmdEvents {
			c.cmdStart = time.Now()
		}
	}
	return line, err
}

// lineDeadline starts the deadline of the line about to be read, a
// command or an AUTH response: CommandTimeout for the whole line (RFC 5321
// 4.5.3.2.7), set now on the net.Conn path, armed when a read waits on
// the raw path (beginWait), where a deadline set now would be taken back
// by a late interrupt of the sweeper (rawRead puts back the armed one).
func (c *conn) lineDeadline() {
	if c.rc == nil {
		c.setDeadline(c.cfg.commandTimeout)
	} else {
		c.cmdArmed = false
	}
}

// commandEvent stands for the EventCommand of any command when asking
// whether it is wanted (wants); never modified.
var commandEvent = Event{Kind: EventCommand}

// setFlag sets f to v, storing only if it changes (a load costs less than
// a store, which is a locked instruction): pipelined commands inside a
// transaction leave the flags alone.
func setFlag(f *atomic.Bool, v bool) {
	if f.Load() != v {
		f.Store(v)
	}
}

// readFailed handles an error from readCommand. It reports whether the
// session goes on (the caller checks MaxErrors).
func (c *conn) readFailed(err error) bool {
	var tooLong *textproto.LineTooLongError
	var viol *textproto.ViolationError
	switch {
	case errors.As(err, &tooLong):
		// RFC 5321 4.5.3.1.10: 500 and the session goes on; the reader
		// has already skipped the rest of the line.
		c.violation("line too long")
		c.protocolError(c.cfg.canned.lineTooLong)
		return true
	case errors.As(err, &viol):
		c.violation(viol.Kind.String())
		c.protocolError(reply.BadSyntax(viol.Kind.String() + " in command line"))
		return true
	}
	if !errors.Is(err, io.EOF) {
		c.endErr = err
	}
	switch {
	case errors.Is(err, errShutdown):
		c.reply(c.cfg.canned.shutdown) // nothing after Close (see reply)
		c.flush()
		return false
	case isTimeout(err):
		// RFC 5321 4.5.3.2.7: the server may close after its timeout;
		// say so with 421 first (RFC 5321 3.8).
		c.reply(c.cfg.canned.timeout)
		c.flush()
		return false
	}
	// EOF, reset, unexpected EOF: the client is gone.
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// protocolError answers a protocol error and counts it; after MaxErrors
// the connection gets 421 and is closed (see next).
func (c *conn) protocolError(r *reply.Reply) {
	c.countError()
	c.reply(r)
}

// countError counts an error of the client towards MaxErrors (the
// command loop closes the connection when it is reached). Past
// SoftErrorLimit the replies that answer it go out only after ErrorDelay
// (see next), as in Postfix: a client looping on errors, AUTH cancels or
// refused recipients pays a delay for each round trip. A pipelined batch
// of errors waits once, when it has been answered: it makes no round
// trip, and MaxErrors ends it.
func (c *conn) countError() {
	c.errors++
	if c.cfg.errorDelay > 0 && c.cfg.softErrors > 0 && c.errors > c.cfg.softErrors && !c.tooManyErrors() {
		c.errorPause = true
	}
}

// junk counts a command that moves no mail (NOOP, RSET, VRFY, EXPN, HELP,
// a repeated greeting); past MaxJunkCommands each is an error too.
func (c *conn) junk() {
	c.junkCmds++
	if c.cfg.maxJunk > 0 && c.junkCmds > c.cfg.maxJunk {
		c.countError()
	}
}

// refused counts a MAIL, RCPT or VRFY the backend (or a server policy)
// refused as an error, as Postfix does; the server's own failure (the 451 4.3.0
// for a failing backend) is not the client's fault, and a 421 closes the
// connection anyway.
func (c *conn) refused(r *reply.Reply) {
	if r.Code.IsPositive() || r == c.cfg.canned.localError || r.Code == reply.CodeServiceNotAvailable {
		return
	}
	c.countError()
}

// forgive starts the error and junk counts again once a message was
// accepted: MaxErrors counts the errors made without delivering mail.
func (c *conn) forgive() {
	c.errors, c.junkCmds = 0, 0
}

// pause waits d, or until the connection's context ends (Close).
func (c *conn) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.stage.connContext().Done():
	}
}

// pauseReading waits d as pause does, reading what the client sends
// meanwhile (kept for the next commands): a client that has closed its
// side, or whose connection failed, is not waited for, since no reply can
// slow it down any more. Called only when no whole command is buffered
// and nothing is pending (see commandBuffered).
func (c *conn) pauseReading(d time.Duration) {
	end := time.Now().Add(d)
	c.slab = c.srv.slabs.Get().(*[]byte)
	buf := (*c.slab)[:0]
	defer func() {
		c.restoreReadDeadline()
		if len(buf) == 0 {
			c.srv.slabs.Put(c.slab)
			c.slab, c.pend = nil, nil
		} else {
			c.pend = buf
		}
	}()
	for len(buf) < cap(buf) && time.Now().Before(end) {
		c.nc.SetReadDeadline(end)
		n, err := c.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == nil:
			continue
		case isTimeout(err):
			if c.stage.connContext().Err() != nil {
				return // Close
			}
			continue
		}
		c.pendErr = err // EOF, reset, closed: served once the bytes are
		return
	}
	if len(buf) == cap(buf) {
		c.pause(time.Until(end)) // no room for more: just wait
	}
}

// command dispatches one command line.
func (c *conn) command(line []byte) {
	verb, arg := textproto.SplitCommand(line)
	cmd := session.ParseCommand(verb)
	c.cmd, c.verb = cmd, cmd.String()
	if len(line)+2 > c.cfg.maxLine && cmd != session.MAIL && cmd != session.RCPT &&
		(cmd != session.AUTH || len(line)+2 > textproto.MaxAuthLine) {
		// RFC 5321 4.5.3.1.4, 4.5.3.1.10.
		c.violation("line too long")
		c.protocolError(c.cfg.canned.lineTooLong)
		return
	}
	if err := c.checkLine(line); err != nil && len(line) > 0 {
		// RFC 5321 4.1.1, RFC 6531 3.3: control characters, and 8-bit
		// bytes without SMTPUTF8, have no place in a command.
		c.violation(err.Error())
		text := "Invalid character in command"
		var ce *textproto.CommandError
		if errors.As(err, &ce) && ce.Reason != "" {
			text = "Invalid command: " + ce.Reason
		}
		c.protocolError(reply.BadSyntax(text))
		return
	}
	if c.noService && cmd != session.QUIT {
		// RFC 5321 3.1: after a 554 greeting, only QUIT.
		c.protocolError(reply.BadSequence("No SMTP service here"))
		return
	}
	if r := c.sm.Check(cmd); r != nil {
		if cmd == session.BDAT {
			// RFC 3030 2: the chunk's octets follow anyway; skip them.
			if !c.skipChunk(arg) {
				return
			}
		}
		c.protocolError(r)
		return
	}
	switch cmd {
	case session.RSET, session.NOOP, session.VRFY, session.EXPN, session.HELP:
		c.junk()
	case session.HELO, session.EHLO, session.LHLO:
		if c.sm.State() != session.StateConnected {
			c.junk() // a greeting again, without STARTTLS in between
		}
	}
	var r *reply.Reply
	switch cmd {
	case session.HELO, session.EHLO, session.LHLO:
		r = c.cmdHello(cmd, arg)
	case session.MAIL:
		r = c.cmdMail(arg)
	case session.RCPT:
		r = c.cmdRcpt(arg)
	case session.DATA:
		c.cmdData(arg)
		return
	case session.BDAT:
		c.cmdBDAT(arg)
		return
	case session.RSET:
		r = c.cmdRset(arg)
	case session.NOOP:
		r = c.cfg.canned.ok
	case session.QUIT:
		r = c.cmdQuit(arg)
	case session.VRFY:
		r = c.cmdVrfy(arg)
	case session.EXPN:
		r = c.cmdExpn(arg)
	case session.HELP:
		r = c.cmdHelp(arg)
	case session.STARTTLS:
		c.cmdStartTLS(arg)
		return
	case session.AUTH:
		c.cmdAuth(arg)
		return
	default:
		r = reply.CommandUnrecognized()
	}
	if r != nil {
		c.answer(cmd, r)
	}
}

// checkLine is textproto.ValidateCommandLine, which a line of printable
// ASCII that starts with a verb passes without a look: the reader saw
// every byte of it (textproto.Reader.Printable).
func (c *conn) checkLine(line []byte) error {
	if c.printable && len(line) > 0 && line[0] != ' ' {
		return nil
	}
	return textproto.ValidateCommandLine(line, c.srv.EnableSMTPUTF8)
}

// answer sends the reply to a command that was allowed by the state
// machine and moves the machine: Apply on success (2xx, or 354 for
// DATA), Fail otherwise.
func (c *conn) answer(cmd session.Command, r *reply.Reply) {
	c.reply(r) // formatted in the state the command was sent in
	if r.Code.IsPositive() || r.Code.IsIntermediate() {
		c.sm.Apply(cmd)
	} else {
		c.sm.Fail(cmd)
	}
}

// reply queues r for the client. The queue is flushed before the next
// read from the network, so that pipelined commands (RFC 2920) get their
// replies in one write. A 421 closes the connection once it is sent (RFC
// 5321 3.8), whoever chose it.
func (c *conn) reply(r *reply.Reply) {
	enh := c.sm.Extended() && !c.helloCommand()
	wire := c.cfg.wireOf(r, enh) // a canned reply carries its enhanced code
	if enh && wire == nil {
		r = withEnhanced(r)
	}
	if c.silenced || !r.Code.IsPositive() && c.srv.closed.Load() {
		// Close cuts every connection without a word: the error a
		// backend returns because Close cancelled it (a 451), or the
		// 421 of a shutdown, is not answered on a connection about to be
		// cut. An acceptance still goes out if it can, so that the
		// client does not send that message again, but never after a
		// dropped reply: the client reads replies in order (RFC 2920
		// 3.1, one per recipient in LMTP, RFC 2033 4.2), so it must get
		// a prefix of them.
		c.silenced, c.closing = true, true
		return
	}
	if r.Code == reply.CodeServiceNotAvailable {
		c.closing = true
	}
	if c.outp == nil {
		c.outp = c.srv.outs.Get().(*[]byte)
		c.out = (*c.outp)[:0]
	}
	if len(c.out) >= maxQueuedOut {
		// A client pipelining without reading its replies: do not
		// queue without bound.
		c.flush()
	}
	// traced when written (flush)
	if wire != nil {
		c.out = append(c.out, wire...)
	} else {
		c.out = r.AppendWire(c.out, enh)
	}
	if c.verb != "" && c.cmdEvents {
		c.emit(Event{Kind: EventCommand, Command: c.verb, Reply: r, Latency: time.Since(c.cmdStart)})
	}
}

// helloCommand reports whether the current command is the greeting of the
// protocol spoken, whose replies carry no enhanced code (RFC 2034 4; LHLO
// stands for EHLO in LMTP, RFC 2033 4.1). An LHLO in SMTP, or an EHLO in
// LMTP, is an unknown command like any other.
func (c *conn) helloCommand() bool {
	if c.srv.LMTP {
		return c.cmd == session.LHLO
	}
	return c.cmd == session.HELO || c.cmd == session.EHLO
}

// withEnhanced returns r, or a copy of r whose enhanced code is the one
// the wire carries: r.WireEnhanced() (the class follows the reply code,
// RFC 3463 3.1), so that a backend's 452 with EnhMailboxFull() (5.2.2)
// goes out, reaches the events and prints with Error as 4.2.2; and X.0.0
// of its class only when r has no usable enhanced code (a backend's reply
// may lack one). RFC 2034 4: once EHLO was accepted, every 2xx, 4xx and
// 5xx reply carries one, except the greeting and replies to HELO and EHLO;
// 3xx replies carry none.
func withEnhanced(r *reply.Reply) *reply.Reply {
	class := r.Code.Class()
	if class != 2 && class != 4 && class != 5 {
		return r
	}
	enh := r.WireEnhanced()
	if enh.IsZero() {
		enh = reply.Enh(class, 0, 0)
	}
	if enh == r.Enhanced {
		return r
	}
	cp := *r
	cp.Enhanced = enh
	return &cp
}

// maxPooledOut is the largest reply buffer given back to the pool; a
// bigger one (after a large pipelined batch) is dropped.
const maxPooledOut = 4096

// maxQueuedOut bounds the replies queued for a client that pipelines
// without waiting for them (they go out when the next read would wait,
// RFC 2920 3.1).
const maxQueuedOut = 16 << 10

// flush writes the queued replies.
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	var n int
	var err error
	if c.rc != nil {
		n, err = c.rawWrite(c.out) // arms the write deadline if it waits
	} else {
		c.setWriteDeadline(c.cfg.commandTimeout)
		n, err = c.nc.Write(c.out)
	}
	if c.srv.Trace != nil {
		c.traceReplies(n)
	}
	c.out = c.out[:0]
	return err
}

// traceReplies traces the queued replies once the first n octets of them
// were written: those lines as sent, the rest (the write failed) marked
// as not sent, so that the trace never shows a reply the client cannot
// have received.
func (c *conn) traceReplies(n int) {
	sent := bytes.LastIndexByte(c.out[:n], '\n') + 1 // whole lines only
	if sent > 0 {
		c.trace("S: ", c.out[:sent])
	}
	if sent < len(c.out) {
		c.trace("S: [not sent] ", c.out[sent:])
	}
}

// inputBuffered reports whether the client has sent bytes the server has
// read but not yet used: then it is not waiting for the replies queued so
// far, which can go with the next ones (RFC 2920 3.1).
func (c *conn) inputBuffered() bool {
	return c.tr.Buffered() > 0 || len(c.pend) > 0 || c.pendErr != nil
}

// commandBuffered reports whether a whole command of the client is
// waiting to be read (or bytes that pauseReading must not overwrite).
func (c *conn) commandBuffered() bool {
	return c.tr.LineBuffered() || len(c.pend) > 0 || c.pendErr != nil
}

// releaseOut gives the (flushed) reply buffer back to the pool, so an idle
// connection holds none.
func (c *conn) releaseOut() {
	if c.outp == nil {
		return
	}
	if cap(c.out) <= maxPooledOut {
		*c.outp = c.out[:0]
		c.srv.outs.Put(c.outp)
	}
	c.outp, c.out = nil, nil
}

// Read is what the textproto.Reader reads from: it flushes the queued
// replies only when the read would block (so one write answers a whole
// pipelined batch, RFC 2920 3.1), sets the read deadline of the current
// stage, and lets Shutdown interrupt an idle wait.
func (c *conn) Read(p []byte) (int, error) {
	c.wantKnown = 0 // ask the event filters again (see EventFilter)
	if c.pend != nil {
		return c.readPending(p), nil
	}
	if err := c.pendErr; err != nil {
		return 0, err // found by pauseReading or waitIdle
	}
	if c.rc != nil {
		return c.rawRead(p)
	}
	// TLS: no way to know whether the read would block.
	if err := c.flush(); err != nil {
		return 0, err
	}
	for {
		var start time.Time
		if t := c.blockTimeout; t > 0 {
			// RFC 5321 4.5.3.2.5: each block of data within 3 minutes.
			// The time spent waiting counts until dataProgress bytes
			// have come, so that a client trickling a byte now and then
			// cannot hold the connection for ever; the backend's own
			// time between reads does not count.
			c.setDeadline(max(t-c.dataWaited, time.Millisecond))
			start = time.Now()
		}
		idle := c.idle.Load()
		if idle && c.srv.shutdown.Load() {
			return 0, errShutdown
		}
		n, err := c.nc.Read(p)
		if !start.IsZero() {
			c.dataWaited += time.Since(start)
			c.countData(n)
		}
		if err != nil && isTimeout(err) && c.srv.shutdown.Load() && c.interrupted() {
			// Shutdown interrupted the wait.
			if idle && n == 0 {
				return 0, errShutdown
			}
			if n == 0 {
				// Busy: the transaction goes on, under its real
				// deadline.
				c.restoreReadDeadline()
				continue
			}
			err = nil
		}
		return n, err
	}
}

// startData switches reads to message data: a deadline per block of data
// (RFC 5321 4.5.3.2.5) instead of one per command line.
func (c *conn) startData() {
	c.blockTimeout = c.cfg.dataBlockTimeout
	c.dataWaited, c.dataProgress = 0, 0
}

// dataProgress is how much message data must come within each
// DataBlockTimeout of waiting. Any real sender sends this much in far less
// time; a client that sends less is holding the connection, not sending
// mail.
const dataProgress = 1024

// deadlineSlack: a deadline is moved only when the new one is later than
// the current one by more than timeout/deadlineSlack. Moving a deadline
// costs a runtime timer update; with the slack a busy connection updates
// it rarely instead of on every command, and a timeout is still never
// shorter than (1 - 1/deadlineSlack) of its setting.
const deadlineSlack = 16

// setDeadline sets the read deadline t from now (none for t <= 0).
func (c *conn) setDeadline(t time.Duration) {
	c.armRead(c.srv.clock(), t)
}

// setWriteDeadline sets the write deadline t from now (unchanged for t <=
// 0).
func (c *conn) setWriteDeadline(t time.Duration) {
	if t <= 0 {
		return
	}
	if d, ok := moveDeadline(c.srv.clock(), c.wdeadline, t); ok {
		c.setWriteDeadlineAt(d)
	}
}

// moveDeadline returns the deadline t from now, and whether it is worth
// replacing cur with it (see deadlineSlack).
func moveDeadline(now, cur mono, t time.Duration) (mono, bool) {
	d := now + mono(t)
	if cur != 0 && d-cur < mono(t/deadlineSlack) && d >= cur {
		return cur, false
	}
	return d, true
}

// interruptIdle makes a goroutine waiting for a command outside a
// transaction return from its read, for Shutdown.
func (c *conn) interruptIdle() {
	if c.parked.Load() {
		c.srv.unwatchConn(c)
		c.unpark(errShutdown)
		return
	}
	if c.idle.Load() {
		c.raw.SetReadDeadline(time.Unix(1, 0))
	}
}

// finish ends the connection.
func (c *conn) finish() {
	// Last, even if what comes first panics, so that Shutdown returns
	// only once every connection is done with the backend and the events.
	defer c.srv.release(c)
	if c.srv.Trace != nil && len(c.out) > 0 {
		c.guard(func() { c.traceReplies(0) }) // queued, never written (a panic cut the loop)
	}
	if c.sess != nil {
		if c.sm.InTransaction() {
			ctx := c.begin(c.cfg.commandTimeout)
			c.call("Reset", func() error { c.sess.Reset(ctx); return nil })
			c.stage.end()
		}
		ctx := c.begin(c.cfg.commandTimeout)
		err := c.call("Logout", func() error { return c.sess.Logout(ctx) })
		c.stage.end()
		if err != nil {
			c.guard(func() { c.logError("Logout", err) })
		}
	}
	c.stage.closeConn(errConnClosed) // before the socket, as Close does
	c.nc.Close()
	c.putReader()
	c.releaseOut()
	if c.slab != nil {
		c.srv.slabs.Put(c.slab)
		c.slab, c.pend = nil, nil
	}
	c.emit(Event{Kind: EventDisconnect, Err: c.endErr})
	c.putBusy()
}

// guard runs f, part of finish, recovering a panic (of a log handler or
// the Trace writer): recoverPanic has run already, and the socket must
// still be closed and the connection released.
func (c *conn) guard(f func()) {
	defer func() {
		if p := recover(); p != nil {
			c.logPanic("smtp: panic ending the connection", p)
		}
	}()
	f()
}

// call runs a backend method, turning a panic into an error that is
// logged with its stack.
func (c *conn) call(method string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.logPanic("smtp: backend panic", p, "method", method)
			err = errBackendPanic
		}
	}()
	return f()
}

// errBackendPanic stands for a recovered panic of the backend.
var errBackendPanic = errors.New("smtp server: backend panic")

// backendReply turns a backend error into the reply for the client: a
// *reply.Reply as it is, anything else a logged 451 4.3.0.
func (c *conn) backendReply(method string, err error) *reply.Reply {
	if r := replyOf(err); r != nil {
		return r
	}
	if err != errBackendPanic {
		c.logError(method, err)
	}
	return c.cfg.canned.localError
}

// replyOf returns the *reply.Reply in err if it is one the server can send
// as a final answer: a valid 2xx, 4xx or 5xx code. A 3xx would make the
// client send what the server does not expect (RFC 5321 4.2.1: 354 and
// 334 are the server's own, after DATA and AUTH), so it counts as a plain
// error.
func replyOf(err error) *reply.Reply {
	var r *reply.Reply
	if errors.As(err, &r) && r != nil && r.Code.Valid() && !r.Code.IsIntermediate() {
		return r
	}
	return nil
}

func (c *conn) logError(method string, err error) {
	c.logger().Error("smtp: backend error", "method", method, "err", err)
}

// handshake runs the server side of a TLS handshake and records its
// result. It reports success.
func (c *conn) handshake(tc *tls.Conn, timeout time.Duration) bool {
	if timeout > 0 {
		tc.SetDeadline(time.Now().Add(timeout))
	}
	// No transaction is open: Shutdown may interrupt the handshake (the
	// deadline is set first, so that interruptIdle's wins; see waitIdle).
	c.idle.Store(true)
	var err error
	if c.srv.shutdown.Load() {
		err = errShutdown
	} else {
		err = tc.HandshakeContext(c.stage.connContext())
	}
	c.idle.Store(false)
	tc.SetDeadline(time.Time{})
	c.deadline, c.wdeadline = 0, 0
	if err != nil {
		c.emit(Event{Kind: EventTLS, Err: err})
		return false
	}
	st := tc.ConnectionState()
	c.pub.setTLS(&st)
	c.emit(Event{Kind: EventTLS, TLS: &st})
	return true
}
