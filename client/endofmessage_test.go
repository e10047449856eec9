package client

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/reply"
	kit "github.com/smtpkit/smtp/server/smtptest"
)

// Tests of what the client reports when a server closes the connection
// at each point of a transaction, on the public test kit's server: a 421
// is the answer (RFC 5321 3.8), a break after the end of the message was
// written is an outcome unknown (RFC 5321 6.1), a break before it a
// transient *NetError.

// sendMode is one way the client sends a message: DATA or BDAT, pipelined
// or in lockstep.
type sendMode struct {
	name string
	cmd  string // the fault's command: "DATA" or "BDAT"
	pipe bool
}

var sendModes = []sendMode{
	{"DATA/pipelined", "DATA", true},
	{"DATA/lockstep", "DATA", false},
	{"BDAT/pipelined", "BDAT", true},
	{"BDAT/lockstep", "BDAT", false},
}

// kitServer starts the kit's server for mode with faults.
func (m sendMode) server(t *testing.T, faults ...kit.Fault) *kit.Server {
	opts := make([]kit.Option, len(faults))
	for i, f := range faults {
		opts[i] = f
	}
	s := kit.NewUnstartedServer(t, opts...)
	s.Config.EnableChunking = m.cmd == "BDAT"
	s.Start()
	return s
}

// client dials s with the options of mode.
func (m sendMode) client(t *testing.T, s *kit.Server) *Client {
	return dialT(t, s.Addr, &Options{NoPipelining: !m.pipe, LocalName: "client.example"})
}

// sender sends msgs (one for Send) and returns each message's result.
type sender struct {
	name string
	send func(t *testing.T, c *Client, msgs []Message) []BatchResult
}

var senders = []sender{
	{"Send", func(t *testing.T, c *Client, msgs []Message) []BatchResult {
		out := make([]BatchResult, len(msgs))
		for i, m := range msgs {
			res, err := c.Send(testCtx(t), m.Envelope, m.Body)
			if res == nil {
				t.Fatalf("message %d: nil Result", i)
			}
			out[i] = BatchResult{Result: *res.Clone(), Err: err}
		}
		return out
	}},
	{"SendBatch", func(t *testing.T, c *Client, msgs []Message) []BatchResult {
		return append([]BatchResult(nil), c.SendBatch(testCtx(t), msgs)...)
	}},
}

// twoMessages returns two messages of body, each to b@ and c@.
func twoMessages(body []byte) []Message {
	msgs := make([]Message, 2)
	for i := range msgs {
		msgs[i] = Message{Envelope: env("a@x.example", "b@y.example", "c@y.example"), Body: bytes.NewReader(body)}
	}
	return msgs
}

// statuses returns the Status of each recipient of res.
func statuses(res *Result) []RecipientStatus {
	out := make([]RecipientStatus, len(res.Recipients))
	for i := range res.Recipients {
		out[i] = res.Recipients[i].Status()
	}
	return out
}

func allStatus(res *Result, st RecipientStatus) bool {
	for _, s := range statuses(res) {
		if s != st {
			return false
		}
	}
	return len(res.Recipients) > 0
}

// TestReply421IsTheAnswer: a 421 to MAIL or RCPT, after which the server
// closes the connection (RFC 5321 3.8), is what Send reports: a transient
// *Error with code 421, never the broken connection that follows it (a
// *NetError for DATA) nor an outcome unknown (BDAT LAST may have been
// written, but the server stopped reading before it). Every way of
// sending, Send and SendBatch.
func TestReply421IsTheAnswer(t *testing.T) {
	bye := reply.New(reply.CodeServiceNotAvailable, reply.Enh(4, 3, 2), "shutting down")
	faults := []struct {
		name  string
		fault kit.Fault
	}{
		{"MAIL", kit.ReplyAt("MAIL", 1, bye)},
		{"RCPT#1", kit.ReplyAt("RCPT", 1, bye)},
		{"RCPT#2", kit.ReplyAt("RCPT", 2, bye)},
	}
	for _, m := range sendModes {
		for _, f := range faults {
			for _, sd := range senders {
				t.Run(m.name+"/"+f.name+"/"+sd.name, func(t *testing.T) {
					s := m.server(t, f.fault)
					c := m.client(t, s)
					defer c.Close()
					res := sd.send(t, c, twoMessages([]byte("Subject: x\r\n\r\nhello\r\n")))
					for i, r := range res {
						var e *Error
						if !errors.As(r.Err, &e) || e.Code != reply.CodeServiceNotAvailable || !isTemporary(r.Err) || errors.Is(r.Err, ErrOutcomeUnknown) {
							t.Errorf("message %d: err = %v (%T), want the 421", i, r.Err, r.Err)
						}
						if !allStatus(&r.Result, StatusDeferred) {
							t.Errorf("message %d: statuses %v, want all deferred", i, statuses(&r.Result))
						}
					}
					if n := len(s.Messages()); n != 0 {
						t.Errorf("server received %d messages", n)
					}
				})
			}
		}
	}
}

// TestEndOfMessageWritten: once the end of the message (the final dot, or
// BDAT LAST) is written, the server may have the whole message whatever
// replies are still unread (a pipelining server may answer MAIL and RCPT
// only after it has read BDAT LAST): any failure after that point is an
// *OutcomeUnknownError and the recipients StatusUnknown. A failure
// before it is a *NetError, StatusDeferred. For DATA and BDAT, pipelined
// and not, Send and SendBatch; the second message of a batch after a
// broken connection was not sent (*NetError).
func TestEndOfMessageWritten(t *testing.T) {
	small := []byte("Subject: x\r\n\r\nhello\r\n")
	// Larger than what the socket buffers of a loopback connection hold,
	// so that a connection cut early breaks while the client writes.
	big := bytes.Repeat([]byte(strings.Repeat("y", 78)+"\r\n"), 100_000) // 8 MB
	cases := []struct {
		name    string
		fault   func(cmd string) kit.Fault
		body    []byte
		unknown bool // the first message's outcome is unknown
	}{
		// The server read the whole message and closed without a reply.
		{"drop after end", func(cmd string) kit.Fault { return kit.DropAt(cmd, 1) }, small, true},
		// The server closed after 5 bytes of the message, but the client
		// had written it all: it cannot tell the difference.
		{"cut, all written", func(cmd string) kit.Fault { return kit.CutData(cmd, 1, 5) }, small, true},
		// The connection broke while the client was writing: the end of
		// the message never left.
		{"cut while writing", func(cmd string) kit.Fault { return kit.CutData(cmd, 1, 5) }, big, false},
	}
	for _, m := range sendModes {
		for _, tc := range cases {
			for _, sd := range senders {
				t.Run(m.name+"/"+tc.name+"/"+sd.name, func(t *testing.T) {
					s := m.server(t, tc.fault(m.cmd))
					c := m.client(t, s)
					defer c.Close()
					res := sd.send(t, c, twoMessages(tc.body))
					first := res[0]
					if tc.unknown {
						var oe *OutcomeUnknownError
						if !errors.As(first.Err, &oe) || !errors.Is(first.Err, ErrOutcomeUnknown) || isTemporary(first.Err) {
							t.Errorf("message 0: err = %v (%T), want *OutcomeUnknownError", first.Err, first.Err)
						}
						if !allStatus(&first.Result, StatusUnknown) {
							t.Errorf("message 0: statuses %v, want all unknown", statuses(&first.Result))
						}
					} else {
						checkNotSent(t, "message 0", first)
					}
					checkNotSent(t, "message 1", res[1])
				})
			}
		}
	}
}

// checkNotSent checks that a message was not sent: a *NetError, every
// recipient deferred.
func checkNotSent(t *testing.T, what string, r BatchResult) {
	t.Helper()
	var ne *NetError
	if !errors.As(r.Err, &ne) || errors.Is(r.Err, ErrOutcomeUnknown) || !isTemporary(r.Err) {
		t.Errorf("%s: err = %v (%T), want *NetError", what, r.Err, r.Err)
	}
	if !allStatus(&r.Result, StatusDeferred) {
		t.Errorf("%s: statuses %v, want all deferred", what, statuses(&r.Result))
	}
}

// TestEndOfSecondMessageWritten: in a batch, the first message's reply
// arrives and the connection breaks after the second one's end: the first
// is accepted, the second's outcome unknown.
func TestEndOfSecondMessageWritten(t *testing.T) {
	for _, m := range sendModes {
		for _, sd := range senders {
			t.Run(m.name+"/"+sd.name, func(t *testing.T) {
				s := m.server(t, kit.DropAt(m.cmd, 2))
				c := m.client(t, s)
				defer c.Close()
				res := sd.send(t, c, twoMessages([]byte("Subject: x\r\n\r\nhello\r\n")))
				if res[0].Err != nil || !allStatus(&res[0].Result, StatusAccepted) {
					t.Errorf("message 0: err = %v, statuses %v", res[0].Err, statuses(&res[0].Result))
				}
				if !errors.Is(res[1].Err, ErrOutcomeUnknown) || !allStatus(&res[1].Result, StatusUnknown) {
					t.Errorf("message 1: err = %v (%T), statuses %v", res[1].Err, res[1].Err, statuses(&res[1].Result))
				}
			})
		}
	}
}

// TestChunkReplyAfterLast: a pipelining server that answers a chunk only
// when the next one arrives (RFC 2920 3.1 lets it hold its replies) and
// closes the connection after BDAT LAST: the reply lost is a chunk's, but
// the end of the message was written, so the outcome is unknown.
func TestChunkReplyAfterLast(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING", "CHUNKING")
	fs.onCommand = func(fc *fakeConn, line string) bool {
		if !strings.HasPrefix(line, "BDAT ") {
			return false
		}
		f := strings.Fields(line)
		n, _ := strconv.Atoi(f[1])
		io.ReadFull(fc.r, make([]byte, n))
		if len(f) > 2 { // LAST: the whole message arrived
			fc.conn.Close()
		}
		return true // the chunk's reply is held
	}
	c := dialT(t, fs.start(), &Options{ChunkSize: 1024})
	defer c.Close()
	// Two chunks: the first goes with MAIL and RCPT, the client reads
	// their replies, then writes BDAT LAST and reads the first chunk's.
	res, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), bytes.NewReader(bytes.Repeat([]byte("z\r\n"), 400)))
	var oe *OutcomeUnknownError
	if !errors.As(err, &oe) || oe.Command != "BDAT" || res.Recipients[0].Status() != StatusUnknown {
		t.Errorf("err = %v (%T), status %v", err, err, res.Recipients[0].Status())
	}
}

// TestEndWithoutRecipients: BDAT LAST pipelined with RCPT commands that
// were all refused reaches a server that has no recipient: a connection
// lost before its reply is a *NetError (nothing can have been delivered),
// and the recipients keep their refusals.
func TestEndWithoutRecipients(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING", "CHUNKING"}, {"PIPELINING"}} {
		t.Run(strings.Join(ext, "+"), func(t *testing.T) {
			fs := newFakeServer(t, ext...)
			fs.rcptReply = map[string]string{"b@y.example": "550 5.1.1 no such user"}
			fs.onCommand = func(fc *fakeConn, line string) bool {
				switch {
				case line == "DATA": // RFC 2920 3.1: a 354 without recipients
					fc.send("354 go")
					fc.readData()
				case strings.HasPrefix(line, "BDAT "):
					f := strings.Fields(line)
					n, _ := strconv.Atoi(f[1])
					io.ReadFull(fc.r, make([]byte, n))
				default:
					return false
				}
				fc.conn.Close()
				return true
			}
			c := dialT(t, fs.start(), nil)
			defer c.Close()
			res, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("x\r\n"))
			var ne *NetError
			if !errors.As(err, &ne) || errors.Is(err, ErrOutcomeUnknown) || res.Recipients[0].Status() != StatusRefused {
				t.Errorf("err = %v (%T), status %v", err, err, res.Recipients[0].Status())
			}
		})
	}
}
