package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/server"
)

// CountingSink is an in-process SMTP server that accepts every message and
// counts them: the destination of the relay benchmarks.
type CountingSink struct {
	Addr string
	n    atomic.Int64
}

// StartCountingSink serves on a free loopback port until the test ends.
func StartCountingSink(tb testing.TB) *CountingSink {
	tb.Helper()
	s := &CountingSink{}
	s.Addr = ServeSMTP(tb, "127.0.0.1:0", s)
	return s
}

// ServeSMTP serves backend on addr (port 0: a free one) until the test
// ends, and returns the address.
func ServeSMTP(tb testing.TB, addr string, backend server.Backend) string {
	tb.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &server.Server{Hostname: "sink.test", Backend: backend}
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// Count returns the messages accepted so far.
func (s *CountingSink) Count() int { return int(s.n.Load()) }

// Wait waits until n messages have been accepted, or fails after timeout.
func (s *CountingSink) Wait(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for s.Count() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d messages delivered after %v", s.Count(), n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// NewSession implements server.Backend.
func (s *CountingSink) NewSession(context.Context, *server.Conn) (server.Session, error) {
	return countingSession{s}, nil
}

type countingSession struct{ s *CountingSink }

func (countingSession) Mail(context.Context, envelope.Path, envelope.MailParams) error { return nil }
func (countingSession) Rcpt(context.Context, envelope.Path, envelope.RcptParams) error { return nil }
func (countingSession) Reset(context.Context)                                          {}
func (countingSession) Logout(context.Context) error                                   { return nil }

func (cs countingSession) Data(_ context.Context, r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	cs.s.n.Add(1)
	return nil
}

// Load is a submission load: N messages of Size bytes, from one sender to
// one recipient, over Conns connections at once, each reused for its
// share (AUTH PLAIN first when User is set).
type Load struct {
	Addrs []string // the servers, used in turn by the connections
	User  string
	Pass  string
	From  string
	To    string
	N     int
	Conns int
	Size  int
}

// Submit sends the load and returns when every message got its 250, or
// the first failure.
func (l Load) Submit(ctx context.Context) error {
	body := []byte("Subject: load\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", max(1, l.Size/64)))
	var next atomic.Int64
	errs := make(chan error, l.Conns)
	var wg sync.WaitGroup
	for c := range l.Conns {
		wg.Go(func() {
			addr := l.Addrs[c%len(l.Addrs)]
			cl, err := client.Dial(ctx, addr, &client.Options{LocalName: "load.test"})
			if err != nil {
				errs <- err
				return
			}
			defer cl.Quit(ctx)
			if l.User != "" {
				if err := cl.AuthAuto(ctx, client.Credentials{Username: l.User, Password: l.Pass}); err != nil {
					errs <- err
					return
				}
			}
			for next.Add(1) <= int64(l.N) {
				if err := cl.SendMail(ctx, l.From, []string{l.To}, bytes.NewReader(body)); err != nil {
					errs <- fmt.Errorf("%s: %w", addr, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
