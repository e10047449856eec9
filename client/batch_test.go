package client

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func batchOf(n int, to ...string) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{Envelope: env("a@x.example", to...), Body: strings.NewReader("message " + strconv.Itoa(i) + "\r\n")}
	}
	return msgs
}

// TestSendBatchOneRoundTrip: with PIPELINING, the dot of a message goes
// with the next message's MAIL, RCPT and DATA. The server here answers a
// dot only once it has the next message's DATA: a client that waited for
// the answer would time out.
func TestSendBatchOneRoundTrip(t *testing.T) {
	const n = 4
	addr := rawServer(t, func(conn net.Conn) {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(conn)
		conn.Write([]byte("220 x\r\n"))
		var held string // replies not written yet
		done := 0
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.ToUpper(l[:4]) {
			case "EHLO":
				conn.Write([]byte("250-x\r\n250 PIPELINING\r\n"))
			case "MAIL", "RCPT":
				held += "250 ok\r\n"
			case "DATA":
				conn.Write([]byte(held + "354 go\r\n"))
				held = ""
				for l, _ := r.ReadString('\n'); l != ".\r\n"; l, _ = r.ReadString('\n') {
				}
				done++
				held = "250 queued " + strconv.Itoa(done) + "\r\n"
				if done == n {
					conn.Write([]byte(held))
					held = ""
				}
			case "QUIT":
				conn.Write([]byte(held + "221 bye\r\n"))
				return
			default:
				conn.Write([]byte("500 what\r\n"))
			}
		}
	})
	c := dialT(t, addr, &Options{DataTermTimeout: 3 * time.Second})
	res := c.SendBatch(testCtx(t), batchOf(n, "b@y.example", "c@y.example"))
	for i, r := range res {
		if r.Err != nil || r.Result.Text() != "queued "+strconv.Itoa(i+1) || r.Result.Accepted() != 2 {
			t.Errorf("message %d: %v %+v", i, r.Err, r.Result)
		}
	}
	if err := c.Quit(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// TestSendBatchLockstep: without PIPELINING, SendBatch waits for each
// reply, the one to the dot included.
func TestSendBatchLockstep(t *testing.T) {
	addr, result := lockstepServer(t)
	c := dialT(t, addr, nil)
	for i, r := range c.SendBatch(testCtx(t), batchOf(2, "b@y.example")) {
		if r.Err != nil {
			t.Errorf("message %d: %v", i, r.Err)
		}
	}
	c.Quit(testCtx(t))
	const want = "EHLO client.example|MAIL FROM:<a@x.example>|RCPT TO:<b@y.example>|DATA|<data>|MAIL FROM:<a@x.example>|RCPT TO:<b@y.example>|DATA|<data>|QUIT"
	if got := strings.Join(<-result, "|"); got != want {
		t.Errorf("commands:\n got %s\nwant %s", got, want)
	}
}

// TestSendBatchErrors: each message gets what Send would have returned for
// it, and a failure does not stop the messages after it.
func TestSendBatchErrors(t *testing.T) {
	for _, lmtp := range []bool{false, true} {
		for _, ext := range [][]string{{"PIPELINING"}, nil, {"PIPELINING", "CHUNKING"}} {
			t.Run(strings.Join(ext, "+")+"/lmtp="+strconv.FormatBool(lmtp), func(t *testing.T) {
				fs := newFakeServer(t, ext...)
				fs.lmtp = lmtp
				fs.rcptReply = map[string]string{"bad@y.example": "550 5.1.1 no such user"}
				refused := false // MAIL refused: no transaction (one connection)
				fs.onCommand = func(fc *fakeConn, line string) bool {
					switch {
					case strings.HasPrefix(line, "MAIL FROM:<spam@"):
						refused, fc.rcpt = true, 0
						fc.send("550 5.7.1 go away")
						return true
					case strings.HasPrefix(line, "MAIL"):
						refused = false
					case strings.HasPrefix(line, "RCPT") && refused:
						fc.send("503 5.5.1 MAIL first")
						return true
					}
					return false
				}
				c := dialT(t, fs.start(), &Options{LMTP: lmtp})
				msgs := batchOf(6, "b@y.example")
				msgs[1].Envelope = env("a@x.example", "bad@y.example")
				msgs[2].Envelope = env("spam@x.example", "b@y.example")
				msgs[3].Body = strings.NewReader("caf\xc3\xa9\r\n") // no 8BITMIME
				msgs[4].Envelope = env("a@x.example", "bad@y.example", "b@y.example")
				res := c.SendBatch(testCtx(t), msgs)
				var re *RecipientsError
				var e *Error
				var xe *ExtensionError
				checks := []bool{
					res[0].Err == nil && res[0].Result.Code == 250,
					errors.As(res[1].Err, &re) && re.Accepted == 0,
					errors.As(res[2].Err, &e) && e.Command == "MAIL" && e.Code == 550,
					errors.As(res[3].Err, &xe) && xe.Extension == "8BITMIME",
					errors.As(res[4].Err, &re) && re.Accepted == 1 && res[4].Result.Recipients[1].Err == nil,
					res[5].Err == nil && res[5].Result.Code == 250,
				}
				for i, ok := range checks {
					if !ok {
						t.Errorf("message %d: %v %+v", i, res[i].Err, res[i].Result)
					}
				}
				if err := c.Quit(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				want := []string{"message 0\r\n", "message 4\r\n", "message 5\r\n"}
				if m := fs.msgs(); strings.Join(m, "|") != strings.Join(want, "|") {
					t.Errorf("delivered %q", m)
				}
			})
		}
	}
}

// TestSendBatchBroken: a connection lost while the reply to a dot is
// awaited leaves that message's outcome unknown; the later messages were
// not delivered (a *NetError, not an outcome unknown).
func TestSendBatchBroken(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	fs.afterData(func(fc *fakeConn) {
		fc.readLine() // the next MAIL
		fc.conn.Close()
	})
	c := dialT(t, fs.start(), nil)
	res := c.SendBatch(testCtx(t), batchOf(3, "b@y.example"))
	if !errors.Is(res[0].Err, ErrOutcomeUnknown) || !errors.Is(res[0].Result.Recipients[0].Err, ErrOutcomeUnknown) {
		t.Errorf("message 0: %v", res[0].Err)
	}
	for i := 1; i < 3; i++ {
		var ne *NetError
		if !errors.As(res[i].Err, &ne) || errors.Is(res[i].Err, ErrOutcomeUnknown) || !isTemporary(res[i].Err) {
			t.Errorf("message %d: %v", i, res[i].Err)
		}
	}
}

// TestSendBatchLocalLast: a last message refused before the wire still
// lets the previous one's reply be read.
func TestSendBatchLocalLast(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	c := dialT(t, fs.start(), nil)
	msgs := batchOf(2, "b@y.example")
	msgs[1].Body = iotestErrReader{}
	res := c.SendBatch(testCtx(t), msgs)
	var me *MessageError
	if res[0].Err != nil || res[0].Result.Code != 250 || !errors.As(res[1].Err, &me) {
		t.Errorf("results %v, %v", res[0].Err, res[1].Err)
	}
	if len(c.SendBatch(testCtx(t), nil)) != 0 {
		t.Errorf("empty batch")
	}
	if err := c.Noop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }
