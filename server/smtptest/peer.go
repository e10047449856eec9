package smtptest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Peer plays the server side of transcripts over a real socket, for
// testing clients: it listens on a loopback port, and the i-th connection
// it accepts plays the i-th transcript. It writes the "S: " lines and
// reads one line for each "C: " line, which must match ("{*}" matches any
// run of bytes within the line); the first line that does not is
// reported as a *MismatchError with the transcript around it, and the
// connection is closed.
//
// After a "C: BDAT n" line, the next n octets are the chunk: its lines
// are compared with the next "C: " lines (a chunk that ends in the middle
// of a line is compared without a CRLF there). "!tls" makes the Peer
// start TLS as a server with a certificate made for the test
// (ClientTLSConfig trusts it); bytes the client sent before the handshake
// are a mismatch (RFC 3207 5). "!close" closes the connection; "!eof"
// waits for the client to close it.
type Peer struct {
	// Addr is the address the Peer listens on, "127.0.0.1:port".
	Addr string

	tb          TB
	ln          net.Listener
	cert        *Certificate
	transcripts []*transcript
	done        chan struct{}

	mu       sync.Mutex
	conn     net.Conn // the connection being played
	current  int      // index of the transcript being played
	played   int      // transcripts played to their end
	err      error    // the first mismatch
	closing  bool
	reported bool
}

// NewPeer starts a Peer that plays the transcripts, one per connection, in
// order. With a non-nil tb a mismatch fails the test as it happens, and
// when the test ends the Peer is closed and any transcript not played to
// its end fails it too; with a nil tb, Wait and Close return the failure.
func NewPeer(tb TB, transcripts ...string) *Peer {
	t := orNoTest(tb)
	t.Helper()
	p := &Peer{tb: tb, done: make(chan struct{})}
	if len(transcripts) == 0 {
		t.Fatalf("smtptest: NewPeer without a transcript")
	}
	needTLS := false
	for i, text := range transcripts {
		tr, err := parseTranscript(text)
		if err != nil {
			t.Fatalf("smtptest: transcript %d: %v", i+1, err)
		}
		needTLS = needTLS || tr.hasTLS()
		p.transcripts = append(p.transcripts, tr)
	}
	if needTLS {
		cert, err := NewCertificate()
		if err != nil {
			t.Fatalf("smtptest: making a certificate: %v", err)
		}
		p.cert = cert
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	p.ln, p.Addr = ln, ln.Addr().String()
	go p.serve()
	if tb != nil {
		tb.Cleanup(func() { p.Close() })
	}
	return p
}

// ClientTLSConfig returns a TLS configuration for a client that trusts the
// Peer's certificate (for server name "localhost"), or nil when no
// transcript has "!tls".
func (p *Peer) ClientTLSConfig() *tls.Config {
	if p.cert == nil {
		return nil
	}
	return p.cert.ClientConfig()
}

// Wait waits until every transcript was played, or one failed, and returns
// the failure; or ctx's error if ctx ends first.
func (p *Peer) Wait(ctx context.Context) error {
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Close stops the Peer and returns its failure: the first mismatch, or a
// transcript not played to its end (the client stopped, or never
// connected). It is called when the test ends.
func (p *Peer) Close() error {
	p.mu.Lock()
	p.closing = true
	if p.conn != nil {
		p.conn.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil && p.played < len(p.transcripts) {
		p.err = fmt.Errorf("smtptest: peer closed with transcript %d of %d not played: the client never connected", p.played+1, len(p.transcripts))
		if p.tb != nil {
			p.tb.Errorf("%v", p.err)
		}
	}
	return p.err
}

func (p *Peer) serve() {
	defer close(p.done)
	defer p.ln.Close()
	for i, t := range p.transcripts {
		nc, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conn, p.current = nc, i
		closing := p.closing
		p.mu.Unlock()
		if closing {
			nc.Close()
			return
		}
		pl := &player{p: p, t: t, nc: nc, r: bufio.NewReader(nc)}
		err = pl.play()
		pl.nc.Close()
		p.mu.Lock()
		p.conn = nil
		if err == nil {
			p.played++
		}
		p.mu.Unlock()
		if err != nil {
			p.fail(i, err)
			return
		}
	}
}

// fail records and reports the failure of transcript i.
func (p *Peer) fail(i int, err error) {
	var m *MismatchError
	if errors.As(err, &m) && len(p.transcripts) > 1 {
		m.Transcript = i + 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
		if p.tb != nil {
			p.tb.Errorf("%v", err)
		}
	}
}

// player plays one transcript on one connection.
type player struct {
	p   *Peer
	t   *transcript
	nc  net.Conn
	r   *bufio.Reader
	out strings.Builder // S lines not yet written
	pos int             // the first of them, for a failed write
}

func (pl *player) play() error {
	steps := pl.t.steps
	for i := 0; i < len(steps); i++ {
		s := steps[i]
		if s.kind == 'S' {
			if pl.out.Len() == 0 {
				pl.pos = i
			}
			pl.out.WriteString(s.text + "\r\n")
			continue
		}
		if err := pl.flush(); err != nil {
			return err
		}
		switch {
		case s.kind == 'C':
			line, err := pl.readLine()
			if err != nil {
				return pl.t.mismatch(i, pl.gotError(line, err))
			}
			if !strings.HasSuffix(line, "\r\n") || !matchLine(s.text, line[:len(line)-2]) {
				return pl.t.mismatch(i, quoteLine('C', line))
			}
			if n, ok := bdatSize(line); ok {
				next, err := pl.chunk(i+1, n)
				if err != nil {
					return err
				}
				i = next - 1
			}
		case s.text == dirTLS:
			if n := pl.r.Buffered(); n > 0 {
				b, _ := pl.r.Peek(n)
				return pl.t.mismatch(i, fmt.Sprintf("C: %q before the TLS handshake", b))
			}
			tc := tls.Server(pl.nc, pl.p.cert.ServerConfig())
			tc.SetDeadline(time.Now().Add(DefaultTimeout))
			if err := tc.Handshake(); err != nil {
				return pl.t.mismatch(i, "a failed TLS handshake: "+err.Error())
			}
			tc.SetDeadline(time.Time{})
			pl.nc, pl.r = tc, bufio.NewReader(tc)
			pl.p.mu.Lock()
			pl.p.conn = tc
			pl.p.mu.Unlock()
		case s.text == dirClose:
			return nil
		case s.text == dirEOF:
			pl.nc.SetReadDeadline(time.Now().Add(DefaultTimeout))
			b, err := io.ReadAll(pl.r)
			switch {
			case len(b) > 0:
				return pl.t.mismatch(i, fmt.Sprintf("C: %q", b))
			case err != nil && !isConnGone(err):
				return pl.t.mismatch(i, pl.gotError("", err))
			}
			return nil
		}
	}
	if err := pl.flush(); err != nil {
		return err
	}
	if n := pl.r.Buffered(); n > 0 {
		b, _ := pl.r.Peek(n)
		last := steps[len(steps)-1]
		return &MismatchError{Line: last.line, Want: "(the end of the transcript, after " + last.String() + ")", Got: fmt.Sprintf("C: %q", b)}
	}
	return nil
}

// flush writes the pending S lines.
func (pl *player) flush() error {
	if pl.out.Len() == 0 {
		return nil
	}
	pl.nc.SetWriteDeadline(time.Now().Add(DefaultTimeout))
	_, err := io.WriteString(pl.nc, pl.out.String())
	pl.out.Reset()
	if err != nil {
		return pl.t.mismatch(pl.pos, "a failed write: "+err.Error())
	}
	return nil
}

func (pl *player) readLine() (string, error) {
	pl.nc.SetReadDeadline(time.Now().Add(DefaultTimeout))
	return readBoundedLine(pl.r)
}

// gotError describes a failed read, saying so when the Peer was closed
// (the test ended) while it waited.
func (pl *player) gotError(partial string, err error) string {
	pl.p.mu.Lock()
	closing := pl.p.closing
	pl.p.mu.Unlock()
	if closing {
		return "nothing before the Peer was closed (the test ended)"
	}
	return gotError(partial, readError(err, DefaultTimeout))
}

// chunk reads the n octets of a BDAT chunk and compares its lines with the
// C steps from i on. It returns the index of the step after them.
func (pl *player) chunk(i int, n int64) (int, error) {
	if n > maxPeerChunk {
		return 0, pl.t.mismatch(i-1, fmt.Sprintf("a chunk of %d octets, more than a Peer reads (%d)", n, maxPeerChunk))
	}
	buf := make([]byte, n)
	pl.nc.SetReadDeadline(time.Now().Add(DefaultTimeout))
	got, err := io.ReadFull(pl.r, buf)
	data := string(buf[:got])
	for _, line := range strings.SplitAfter(data, "\n") {
		if line == "" {
			continue
		}
		if i >= len(pl.t.steps) || pl.t.steps[i].kind != 'C' {
			at := min(i, len(pl.t.steps)-1)
			return 0, pl.t.mismatch(at, fmt.Sprintf("more chunk data: C: %q", line))
		}
		want := pl.t.steps[i].text
		body, crlf := strings.CutSuffix(line, "\r\n")
		if !crlf && strings.HasSuffix(line, "\n") || !matchLine(want, body) {
			return 0, pl.t.mismatch(i, quoteChunkLine(line))
		}
		i++
	}
	if err != nil {
		at := min(i, len(pl.t.steps)-1)
		return 0, pl.t.mismatch(at, fmt.Sprintf("%d of the %d octets of the chunk, then %s", got, n, pl.gotError("", err)))
	}
	return i, nil
}

// quoteChunkLine shows a line of chunk data, which may lack a CRLF.
func quoteChunkLine(line string) string {
	if body, ok := strings.CutSuffix(line, "\r\n"); ok && !strings.ContainsAny(body, "\r\n") {
		return step{kind: 'C', text: body}.String()
	}
	return fmt.Sprintf("C: %q", line)
}

// maxPeerChunk bounds the BDAT chunk a Peer reads into memory.
const maxPeerChunk = 64 << 20

// bdatSize returns the chunk size of a BDAT command line (RFC 3030 2).
func bdatSize(line string) (int64, bool) {
	f := strings.Fields(line)
	if len(f) < 2 || !strings.EqualFold(f[0], "BDAT") {
		return 0, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	return n, err == nil && n >= 0
}
