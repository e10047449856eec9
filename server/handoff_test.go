package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
)

type nopSession struct{}

func (nopSession) Mail(context.Context, envelope.Path, envelope.MailParams) error { return nil }
func (nopSession) Rcpt(context.Context, envelope.Path, envelope.RcptParams) error { return nil }
func (nopSession) Data(_ context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (nopSession) Reset(context.Context)        {}
func (nopSession) Logout(context.Context) error { return nil }

// TestHandOff: a plain TCP connection waiting for a command is handed off
// to a new goroutine (its buffers given back) at once before its first
// transaction, and after the sweeps once it had one; either way the next
// commands are served as before, pipelined ones included.
func TestHandOff(t *testing.T) {
	s := &Server{Hostname: "mx.test", ErrorDelay: -1, Backend: BackendFunc(func(context.Context, *Conn) (Session, error) {
		return nopSession{}, nil
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	expect := func(codes ...string) {
		t.Helper()
		for _, code := range codes {
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("reading %s: %v", code, err)
				}
				if !strings.HasPrefix(line, code) {
					t.Fatalf("got %q, want %s", line, code)
				}
				if line[3] == ' ' {
					break
				}
			}
		}
	}
	waitHandOffs := func(n uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for s.handOffs.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d hand-offs, want %d", s.handOffs.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	expect("220")
	waitHandOffs(1) // waiting for the greeting's answer, before any transaction
	c.Write([]byte("EHLO x\r\n"))
	expect("250")
	waitHandOffs(2)
	txn := "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nhi\r\n.\r\n"
	c.Write([]byte(txn))
	expect("250", "250", "354", "250")
	n := s.handOffs.Load()
	waitHandOffs(n + 1) // idle after a transaction: the sweeper's turn
	c.Write([]byte(txn + "QUIT\r\n"))
	expect("250", "250", "354", "250", "221")
}
