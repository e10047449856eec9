package benchcmp

import (
	"bytes"
	"context"
	netsmtp "net/smtp"
	"sync"
	"sync/atomic"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/smtpkit/smtp/client"
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

// smtpkit: github.com/smtpkit/smtp/client. It pipelines MAIL, RCPT and DATA
// when the server offers PIPELINING (smtp-sink does) and uses BDAT when it
// offers CHUNKING (smtp-sink does not).
type smtpkitSession struct {
	c *client.Client
	r bytes.Reader
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
// trips per message; go-smtp's server and smtpkit's mailsink: CHUNKING, so
// one round trip with BDAT), run as processes of their own. One op is one
// message:
//
//	reuse         one connection, a new MAIL after each accepted message
//	perconn       connect, EHLO, one message, QUIT
//	concurrent10  10 connections in parallel, b.N messages in all
//
// The sink's message counter is checked at the end.
func BenchmarkClient(b *testing.B) {
	dir := b.TempDir()
	for _, kind := range sinkKinds {
		b.Run(kind.name, func(b *testing.B) { benchClients(b, startSink(b, kind, dir)) })
	}
}

func benchClients(b *testing.B, sink *sink) {
	var sent atomic.Int64
	msg := message(1024)
	to := []string{benchRcpt}

	for _, impl := range clientImpls {
		b.Run("reuse/"+impl.name, func(b *testing.B) {
			s, err := impl.dial(sink.addr, benchHelo)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Quit()
			for range 20 { // warm up: the first transaction sizes the buffers
				if err := s.Send(benchSender, to, msg); err != nil {
					b.Fatal(err)
				}
			}
			sent.Add(20)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			for range b.N {
				if err := s.Send(benchSender, to, msg); err != nil {
					b.Fatal(err)
				}
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
	for _, impl := range clientImpls {
		b.Run("concurrent10/"+impl.name, func(b *testing.B) {
			sess := make([]clientSession, conns)
			for i := range sess {
				s, err := impl.dial(sink.addr, benchHelo)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Send(benchSender, to, msg); err != nil {
					b.Fatal(err)
				}
				sent.Add(1)
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
					done := 0
					for range share {
						if err := s.Send(benchSender, to, msg); err != nil {
							errs[i] = err
							break
						}
						done++
					}
					sent.Add(int64(done))
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
			if got, want := sink.stopAndCount(), 3*len(clientImpls); got != want {
				t.Errorf("%s counted %d messages, want %d", kind.name, got, want)
			}
		})
	}
}
