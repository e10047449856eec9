package session

import "github.com/smtpkit/smtp/reply"

// State is where a session stands. The zero value is StateConnected.
type State uint8

// The session states (RFC 5321 4.1.4, 3.3; RFC 3030 2).
const (
	// StateConnected: the greeting was sent, no HELO/EHLO/LHLO accepted
	// yet; also the state after a successful STARTTLS (RFC 3207 4.2).
	StateConnected State = iota
	// StateGreeted: HELO, EHLO or LHLO accepted, no mail transaction.
	StateGreeted
	// StateMail: MAIL accepted, no RCPT accepted yet.
	StateMail
	// StateRcpt: MAIL and at least one RCPT accepted.
	StateRcpt
	// StateData: DATA got 354; the message is being transferred and no
	// command can be sent until the message is answered.
	StateData
	// StateBDAT: at least one BDAT chunk without LAST was accepted
	// (RFC 3030 2); more chunks, ending with BDAT LAST, must follow.
	StateBDAT
	// StateClosed: QUIT was accepted or the connection is being closed.
	StateClosed

	numStates // number of State values, for tests
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateConnected:
		return "Connected"
	case StateGreeted:
		return "Greeted"
	case StateMail:
		return "Mail"
	case StateRcpt:
		return "Rcpt"
	case StateData:
		return "Data"
	case StateBDAT:
		return "BDAT"
	case StateClosed:
		return "Closed"
	}
	return "State(?)"
}

// Options configure a Machine.
type Options struct {
	// LMTP selects LMTP (RFC 2033): LHLO replaces HELO and EHLO.
	LMTP bool
	// TLS says the connection is already protected by TLS (implicit TLS,
	// RFC 8314 3), so STARTTLS is refused.
	TLS bool
}

// flags of a Machine.
type flags uint8

const (
	flagTLS       flags = 1 << iota // TLS is active
	flagAuth                        // AUTH succeeded
	flagLMTP                        // LMTP mode
	flagExtended                    // greeted with EHLO or LHLO rather than HELO
	flagRcptTried                   // a RCPT was refused in this transaction
)

// Machine is the state of one SMTP or LMTP session, seen from either side.
// The zero value is an SMTP session in StateConnected without TLS. A
// Machine is a small value: copy it to try a move without committing (a
// pipelining client can predict the state after a batch of commands).
//
// The server calls Check before acting on a command and sends the reply
// it returns, if any; once the command was answered it calls Apply when
// it succeeded, Fail when it was refused. The client does the same around
// each command it sends, using Check's reply as the error it returns
// without writing anything.
type Machine struct {
	state State
	flags flags
}

// NewMachine returns a Machine in StateConnected configured by o.
func NewMachine(o Options) Machine {
	var m Machine
	if o.LMTP {
		m.flags |= flagLMTP
	}
	if o.TLS {
		m.flags |= flagTLS
	}
	return m
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// TLS reports whether TLS is active (implicit TLS or STARTTLS succeeded).
func (m *Machine) TLS() bool { return m.flags&flagTLS != 0 }

// Authenticated reports whether AUTH succeeded in this session. STARTTLS
// clears it (RFC 3207 4.2).
func (m *Machine) Authenticated() bool { return m.flags&flagAuth != 0 }

// LMTP reports whether the session is LMTP (RFC 2033).
func (m *Machine) LMTP() bool { return m.flags&flagLMTP != 0 }

// Extended reports whether the client greeted with EHLO or LHLO, so that
// service extensions are in effect, rather than with HELO (RFC 5321 2.2.1).
func (m *Machine) Extended() bool { return m.flags&flagExtended != 0 }

// InTransaction reports whether a mail transaction is open: MAIL was
// accepted and the message has not been answered yet (StateMail,
// StateRcpt, StateData or StateBDAT).
func (m *Machine) InTransaction() bool {
	switch m.state {
	case StateMail, StateRcpt, StateData, StateBDAT:
		return true
	}
	return false
}

// hasFlag reports whether f is set.
func (m *Machine) hasFlag(f flags) bool { return m.flags&f != 0 }

// greetFirst is the reply to a command that needs HELO/EHLO (or LHLO) first.
func (m *Machine) greetFirst() *reply.Reply {
	if m.hasFlag(flagLMTP) {
		return reply.BadSequence("Send LHLO first")
	}
	return reply.BadSequence("Send EHLO or HELO first")
}

// ehloFirst is the reply to an extension command sent before EHLO/LHLO.
func (m *Machine) ehloFirst() *reply.Reply {
	if m.hasFlag(flagLMTP) {
		return reply.BadSequence("Send LHLO first")
	}
	return reply.BadSequence("Send EHLO first")
}

// noRecipients is the reply to DATA or BDAT after MAIL without an
// accepted RCPT: 554 when RCPTs were sent and all refused, 503 when none
// was sent (RFC 5321 3.3: "no valid recipients" or "command out of
// sequence"). LMTP has 503 for both (RFC 2033 4.2: MUST).
func (m *Machine) noRecipients(cmd Command) *reply.Reply {
	if m.hasFlag(flagRcptTried) {
		if m.hasFlag(flagLMTP) {
			return reply.BadSequence("No valid recipients")
		}
		return reply.NoValidRecipients()
	}
	return reply.BadSequence("Need RCPT before " + cmd.String())
}

// Check reports whether cmd may be sent now. It returns nil if so, or the
// reply that refuses it: 503 5.5.1 with the reason for a command out of
// sequence, 554 5.5.1 for DATA or BDAT when every recipient was refused
// (503 in LMTP), 500 for an unknown command (and for HELO/EHLO in LMTP,
// LHLO in SMTP).
// Check does not change the Machine.
//
// A server that refuses BDAT must still read the chunk's octets to stay
// in step with the client (RFC 3030 2).
func (m *Machine) Check(cmd Command) *reply.Reply {
	switch m.state {
	case StateClosed:
		return reply.BadSequence("Session closed")
	case StateData:
		// No command can arrive while the message is transferred; the
		// client must wait for the reply to the end of data (RFC 5321
		// 4.1.1.4).
		return reply.BadSequence("Message data in progress")
	}
	lmtp := m.hasFlag(flagLMTP)
	switch cmd {
	case HELO, EHLO:
		if lmtp {
			// RFC 2033 4.1: LMTP replaces HELO and EHLO with LHLO.
			return reply.New(reply.CodeSyntaxError, reply.EnhInvalidCommand(), "This is an LMTP server: use LHLO")
		}
		// RFC 5321 4.1.4: EHLO/HELO may be sent again at any time;
		// it resets the session like RSET.
		return nil
	case LHLO:
		if !lmtp {
			// LHLO exists only in LMTP (RFC 2033 4.1); in SMTP it is
			// an unrecognized command (RFC 5321 4.2.4).
			return reply.CommandUnrecognized()
		}
		return nil
	case NOOP, RSET, VRFY, EXPN, HELP, QUIT:
		// RFC 5321 4.1.4: NOOP, HELP, EXPN, VRFY and RSET can be used at
		// any time, even before EHLO; QUIT likewise (4.1.1.10).
		return nil
	case MAIL:
		switch m.state {
		case StateConnected:
			// RFC 5321 4.1.4: a client MUST issue HELO or EHLO before
			// starting a mail transaction.
			return m.greetFirst()
		case StateGreeted:
			return nil
		}
		// RFC 5321 4.1.1.2, 3.3: one transaction at a time; RSET ends it.
		return reply.BadSequence("Nested MAIL command: send RSET first")
	case RCPT:
		switch m.state {
		case StateConnected:
			return m.greetFirst()
		case StateGreeted:
			// RFC 5321 3.3: RCPT follows MAIL.
			return reply.BadSequence("Need MAIL before RCPT")
		case StateMail, StateRcpt:
			return nil
		}
		// Recipients come before the message data (RFC 5321 3.3,
		// RFC 3030 2).
		return reply.BadSequence("RCPT not allowed after BDAT")
	case DATA:
		switch m.state {
		case StateConnected:
			return m.greetFirst()
		case StateGreeted:
			return reply.BadSequence("Need MAIL before DATA")
		case StateMail:
			return m.noRecipients(DATA)
		case StateRcpt:
			return nil
		}
		// RFC 3030 2: DATA and BDAT cannot be mixed in one transaction;
		// DATA after BDAT gets 503.
		return reply.BadSequence("DATA not allowed after BDAT: send RSET first")
	case BDAT:
		switch m.state {
		case StateConnected:
			return m.ehloFirst()
		case StateGreeted:
			return reply.BadSequence("Need MAIL before BDAT")
		case StateMail:
			return m.noRecipients(BDAT)
		}
		// RFC 3030 2: BDAT follows RCPT, or a previous BDAT of the same
		// transaction.
		return nil // StateRcpt, StateBDAT
	case STARTTLS:
		if m.hasFlag(flagTLS) {
			// RFC 3207 4.2: STARTTLS is not offered once TLS is active,
			// and a client must not try to start a second TLS session.
			return reply.BadSequence("TLS already active")
		}
		if m.state == StateConnected {
			// RFC 3207 4: STARTTLS is an EHLO keyword.
			return m.ehloFirst()
		}
		if m.state != StateGreeted {
			// The handshake resets the session (RFC 3207 4.2) and
			// would silently drop the open transaction; refuse it so
			// the loss is explicit.
			return reply.BadSequence("STARTTLS not allowed during a mail transaction")
		}
		return nil
	case AUTH:
		if m.state == StateConnected {
			// RFC 4954 3: AUTH is an EHLO keyword.
			return m.ehloFirst()
		}
		if m.hasFlag(flagAuth) {
			// RFC 4954 4: after a successful AUTH, further AUTH
			// commands get 503.
			return reply.BadSequence("Already authenticated")
		}
		if m.state != StateGreeted {
			// RFC 4954 4: AUTH is not permitted during a mail
			// transaction and MUST be rejected with 503.
			return reply.BadSequence("AUTH not permitted during a mail transaction")
		}
		return nil
	}
	// RFC 5321 4.2.4: an unrecognized command gets 500.
	return reply.CommandUnrecognized()
}

// Apply records that cmd was accepted (a 2xx reply, or 354 to DATA) and
// moves the machine. Call it only for a command Check allowed. For BDAT it
// records a chunk without LAST; use ApplyBDAT(true) or EndMessage for the
// last chunk.
func (m *Machine) Apply(cmd Command) {
	switch cmd {
	case HELO:
		// RFC 5321 4.1.4: HELO/EHLO resets the state exactly like RSET.
		m.state = StateGreeted
		m.flags &^= flagExtended | flagRcptTried
	case EHLO, LHLO:
		// RFC 5321 4.1.4 (RFC 2033 4.1 for LHLO): the same reset as
		// HELO; an EHLO session may use the extensions (RFC 5321 2.2.1).
		m.state = StateGreeted
		m.flags = (m.flags | flagExtended) &^ flagRcptTried
	case MAIL:
		// RFC 5321 4.1.1.2: MAIL starts a new transaction.
		m.state = StateMail
		m.flags &^= flagRcptTried
	case RCPT:
		m.state = StateRcpt
	case DATA:
		// RFC 5321 4.1.1.4: after 354 the client sends the message.
		m.state = StateData
	case BDAT:
		m.ApplyBDAT(false)
	case RSET:
		// RFC 5321 4.1.1.5: RSET aborts the transaction; the greeting
		// stays.
		if m.state != StateConnected {
			m.state = StateGreeted
		}
		m.flags &^= flagRcptTried
	case QUIT:
		// RFC 5321 4.1.1.10: the server closes after its 221 reply.
		m.state = StateClosed
	case STARTTLS:
		// RFC 3207 4.2: after the handshake both sides discard what
		// they knew (EHLO argument, authentication, transaction) and
		// the session restarts as after the greeting.
		m.state = StateConnected
		m.flags = (m.flags | flagTLS) &^ (flagAuth | flagExtended | flagRcptTried)
	case AUTH:
		// RFC 4954 4: authentication lasts for the session; it does
		// not change the state.
		m.flags |= flagAuth
	}
	// NOOP, VRFY, EXPN, HELP, Unknown: no change (RFC 5321 4.1.1.6-9).
}

// ApplyBDAT records that a BDAT chunk was accepted (RFC 3030 2). After the
// LAST chunk the message has been answered and the transaction is over.
func (m *Machine) ApplyBDAT(last bool) {
	if last {
		m.EndMessage()
		return
	}
	m.state = StateBDAT
}

// EndMessage records that the message was answered, whether accepted or
// refused: after the end of DATA, or the reply to BDAT LAST. The
// transaction is over either way (RFC 5321 4.1.1.4: the buffers are
// cleared; RFC 3030 2), and LMTP's per-recipient replies (RFC 2033 4.2)
// change nothing to that.
func (m *Machine) EndMessage() {
	m.state = StateGreeted
	m.flags &^= flagRcptTried
}

// Fail records that cmd, allowed by Check, was refused by the peer (a 4xx
// or 5xx reply).
//
//   - RCPT: the state is unchanged, but DATA or BDAT without any accepted
//     recipient will get 554 "No valid recipients" (RFC 5321 3.3; 503 in
//     LMTP, RFC 2033 4.2).
//   - BDAT: the transaction failed (RFC 3030 2: the client must not send
//     more chunks); back to StateGreeted. Chunks already pipelined then
//     get 503 and are discarded.
//   - DATA refused before 354, MAIL, HELO/EHLO/LHLO, STARTTLS, AUTH and
//     the others: no change; a refused command leaves the session as it
//     was (a refused MAIL opens no transaction, RFC 5321 3.3).
func (m *Machine) Fail(cmd Command) {
	switch cmd {
	case RCPT:
		m.flags |= flagRcptTried
	case BDAT:
		if m.state == StateRcpt || m.state == StateBDAT {
			m.EndMessage()
		}
	}
}

// Close moves the machine to StateClosed, for example after a 421 reply
// (RFC 5321 3.8) or a network error.
func (m *Machine) Close() { m.state = StateClosed }
