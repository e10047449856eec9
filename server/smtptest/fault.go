package smtptest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// A Fault makes the server misbehave at one point of the protocol, to
// test how a client copes. It is an Option of NewServer:
//
//	smtptest.NewServer(t, smtptest.Fault{Command: "RCPT", N: 2, Reply: reply.MailboxUnavailable("No such user")})
//
// The constructors below (ReplyAt, RcptReply, DelayAt, DropAt, HangAt,
// CutData, NoGreeting) name the usual ones. A fault acts through the backend, so
// it strikes where the backend is asked: replies the server makes itself
// (to EHLO, to a command out of sequence, the 354 to DATA, the 250 to a
// BDAT chunk but the last) are not touched; for those exact bytes, test
// against a Peer.
type Fault struct {
	// Command is where the fault strikes: "CONNECT" (before the
	// greeting), "MAIL", "RCPT", or "DATA" or "BDAT" (the end of a
	// message sent with that command, where the server answers it).
	Command string

	// N is the occurrence the fault strikes: the N-th such command the
	// server hands to its backend, counting every connection, from 1;
	// 0 means every one.
	N int

	// Delay is how long the server waits before it acts (or, with nothing
	// else set, before it answers as usual). The wait ends early when the
	// server is closed.
	Delay time.Duration

	// Reply is sent instead of the server's own reply. A 421 reply
	// closes the connection once sent (RFC 5321 3.8); for "CONNECT" it
	// replaces the greeting (a 554 then makes the server refuse every
	// command but QUIT, RFC 5321 3.1).
	Reply *reply.Reply

	// Recipient limits the fault to one recipient address (compared
	// without regard to case). For "RCPT" it strikes only RCPT TO that
	// address, and N counts those. For "DATA" and "BDAT", with LMTP, its
	// Reply is that recipient's reply after the message; the others get
	// their usual one (RFC 2033 4.2).
	Recipient string

	// Drop closes the connection instead of answering. For "DATA" and
	// "BDAT" the whole message was read first: the client has sent its
	// end and never hears whether the message was taken, the "outcome
	// unknown" case of RFC 5321 6.1. With Config.ProxyProtocol the
	// connection is found by the client address of its PROXY header, so
	// clients behind the proxy at the same time need headers with
	// distinct addresses (as with CutAfter): with two, the fault cuts
	// neither, answers 451, and says why in the test's log.
	Drop bool

	// Hang never answers: the server waits until it is closed (or its
	// own timeout for the stage ends), as a stuck server would.
	Hang bool

	// CutAfter, for "DATA" and "BDAT", closes the connection once that
	// many bytes of the message arrived, before its end. A client that is
	// still sending sees the connection break while it writes (send more
	// than the socket buffers hold, a few MiB on loopback, to be sure it
	// is); one that had written everything sees it while it waits for the
	// reply, as with Drop.
	CutAfter int64
}

// cmdConnect is the Command of a fault before the greeting.
const cmdConnect = "CONNECT"

// errCut is the error the backend returns after a fault cut the
// connection; nobody hears it.
var errCut = errors.New("smtptest: connection cut by a fault")

// ReplyAt returns a Fault that answers the n-th cmd ("CONNECT", "MAIL",
// "RCPT", "DATA", "BDAT"; n from 1, 0 for every one) with r instead of the
// server's reply: a 4xx or 5xx refusal, or a 421 that also closes the
// connection in the middle of the session.
func ReplyAt(cmd string, n int, r *reply.Reply) Fault {
	return Fault{Command: cmd, N: n, Reply: r}
}

// RcptReply returns a Fault that answers every RCPT TO:<addr> with r: a
// recipient a test wants refused (550), deferred (452) or forwarded
// (251), whatever the order of the recipients.
func RcptReply(addr string, r *reply.Reply) Fault {
	return Fault{Command: "RCPT", Recipient: addr, Reply: r}
}

// DelayAt returns a Fault that makes the server wait d before it answers
// the n-th cmd ("CONNECT" delays the greeting).
func DelayAt(cmd string, n int, d time.Duration) Fault {
	return Fault{Command: cmd, N: n, Delay: d}
}

// DropAt returns a Fault that closes the connection instead of answering
// the n-th cmd. For "DATA" and "BDAT" it closes after the final dot (or
// BDAT LAST) was received: the client cannot tell whether the message was
// delivered.
func DropAt(cmd string, n int) Fault {
	return Fault{Command: cmd, N: n, Drop: true}
}

// HangAt returns a Fault that never answers the n-th cmd: the client's
// timeout (or context) must end the wait.
func HangAt(cmd string, n int) Fault {
	return Fault{Command: cmd, N: n, Hang: true}
}

// CutData returns a Fault that closes the connection in the middle of the
// n-th message (sent with DATA or BDAT), once after bytes of it arrived:
// before the final dot.
func CutData(cmd string, n int, after int64) Fault {
	return Fault{Command: cmd, N: n, CutAfter: after}
}

// NoGreeting returns a Fault that makes the server accept connections and
// never greet them: the client's greeting timeout (or context) must end
// the wait.
func NoGreeting() Fault {
	return Fault{Command: cmdConnect, Hang: true}
}

func (f Fault) apply(s *Server) {
	f.Command = strings.ToUpper(f.Command)
	s.faults = append(s.faults, f)
}

// check reports a fault that cannot strike.
func (f Fault) check() error {
	actions := 0
	for _, set := range []bool{f.Reply != nil, f.Drop, f.Hang, f.CutAfter != 0} {
		if set {
			actions++
		}
	}
	data := f.Command == "DATA" || f.Command == "BDAT"
	switch {
	case f.Command != cmdConnect && f.Command != "MAIL" && f.Command != "RCPT" && !data:
		return fmt.Errorf("fault at %q: Command must be CONNECT, MAIL, RCPT, DATA or BDAT", f.Command)
	case f.N < 0:
		return fmt.Errorf("fault at %s: negative N", f.Command)
	case actions > 1:
		return fmt.Errorf("fault at %s: set one of Reply, Drop, Hang and CutAfter", f.Command)
	case f.CutAfter < 0 || f.CutAfter > 0 && !data:
		return fmt.Errorf("fault at %s: CutAfter is for DATA and BDAT, and positive", f.Command)
	case f.Recipient != "" && f.Command != "RCPT" && (!data || f.Reply == nil):
		return fmt.Errorf("fault at %s: Recipient is for RCPT, or for the Reply to DATA or BDAT in LMTP", f.Command)
	case actions == 0 && f.Delay <= 0:
		return fmt.Errorf("fault at %s does nothing: set Delay, Reply, Drop, Hang or CutAfter", f.Command)
	}
	return nil
}

// accepts reports whether the client is told a message was taken when f
// strikes at its end.
func (f Fault) accepts() bool {
	switch {
	case f.Reply != nil:
		return f.Reply.Code.IsPositive()
	case f.Drop, f.Hang, f.CutAfter > 0:
		return false
	}
	return true
}

// matching counts one more cmd (for RCPT, to rcpt) and returns the faults
// for it.
func (s *Server) matching(cmd, rcpt string) []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[cmd]++
	n := s.counts[cmd]
	rcptKey := cmd + " " + strings.ToLower(rcpt)
	if rcpt != "" {
		s.counts[rcptKey]++
	}
	var out []Fault
	for _, f := range s.faults {
		if f.Command != cmd {
			continue
		}
		at := n
		if cmd == "RCPT" && f.Recipient != "" {
			if !strings.EqualFold(f.Recipient, rcpt) {
				continue
			}
			at = s.counts[rcptKey]
		}
		if f.N == 0 || f.N == at {
			out = append(out, f)
		}
	}
	return out
}

// strike counts one more cmd (for RCPT, to rcpt) and acts out its first
// fault, if any. It returns what the backend must return.
func (s *Server) strike(ctx context.Context, c *server.Conn, cmd, rcpt string) error {
	fs := s.matching(cmd, rcpt)
	if len(fs) == 0 {
		return nil
	}
	return s.act(ctx, c, fs[0])
}

// act waits for f's delay, then hangs, cuts, or returns its reply.
func (s *Server) act(ctx context.Context, c *server.Conn, f Fault) error {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	switch {
	case f.Hang:
		<-ctx.Done()
		return ctx.Err()
	case f.Drop:
		s.cut(c)
		return errCut
	case f.Reply != nil:
		return f.Reply
	}
	return nil
}
