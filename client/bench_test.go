package client

import (
	"bytes"
	"context"
	"net"
	"testing"

	"github.com/smtpkit/smtp/envelope"
)

// sinkServer is a minimal, allocation-free SMTP responder for benchmarks:
// canned replies, pipelining-aware (it flushes its replies only when it has
// consumed all the input it got), DATA and BDAT.
func sinkServer(tb testing.TB, ext string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go sinkConn(conn, ext)
		}
	}()
	return ln.Addr().String()
}

func sinkConn(conn net.Conn, ext string) {
	defer conn.Close()
	in := make([]byte, 64<<10)
	out := make([]byte, 0, 4096)
	out = append(out, "220 sink ESMTP\r\n"...)
	conn.Write(out)
	out = out[:0]
	var pending []byte // partial line carried over
	pending = make([]byte, 0, 1024)
	inData := false
	var skip int // BDAT bytes to skip
	var bdatLast bool
	var tail [4]byte // last bytes of DATA, to find CRLF.CRLF across reads
	for {
		n, err := conn.Read(in)
		if n == 0 && err != nil {
			return
		}
		b := in[:n]
		for len(b) > 0 {
			if skip > 0 {
				k := min(skip, len(b))
				skip -= k
				b = b[k:]
				if skip == 0 {
					if bdatLast {
						out = append(out, "250 2.0.0 OK\r\n"...)
					} else {
						out = append(out, "250 2.0.0 chunk OK\r\n"...)
					}
				}
				continue
			}
			if inData {
				// look for "\r\n.\r\n", using tail for the boundary
				end := -1
				for i := 0; i < len(b); i++ {
					tail[0], tail[1], tail[2], tail[3] = tail[1], tail[2], tail[3], b[i]
					if tail == [4]byte{'\n', '.', '\r', '\n'} {
						end = i + 1
						break
					}
				}
				if end < 0 {
					b = b[len(b):]
					continue
				}
				b = b[end:]
				inData = false
				out = append(out, "250 2.0.0 OK queued\r\n"...)
				continue
			}
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				pending = append(pending, b...)
				b = b[len(b):]
				continue
			}
			line := b[:i+1]
			if len(pending) > 0 {
				pending = append(pending, line...)
				line = pending
			}
			b = b[i+1:]
			if len(line) < 4 {
				out = append(out, "500 5.5.2 ?\r\n"...)
				pending = pending[:0]
				continue
			}
			var verb [4]byte
			for k := range verb {
				verb[k] = line[k] &^ 0x20 // upper case for letters
			}
			switch string(verb[:]) {
			case "EHLO":
				out = append(out, "250-sink\r\n"...)
				out = append(out, ext...)
				out = append(out, "250 8BITMIME\r\n"...)
			case "MAIL", "RCPT", "RSET", "NOOP":
				out = append(out, "250 2.0.0 OK\r\n"...)
			case "DATA":
				out = append(out, "354 go ahead\r\n"...)
				inData = true
				tail = [4]byte{'\r', '\n', 0, 0}
				tail = [4]byte{0, 0, '\r', '\n'}
			case "BDAT":
				arg := bytes.TrimRight(line[5:], "\r\n")
				sp := bytes.IndexByte(arg, ' ')
				bdatLast = sp >= 0
				if sp >= 0 {
					arg = arg[:sp]
				}
				skip = 0
				for _, d := range arg {
					skip = skip*10 + int(d-'0')
				}
				if skip == 0 {
					out = append(out, "250 2.0.0 OK\r\n"...)
				}
			case "QUIT":
				out = append(out, "221 2.0.0 bye\r\n"...)
				conn.Write(out)
				return
			default:
				out = append(out, "500 5.5.2 ?\r\n"...)
			}
			pending = pending[:0]
		}
		if len(out) > 0 {
			if _, err := conn.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

func benchMessage(size int) []byte {
	b := []byte("From: <a@bench.example>\r\nTo: <b@bench.example>\r\nSubject: bench\r\n\r\n")
	for len(b) < size {
		b = append(b, "0123456789 the quick brown fox jumps over the lazy dog 0123456789 abcdefghij\r\n"...)
	}
	return b[: size-2 : size-2]
}

func benchSend(b *testing.B, ext string, opts *Options) {
	benchSendCtx(b, context.Background(), ext, opts)
}

func benchSendCtx(b *testing.B, ctx context.Context, ext string, opts *Options) {
	addr := sinkServer(b, ext)
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Quit(ctx)
	if err := c.Hello(ctx, "bench.example"); err != nil {
		b.Fatal(err)
	}
	msg := append(benchMessage(1024), '\r', '\n')
	to := []string{"rcpt@bench.example"}
	r := bytes.NewReader(msg)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Reset(msg)
		if err := c.SendMail(ctx, "sender@bench.example", to, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientSend sends 1 KiB messages over one reused loopback
// connection to a canned responder.
func BenchmarkClientSend(b *testing.B) {
	b.Run("pipelining-data", func(b *testing.B) { benchSend(b, "250-PIPELINING\r\n", nil) })
	b.Run("pipelining-bdat", func(b *testing.B) { benchSend(b, "250-PIPELINING\r\n250-CHUNKING\r\n", nil) })
	b.Run("lockstep-data", func(b *testing.B) { benchSend(b, "", nil) })
	// A context that can be cancelled costs the watch that aborts blocked
	// I/O on cancellation (context.AfterFunc).
	b.Run("pipelining-data-cancelctx", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		benchSendCtx(b, ctx, "250-PIPELINING\r\n", nil)
	})
}

// BenchmarkClientPerConn: connect, EHLO, one message, QUIT.
func BenchmarkClientPerConn(b *testing.B) {
	addr := sinkServer(b, "250-PIPELINING\r\n")
	ctx := context.Background()
	msg := append(benchMessage(1024), '\r', '\n')
	to := []string{"rcpt@bench.example"}
	opts := &Options{LocalName: "bench.example"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, err := Dial(ctx, addr, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.SendMail(ctx, "sender@bench.example", to, bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
		if err := c.Quit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientSendBatch sends 1 KiB messages with SendBatch, 50 per
// call, over one reused connection: with PIPELINING and DATA one round trip
// per message instead of Send's two. One op is one message.
func BenchmarkClientSendBatch(b *testing.B) {
	for _, bc := range []struct{ name, ext string }{
		{"pipelining-data", "250-PIPELINING\r\n"},
		{"pipelining-bdat", "250-PIPELINING\r\n250-CHUNKING\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := sinkServer(b, bc.ext)
			ctx := context.Background()
			c, err := Dial(ctx, addr, &Options{LocalName: "bench.example"})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Quit(ctx)
			body := append(benchMessage(1024), '\r', '\n')
			const batch = 50
			msgs := make([]Message, batch)
			readers := make([]bytes.Reader, batch)
			from, _ := parsePath("sender@bench.example")
			to, _ := parsePath("rcpt@bench.example")
			for i := range msgs {
				msgs[i].Envelope.From = from
				msgs[i].Envelope.To = []envelope.Recipient{{Path: to}}
				msgs[i].Body = &readers[i]
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n += batch {
				k := min(batch, b.N-n)
				for i := 0; i < k; i++ {
					readers[i].Reset(body)
				}
				for i, r := range c.SendBatch(ctx, msgs[:k]) {
					if r.Err != nil {
						b.Fatalf("message %d: %v", i, r.Err)
					}
				}
			}
		})
	}
}
