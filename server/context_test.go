package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/server"
)

// keepSession keeps the context of its first Mail and the reader of its
// first Data, and checks them in later calls.
type keepSession struct {
	*testSession
	mu       sync.Mutex
	ctx      context.Context // Mail's
	body     io.Reader       // the first Data's
	problems []string
}

func (s *keepSession) note(p string) {
	s.mu.Lock()
	s.problems = append(s.problems, p)
	s.mu.Unlock()
}

// checkKept reports a kept context that is not done, or whose Done, Err
// and Cause disagree.
func (s *keepSession) checkKept(where string) {
	if s.ctx == nil {
		return
	}
	select {
	case <-s.ctx.Done():
	default:
		s.note(where + ": Mail's context is not done")
	}
	if s.ctx.Err() == nil {
		s.note(where + ": Mail's context has no error")
	}
	if !errors.Is(context.Cause(s.ctx), server.ErrMethodReturned) {
		s.note(where + ": Mail's context cause is " + errString(context.Cause(s.ctx)))
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func (s *keepSession) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	s.checkKept("Mail")
	if s.ctx == nil {
		s.ctx = ctx
	}
	return s.testSession.Mail(ctx, from, p)
}

func (s *keepSession) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	s.checkKept("Rcpt")
	return s.testSession.Rcpt(ctx, to, p)
}

func (s *keepSession) Data(ctx context.Context, r io.Reader) error {
	s.checkKept("Data")
	if s.body == nil {
		s.body = r
	} else if n, err := s.body.Read(make([]byte, 64)); n > 0 || err == nil || err == io.EOF {
		// The first message's reader must not read this message.
		s.note("a kept message reader read " + strconv.Itoa(n) + " octets, err " + errString(err))
	}
	return s.testSession.Data(ctx, r)
}

// TestKeptContextStaysDone: a context kept after its method returned is
// done for good (Cause ErrMethodReturned), not alive again during the next
// command; a message reader kept after Data fails instead of reading the
// next message. Both for DATA and BDAT.
func TestKeptContextStaysDone(t *testing.T) {
	for _, verb := range []string{"DATA", "BDAT"} {
		t.Run(verb, func(t *testing.T) {
			sess := &keepSession{}
			b := &testBackend{}
			s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
				sess.testSession = &testSession{b: b, c: c}
				return sess, nil
			}))
			s.EnableChunking = true
			lb := start(t, s)
			c := dial(t, lb)
			c.Send("EHLO client\r\n")
			c.ReadReply()
			for i := 0; i < 2; i++ {
				c.Run(`
					C: MAIL FROM:<a@b.example>
					S: 250 2.1.0 Sender OK
					C: RCPT TO:<b@c.example>
					S: 250 2.1.5 Recipient OK
				`)
				sendMessage(c, verb, "message "+strconv.Itoa(i)+"\r\n")
				c.Expect("250 2.0.0 OK: message accepted\r\n")
			}
			sess.mu.Lock()
			defer sess.mu.Unlock()
			for _, p := range sess.problems {
				t.Error(p)
			}
			if m := b.Messages(); len(m) != 2 || m[1].Data != "message 1\r\n" {
				t.Errorf("stored %+v", m)
			}
		})
	}
}

// raceSession hands each Mail's context to a goroutine that looks at it
// while and after Mail returns.
type raceSession struct {
	*testSession
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []string
}

func (s *raceSession) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for i := 0; ; i++ {
			var done bool
			switch i % 3 {
			case 0:
				done = ctx.Err() != nil
			case 1:
				select {
				case <-ctx.Done():
					done = true
				default:
				}
			default:
				done = context.Cause(ctx) != nil
			}
			if done {
				break
			}
		}
		if err, cause := ctx.Err(), context.Cause(ctx); err != context.Canceled || !errors.Is(cause, server.ErrMethodReturned) {
			s.mu.Lock()
			s.errs = append(s.errs, "Err "+errString(err)+", Cause "+errString(cause))
			s.mu.Unlock()
		}
	}()
	return s.testSession.Mail(ctx, from, p)
}

// TestContextLookedAtWhileReturning: a context a backend's goroutine
// looks at while its method returns (ending it without the lock when
// nobody looked, with it otherwise) ends the same way every time: done,
// Canceled, with the cause ErrMethodReturned. Run with -race.
func TestContextLookedAtWhileReturning(t *testing.T) {
	var sess *raceSession
	s := newServer(server.BackendFunc(func(ctx context.Context, c *server.Conn) (server.Session, error) {
		sess = &raceSession{testSession: &testSession{b: &testBackend{}, c: c}}
		return sess, nil
	}))
	c := dial(t, start(t, s))
	c.Run("C: EHLO client\n" + ehloS)
	for range 50 {
		c.Run(`
			C: RSET
			S: 250 2.0.0 OK
			C: MAIL FROM:<a@b.example>
			S: 250 2.1.0 Sender OK
		`)
	}
	sess.wg.Wait()
	if len(sess.errs) > 0 {
		t.Errorf("%d contexts ended otherwise: %v", len(sess.errs), sess.errs[0])
	}
}

// A backend may keep the paths of MAIL and RCPT: each keeps what its
// command said, whether the argument repeats the last one (which the
// server does not copy again) or not, pipelined or not.
func TestKeptPathsStay(t *testing.T) {
	var mu sync.Mutex
	var kept []envelope.Path
	keep := func(p envelope.Path) error {
		mu.Lock()
		kept = append(kept, p)
		mu.Unlock()
		return nil
	}
	b := &testBackend{mail: keep, rcpt: keep}
	lb := start(t, newServer(b))
	c := dial(t, lb)
	c.Send("EHLO client\r\n")
	c.ReadReply()
	var want []string
	var batch strings.Builder
	for i, m := range []struct{ from, params, to string }{
		{"a@x.example", "", "r@y.example"},
		{"a@x.example", "", "r@y.example"},
		{"b@x.example", "", "r@y.example"},
		{"a@x.example", "", "s@y.example"},
		{"a@x.example", " SIZE=10", "s@y.example"},
		{"a@x.example", "", "s@y.example"},
	} {
		want = append(want, m.from, m.to)
		fmt.Fprintf(&batch, "MAIL FROM:<%s>%s\r\nRCPT TO:<%s>\r\nRSET\r\n", m.from, m.params, m.to)
		if i%2 == 1 {
			c.Send(batch.String()) // two transactions pipelined (RFC 2920)
			batch.Reset()
			for range 6 {
				if r, err := c.ReadReply(); err != nil || !strings.HasPrefix(r, "250 ") {
					t.Fatalf("%v, %v", r, err)
				}
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, p := range kept {
		got = append(got, p.Address.String())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("kept %q, sent %q", got, want)
	}
}
