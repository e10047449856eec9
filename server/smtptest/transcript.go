package smtptest

import (
	"fmt"
	"strings"
)

// The transcript format is described in the package documentation.

// step is one line of a transcript.
type step struct {
	line int    // line number in the transcript text, from 1
	kind byte   // 'C', 'S', or '!' for a directive
	text string // the line without its prefix; a directive's name
}

// Directives.
const (
	dirTLS   = "tls"
	dirClose = "close"
	dirEOF   = "eof"
)

// String returns the step as it is written in the transcript.
func (s step) String() string {
	if s.kind == '!' {
		return "!" + s.text
	}
	if s.text == "" {
		return string(s.kind) + ":"
	}
	return string(s.kind) + ": " + s.text
}

// transcript is a parsed transcript.
type transcript struct {
	steps []step
}

// parseTranscript parses text (see the comment above).
func parseTranscript(text string) (*transcript, error) {
	t := &transcript{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimLeft(strings.TrimSuffix(line, "\r"), " \t")
		if line == "" {
			continue
		}
		st := step{line: i + 1}
		switch {
		case line[0] == '!':
			st.kind, st.text = '!', strings.TrimSpace(line[1:])
			switch st.text {
			case dirTLS, dirClose, dirEOF:
			default:
				return nil, fmt.Errorf("transcript line %d: unknown directive %q (want !tls, !close or !eof)", st.line, line)
			}
		case len(line) >= 2 && (line[0] == 'C' || line[0] == 'S') && line[1] == ':':
			st.kind, st.text = line[0], strings.TrimPrefix(line[2:], " ")
		default:
			return nil, fmt.Errorf("transcript line %d: %q is not a \"C: \" or \"S: \" line nor a directive", st.line, line)
		}
		if n := len(t.steps); n > 0 && t.steps[n-1].kind == '!' && t.steps[n-1].text != dirTLS {
			return nil, fmt.Errorf("transcript line %d: nothing may follow %v", st.line, t.steps[n-1])
		}
		t.steps = append(t.steps, st)
	}
	if len(t.steps) == 0 {
		return nil, fmt.Errorf("empty transcript")
	}
	return t, nil
}

// hasTLS reports whether the transcript starts TLS.
func (t *transcript) hasTLS() bool {
	for _, s := range t.steps {
		if s.kind == '!' && s.text == dirTLS {
			return true
		}
	}
	return false
}

// matchLine reports whether got matches pattern, in which "{*}" matches
// any run of bytes other than CR and LF.
func matchLine(pattern, got string) bool {
	return matchWild(pattern, got, "\r\n")
}

// matchWild reports whether s matches pattern, in which "{*}" matches any
// run of bytes that holds none of the bytes of stop.
func matchWild(pattern, s, stop string) bool {
	parts := strings.Split(pattern, "{*}")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		// Leftmost match of each middle part: the wildcards before it take
		// as little as they can, which is never worse for what follows.
		i := strings.Index(s, p)
		if i < 0 || strings.ContainsAny(s[:i], stop) {
			return false
		}
		s = s[i+len(p):]
	}
	if len(s) < len(last) || !strings.HasSuffix(s, last) {
		return false
	}
	return !strings.ContainsAny(s[:len(s)-len(last)], stop)
}

// MismatchError reports where a peer left the transcript: the line that
// was expected and what came instead. Its message shows the transcript
// around that line.
type MismatchError struct {
	// Transcript numbers the transcript, from 1, when a Peer plays several.
	Transcript int
	// Line is the line of the transcript text that was expected, from 1.
	Line int
	// Want is that line, as written.
	Want string
	// Got is what came instead: a line as "C: ..." or "S: ...", or a
	// description such as "the connection was closed".
	Got string

	context string
}

// Error implements error.
func (e *MismatchError) Error() string {
	var b strings.Builder
	b.WriteString("smtptest: ")
	if e.Transcript > 0 {
		fmt.Fprintf(&b, "transcript %d, ", e.Transcript)
	}
	fmt.Fprintf(&b, "line %d: the peer left the transcript\n    want: %s\n     got: %s", e.Line, e.Want, e.Got)
	if e.context != "" {
		b.WriteString("\n")
		b.WriteString(e.context)
	}
	return b.String()
}

// contextLines is how many lines of the transcript a MismatchError shows
// before the line that failed.
const contextLines = 4

// mismatch returns the MismatchError of step i, which got got.
func (t *transcript) mismatch(i int, got string) *MismatchError {
	s := t.steps[i]
	var b strings.Builder
	for j := max(0, i-contextLines); j <= i && j < len(t.steps); j++ {
		mark := "  "
		if j == i {
			mark = "> "
		}
		fmt.Fprintf(&b, "  %s%3d  %v\n", mark, t.steps[j].line, t.steps[j])
	}
	return &MismatchError{Line: s.line, Want: s.String(), Got: got, context: strings.TrimSuffix(b.String(), "\n")}
}

// quoteLine shows a received line of the given kind for a MismatchError:
// as a transcript line when it is one, else quoted.
func quoteLine(kind byte, line string) string {
	body, ok := strings.CutSuffix(line, "\r\n")
	if !ok || strings.ContainsAny(body, "\r\n") {
		return fmt.Sprintf("%c: %q (not a CRLF-terminated line)", kind, line)
	}
	return step{kind: kind, text: body}.String()
}
