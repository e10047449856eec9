package benchcmp

import (
	"bytes"
	"context"
	"fmt"
	netsmtp "net/smtp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
)

// clientSession is one open, greeted connection of a client library.
type clientSession interface {
	// Send runs one mail transaction and returns once the server accepted
	// the message.
	Send(from string, to []string, msg []byte) error
	// Quit sends QUIT and closes the connection.
	Quit() error
}

type clientImpl struct {
	name string
	dial func(addr, helo string) (clientSession, error)
}

// clientImpls are the clients compared. Each session reuses one
// bytes.Reader for the message, so allocs/op is the library's own (the
// shell harness's clientbench makes a new bytes.Reader per message: one
// allocation more for every client).
var clientImpls = []clientImpl{
	{"smtpkit", dialSMTPKit(nil)},
	{"smtpkit-nopipe", dialSMTPKit(&client.Options{NoPipelining: true})},
	{"gosmtp", dialGoSMTP},
	{"netsmtp", dialNetSMTP},
}

// batchSize is the number of messages per SendBatch call of the batch
// modes.
const batchSize = 100

// batchImpls are the clients whose sessions are batchSenders, run in the
// reuse and concurrent10 modes with batches of batchSize messages (named
// "<name>-batch100"; their ratios are to go-smtp's Send in the same mode).
var batchImpls = []clientImpl{
	{"smtpkit", dialSMTPKit(nil)},
}

// sendBatches sends n messages on s in batches of batchSize.
func sendBatches(s clientSession, msg []byte, n int) error {
	bs, ok := s.(batchSender)
	if !ok {
		return fmt.Errorf("%T cannot send batches", s)
	}
	to := []string{benchRcpt}
	for n > 0 {
		k := min(n, batchSize)
		if err := bs.SendBatch(benchSender, to, msg, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// smtpkit: github.com/smtpkit/smtp/client. It pipelines MAIL, RCPT and DATA
// when the server offers PIPELINING (smtp-sink does) and uses BDAT when it
// offers CHUNKING (smtp-sink does not).
type smtpkitSession struct {
	c *client.Client
	r bytes.Reader
	// for SendBatch
	env  envelope.Envelope
	msgs []client.Message
	rs   []bytes.Reader
}

func dialSMTPKit(opts *client.Options) func(addr, helo string) (clientSession, error) {
	return func(addr, helo string) (clientSession, error) {
		ctx := context.Background()
		c, err := client.Dial(ctx, addr, opts)
		if err != nil {
			return nil, err
		}
		if err := c.Hello(ctx, helo); err != nil {
			c.Close()
			return nil, err
		}
		return &smtpkitSession{c: c}, nil
	}
}

func (s *smtpkitSession) Send(from string, to []string, msg []byte) error {
	s.r.Reset(msg)
	return s.c.SendMail(context.Background(), from, to, &s.r)
}

func (s *smtpkitSession) Quit() error { return s.c.Quit(context.Background()) }

// batchSender is a session that can hand over several messages at once.
type batchSender interface {
	// SendBatch sends msg n times to the same envelope and returns the
	// first failure of any of them.
	SendBatch(from string, to []string, msg []byte, n int) error
}

// SendBatch sends n copies of msg with client.SendBatch: against a server
// that offers PIPELINING but not CHUNKING (smtp-sink), each final dot goes
// in one write with the next message's MAIL, RCPT and DATA, one round trip
// per message instead of Send's two. The envelope is parsed once and the
// messages and their readers are reused from one batch to the next, so
// allocs/op is the client's own.
func (s *smtpkitSession) SendBatch(from string, to []string, msg []byte, n int) error {
	if len(s.env.To) == 0 {
		env, err := batchEnvelope(from, to)
		if err != nil {
			return err
		}
		s.env = env
	}
	if len(s.msgs) < n {
		s.rs = make([]bytes.Reader, n)
		s.msgs = make([]client.Message, n)
		for i := range s.msgs {
			s.msgs[i] = client.Message{Envelope: s.env, Body: &s.rs[i]}
		}
	}
	for i := range n {
		s.rs[i].Reset(msg)
	}
	for i, r := range s.c.SendBatch(context.Background(), s.msgs[:n]) {
		if r.Err != nil {
			return fmt.Errorf("message %d of %d: %w", i+1, n, r.Err)
		}
	}
	return nil
}

// batchEnvelope builds the envelope of from and to ("local@domain").
func batchEnvelope(from string, to []string) (envelope.Envelope, error) {
	opts := envelope.ParseOptions{}
	var env envelope.Envelope
	var err error
	if env.From, err = envelope.ParsePath("<"+from+">", opts); err != nil {
		return env, err
	}
	for _, t := range to {
		p, err := envelope.ParsePath("<"+t+">", opts)
		if err != nil {
			return env, err
		}
		env.To = append(env.To, envelope.Recipient{Path: p})
	}
	return env, nil
}

// go-smtp's client: one round trip per command. SendMail on the open
// connection (no RSET, which would make go-smtp say EHLO again).
type goSMTPSession struct {
	c *gosmtp.Client
	r bytes.Reader
}

func dialGoSMTP(addr, helo string) (clientSession, error) {
	c, err := gosmtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Hello(helo); err != nil {
		c.Close()
		return nil, err
	}
	return &goSMTPSession{c: c}, nil
}

func (s *goSMTPSession) Send(from string, to []string, msg []byte) error {
	s.r.Reset(msg)
	return s.c.SendMail(from, to, &s.r)
}

func (s *goSMTPSession) Quit() error { return s.c.Quit() }

// net/smtp: frozen, one round trip per command.
type netSMTPSession struct{ c *netsmtp.Client }

func dialNetSMTP(addr, helo string) (clientSession, error) {
	c, err := netsmtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Hello(helo); err != nil {
		c.Close()
		return nil, err
	}
	return netSMTPSession{c}, nil
}

func (s netSMTPSession) Send(from string, to []string, msg []byte) error {
	if err := s.c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := s.c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := s.c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (s netSMTPSession) Quit() error { return s.c.Quit() }

// sendOn sends n messages on one connection, then QUIT.
func sendOn(impl clientImpl, addr string, msg []byte, n int) error {
	s, err := impl.dial(addr, benchHelo)
	if err != nil {
		return err
	}
	to := []string{benchRcpt}
	for range n {
		if err := s.Send(benchSender, to, msg); err != nil {
			s.Quit()
			return err
		}
	}
	return s.Quit()
}

// BenchmarkClient compares the clients with 1 KiB messages against each
// sink of sinkKinds (Postfix's smtp-sink: no CHUNKING, so at best two round
// trips per message with Send; go-smtp's server and smtpkit's mailsink:
// CHUNKING, so one round trip with BDAT), run as processes of their own.
// One op is one message:
//
//	reuse         one connection, a new MAIL after each accepted message
//	perconn       connect, EHLO, one message, QUIT
//	concurrent10  10 connections in parallel, b.N messages in all
//
// In reuse and concurrent10, "smtpkit-batch100" is smtpkit's client with
// SendBatch, 100 messages per call: against smtp-sink one round trip per
// message (the final dot shares a write with the next MAIL RCPT DATA).
// The sink's message counter is checked at the end.
func BenchmarkClient(b *testing.B) {
	dir := b.TempDir()
	for _, kind := range sinkKinds {
		b.Run(kind.name, func(b *testing.B) { benchClients(b, startSink(b, kind, dir)) })
	}
}

// A clientRun is a client and how it sends n messages on one session.
type clientRun struct {
	name  string
	dial  func(addr, helo string) (clientSession, error)
	sendN func(s clientSession, msg []byte, n int) error
}

// sendEach sends n messages on s with one Send each.
func sendEach(s clientSession, msg []byte, n int) error {
	to := []string{benchRcpt}
	for range n {
		if err := s.Send(benchSender, to, msg); err != nil {
			return err
		}
	}
	return nil
}

// clientRuns are clientImpls sending one message at a time, then
// batchImpls sending batches.
func clientRuns() []clientRun {
	var runs []clientRun
	for _, impl := range clientImpls {
		runs = append(runs, clientRun{impl.name, impl.dial, sendEach})
	}
	for _, impl := range batchImpls {
		runs = append(runs, clientRun{impl.name + "-batch" + strconv.Itoa(batchSize), impl.dial, sendBatches})
	}
	return runs
}

func benchClients(b *testing.B, sink *sink) {
	var sent atomic.Int64
	msg := message(1024)
	const warmup = batchSize // messages per session before the timer starts

	for _, run := range clientRuns() {
		b.Run("reuse/"+run.name, func(b *testing.B) {
			s, err := run.dial(sink.addr, benchHelo)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Quit()
			// warm up: the first transactions (a whole batch) size the
			// buffers and results
			if err := run.sendN(s, msg, warmup); err != nil {
				b.Fatal(err)
			}
			sent.Add(warmup)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			if err := run.sendN(s, msg, b.N); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cpu.report(b)
			sent.Add(int64(b.N))
		})
	}
	for _, impl := range clientImpls {
		b.Run("perconn/"+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			for range b.N {
				if err := sendOn(impl, sink.addr, msg, 1); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpu.report(b)
			sent.Add(int64(b.N))
		})
	}
	const conns = 10
	for _, run := range clientRuns() {
		b.Run("concurrent10/"+run.name, func(b *testing.B) {
			sess := make([]clientSession, conns)
			for i := range sess {
				s, err := run.dial(sink.addr, benchHelo)
				if err != nil {
					b.Fatal(err)
				}
				if err := run.sendN(s, msg, warmup); err != nil {
					b.Fatal(err)
				}
				sent.Add(warmup)
				sess[i] = s
			}
			errs := make([]error, conns)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			var wg sync.WaitGroup
			for i, s := range sess {
				share := b.N / conns
				if i < b.N%conns {
					share++
				}
				wg.Go(func() {
					// A failed session counts nothing: the sink's
					// counter then disagrees, and b.Fatal reports it.
					if errs[i] = run.sendN(s, msg, share); errs[i] == nil {
						sent.Add(int64(share))
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			cpu.report(b)
			for _, s := range sess {
				s.Quit()
			}
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if got := sink.stopAndCount(); int64(got) != sent.Load() {
		b.Errorf("%s counted %d messages, the clients sent %d", sink.kind.name, got, sent.Load())
	}
}

// TestClients sends a few messages with every client to every sink and
// checks that the sink counted them all.
func TestClients(t *testing.T) {
	dir := t.TempDir()
	msg := message(1024)
	for _, kind := range sinkKinds {
		t.Run(kind.name, func(t *testing.T) {
			sink := startSink(t, kind, dir)
			for _, impl := range clientImpls {
				if err := sendOn(impl, sink.addr, msg, 3); err != nil {
					t.Errorf("%s: %v", impl.name, err)
				}
			}
			want := 3 * len(clientImpls)
			for _, impl := range batchImpls {
				// 250 messages: two full batches and a short one, the
				// last reusing the first's messages and readers
				s, err := impl.dial(sink.addr, benchHelo)
				if err != nil {
					t.Fatalf("%s: %v", impl.name, err)
				}
				if err := sendBatches(s, msg, 250); err != nil {
					t.Errorf("%s batches: %v", impl.name, err)
				}
				if err := s.Quit(); err != nil {
					t.Errorf("%s: QUIT: %v", impl.name, err)
				}
				want += 250
			}
			if got := sink.stopAndCount(); got != want {
				t.Errorf("%s counted %d messages, want %d", kind.name, got, want)
			}
		})
	}
}
