package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

// TestShutdownUnderLoad: idle sessions get 421 at once; sessions in the
// middle of a message finish it (250) and then get 421; Shutdown returns
// when all are gone and Serve returns ErrServerClosed.
func TestShutdownUnderLoad(t *testing.T) {
	b := &testBackend{}
	s := newServer(b)
	l, err := smtptest.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	addr := l.Addr().String()

	const idle, busy = 10, 10
	conns := make([]*smtptest.Conn, 0, idle+busy)
	for i := 0; i < idle+busy; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := smtptest.NewConn(t, nc)
		c.Expect("220 mx.test ESMTP ready\r\n")
		c.Run(`
			C: EHLO client
			` + ehloS)
		if i >= idle {
			c.Run(`
				C: MAIL FROM:<a@b.example>
				C: RCPT TO:<b@c.example>
				C: DATA
				S: 250 2.1.0 Sender OK
				S: 250 2.1.5 Recipient OK
				S: 354 Start mail input; end with <CRLF>.<CRLF>
			`)
			c.Send(fmt.Sprintf("Subject: %d\r\n\r\nfirst half\r\n", i))
		}
		conns = append(conns, c)
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()

	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i < idle {
				c.Expect("421 4.3.2 mx.test Service not available, closing transmission channel\r\n")
			} else {
				time.Sleep(50 * time.Millisecond) // Shutdown is under way
				c.Send("second half\r\n.\r\n")
				c.Expect("250 2.0.0 OK: message accepted\r\n" +
					"421 4.3.2 mx.test Service not available, closing transmission channel\r\n")
			}
			c.ExpectClosed()
		}()
	}
	wg.Wait()
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if err := <-served; !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	if n := len(b.Messages()); n != busy {
		t.Errorf("stored %d messages, want %d", n, busy)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
	b.mu.Lock()
	if b.logouts != idle+busy {
		t.Errorf("%d logouts, want %d", b.logouts, idle+busy)
	}
	b.mu.Unlock()
}

// TestClose: Close cuts every connection at once.
func TestClose(t *testing.T) {
	s := newServer(&testBackend{})
	lb := start(t, s)
	c := dial(t, lb)
	s.Close()
	c.ExpectClosed()
	select {
	case <-lb.Done():
		if err := lb.Err(); !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	if err := s.Serve(mustListen(t)); !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve after Close = %v", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	l, err := smtptest.Listen()
	if err != nil {
		t.Fatal(err)
	}
	return l
}
