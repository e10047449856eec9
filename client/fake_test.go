package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer is a scripted SMTP server on 127.0.0.1 for client tests: a
// canned responder by default, with hooks for misbehaviour. It records
// every byte it received.
type fakeServer struct {
	t    testing.TB
	ln   net.Listener
	ext  []string // EHLO lines after the greeting line
	tls  *tls.Config
	lmtp bool

	// hooks: return true when the command was handled.
	onCommand func(fc *fakeConn, line string) bool
	// dataReply is the reply to the end of a message ("250 2.0.0 OK").
	dataReply string
	// rcptReply maps a recipient address to its reply.
	rcptReply map[string]string
	// lmtpReplies: per-recipient replies after data (in order).
	lmtpReplies []string
	// maxRcpt, when set, is the most recipients accepted in one
	// transaction; the next get 452 4.5.3 (RFC 5321 4.5.3.1.10).
	maxRcpt int
	// tooManyReply replaces that 452 reply when set.
	tooManyReply string

	mu       sync.Mutex
	received strings.Builder
	messages []string
	copies   map[string]int // recipient -> messages delivered to it
	wg       sync.WaitGroup
}

func newFakeServer(t testing.TB, ext ...string) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{t: t, ln: ln, ext: ext, dataReply: "250 2.0.0 OK queued as 1234"}
	t.Cleanup(func() { ln.Close(); fs.wg.Wait() })
	return fs
}

// start serves connections until the test ends.
func (fs *fakeServer) start() string {
	fs.wg.Add(1)
	go func() {
		defer fs.wg.Done()
		for {
			conn, err := fs.ln.Accept()
			if err != nil {
				return
			}
			fs.wg.Add(1)
			go func() {
				defer fs.wg.Done()
				defer conn.Close()
				fs.serve(conn)
			}()
		}
	}()
	return fs.ln.Addr().String()
}

type recorder struct {
	fs *fakeServer
	r  io.Reader
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.fs.mu.Lock()
	r.fs.received.Write(p[:n])
	r.fs.mu.Unlock()
	return n, err
}

type fakeConn struct {
	fs   *fakeServer
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	rcpt int
	to   []string // the recipients accepted in this transaction
}

func (fc *fakeConn) send(lines ...string) {
	for _, l := range lines {
		fc.w.WriteString(l)
		fc.w.WriteString("\r\n")
	}
	fc.w.Flush()
}

func (fc *fakeConn) readLine() (string, error) {
	l, err := fc.r.ReadString('\n')
	return strings.TrimSuffix(l, "\r\n"), err
}

// readData reads DATA content up to CRLF.CRLF and returns it raw.
func (fc *fakeConn) readData() (string, error) {
	var b strings.Builder
	for {
		l, err := fc.r.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		if l == ".\r\n" && (b.Len() == 0 || strings.HasSuffix(b.String(), "\r\n")) {
			return b.String(), nil
		}
		b.WriteString(l)
	}
}

func (fc *fakeConn) startTLS() {
	tc := tls.Server(fc.conn, fc.fs.tls)
	fc.conn = tc
	fc.r = bufio.NewReader(recorder{fc.fs, tc})
	fc.w = bufio.NewWriter(tc)
}

func (fs *fakeServer) serve(conn net.Conn) {
	fc := &fakeConn{fs: fs, conn: conn, r: bufio.NewReader(recorder{fs, conn}), w: bufio.NewWriter(conn)}
	fc.send("220 fake.example ESMTP")
	for {
		line, err := fc.readLine()
		if err != nil {
			return
		}
		if fs.onCommand != nil && fs.onCommand(fc, line) {
			continue
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "LHLO":
			lines := []string{"250-fake.example"}
			for _, e := range fs.ext {
				lines = append(lines, "250-"+e)
			}
			lines[len(lines)-1] = "250 " + strings.TrimPrefix(lines[len(lines)-1], "250-")
			fc.send(lines...)
		case "HELO":
			fc.send("250 fake.example")
		case "STARTTLS":
			fc.send("220 2.0.0 go ahead")
			fc.startTLS()
		case "MAIL":
			fc.rcpt, fc.to = 0, nil
			fc.send("250 2.1.0 OK")
		case "RCPT":
			addr := strings.TrimPrefix(arg, "TO:")
			if i := strings.IndexByte(addr, '>'); i >= 0 {
				addr = addr[1:i]
			}
			if fs.maxRcpt > 0 && fc.rcpt >= fs.maxRcpt {
				r := "452 4.5.3 Too many recipients"
				if fs.tooManyReply != "" {
					r = fs.tooManyReply
				}
				fc.send(r)
				continue
			}
			if r, ok := fs.rcptReply[addr]; ok {
				fc.send(r)
				if r[0] == '2' {
					fc.rcpt++
					fc.to = append(fc.to, addr)
				}
				continue
			}
			fc.rcpt++
			fc.to = append(fc.to, addr)
			fc.send("250 2.1.5 OK")
		case "DATA":
			if fc.rcpt == 0 {
				fc.send("554 5.5.1 no valid recipients")
				continue
			}
			fc.send("354 go ahead")
			msg, err := fc.readData()
			if err != nil {
				return
			}
			fs.mu.Lock()
			fs.messages = append(fs.messages, msg+"\x00END")
			fs.mu.Unlock()
			fs.endReplies(fc)
		case "BDAT":
			f := strings.Fields(arg)
			n, _ := strconv.Atoi(f[0])
			buf := make([]byte, n)
			if _, err := io.ReadFull(fc.r, buf); err != nil {
				return
			}
			last := len(f) > 1 && strings.EqualFold(f[1], "LAST")
			if fc.rcpt == 0 {
				fc.send("554 5.5.1 no valid recipients")
				continue
			}
			fs.mu.Lock()
			if len(fs.messages) == 0 || strings.HasSuffix(fs.messages[len(fs.messages)-1], "\x00END") {
				fs.messages = append(fs.messages, "")
			}
			fs.messages[len(fs.messages)-1] += string(buf)
			if last {
				fs.messages[len(fs.messages)-1] += "\x00END"
			}
			fs.mu.Unlock()
			if last {
				fs.endReplies(fc)
			} else {
				fc.send("250 2.0.0 " + f[0] + " octets received")
			}
		case "RSET":
			fc.rcpt, fc.to = 0, nil
			fc.send("250 2.0.0 OK")
		case "NOOP":
			fc.send("250 2.0.0 OK")
		case "VRFY":
			fc.send("252 2.1.5 cannot verify")
		case "QUIT":
			fc.send("221 2.0.0 bye")
			return
		default:
			fc.send("500 5.5.2 unknown command")
		}
	}
}

func (fs *fakeServer) endReplies(fc *fakeConn) {
	if !fs.lmtp {
		if fs.dataReply[0] == '2' {
			fs.mu.Lock()
			if fs.copies == nil {
				fs.copies = map[string]int{}
			}
			for _, to := range fc.to {
				fs.copies[to]++
			}
			fs.mu.Unlock()
		}
		fc.send(fs.dataReply)
		return
	}
	for i := 0; i < fc.rcpt; i++ {
		r := "250 2.0.0 delivered"
		if i < len(fs.lmtpReplies) {
			r = fs.lmtpReplies[i]
		}
		fc.send(r)
	}
}

// delivered returns how many copies of a message each recipient got.
func (fs *fakeServer) delivered() map[string]int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := map[string]int{}
	for k, v := range fs.copies {
		out[k] = v
	}
	return out
}

// bytes returns what the server received so far.
func (fs *fakeServer) bytes() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.received.String()
}

func (fs *fakeServer) msgs() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []string
	for _, m := range fs.messages {
		if strings.HasSuffix(m, "\x00END") {
			out = append(out, strings.TrimSuffix(m, "\x00END"))
		}
	}
	return out
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// afterData makes fs answer DATA with 354 and read the message to its
// final dot, or read the chunk of a BDAT, then hand the connection to then
// (which answers, or not).
func (fs *fakeServer) afterData(then func(fc *fakeConn)) {
	fs.onCommand = func(fc *fakeConn, line string) bool {
		switch {
		case line == "DATA":
			fc.send("354 go")
			fc.readData()
		case strings.HasPrefix(line, "BDAT "):
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			io.ReadFull(fc.r, make([]byte, n))
		default:
			return false
		}
		then(fc)
		return true
	}
}
