package dkim

import (
	"bytes"
	"hash"
)

// Canonicalization is a canonicalization algorithm of RFC 6376 3.4.
type Canonicalization string

const (
	// Relaxed tolerates the changes of white space and header folding
	// that relays commonly make (RFC 6376 3.4.2, 3.4.4). It is the default.
	Relaxed Canonicalization = "relaxed"
	// Simple tolerates almost no change (RFC 6376 3.4.1, 3.4.3).
	Simple Canonicalization = "simple"
)

func (c Canonicalization) valid() bool { return c == Relaxed || c == Simple }

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// canonHeader appends the canonical form of one header field to dst. raw
// is the whole field as it stands in the message: name, colon, value with
// its folding, and the final CR LF.
func canonHeader(dst, raw []byte, c Canonicalization) []byte {
	if c == Simple {
		// RFC 6376 3.4.1: no change at all.
		return append(dst, raw...)
	}
	// RFC 6376 3.4.2: lower-case name, no white space around the colon,
	// unfolded, runs of WSP as one SP, no WSP at the end of the value.
	colon := bytes.IndexByte(raw, ':')
	if colon < 0 {
		colon = len(raw)
	}
	name := bytes.TrimRight(raw[:colon], " \t")
	for _, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst = append(dst, b)
	}
	dst = append(dst, ':')
	if colon == len(raw) {
		return append(dst, '\r', '\n')
	}
	wsp, started := false, false
	for _, b := range raw[colon+1:] {
		switch {
		case b == '\r' || b == '\n':
			// Unfolding removes the line ends (RFC 5322 2.2.3); the
			// WSP that follows one is kept as the fold's white space.
		case isWSP(b):
			wsp = true
		default:
			if wsp && started {
				dst = append(dst, ' ')
			}
			wsp, started = false, true
			dst = append(dst, b)
		}
	}
	return append(dst, '\r', '\n')
}

// bodyHasher feeds the canonical body (RFC 6376 3.4.3, 3.4.4) into a hash
// as the message streams past, holding back only what it cannot decide
// yet: a CR that may start CR LF, a run of empty lines that may be the
// end of the body (dropped), a run of white space that may end a line.
type bodyHasher struct {
	h          hash.Hash
	relaxed    bool
	cr         bool // the last byte was a CR, its line end not yet counted
	emptyLines int  // empty lines held back
	wsp        bool // relaxed: white space held back
	inLine     bool // the current line has content
	wrote      bool // anything was written to h
	out        []byte
}

const bodyFlushSize = 32 << 10

func newBodyHasher(h hash.Hash, c Canonicalization) *bodyHasher {
	return &bodyHasher{h: h, relaxed: c == Relaxed, out: make([]byte, 0, bodyFlushSize+8)}
}

// Write takes raw body bytes. Every line end (CR LF, bare LF, bare CR)
// counts as CR LF, as the client sends it.
func (b *bodyHasher) Write(p []byte) (int, error) {
	for _, c := range p {
		if b.cr {
			b.cr = false
			b.eol()
			if c == '\n' {
				continue
			}
		}
		switch {
		case c == '\r':
			b.cr = true
		case c == '\n':
			b.eol()
		case b.relaxed && isWSP(c):
			b.wsp = true
		default:
			b.content(c)
		}
		if len(b.out) >= bodyFlushSize {
			b.flush()
		}
	}
	return len(p), nil
}

func (b *bodyHasher) content(c byte) {
	for ; b.emptyLines > 0; b.emptyLines-- {
		b.out = append(b.out, '\r', '\n')
	}
	if b.wsp {
		// RFC 6376 3.4.4: a run of WSP within a line is one SP.
		b.out = append(b.out, ' ')
		b.wsp = false
	}
	b.out = append(b.out, c)
	b.inLine = true
}

func (b *bodyHasher) eol() {
	b.wsp = false // RFC 6376 3.4.4: WSP at the end of a line is ignored
	if !b.inLine {
		b.emptyLines++
		return
	}
	b.out = append(b.out, '\r', '\n')
	b.inLine = false
}

func (b *bodyHasher) flush() {
	if len(b.out) > 0 {
		b.h.Write(b.out)
		b.wrote = true
		b.out = b.out[:0]
	}
}

// Sum ends the body and returns its hash. Empty lines at the end are
// dropped (RFC 6376 3.4.3, 3.4.4); a last line without its line end gets
// one; an empty body is CR LF for simple and nothing for relaxed.
func (b *bodyHasher) Sum() []byte {
	if b.cr {
		b.cr = false
		b.eol()
	}
	if b.inLine {
		b.eol()
	}
	b.flush()
	if !b.wrote && !b.relaxed {
		b.h.Write([]byte("\r\n"))
	}
	return b.h.Sum(nil)
}
