package textproto

import "strconv"

// Action says what a reader or writer does with one kind of non-canonical
// input (see [Policy]).
//
// The zero value, [Default], means "the default for this field and this
// direction": the value from [DefaultIntakePolicy] when reading (commands,
// DATA, BDAT) and the value from [OutputPolicy] when writing (DotWriter).
// So the zero [Policy] is a sensible policy on both sides.
type Action uint8

const (
	// Default (the zero value) selects the direction's default for the field.
	Default Action = iota
	// Reject refuses the input with a *ViolationError. Readers first read to
	// the end of the line or message so the session stays in sync.
	Reject
	// Normalize repairs the input: a bare LF or bare CR becomes CRLF, a NUL
	// is dropped; 8-bit data cannot be repaired and is passed through. The
	// violation is counted (see ViolationCounts and Reader.OnViolation), so
	// a caller can log what it repaired.
	Normalize
	// Allow passes the byte through unchanged. An allowed bare LF or CR is
	// still counted; allowed NUL and 8-bit bytes are not even looked at
	// (that costs nothing on the fast path). A bare LF or CR allowed through
	// is never a line end on intake, and never part of an end-of-data
	// sequence.
	Allow
)

// String returns the name of the action.
func (a Action) String() string {
	switch a {
	case Default:
		return "default"
	case Reject:
		return "reject"
	case Normalize:
		return "normalize"
	case Allow:
		return "allow"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Policy decides what happens to the bytes that RFC 5321 does not allow in
// a text line: a bare LF, a bare CR, NUL, and 8-bit bytes in a 7-bit
// session. One Policy type serves both directions: server intake of
// commands (Reader.ReadLine), DATA (DotReader) and BDAT (BDATFilter), and
// client output (DotWriter).
//
// RFC 5321 2.3.8: lines end with CRLF only; a CR or LF alone must not be
// sent and must not be taken as a line end by a receiver's end-of-data
// detection (RFC 5321 4.1.1.4; the 2023 SMTP smuggling attacks,
// CVE-2023-51764/51765/51766, exploited receivers that did).
// RFC 5321 4.5.2 / RFC 6152: NUL and 8-bit data.
//
// Zero fields mean [Default]. The zero Policy equals DefaultIntakePolicy on
// intake and OutputPolicy on output.
type Policy struct {
	// BareLF is an LF not preceded by CR.
	// Normalize: on intake the LF ends the line (as if CRLF had been sent)
	// and is delivered as CRLF; it is never part of the end of DATA.
	// Reject: on ReadLine the bare LF ends the offending line, which is
	// reported as an error (so an LF-only client gets a reply instead of
	// hanging); in DATA the message is rejected after its real end.
	BareLF Action
	// BareCR is a CR not followed by LF.
	// Normalize: delivered as CRLF and taken as a line end.
	// Reject: the line (ReadLine, resynchronised at the next line end) or
	// the message (DotReader, after its real end) is refused.
	BareCR Action
	// NUL is the byte 0x00. Normalize drops it.
	NUL Action
	// EightBit is a byte >= 0x80. Reject it in a 7-bit session (no
	// 8BITMIME, RFC 6152; no SMTPUTF8, RFC 6531). Normalize acts as Allow.
	EightBit Action
}

// DefaultIntakePolicy is the server's default for commands, DATA and BDAT:
// a bare LF is taken as a line end and normalised to CRLF (Postfix 3.9's
// default; LF-only senders exist) but is never part of the end of data; a
// bare CR and NUL are rejected; 8-bit bytes are allowed.
func DefaultIntakePolicy() Policy {
	return Policy{BareLF: Normalize, BareCR: Reject, NUL: Reject, EightBit: Allow}
}

// StrictIntakePolicy is DefaultIntakePolicy with bare LF rejected too.
func StrictIntakePolicy() Policy {
	return Policy{BareLF: Reject, BareCR: Reject, NUL: Reject, EightBit: Allow}
}

// OutputPolicy is the client's default for DotWriter: every line end (bare
// LF, bare CR, CRLF) goes out as CRLF (RFC 5321 2.3.8); NUL and 8-bit bytes
// are passed through (the client checks 8BITMIME and BINARYMIME itself).
func OutputPolicy() Policy {
	return Policy{BareLF: Normalize, BareCR: Normalize, NUL: Allow, EightBit: Allow}
}

// resolve replaces Default fields by the values of def.
func (p Policy) resolve(def Policy) Policy {
	if p.BareLF == Default {
		p.BareLF = def.BareLF
	}
	if p.BareCR == Default {
		p.BareCR = def.BareCR
	}
	if p.NUL == Default {
		p.NUL = def.NUL
	}
	if p.EightBit == Default {
		p.EightBit = def.EightBit
	}
	return p
}

func (p Policy) intake() Policy { return p.resolve(DefaultIntakePolicy()) }
func (p Policy) output() Policy { return p.resolve(OutputPolicy()) }

// ViolationKind names a kind of non-canonical input.
type ViolationKind uint8

const (
	// BareLF is an LF not preceded by CR (RFC 5321 2.3.8).
	BareLF ViolationKind = iota
	// BareCR is a CR not followed by LF (RFC 5321 2.3.8).
	BareCR
	// NUL is a 0x00 byte.
	NUL
	// EightBit is a byte >= 0x80 where the policy forbids it.
	EightBit
	// FakeEndOfData is a line holding a single "." delimited by a bare LF
	// or a bare CR on either side ("\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n",
	// "\r\n.\r", ...): a sequence that some receivers take as the end of
	// DATA, used by the SMTP smuggling attacks (CVE-2023-51764, 51765,
	// 51766). DotReader always rejects it, whatever the policy: it is not
	// the end (RFC 5321 4.1.1.4: only CRLF "." CRLF is), and delivering it
	// would let a message smuggle a second one past a downstream hop.
	FakeEndOfData
	numViolationKinds
)

// String returns a short description of the kind.
func (k ViolationKind) String() string {
	switch k {
	case BareLF:
		return "bare LF"
	case BareCR:
		return "bare CR"
	case NUL:
		return "NUL byte"
	case EightBit:
		return "8-bit byte"
	case FakeEndOfData:
		return "fake end-of-data sequence"
	}
	return "ViolationKind(" + strconv.Itoa(int(k)) + ")"
}

// ViolationError reports input that the Policy rejects.
type ViolationError struct {
	// Kind is the violation.
	Kind ViolationKind
	// Offset is the position of the offending byte, counted in wire bytes
	// from the start of the line (ReadLine, WriteLine) or of the data
	// (DotReader, BDATFilter, DotWriter).
	Offset int64
}

// Error implements error.
func (e *ViolationError) Error() string {
	return "textproto: " + e.Kind.String() + " at offset " + strconv.FormatInt(e.Offset, 10)
}

// ViolationCounts counts the violations seen, including those normalised or
// allowed by the policy, so that a caller can log them. Index it by
// ViolationKind.
type ViolationCounts [numViolationKinds]int64

// Total is the sum of all counts.
func (c *ViolationCounts) Total() int64 {
	var t int64
	for _, n := range c {
		t += n
	}
	return t
}
