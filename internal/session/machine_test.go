package session

import (
	"testing"

	"github.com/smtpkit/smtp/reply"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Verdicts in the transition table.
const (
	ok  = ""    // allowed
	bad = "503" // bad sequence
	unk = "500" // unrecognized
)

// transition is one row of the table: in state from, cmd gets verdict,
// and when allowed, Apply(cmd) leads to state to.
type transition struct {
	from    State
	cmd     Command
	verdict string
	to      State
}

// smtpTable lists every (state, command) pair for an SMTP session without
// TLS or authentication.
var smtpTable = []transition{
	// StateConnected: only HELO/EHLO and the anytime commands (RFC 5321 4.1.4).
	{StateConnected, Unknown, unk, 0},
	{StateConnected, HELO, ok, StateGreeted},
	{StateConnected, EHLO, ok, StateGreeted},
	{StateConnected, LHLO, unk, 0},
	{StateConnected, MAIL, bad, 0},
	{StateConnected, RCPT, bad, 0},
	{StateConnected, DATA, bad, 0},
	{StateConnected, BDAT, bad, 0},
	{StateConnected, RSET, ok, StateConnected},
	{StateConnected, NOOP, ok, StateConnected},
	{StateConnected, QUIT, ok, StateClosed},
	{StateConnected, VRFY, ok, StateConnected},
	{StateConnected, EXPN, ok, StateConnected},
	{StateConnected, HELP, ok, StateConnected},
	{StateConnected, STARTTLS, bad, 0},
	{StateConnected, AUTH, bad, 0},

	// StateGreeted.
	{StateGreeted, Unknown, unk, 0},
	{StateGreeted, HELO, ok, StateGreeted},
	{StateGreeted, EHLO, ok, StateGreeted},
	{StateGreeted, LHLO, unk, 0},
	{StateGreeted, MAIL, ok, StateMail},
	{StateGreeted, RCPT, bad, 0},
	{StateGreeted, DATA, bad, 0},
	{StateGreeted, BDAT, bad, 0},
	{StateGreeted, RSET, ok, StateGreeted},
	{StateGreeted, NOOP, ok, StateGreeted},
	{StateGreeted, QUIT, ok, StateClosed},
	{StateGreeted, VRFY, ok, StateGreeted},
	{StateGreeted, EXPN, ok, StateGreeted},
	{StateGreeted, HELP, ok, StateGreeted},
	{StateGreeted, STARTTLS, ok, StateConnected},
	{StateGreeted, AUTH, ok, StateGreeted},

	// StateMail: MAIL accepted, no recipient yet.
	{StateMail, Unknown, unk, 0},
	{StateMail, HELO, ok, StateGreeted},
	{StateMail, EHLO, ok, StateGreeted},
	{StateMail, LHLO, unk, 0},
	{StateMail, MAIL, bad, 0},
	{StateMail, RCPT, ok, StateRcpt},
	{StateMail, DATA, bad, 0},
	{StateMail, BDAT, bad, 0},
	{StateMail, RSET, ok, StateGreeted},
	{StateMail, NOOP, ok, StateMail},
	{StateMail, QUIT, ok, StateClosed},
	{StateMail, VRFY, ok, StateMail},
	{StateMail, EXPN, ok, StateMail},
	{StateMail, HELP, ok, StateMail},
	{StateMail, STARTTLS, bad, 0},
	{StateMail, AUTH, bad, 0},

	// StateRcpt: at least one recipient.
	{StateRcpt, Unknown, unk, 0},
	{StateRcpt, HELO, ok, StateGreeted},
	{StateRcpt, EHLO, ok, StateGreeted},
	{StateRcpt, LHLO, unk, 0},
	{StateRcpt, MAIL, bad, 0},
	{StateRcpt, RCPT, ok, StateRcpt},
	{StateRcpt, DATA, ok, StateData},
	{StateRcpt, BDAT, ok, StateBDAT},
	{StateRcpt, RSET, ok, StateGreeted},
	{StateRcpt, NOOP, ok, StateRcpt},
	{StateRcpt, QUIT, ok, StateClosed},
	{StateRcpt, VRFY, ok, StateRcpt},
	{StateRcpt, EXPN, ok, StateRcpt},
	{StateRcpt, HELP, ok, StateRcpt},
	{StateRcpt, STARTTLS, bad, 0},
	{StateRcpt, AUTH, bad, 0},

	// StateData: nothing until the message is answered.
	{StateData, Unknown, bad, 0},
	{StateData, HELO, bad, 0},
	{StateData, EHLO, bad, 0},
	{StateData, LHLO, bad, 0},
	{StateData, MAIL, bad, 0},
	{StateData, RCPT, bad, 0},
	{StateData, DATA, bad, 0},
	{StateData, BDAT, bad, 0},
	{StateData, RSET, bad, 0},
	{StateData, NOOP, bad, 0},
	{StateData, QUIT, bad, 0},
	{StateData, VRFY, bad, 0},
	{StateData, EXPN, bad, 0},
	{StateData, HELP, bad, 0},
	{StateData, STARTTLS, bad, 0},
	{StateData, AUTH, bad, 0},

	// StateBDAT: between chunks (RFC 3030 2).
	{StateBDAT, Unknown, unk, 0},
	{StateBDAT, HELO, ok, StateGreeted},
	{StateBDAT, EHLO, ok, StateGreeted},
	{StateBDAT, LHLO, unk, 0},
	{StateBDAT, MAIL, bad, 0},
	{StateBDAT, RCPT, bad, 0},
	{StateBDAT, DATA, bad, 0},
	{StateBDAT, BDAT, ok, StateBDAT},
	{StateBDAT, RSET, ok, StateGreeted},
	{StateBDAT, NOOP, ok, StateBDAT},
	{StateBDAT, QUIT, ok, StateClosed},
	{StateBDAT, VRFY, ok, StateBDAT},
	{StateBDAT, EXPN, ok, StateBDAT},
	{StateBDAT, HELP, ok, StateBDAT},
	{StateBDAT, STARTTLS, bad, 0},
	{StateBDAT, AUTH, bad, 0},

	// StateClosed: nothing.
	{StateClosed, Unknown, bad, 0},
	{StateClosed, HELO, bad, 0},
	{StateClosed, EHLO, bad, 0},
	{StateClosed, LHLO, bad, 0},
	{StateClosed, MAIL, bad, 0},
	{StateClosed, RCPT, bad, 0},
	{StateClosed, DATA, bad, 0},
	{StateClosed, BDAT, bad, 0},
	{StateClosed, RSET, bad, 0},
	{StateClosed, NOOP, bad, 0},
	{StateClosed, QUIT, bad, 0},
	{StateClosed, VRFY, bad, 0},
	{StateClosed, EXPN, bad, 0},
	{StateClosed, HELP, bad, 0},
	{StateClosed, STARTTLS, bad, 0},
	{StateClosed, AUTH, bad, 0},
}

// lmtpTable lists the rows that differ in LMTP (RFC 2033 4.1): LHLO
// replaces HELO and EHLO. Every other pair is as in smtpTable.
var lmtpTable = []transition{
	{StateConnected, HELO, unk, 0},
	{StateConnected, EHLO, unk, 0},
	{StateConnected, LHLO, ok, StateGreeted},
	{StateGreeted, HELO, unk, 0},
	{StateGreeted, EHLO, unk, 0},
	{StateGreeted, LHLO, ok, StateGreeted},
	{StateMail, HELO, unk, 0},
	{StateMail, EHLO, unk, 0},
	{StateMail, LHLO, ok, StateGreeted},
	{StateRcpt, HELO, unk, 0},
	{StateRcpt, EHLO, unk, 0},
	{StateRcpt, LHLO, ok, StateGreeted},
	{StateBDAT, HELO, unk, 0},
	{StateBDAT, EHLO, unk, 0},
	{StateBDAT, LHLO, ok, StateGreeted},
}

func runTable(t *testing.T, name string, base flags, table []transition) {
	for _, tt := range table {
		t.Run(name+"/"+tt.from.String()+"/"+tt.cmd.String(), func(t *testing.T) {
			m := Machine{state: tt.from, flags: base}
			r := m.Check(tt.cmd)
			assert.Equal(t, tt.from, m.State(), "Check must not move the machine")
			if tt.verdict != ok {
				require.NotNil(t, r, "want %s", tt.verdict)
				assert.Equal(t, tt.verdict, r.Code.String(), r.Error())
				assert.True(t, r.Permanent())
				assert.Equal(t, 5, r.Enhanced.Class)
				assert.Equal(t, 5, r.Enhanced.Subject, "sequence and syntax errors are X.5.x")
				require.NotEmpty(t, r.Lines)
				assert.NotEmpty(t, r.Lines[0])
				return
			}
			require.Nil(t, r, "want allowed, got %v", r)
			m.Apply(tt.cmd)
			assert.Equal(t, tt.to, m.State())
		})
	}
}

func TestTransitionTableSMTP(t *testing.T) {
	require.Len(t, smtpTable, int(numStates)*int(numCommands), "every (state, command) pair")
	seen := map[[2]int]bool{}
	for _, tt := range smtpTable {
		k := [2]int{int(tt.from), int(tt.cmd)}
		require.False(t, seen[k], "duplicate row %v %v", tt.from, tt.cmd)
		seen[k] = true
	}
	runTable(t, "smtp", 0, smtpTable)
}

func TestTransitionTableLMTP(t *testing.T) {
	table := make([]transition, 0, len(smtpTable))
	override := map[[2]int]transition{}
	for _, tt := range lmtpTable {
		override[[2]int{int(tt.from), int(tt.cmd)}] = tt
	}
	for _, tt := range smtpTable {
		if o, ok := override[[2]int{int(tt.from), int(tt.cmd)}]; ok {
			tt = o
		}
		table = append(table, tt)
	}
	runTable(t, "lmtp", flagLMTP, table)
}

func TestReplyTexts(t *testing.T) {
	tests := []struct {
		name string
		m    Machine
		cmd  Command
		code reply.Code
		text string
	}{
		{"MAIL before EHLO", Machine{}, MAIL, 503, "Send EHLO or HELO first"},
		{"MAIL before LHLO", NewMachine(Options{LMTP: true}), MAIL, 503, "Send LHLO first"},
		{"RCPT before MAIL", Machine{state: StateGreeted}, RCPT, 503, "Need MAIL before RCPT"},
		{"DATA before MAIL", Machine{state: StateGreeted}, DATA, 503, "Need MAIL before DATA"},
		{"DATA before RCPT", Machine{state: StateMail}, DATA, 503, "Need RCPT before DATA"},
		{"BDAT before RCPT", Machine{state: StateMail}, BDAT, 503, "Need RCPT before BDAT"},
		{"DATA all RCPT refused", Machine{state: StateMail, flags: flagRcptTried}, DATA, 554, "No valid recipients"},
		{"BDAT all RCPT refused", Machine{state: StateMail, flags: flagRcptTried}, BDAT, 554, "No valid recipients"},
		{"LMTP DATA all RCPT refused", Machine{state: StateMail, flags: flagRcptTried | flagLMTP}, DATA, 503, "No valid recipients"},
		{"LMTP BDAT all RCPT refused", Machine{state: StateMail, flags: flagRcptTried | flagLMTP}, BDAT, 503, "No valid recipients"},
		{"nested MAIL", Machine{state: StateRcpt}, MAIL, 503, "Nested MAIL command: send RSET first"},
		{"DATA after BDAT", Machine{state: StateBDAT}, DATA, 503, "DATA not allowed after BDAT: send RSET first"},
		{"RCPT after BDAT", Machine{state: StateBDAT}, RCPT, 503, "RCPT not allowed after BDAT"},
		{"STARTTLS twice", Machine{state: StateGreeted, flags: flagTLS}, STARTTLS, 503, "TLS already active"},
		{"STARTTLS implicit TLS", Machine{state: StateConnected, flags: flagTLS}, STARTTLS, 503, "TLS already active"},
		{"STARTTLS before EHLO", Machine{}, STARTTLS, 503, "Send EHLO first"},
		{"STARTTLS in transaction", Machine{state: StateMail}, STARTTLS, 503, "STARTTLS not allowed during a mail transaction"},
		{"AUTH twice", Machine{state: StateGreeted, flags: flagAuth}, AUTH, 503, "Already authenticated"},
		{"AUTH in transaction", Machine{state: StateRcpt}, AUTH, 503, "AUTH not permitted during a mail transaction"},
		{"AUTH before EHLO", Machine{}, AUTH, 503, "Send EHLO first"},
		{"BDAT before EHLO", Machine{}, BDAT, 503, "Send EHLO first"},
		{"LHLO in SMTP", Machine{}, LHLO, 500, "Command unrecognized"},
		{"EHLO in LMTP", NewMachine(Options{LMTP: true}), EHLO, 500, "This is an LMTP server: use LHLO"},
		{"unknown", Machine{state: StateGreeted}, Unknown, 500, "Command unrecognized"},
		{"during DATA", Machine{state: StateData}, NOOP, 503, "Message data in progress"},
		{"after QUIT", Machine{state: StateClosed}, NOOP, 503, "Session closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.m.Check(tt.cmd)
			require.NotNil(t, r)
			assert.Equal(t, tt.code, r.Code)
			assert.Equal(t, []string{tt.text}, r.Lines)
			var err error = r // usable as a client-side error
			assert.Contains(t, err.Error(), tt.text)
		})
	}
}

func TestFlags(t *testing.T) {
	m := NewMachine(Options{})
	assert.False(t, m.TLS())
	assert.False(t, m.LMTP())
	assert.False(t, m.Extended())
	assert.False(t, m.Authenticated())

	m.Apply(HELO)
	assert.False(t, m.Extended(), "HELO is not extended")
	m.Apply(EHLO)
	assert.True(t, m.Extended())
	m.Apply(HELO)
	assert.False(t, m.Extended(), "HELO after EHLO forgets the extensions")
	m.Apply(EHLO)

	m.Apply(AUTH)
	assert.True(t, m.Authenticated())
	assert.Equal(t, StateGreeted, m.State(), "AUTH does not move the state")

	// RFC 3207 4.2: STARTTLS forgets EHLO and authentication.
	m.Apply(STARTTLS)
	assert.Equal(t, StateConnected, m.State())
	assert.True(t, m.TLS())
	assert.False(t, m.Authenticated())
	assert.False(t, m.Extended())
	assert.NotNil(t, m.Check(MAIL), "EHLO again after STARTTLS")
	m.Apply(EHLO)
	assert.NotNil(t, m.Check(STARTTLS))
	assert.Nil(t, m.Check(AUTH))

	lm := NewMachine(Options{LMTP: true, TLS: true})
	assert.True(t, lm.LMTP())
	assert.True(t, lm.TLS())
	lm.Apply(LHLO)
	assert.True(t, lm.Extended())
	assert.NotNil(t, lm.Check(STARTTLS))
}

func TestTransactionLifecycle(t *testing.T) {
	m := NewMachine(Options{})
	m.Apply(EHLO)
	assert.False(t, m.InTransaction())

	// Refused MAIL opens nothing.
	m.Fail(MAIL)
	assert.Equal(t, StateGreeted, m.State())

	m.Apply(MAIL)
	assert.True(t, m.InTransaction())
	m.Fail(RCPT)
	assert.Equal(t, StateMail, m.State(), "a refused RCPT leaves the state")
	assert.Equal(t, reply.CodeTransactionFailed, m.Check(DATA).Code)
	m.Apply(RCPT)
	assert.Nil(t, m.Check(DATA), "one accepted RCPT is enough")
	m.Fail(RCPT)
	assert.Nil(t, m.Check(DATA))

	// DATA refused before 354: nothing changes.
	m.Fail(DATA)
	assert.Equal(t, StateRcpt, m.State())

	m.Apply(DATA)
	assert.Equal(t, StateData, m.State())
	assert.True(t, m.InTransaction())
	m.EndMessage()
	assert.Equal(t, StateGreeted, m.State())
	assert.False(t, m.InTransaction())

	// The refused-RCPT mark belongs to one transaction.
	m.Apply(MAIL)
	m.Fail(RCPT)
	m.Apply(RSET)
	m.Apply(MAIL)
	assert.Equal(t, reply.CodeBadSequence, m.Check(DATA).Code)
	m.Fail(RCPT)
	m.Apply(EHLO)
	m.Apply(MAIL)
	assert.Equal(t, reply.CodeBadSequence, m.Check(DATA).Code)
	m.Fail(RCPT)
	m.Fail(MAIL) // a refused nested MAIL changes nothing
	assert.Equal(t, reply.CodeTransactionFailed, m.Check(DATA).Code)
}

func TestBDATLifecycle(t *testing.T) {
	m := Machine{state: StateRcpt, flags: flagExtended}
	m.Apply(BDAT)
	assert.Equal(t, StateBDAT, m.State())
	m.ApplyBDAT(false)
	assert.Equal(t, StateBDAT, m.State())
	m.ApplyBDAT(true)
	assert.Equal(t, StateGreeted, m.State())

	// BDAT LAST as the only chunk.
	m = Machine{state: StateRcpt}
	m.ApplyBDAT(true)
	assert.Equal(t, StateGreeted, m.State())

	// RFC 3030 2: a refused chunk fails the transaction; pipelined
	// chunks after it get 503.
	m = Machine{state: StateBDAT}
	m.Fail(BDAT)
	assert.Equal(t, StateGreeted, m.State())
	assert.Equal(t, reply.CodeBadSequence, m.Check(BDAT).Code)
	m = Machine{state: StateRcpt}
	m.Fail(BDAT)
	assert.Equal(t, StateGreeted, m.State())

	// Fail(BDAT) outside a transaction changes nothing.
	m = Machine{state: StateMail}
	m.Fail(BDAT)
	assert.Equal(t, StateMail, m.State())
}

func TestFailLeavesState(t *testing.T) {
	for s := range numStates {
		for c := range numCommands {
			if c == RCPT || c == BDAT {
				continue // covered above
			}
			m := Machine{state: s, flags: flagExtended}
			m.Fail(c)
			assert.Equal(t, Machine{state: s, flags: flagExtended}, m, "Fail(%v) in %v", c, s)
		}
	}
}

func TestRSETBeforeGreeting(t *testing.T) {
	m := Machine{}
	m.Apply(RSET)
	assert.Equal(t, StateConnected, m.State(), "RSET does not greet")
}

func TestCloseAndQuit(t *testing.T) {
	m := Machine{state: StateRcpt}
	m.Close()
	assert.Equal(t, StateClosed, m.State())
	for c := range numCommands {
		assert.NotNil(t, m.Check(c))
	}
	m = Machine{state: StateGreeted}
	m.Apply(QUIT)
	assert.Equal(t, StateClosed, m.State())
}

// TestAllFlagCombinations checks invariants over every state, flag set and
// command: Check never panics and refuses with a well-formed 5xx, and
// Apply after an allowed command leaves a valid state.
func TestAllFlagCombinations(t *testing.T) {
	for f := range flags(1 << 5) {
		for s := range numStates {
			for c := range numCommands {
				m := Machine{state: s, flags: f}
				r := m.Check(c)
				if r != nil {
					assert.True(t, r.Permanent(), "%v %v %b", s, c, f)
					assert.True(t, r.Code.Valid())
					assert.Equal(t, r.Code.Class(), r.Enhanced.Class)
					continue
				}
				m.Apply(c)
				assert.Less(t, m.State(), numStates)
				assert.Equal(t, f&flagLMTP, m.flags&flagLMTP, "LMTP never changes")
				if f&flagTLS != 0 {
					assert.True(t, m.TLS(), "TLS is never lost")
				}
			}
		}
	}
}

func TestCheckAllowedNoAlloc(t *testing.T) {
	m := Machine{state: StateRcpt}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if m.Check(DATA) != nil || m.Check(RCPT) != nil || m.Check(NOOP) != nil {
			t.Fatal("refused")
		}
	}))
}

func TestStateString(t *testing.T) {
	names := map[string]bool{}
	for s := range numStates {
		names[s.String()] = true
	}
	assert.Len(t, names, int(numStates))
	assert.Equal(t, "State(?)", numStates.String())
	assert.Equal(t, "Rcpt", StateRcpt.String())
}
