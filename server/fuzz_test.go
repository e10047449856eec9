package server_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

// pipeListener hands out one prepared connection, then blocks until
// closed.
type pipeListener struct {
	once   sync.Once
	conn   net.Conn
	ch     chan net.Conn
	closed chan struct{}
}

func newPipeListener(c net.Conn) *pipeListener {
	l := &pipeListener{conn: c, ch: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.ch <- c
	return l
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "192.0.2.1:2525" }

// pipeConn gives the server end a TCP-like remote address.
type pipeConn struct{ net.Conn }

func (pipeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000} }

// runSession serves one connection over net.Pipe, writes input in pieces
// whose sizes come from split, and returns everything the server wrote.
// It fails t if a reply line is malformed.
func runSession(t testing.TB, s *server.Server, input []byte, split byte) string {
	cli, srvEnd := net.Pipe()
	l := newPipeListener(pipeConn{srvEnd})
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()

	var out []byte
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		br := bufio.NewReader(cli)
		for {
			line, err := br.ReadBytes('\n')
			out = append(out, line...)
			if err != nil {
				if len(line) > 0 {
					t.Errorf("reply line without CRLF: %q", line)
				}
				return
			}
			if !validReplyLine(line) {
				t.Errorf("malformed reply line %q", line)
			}
		}
	}()

	cli.SetWriteDeadline(time.Now().Add(2 * time.Second))
	writePieces(cli, input, split)
	// Let the server answer what it has, then hang up.
	time.Sleep(time.Millisecond)
	cli.Close()
	<-readDone
	s.Close()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	return string(out)
}

// writePieces writes input to w in pieces whose sizes come from split,
// until a write fails.
func writePieces(w io.Writer, input []byte, split byte) {
	step := int(split%61) + 1
	for len(input) > 0 {
		n := min(step, len(input))
		if _, err := w.Write(input[:n]); err != nil {
			return
		}
		input = input[n:]
		step = (step*7+3)%97 + 1
	}
}

// validReplyLine checks "ddd" then SP or "-", text without CR or LF, CRLF
// (RFC 5321 4.2).
func validReplyLine(line []byte) bool {
	if len(line) < 5 || line[len(line)-2] != '\r' || line[len(line)-1] != '\n' {
		return false
	}
	if line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' || line[2] < '0' || line[2] > '9' {
		return false
	}
	if len(line) > 5 && line[3] != ' ' && line[3] != '-' {
		return false
	}
	for _, b := range line[3 : len(line)-2] {
		if b == '\r' || b == '\n' {
			return false
		}
	}
	return true
}

// fuzzServer builds a server whose features come from flags, and returns
// its backend.
func fuzzServer(flags byte, cert *smtptest.Certificate) (*server.Server, *testBackend) {
	b := &testBackend{users: map[string]string{"alice": "secret"}}
	s := newServer(b)
	s.LMTP = flags&1 != 0
	s.EnableChunking = flags&2 != 0
	s.EnableSMTPUTF8 = flags&4 != 0
	s.EnableDSN = flags&4 != 0
	if flags&8 != 0 {
		s.MaxMessageBytes = 64
		s.MaxRecipients = 2
		s.MaxLineLength = 64
		s.MaxErrors = 5
		s.MaxTextLineLength = 40
	}
	s.AllowInsecureAuth = flags&16 != 0
	s.AuthRequired = flags&32 != 0
	if flags&64 != 0 && cert != nil {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	}
	s.CommandTimeout = 2 * time.Second
	s.DataBlockTimeout = 2 * time.Second
	return s, b
}

// FuzzSession drives a whole session with arbitrary client bytes: the
// server must never panic, hang or write a malformed reply.
func FuzzSession(f *testing.F) {
	seeds := []string{
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c> SIZE=10 BODY=8BITMIME\r\nRCPT TO:<d@e.f> NOTIFY=SUCCESS ORCPT=rfc822;d@e.f\r\nDATA\r\n..x\r\n.\r\n",
		"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde",
		"EHLO x\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<d@e.f>\r\nBDAT 3 LAST\r\na\x00\r",
		"EHLO x\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b.c>\r\n",
		"EHLO x\r\nAUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n",
		"EHLO x\r\nAUTH PLAIN\r\n*\r\nAUTH CRAM-MD5\r\n",
		"EHLO x\r\nSTARTTLS\r\nMAIL FROM:<a@b.c>\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nx\n.\nMAIL FROM:<e@v.l>\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nx\r.\r\n\r\n.\r\n",
		"HELO x\r\nVRFY a\r\nEXPN b\r\nHELP\r\nNOOP\r\nRSET\r\nFOO\r\n\r\n\x00\r\n",
		"EHLO x\r\nMAIL FROM:<\xc3\xa9@b.c> SMTPUTF8\r\nRCPT TO:<\xc3\xa9@e.f>\r\n",
		"EHLO " + string(make([]byte, 600)) + "\r\nNOOP\r\n",
		"BDAT 99999999999999999999\r\nBDAT -1\r\nBDAT 1 LAST x\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 3\r\nabcVRFY x\r\nBDAT 3 LAST\r\ndef",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 3\r\nabc",
		"EHLO x\r\nAUTH LOGIN\r\n=\r\n!!\r\nAUTH SCRAM-SHA-256 biwsbj1hLHI9eA==\r\n*\r\n",
	}
	for i, s := range seeds {
		f.Add(byte(i*37), byte(i), []byte(s))
	}
	cert, err := smtptest.NewCertificate()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, flags, split byte, input []byte) {
		if len(input) > 1<<14 {
			return
		}
		s, b := fuzzServer(flags, cert)
		out := runSession(t, s, input, split)
		// Never acknowledged and lost: every "message accepted" reply
		// stands for a message the backend stored (one per message in
		// SMTP; LMTP answers once per recipient).
		if acks := strings.Count(out, "OK: message accepted"); !s.LMTP && acks > len(b.Messages()) {
			t.Errorf("%d messages acknowledged, %d stored; output:\n%s", acks, len(b.Messages()), out)
		}
	})
}

// TestFuzzHarness makes sure the fuzz harness really talks to the
// server.
func TestFuzzHarness(t *testing.T) {
	s, _ := fuzzServer(0, nil)
	out := runSession(t, s, []byte("EHLO x\r\nNOOP\r\nQUIT\r\n"), 3)
	want := "220 mx.test ESMTP ready\r\n" + strings.Replace(ehloReply, "client", "x", 1) + "250 2.0.0 OK\r\n221 2.0.0 mx.test closing connection\r\n"
	if out != want {
		t.Errorf("got %q\nwant %q", out, want)
	}
}

// streamListener hides the *net.TCPConn of the connections it accepts, so
// that the server reads and writes them through net.Conn, the path of TLS
// connections, instead of its raw path (see idle.go).
type streamListener struct{ net.Listener }

func (l streamListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return struct{ net.Conn }{c}, nil
}

// runSessionTCP is runSession over loopback TCP, through the raw path or
// (stream) through net.Conn: it writes input in the same pieces, half-closes
// and returns everything the server wrote until it closed the connection.
func runSessionTCP(t testing.TB, s *server.Server, input []byte, split byte, stream bool) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var sl net.Listener = l
	if stream {
		sl = streamListener{l}
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(sl) }()
	defer func() {
		s.Close()
		<-served
	}()
	cli, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cli.SetDeadline(time.Now().Add(20 * time.Second))
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(cli)
		out <- b
	}()
	writePieces(cli, input, split)
	cli.(*net.TCPConn).CloseWrite()
	return string(<-out)
}

// FuzzSessionPaths: the raw path of plain TCP connections (deadlines
// armed when a read waits, replies flushed when it would block, raw
// system calls) answers any input exactly as the net.Conn path does.
// (TLS is left out: the timing of a STARTTLS decides what it drops.)
func FuzzSessionPaths(f *testing.F) {
	seeds := []string{
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nx\n.\nMAIL FROM:<e@v.l>\r\n.\r\n",
		"HELO x\r\nVRFY a\r\nEXPN b\r\nHELP\r\nNOOP\r\nRSET\r\nFOO\r\n\r\n\x00\r\n",
		"EHLO " + string(make([]byte, 600)) + "\r\nNOOP\r\n",
		"EHLO x\r\nAUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\nMAIL FROM:<a@b.c>\r\n",
	}
	for i, s := range seeds {
		f.Add(byte(i*37), byte(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, flags, split byte, input []byte) {
		if len(input) > 1<<14 {
			return
		}
		flags &^= 64 // no TLS
		s1, _ := fuzzServer(flags, nil)
		s2, _ := fuzzServer(flags, nil)
		raw := runSessionTCP(t, s1, input, split, false)
		stream := runSessionTCP(t, s2, input, split, true)
		if raw != stream {
			t.Fatalf("raw path:\n%s\nnet.Conn path:\n%s", raw, stream)
		}
	})
}
