package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

func chunkingServer(b *testBackend) *server.Server {
	s := newServer(b)
	s.EnableChunking = true
	return s
}

var ehloChunkingS = ehloWith("CHUNKING", "BINARYMIME")

// chunkS opens a transaction of a chunkingServer with pipelined EHLO, MAIL
// and RCPT.
var chunkS = `
	C: EHLO client
	C: MAIL FROM:<a@b.example>
	C: RCPT TO:<b@c.example>
	` + ehloChunkingS + `
	S: 250 2.1.0 Sender OK
	S: 250 2.1.5 Recipient OK
`

func TestBDAT(t *testing.T) {
	b := &testBackend{}
	lb := start(t, chunkingServer(b))
	c := dial(t, lb)
	c.Run(chunkS)
	// Two chunks pipelined, the second LAST; a CR at the end of the first
	// and LF at the start of the second make one CRLF.
	c.Send("BDAT 7\r\nline 1\rBDAT 9 LAST\r\n\nline 2\r\n")
	c.Expect("250 2.0.0 7 octets received\r\n250 2.0.0 OK: message accepted\r\n")
	// A NOOP between chunks, and an empty LAST chunk.
	c.Run(`
		C: MAIL FROM:<a@b.example>
		C: RCPT TO:<b@c.example>
		S: 250 2.1.0 Sender OK
		S: 250 2.1.5 Recipient OK
	`)
	c.Send("BDAT 3\r\nabcNOOP\r\nBDAT 0 LAST\r\n")
	c.Expect("250 2.0.0 3 octets received\r\n250 2.0.0 OK\r\n250 2.0.0 OK: message accepted\r\n")
	// BINARYMIME: taken verbatim, even a bare CR and NUL.
	c.Run(`
		C: MAIL FROM:<a@b.example> BODY=BINARYMIME
		C: RCPT TO:<b@c.example>
		S: 250 2.1.0 Sender OK
		S: 250 2.1.5 Recipient OK
		C: DATA
		S: 503 5.5.1 BODY=BINARYMIME requires BDAT
	`)
	c.Send("BDAT 5 LAST\r\na\rb\x00c")
	c.Expect("250 2.0.0 OK: message accepted\r\n")
	msgs := b.Messages()
	if len(msgs) != 3 {
		t.Fatalf("got %d messages", len(msgs))
	}
	for i, want := range []string{"line 1\r\nline 2\r\n", "abc", "a\rb\x00c"} {
		if msgs[i].Data != want {
			t.Errorf("message %d = %q, want %q", i, msgs[i].Data, want)
		}
	}
}

func TestBDATErrors(t *testing.T) {
	t.Run("aborted by RSET", func(t *testing.T) {
		b := &testBackend{}
		lb := start(t, chunkingServer(b))
		c := dial(t, lb)
		c.Run(chunkS)
		c.Send("BDAT 3\r\nabcRSET\r\nRCPT TO:<x@y.example>\r\n")
		c.Expect("250 2.0.0 3 octets received\r\n250 2.0.0 OK\r\n503 5.5.1 Need MAIL before RCPT\r\n")
		expectNoMessages(t, b)
	})
	t.Run("too large", func(t *testing.T) {
		b := &testBackend{}
		s := chunkingServer(b)
		s.MaxMessageBytes = 10
		lb := start(t, s)
		c := dial(t, lb)
		c.Run(`
			C: EHLO client
			C: MAIL FROM:<a@b.example>
			C: RCPT TO:<b@c.example>
			` + ehloScript("10", "CHUNKING", "BINARYMIME") + `
			S: 250 2.1.0 Sender OK
			S: 250 2.1.5 Recipient OK
		`)
		c.Send("BDAT 6\r\n123456BDAT 6 LAST\r\n123456NOOP\r\n")
		c.Expect("250 2.0.0 6 octets received\r\n" +
			"552 5.3.4 Message size exceeds fixed maximum message size of 10 octets\r\n" +
			"250 2.0.0 OK\r\n")
		expectNoMessages(t, b)
	})
	// The refusal answers the chunk being read; the second chunk,
	// pipelined, is refused and skipped.
	refused := "552 5.2.2 Mailbox full\r\n503 5.5.1 Need MAIL before BDAT\r\n250 2.0.0 OK\r\n"
	t.Run("refused by backend mid-message", func(t *testing.T) {
		b := &testBackend{data: func(r io.Reader) (string, error) {
			return "", reply.ExceededStorage("Mailbox full")
		}}
		lb := start(t, chunkingServer(b))
		c := dial(t, lb)
		c.Run(chunkS)
		c.Send("BDAT 3\r\nabcBDAT 3 LAST\r\ndefNOOP\r\n")
		c.Expect(refused)
		expectNoMessages(t, b)
	})
	// A chunk is answered once it has arrived: a refusal after a whole
	// chunk was read answers the next BDAT (one reply per command, RFC
	// 3030 2), whose chunk is skipped.
	t.Run("refused by backend after a whole chunk", func(t *testing.T) {
		b := &testBackend{data: func(r io.Reader) (string, error) {
			if _, err := io.ReadFull(r, make([]byte, 3)); err != nil {
				return "", err
			}
			return "", reply.ExceededStorage("Mailbox full")
		}}
		lb := start(t, chunkingServer(b))
		c := dial(t, lb)
		c.Run(chunkS)
		c.Send("BDAT 3\r\nabc")
		c.Expect("250 2.0.0 3 octets received\r\n")
		c.Send("BDAT 3\r\ndefBDAT 3 LAST\r\nghiNOOP\r\n")
		c.Expect(refused)
		expectNoMessages(t, b)
	})
	t.Run("malformed", func(t *testing.T) {
		lb := start(t, chunkingServer(&testBackend{}))
		c := dial(t, lb)
		c.Run(`
			` + chunkS + `
			C: BDAT x
			S: 501 5.5.4 Malformed BDAT command; closing connection
		`)
		c.ExpectClosed()
	})
}

// lmtpSession reports per-recipient results: recipients whose local part
// is "full" fail.
type lmtpSession struct {
	*testSession
	rcpts []string
}

func (s *lmtpSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	s.rcpts = append(s.rcpts, to.Local)
	return s.testSession.Rcpt(ctx, to, p)
}

func (s *lmtpSession) LMTPData(ctx context.Context, r io.Reader) ([]error, error) {
	if err := s.testSession.Data(ctx, r); err != nil {
		return nil, err
	}
	out := make([]error, len(s.rcpts))
	for i, rc := range s.rcpts {
		if rc == "full" {
			out[i] = reply.New(reply.CodeInsufficientStorage, reply.EnhMailboxFull().WithClass(4), "Mailbox full")
		}
	}
	s.rcpts = nil
	return out, nil
}

func TestLMTP(t *testing.T) {
	b := &testBackend{}
	lmtp := server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return &lmtpSession{testSession: &testSession{b: b, c: c}}, nil
	})
	s := newServer(lmtp)
	s.LMTP = true
	lb := start(t, s)
	c := lb.Dial(t)
	c.Run(`
		S: 220 mx.test LMTP ready
		C: EHLO client
		S: 500 This is an LMTP server: use LHLO
		` + openS("LHLO", ehloS, "ok@c.example", "full@c.example") + `
		C: hi
		C: .
		S: 250 2.0.0 OK: message accepted
		S: 452 4.2.2 Mailbox full
	`)

	// Without LMTPSession, Data's result goes to every recipient.
	b2 := &testBackend{data: func(r io.Reader) (string, error) {
		io.Copy(io.Discard, r)
		return "", errors.New("down")
	}}
	s2 := newServer(b2)
	s2.LMTP = true
	lb2 := start(t, s2)
	c2 := lb2.Dial(t)
	c2.Run(lmtpS("x@c.example", "y@c.example") + `
		C: hi
		C: .
		S: 451 4.3.0 Requested action aborted: local error in processing
		S: 451 4.3.0 Requested action aborted: local error in processing
	`)
}

// TestDataEarlyReturn: a backend that returns before reading everything
// gets its reply only after the data was read to the real end.
func TestDataEarlyReturn(t *testing.T) {
	b := &testBackend{data: func(r io.Reader) (string, error) {
		buf := make([]byte, 3)
		io.ReadFull(r, buf)
		return string(buf), nil
	}}
	lb := start(t, newServer(b))
	c := dial(t, lb)
	c.Run(dataS)
	c.Send(strings.Repeat("a long line of text\r\n", 5000) + ".\r\nNOOP\r\n")
	c.Expect("250 2.0.0 OK: message accepted\r\n250 2.0.0 OK\r\n")
	// The backend stored what it read; the rest was drained, not run.
	if m := b.Messages(); len(m) != 1 || m[0].Data != "a l" {
		t.Errorf("stored %+v, want one message of the 3 bytes read", m)
	}
}

// panicSession panics in Rcpt for "boom" and in Data for "boom" content.
type panicSession struct{ *testSession }

func (s *panicSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	if to.Local == "boom" {
		panic("rcpt exploded")
	}
	return s.testSession.Rcpt(ctx, to, p)
}

func (s *panicSession) Data(ctx context.Context, r io.Reader) error {
	b := make([]byte, 4)
	io.ReadFull(r, b)
	if string(b) == "boom" {
		panic("data exploded")
	}
	io.Copy(io.Discard, r)
	return nil
}

func TestBackendPanic(t *testing.T) {
	b := &testBackend{}
	logs := &syncBuffer{}
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		return &panicSession{&testSession{b: b, c: c}}, nil
	}))
	s.Logger = slogTo(logs)
	lb := start(t, s)
	c := dial(t, lb)
	other := dial(t, lb)
	c.Run(`
		C: EHLO client
		C: MAIL FROM:<a@b.example>
		C: RCPT TO:<boom@c.example>
		C: RCPT TO:<ok@c.example>
		C: DATA
		` + ehloS + `
		S: 250 2.1.0 Sender OK
		S: 451 4.3.0 Requested action aborted: local error in processing
		S: 250 2.1.5 Recipient OK
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		C: boom and more
		C: .
		S: 451 4.3.0 Requested action aborted: local error in processing
		C: NOOP
		S: 250 2.0.0 OK
	`)
	other.Run(`
		C: NOOP
		S: 250 OK
	`)
	l := logs.String()
	if !strings.Contains(l, "rcpt exploded") || !strings.Contains(l, "data exploded") || !strings.Contains(l, "conn=") {
		t.Errorf("panics not logged with connection id:\n%s", l)
	}
}

// ctxSession checks the contexts it gets.
type ctxSession struct {
	*testSession
	mu        sync.Mutex
	deadlines []time.Duration
	dataCtx   context.Context
}

func (s *ctxSession) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	d, _ := ctx.Deadline()
	s.mu.Lock()
	s.deadlines = append(s.deadlines, time.Until(d))
	s.mu.Unlock()
	return nil
}

func (s *ctxSession) Data(ctx context.Context, r io.Reader) error {
	s.mu.Lock()
	s.dataCtx = ctx
	s.mu.Unlock()
	done := ctx.Done()
	io.Copy(io.Discard, r)
	d, _ := ctx.Deadline()
	s.mu.Lock()
	s.deadlines = append(s.deadlines, time.Until(d))
	s.mu.Unlock()
	select {
	case <-done:
		return errors.New("context done during Data")
	default:
	}
	return nil
}

func TestContexts(t *testing.T) {
	var sess *ctxSession
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		sess = &ctxSession{testSession: &testSession{b: &testBackend{}, c: c}}
		return sess, nil
	}))
	s.CommandTimeout = time.Minute
	s.DataTimeout = 2 * time.Minute
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(`
		` + dataS + `
		C: x
		C: .
		S: 250 2.0.0 OK: message accepted
	`)
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if len(sess.deadlines) != 2 {
		t.Fatalf("deadlines = %v", sess.deadlines)
	}
	if d := sess.deadlines[0]; d < 50*time.Second || d > time.Minute {
		t.Errorf("Mail deadline in %v, want about 1m", d)
	}
	if d := sess.deadlines[1]; d < 110*time.Second || d > 2*time.Minute {
		t.Errorf("Data deadline in %v, want about 2m", d)
	}
	if err := sess.dataCtx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Data context after return: %v, want Canceled", err)
	}
}

// TestBDATInterrupted: a command other than BDAT or NOOP between the
// chunks of a message ends the message and its transaction (RFC 3030 2),
// so that a later BDAT LAST is refused rather than delivering the rest of
// the message as if it were whole.
func TestBDATInterrupted(t *testing.T) {
	tests := []struct {
		cmd, reply string
	}{
		{"VRFY x", "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"},
		{"HELP", "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\r\n214 2.0.0 See RFC 5321\r\n"},
		{"EXPN list", "502 5.5.1 EXPN not available\r\n"},
		{"FOO", "500 5.5.2 Command unrecognized\r\n"},
		{"RCPT TO:<c@c.example>", "503 5.5.1 Need MAIL before RCPT\r\n"},
		{"RSET", "250 2.0.0 OK\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			b := &testBackend{}
			lb := start(t, chunkingServer(b))
			c := dial(t, lb)
			c.Run(chunkS)
			c.Send("BDAT 3\r\nabc" + tt.cmd + "\r\nBDAT 3 LAST\r\ndefNOOP\r\n")
			c.Expect("250 2.0.0 3 octets received\r\n" + tt.reply +
				"503 5.5.1 Need MAIL before BDAT\r\n250 2.0.0 OK\r\n")
			if m := b.Messages(); len(m) != 0 {
				t.Errorf("stored %+v", m)
			}
			b.mu.Lock()
			resets := b.resets
			b.mu.Unlock()
			if resets != 1 {
				t.Errorf("backend Reset %d times, want 1", resets)
			}
		})
	}
	t.Run("MAIL starts a new transaction", func(t *testing.T) {
		b := &testBackend{}
		lb := start(t, chunkingServer(b))
		c := dial(t, lb)
		c.Run(chunkS)
		c.Send("BDAT 3\r\nabcMAIL FROM:<new@b.example>\r\nRCPT TO:<b@c.example>\r\nBDAT 3 LAST\r\ndef")
		c.Expect("250 2.0.0 3 octets received\r\n250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n" +
			"250 2.0.0 OK: message accepted\r\n")
		if m := b.Messages(); len(m) != 1 || m[0].From != "<new@b.example>" || m[0].Data != "def" {
			t.Errorf("stored %+v, want only the new message", m)
		}
	})
}

// TestBDATCutBetweenChunks: a client that leaves after a chunk without
// LAST has sent no complete message: Data sees an error, not io.EOF, and
// nothing is acknowledged. (Reported by the reliability tests.)
func TestBDATCutBetweenChunks(t *testing.T) {
	dataErr := make(chan error, 1)
	b := &testBackend{data: func(r io.Reader) (string, error) {
		buf, err := io.ReadAll(r)
		dataErr <- err
		return string(buf), err
	}}
	lb := start(t, chunkingServer(b))
	c := dial(t, lb)
	c.Run(chunkS)
	c.Send("BDAT 21\r\nSubject: part one\r\n\r\n")
	c.Expect("250 2.0.0 21 octets received\r\n")
	if err := c.NetConn().(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.ExpectClosed()
	select {
	case err := <-dataErr:
		if err == nil || errors.Is(err, io.EOF) {
			t.Errorf("Data read error = %v, want a failure other than io.EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Data did not return")
	}
	if m := b.Messages(); len(m) != 0 {
		t.Errorf("stored %+v", m)
	}
}

// TestDataCut: a client that leaves in the middle of DATA has sent no
// message: Data sees an error and nothing is acknowledged.
func TestDataCut(t *testing.T) {
	for _, tail := range []string{"partial", "partial\r\n", "partial\r\n.", "partial\r\n.\r"} {
		t.Run(strings.NewReplacer("\r", "CR", "\n", "LF").Replace(tail), func(t *testing.T) {
			dataErr := make(chan error, 1)
			b := &testBackend{data: func(r io.Reader) (string, error) {
				buf, err := io.ReadAll(r)
				dataErr <- err
				return string(buf), err
			}}
			lb := start(t, newServer(b))
			c := dial(t, lb)
			c.Run(dataS)
			c.Send(tail)
			c.NetConn().(*net.TCPConn).CloseWrite()
			c.ExpectClosed()
			if err := <-dataErr; err == nil {
				t.Error("Data read the message without error")
			}
			if m := b.Messages(); len(m) != 0 {
				t.Errorf("stored %+v", m)
			}
		})
	}
}

// sendMessage sends body as a whole message: with DATA (dot-stuffing is
// not needed for these bodies) or in one BDAT LAST chunk.
func sendMessage(c *smtptest.Conn, verb, body string) {
	if verb == "DATA" {
		c.Run("C: DATA\nS: 354 Start mail input; end with <CRLF>.<CRLF>\n")
		c.Send(body + ".\r\n")
		return
	}
	c.Send("BDAT " + strconv.Itoa(len(body)) + " LAST\r\n" + body)
}

// TestDataAndBDATLimitsAgree: the size and text line limits count what the
// backend receives, after bare LFs were made CRLF, so DATA and BDAT give
// the same answer for the same message: 552 5.3.4 (RFC 1870 6.1, RFC 5321
// 4.5.3.1.10) or 500 5.5.2, never a message larger than the limit.
func TestDataAndBDATLimitsAgree(t *testing.T) {
	tests := []struct {
		name      string
		maxBytes  int64
		maxLine   int
		body      string // ends with CRLF; bare LFs inside
		wantReply string // "" for accepted
	}{
		// 250 lines "xx" LF: 750 octets sent, 1000 received.
		{"size at the limit", 1000, 0, strings.Repeat("xx\n", 249) + "xx\r\n", ""},
		{"size over by normalisation", 1000, 0, strings.Repeat("xx\n", 250) + "xx\r\n",
			"552 5.3.4 Message size exceeds fixed maximum message size of 1000 octets\r\n"},
		{"line at the limit", 0, 10, "12345678\n12345678\r\n", ""},
		{"line over", 0, 10, "123456789\r\n", "500 5.5.2 Line too long\r\n"},
	}
	for _, tt := range tests {
		for _, verb := range []string{"DATA", "BDAT"} {
			t.Run(tt.name+"/"+verb, func(t *testing.T) {
				b := &testBackend{}
				s := chunkingServer(b)
				s.MaxMessageBytes = tt.maxBytes
				s.MaxTextLineLength = tt.maxLine
				lb := start(t, s)
				c := dial(t, lb)
				c.Send("EHLO client\r\n")
				c.ReadReply()
				c.Run(`
					C: MAIL FROM:<a@b.example>
					S: 250 2.1.0 Sender OK
					C: RCPT TO:<b@c.example>
					S: 250 2.1.5 Recipient OK
				`)
				sendMessage(c, verb, tt.body)
				want := tt.wantReply
				if want == "" {
					want = "250 2.0.0 OK: message accepted\r\n"
				}
				c.Expect(want)
				msgs := b.Messages()
				switch {
				case tt.wantReply != "" && len(msgs) != 0:
					t.Errorf("stored %d octets, want nothing", len(msgs[0].Data))
				case tt.wantReply == "" && (len(msgs) != 1 || msgs[0].Data != strings.ReplaceAll(strings.ReplaceAll(tt.body, "\r\n", "\n"), "\n", "\r\n")):
					t.Errorf("stored %+v", msgs)
				}
				// The session goes on.
				c.Run("C: NOOP\nS: 250 2.0.0 OK\n")
			})
		}
	}
}

// gate blocks a backend method until the test opens it; it is opened
// when the test ends in any case.
type gate struct {
	entered, open chan struct{}
	once          sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{entered: make(chan struct{}, 1), open: make(chan struct{})}
	t.Cleanup(g.release)
	return g
}

func (g *gate) wait() {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.open
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// TestRepliesDoNotWaitForTheBackend: a reply the client waits for is sent
// when it is queued, not when the backend next reads: the 354 (RFC 5321
// 4.5.3.2.4 gives the client 2 minutes for it), the reply to each BDAT
// chunk but the last (RFC 3030 2), and the reply to the message before
// the backend's Reset.
func TestRepliesDoNotWaitForTheBackend(t *testing.T) {
	t.Run("354 before Data reads", func(t *testing.T) {
		g := newGate(t)
		b := &testBackend{data: func(r io.Reader) (string, error) {
			g.wait()
			data, err := io.ReadAll(r)
			return string(data), err
		}}
		lb := start(t, newServer(b))
		c := dial(t, lb)
		c.Run(dataS) // the 354 comes while Data has not read yet
		g.release()
		c.Run("C: hi\nC: .\nS: 250 2.0.0 OK: message accepted\n")
	})
	t.Run("chunk reply before Data reads on", func(t *testing.T) {
		g := newGate(t)
		b := &testBackend{data: func(r io.Reader) (string, error) {
			first := make([]byte, 3)
			if _, err := io.ReadFull(r, first); err != nil {
				return "", err
			}
			g.wait()
			rest, err := io.ReadAll(r)
			return string(first) + string(rest), err
		}}
		lb := start(t, chunkingServer(b))
		c := dial(t, lb)
		c.Run(chunkS)
		c.Send("BDAT 3\r\nabc")
		c.Expect("250 2.0.0 3 octets received\r\n")
		g.release()
		c.Send("BDAT 3 LAST\r\ndef")
		c.Expect("250 2.0.0 OK: message accepted\r\n")
	})
	t.Run("message reply before Reset", func(t *testing.T) {
		g := newGate(t)
		var stored atomic.Bool
		b := &testBackend{}
		b.reset = func() {
			if stored.Load() {
				g.wait()
			}
		}
		b.data = func(r io.Reader) (string, error) {
			data, err := io.ReadAll(r)
			stored.Store(err == nil)
			return string(data), err
		}
		lb := start(t, newServer(b))
		c := dial(t, lb)
		c.Run(dataS + "C: hi\nC: .\nS: 250 2.0.0 OK: message accepted\n")
		g.release()
	})
}

// TestStartTLSResetsSession: STARTTLS calls Session.Reset, so that the
// backend forgets what it learnt before TLS (RFC 3207 4.2).
func TestStartTLSResetsSession(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	b := &testBackend{}
	s := newServer(b)
	s.TLSConfig = cert.ServerConfig()
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(startTLSS)
	b.mu.Lock()
	before := b.resets
	b.mu.Unlock()
	c.StartTLS(cert.ClientConfig())
	c.Run("C: NOOP\nS: 250 OK\n")
	b.mu.Lock()
	after := b.resets
	b.mu.Unlock()
	if after != before+1 {
		t.Errorf("Reset called %d times by STARTTLS, want 1", after-before)
	}
}

// TestBDATInterruptTracedOnce: the command that interrupts a BDAT
// transfer appears once in the trace, like every other command.
func TestBDATInterruptTracedOnce(t *testing.T) {
	trace := &syncBuffer{}
	s := chunkingServer(&testBackend{})
	s.Trace = trace
	lb := start(t, s)
	c := dial(t, lb)
	c.Run(chunkS)
	c.Send("BDAT 3\r\nabcHELP\r\n")
	c.Expect("250 2.0.0 3 octets received\r\n214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\r\n214 2.0.0 See RFC 5321\r\n")
	c.Run("C: QUIT\nS: 221 2.0.0 mx.test closing connection\n")
	if n := strings.Count(trace.String(), "C: HELP\n"); n != 1 {
		t.Errorf("HELP traced %d times:\n%s", n, trace.String())
	}
}
