// Command gosmtpsink is the go-smtp (v0.25.1) side of the client
// benchmarks: a server on emersion/go-smtp that offers PIPELINING and
// CHUNKING, reads every message and throws it away, configured as the
// reference peer ../../../../shared/peers/gosmtp/sink is with -discard. On
// SIGTERM or SIGINT it prints "mesg=N", the messages it received, and exits.
//
//	gosmtpsink -listen 127.0.0.1:2525
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

type session struct{ received *atomic.Int64 }

func (session) Mail(string, *smtp.MailOptions) error { return nil }
func (session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.received.Add(1)
	return nil
}
func (session) Reset()        {}
func (session) Logout() error { return nil }

func main() {
	listen := flag.String("listen", "127.0.0.1:2525", "`address` to listen on")
	flag.Parse()
	var received atomic.Int64
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return session{&received}, nil
	}))
	s.Addr = *listen
	s.Domain = "bench.example"
	s.MaxMessageBytes = 1 << 30
	s.MaxRecipients = 100
	s.EnableSMTPUTF8 = true
	s.ReadTimeout = 5 * time.Minute
	s.WriteTimeout = 5 * time.Minute
	s.ErrorLog = log.New(io.Discard, "", 0)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		s.Close()
	}()
	if err := s.ListenAndServe(); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "gosmtpsink:", err)
		os.Exit(1)
	}
	fmt.Printf("mesg=%d\n", received.Load())
}
