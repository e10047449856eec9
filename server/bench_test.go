package server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/server"
)

// discard is the cheapest backend: it accepts everything and throws the
// data away, like mailsink -discard.
type discard struct{}

func (discard) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	return discardSession{}, nil
}

type discardSession struct{}

func (discardSession) Mail(context.Context, envelope.Path, envelope.MailParams) error { return nil }
func (discardSession) Rcpt(context.Context, envelope.Path, envelope.RcptParams) error { return nil }
func (discardSession) Data(_ context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discardSession) Reset(context.Context)        {}
func (discardSession) Logout(context.Context) error { return nil }

// benchClient opens a connection past EHLO.
func benchClient(b *testing.B, addr string) (net.Conn, *bufio.Reader) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(nc)
	readReplies(b, r, 1)
	nc.Write([]byte("EHLO bench\r\n"))
	readReplies(b, r, 1)
	return nc, r
}

// readReplies reads n complete replies, checking each is positive.
func readReplies(b *testing.B, r *bufio.Reader, n int) {
	for n > 0 {
		line, err := r.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		if line[0] != '2' && line[0] != '3' {
			b.Fatalf("negative reply %q", line)
		}
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		n--
	}
}

func benchMessage(size int) []byte {
	var sb strings.Builder
	sb.WriteString("From: a@example.org\r\nTo: b@example.org\r\nSubject: bench\r\n\r\n")
	line := strings.Repeat("x", 70) + "\r\n"
	for sb.Len() < size {
		sb.WriteString(line)
	}
	sb.WriteString(".\r\n")
	return []byte(sb.String())
}

// BenchmarkServerTransaction sends 1 KiB messages over one loopback
// connection: one round trip per command as smtp-source does (lockstep),
// with all commands pipelined (RFC 2920), and with BDAT, MAIL RCPT BDAT
// and the chunk in one write (the BDAT filter reading the chunk in place),
// one message at a time or streamed;
// and one message per connection (connect, EHLO, message, QUIT: the waits
// before the first MAIL hand the connection off to a goroutine of the
// smallest stack, see idle.go).
func BenchmarkServerTransaction(b *testing.B) {
	s := newServer(discard{})
	s.EnableChunking = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	msg := benchMessage(1024)
	mail := []byte("MAIL FROM:<a@example.org>\r\n")
	rcpt := []byte("RCPT TO:<b@example.org>\r\n")
	data := []byte("DATA\r\n")
	txn := append(append(append(append([]byte(nil), mail...), rcpt...), data...), msg...)
	body := msg[:len(msg)-3] // no dot
	chunk := append(append(append([]byte(nil), mail...), rcpt...), "BDAT "+strconv.Itoa(len(body))+" LAST\r\n"...)
	chunk = append(chunk, body...)

	// run sends a message with each step, each step a write and the
	// number of replies to read.
	run := func(b *testing.B, steps ...step) {
		nc, r := benchClient(b, l.Addr().String())
		defer nc.Close()
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, st := range steps {
				nc.Write(st.send)
				readReplies(b, r, st.replies)
			}
		}
	}
	b.Run("lockstep", func(b *testing.B) {
		run(b, step{mail, 1}, step{rcpt, 1}, step{data, 1}, step{msg, 1})
	})
	b.Run("pipelined", func(b *testing.B) { run(b, step{txn, 4}) })
	b.Run("bdat-pipelined", func(b *testing.B) { run(b, step{chunk, 3}) })
	b.Run("bdat-stream", func(b *testing.B) {
		// The client streams without waiting for replies, as the
		// limit tool's bdat mode does: the server's replies go out
		// as its queue fills (maxQueuedOut), not after each read.
		nc, r := benchClient(b, l.Addr().String())
		defer nc.Close()
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		batch := bytes.Repeat(chunk, 64)
		b.ResetTimer()
		go func() {
			for sent := 0; sent < b.N; sent += 64 {
				if _, err := nc.Write(batch[:min(64, b.N-sent)*len(chunk)]); err != nil {
					return
				}
			}
		}()
		readReplies(b, r, 3*b.N)
	})
	b.Run("perconn", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for i := 0; i < b.N; i++ {
			nc, r := benchClient(b, l.Addr().String())
			nc.Write(txn)
			readReplies(b, r, 4)
			nc.Write([]byte("QUIT\r\n"))
			readReplies(b, r, 1)
			nc.Close()
		}
	})
}

// step is what a benchmark client writes and the replies it waits for.
type step struct {
	send    []byte
	replies int
}
