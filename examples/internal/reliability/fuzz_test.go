package reliability

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// The protocol fuzzer drives mailsink over real sockets with random and
// mutated sessions: generated from the grammar of SMTP (every command,
// with good and bad arguments, messages with smuggling sequences, BDAT
// with right and wrong sizes, AUTH exchanges, PROXY headers), then
// mutated (bytes flipped, inserted: bare CR and LF, NUL, 8-bit; ranges
// cut, doubled), then written split at random byte boundaries, pipelined
// or trickled. The oracles: the server's replies are well-formed SMTP
// replies, the server closes the connection promptly once the client has
// finished (no hang), the process never dies nor logs a panic, and it
// serves a normal transaction afterwards. A seeded PRNG makes a run
// reproducible: SMTPKIT_FUZZ_SEED=N replays the seed a run printed.

// fuzzUser is the account of the configurations with AUTH.
const fuzzUser, fuzzPass = "fuzz", "fuzz-pw"

// gen generates one session.
type gen struct {
	rng  *rand.Rand
	b    []byte
	lmtp bool
}

func (g *gen) n(n int) int            { return g.rng.IntN(n) }
func (g *gen) one(s ...string) string { return s[g.n(len(s))] }
func (g *gen) add(s ...string) {
	for _, x := range s {
		g.b = append(g.b, x...)
	}
}

// crlf is usually CRLF, sometimes a bare LF or CR, or nothing.
func (g *gen) crlf() string {
	if g.n(20) == 0 {
		return g.one("\n", "\r", "", "\r\r\n", "\n\r")
	}
	return "\r\n"
}

// junk returns n random bytes of a random class.
func (g *gen) junk(n int) string {
	const utf8Bytes = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z" // letters, and their parts
	const syntax = "<>@:;,.\"\\[] =+()\t"
	b := make([]byte, n)
	class := g.n(4)
	for i := range b {
		switch class {
		case 0: // printable ASCII
			b[i] = byte(32 + g.n(95))
		case 1: // any byte
			b[i] = byte(g.n(256))
		case 2:
			b[i] = utf8Bytes[g.n(len(utf8Bytes))]
		default:
			b[i] = syntax[g.n(len(syntax))]
		}
	}
	return string(b)
}

func (g *gen) domain() string {
	switch g.n(10) {
	case 0:
		return "[127.0.0.1]"
	case 1:
		return "[IPv6:::1]"
	case 2:
		return "\xc3\xa9xample.test"
	case 3:
		return g.junk(g.n(20))
	case 4:
		return strings.Repeat("a", 64+g.n(300)) + ".test"
	case 5:
		return ""
	}
	return g.one("x.test", "example.org", "mail.rel.test", "a.b.c.d.test")
}

func (g *gen) addr() string {
	local := g.one("a", "user", "first.last", "\"quoted local\"", "\xc3\xa9l\xc3\xa8ve", "postmaster", "a+tag", "")
	if g.n(8) == 0 {
		local = g.junk(g.n(70))
	}
	if g.n(10) == 0 {
		local = strings.Repeat("l", 60+g.n(40))
	}
	switch g.n(12) {
	case 0:
		return ""
	case 1:
		return local
	case 2:
		return "@relay.test:" + local + "@" + g.domain()
	}
	return local + "@" + g.domain()
}

func (g *gen) path() string {
	switch g.n(12) {
	case 0:
		return g.addr() // no brackets
	case 1:
		return "<" + g.addr()
	case 2:
		return "<>"
	case 3:
		return " <" + g.addr() + ">"
	}
	return "<" + g.addr() + ">"
}

func (g *gen) mailParams() string {
	var p []string
	for range g.n(4) {
		p = append(p, g.one(
			"SIZE="+strconv.Itoa(g.n(200000)), "SIZE=99999999999999999999", "SIZE=-1", "SIZE=",
			"BODY=8BITMIME", "BODY=7BIT", "BODY=BINARYMIME", "BODY=x",
			"SMTPUTF8", "RET=FULL", "RET=HDRS", "RET=x", "ENVID=a+2Bb", "ENVID="+g.junk(10),
			"AUTH=<>", "AUTH=a@b", "REQUIRETLS", "X-UNKNOWN=1", "=", g.junk(5)))
	}
	return strings.Join(p, " ")
}

func (g *gen) rcptParams() string {
	var p []string
	for range g.n(3) {
		p = append(p, g.one("NOTIFY=NEVER", "NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY=x", "ORCPT=rfc822;a@b.test",
			"ORCPT=rfc822;a+2B@b", "ORCPT=utf-8;\xc3\xa9@x", "ORCPT=", g.junk(6)))
	}
	return strings.Join(p, " ")
}

// body appends a message body with hostile line ends and terminates it
// (usually) with CR LF . CR LF.
func (g *gen) body() {
	for range g.n(12) {
		switch g.n(14) {
		case 0:
			g.add(".", g.junk(g.n(40)), "\r\n")
		case 1:
			g.add("..\r\n")
		case 2:
			// Smuggling attempts (CVE-2023-51764 and kin).
			g.add(g.one("\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r", ".\n", "\r\n\x00.\r\n"))
		case 3:
			g.add(strings.Repeat("x", 500+g.n(3000)), "\r\n")
		case 4:
			g.add(g.junk(g.n(100)), g.crlf())
		case 5:
			g.add("\r\n.\r\nMAIL FROM:<smuggled@x.test>\r\n")
		default:
			g.add("Header: ", g.junk(g.n(60)), "\r\n")
		}
	}
	switch g.n(10) {
	case 0: // never ends
	case 1:
		g.add("\n.\n")
	default:
		g.add("\r\n.\r\n")
	}
}

// command appends one command (and what follows it: data, chunks, SASL
// responses).
func (g *gen) command() {
	verbs := []string{"EHLO", "HELO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT",
		"VRFY", "EXPN", "HELP", "STARTTLS", "AUTH", "junk", "long", "empty"}
	verb := verbs[g.n(len(verbs))]
	if g.n(10) == 0 && verb != "junk" && verb != "long" && verb != "empty" {
		// Case does not matter to SMTP (RFC 5321 2.4).
		verb = strings.ToLower(verb[:2]) + verb[2:]
	}
	switch strings.ToUpper(verb) {
	case "EHLO", "HELO", "LHLO":
		g.add(verb, g.one(" ", "", "  "), g.domain(), g.crlf())
	case "MAIL":
		g.add(verb, g.one(" FROM:", " from:", " FROM: ", "FROM:", " FROM"), g.path(), " ", g.mailParams(), g.crlf())
	case "RCPT":
		g.add(verb, g.one(" TO:", " to:", " TO: ", " TO"), g.path(), " ", g.rcptParams(), g.crlf())
	case "DATA":
		g.add(verb, g.one("", "", " x"), g.crlf())
		if g.n(3) > 0 {
			g.body()
		}
	case "BDAT":
		size := g.n(300)
		last := g.one("", " LAST", " last", " LAST x")
		arg := strconv.Itoa(size)
		if g.n(10) == 0 {
			arg = g.one("-1", "x", "", "99999999999999999999", "0x10")
		}
		g.add(verb, " ", arg, last, g.crlf())
		// The chunk: usually exactly size bytes.
		n := size
		if g.n(6) == 0 {
			n = max(0, size+g.n(20)-10)
		}
		g.add(g.junk(n))
	case "AUTH":
		mech := g.one("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER", "NONE", "")
		switch g.n(4) {
		case 0: // good credentials
			g.add(verb, " PLAIN ", base64.StdEncoding.EncodeToString([]byte("\x00"+fuzzUser+"\x00"+fuzzPass)), "\r\n")
			return
		case 1: // initial response
			g.add(verb, " ", mech, " ", g.one("=", "*", base64.StdEncoding.EncodeToString([]byte(g.junk(g.n(60)))), g.junk(g.n(20))), g.crlf())
		default:
			g.add(verb, " ", mech, g.crlf())
		}
		for range g.n(3) {
			g.add(g.one("*", "", base64.StdEncoding.EncodeToString([]byte(g.junk(g.n(80)))), g.junk(g.n(30))), g.crlf())
		}
	case "JUNK":
		g.add(g.junk(g.n(80)), g.crlf())
	case "LONG":
		g.add(strings.Repeat(g.one("A", "MAIL FROM:<", "x"), 400+g.n(4000)), g.crlf())
	case "EMPTY":
		g.add(g.crlf())
	default:
		g.add(verb)
		if g.n(3) == 0 {
			g.add(" ", g.junk(g.n(30)))
		}
		g.add(g.crlf())
	}
}

// transactionCmds appends a mostly valid transaction, so the fuzzer
// reaches the states deep in a session.
func (g *gen) transactionCmds() {
	g.add("MAIL FROM:<a@x.test>", g.one("", " BODY=8BITMIME", " SIZE=1000", " SMTPUTF8"), "\r\n")
	for range 1 + g.n(3) {
		g.add("RCPT TO:<b", strconv.Itoa(g.n(9)), "@y.test>\r\n")
	}
	if g.n(3) == 0 {
		msg := "Subject: chunked\r\n\r\n" + g.junk(g.n(200))
		half := len(msg) / 2
		g.add("BDAT ", strconv.Itoa(half), "\r\n", msg[:half], "BDAT ", strconv.Itoa(len(msg)-half), " LAST\r\n", msg[half:])
		return
	}
	g.add("DATA\r\n")
	g.body()
}

// proxyHeader returns a PROXY protocol header, valid or not.
func (g *gen) proxyHeader() string {
	switch g.n(6) {
	case 0:
		return "PROXY TCP4 192.0.2.1 192.0.2.2 " + strconv.Itoa(g.n(70000)) + " 25\r\n"
	case 1:
		return "PROXY TCP6 2001:db8::1 2001:db8::2 1234 25\r\n"
	case 2:
		return "PROXY UNKNOWN\r\n"
	case 3:
		// v2: the signature, then random version, family, length, body.
		return "\r\n\r\n\x00\r\nQUIT\n" + g.junk(2+g.n(40))
	case 4:
		return "PROXY " + g.junk(g.n(120)) + g.crlf()
	}
	return g.junk(g.n(30))
}

// session generates the bytes of one session.
func (g *gen) session(proxy bool) []byte {
	g.b = g.b[:0]
	if proxy {
		g.add(g.proxyHeader())
	}
	if g.n(5) > 0 {
		hello := "EHLO"
		if g.lmtp {
			hello = "LHLO"
		}
		g.add(hello, " fuzz.test\r\n")
	}
	for range g.n(14) {
		if g.n(4) == 0 {
			g.transactionCmds()
		} else {
			g.command()
		}
	}
	if g.n(2) == 0 {
		g.add("QUIT\r\n")
	}
	// Mutations.
	for range g.n(4) {
		if len(g.b) == 0 {
			break
		}
		i := g.n(len(g.b))
		switch g.n(6) {
		case 0:
			g.b[i] ^= byte(1 << g.n(8))
		case 1, 2:
			ins := g.one("\r", "\n", "\x00", "\xff", "\xc3\xa9", ".", "\r\n.\r\n", " ", "\r\n")
			g.b = append(g.b[:i], append([]byte(ins), g.b[i:]...)...)
		case 3:
			j := min(len(g.b), i+g.n(50))
			g.b = append(g.b[:i], g.b[j:]...)
		case 4:
			j := min(len(g.b), i+g.n(200))
			g.b = append(g.b[:j], append(append([]byte(nil), g.b[i:j]...), g.b[j:]...)...)
		case 5:
			g.b = g.b[:i]
		}
	}
	return g.b
}

// fuzzConfig is a way to run mailsink.
type fuzzConfig struct {
	name  string
	args  []string
	tls   bool // start each session with STARTTLS
	lmtp  bool
	proxy bool
}

// fuzzStats counts what the fuzzer did.
type fuzzStats struct {
	sessions, bytes atomic.Int64
}

// fuzzFailure is a failed oracle with what reproduces it.
type fuzzFailure struct {
	config  string
	session int
	input   []byte
	err     error
}

// runFuzzSession writes one session and checks the server's answers. It
// returns an error when an oracle fails.
func runFuzzSession(addr string, cfg *fuzzConfig, rng *rand.Rand, input []byte) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	var conn net.Conn = nc
	br := bufio.NewReader(nc)
	if cfg.tls {
		// Up to TLS with a well-behaved client; the fuzzing starts inside.
		c := &smtpConn{nc: nc, r: br, w: bufio.NewWriter(nc), timeout: 10 * time.Second}
		if code, _, err := c.readReply(); err != nil || code != 220 {
			return fmt.Errorf("greeting: %d %v", code, err)
		}
		if err := c.ehlo("fuzz.test"); err != nil {
			return err
		}
		if err := c.startTLS(); err != nil {
			return err
		}
		conn = c.nc
		br = bufio.NewReader(conn)
	}
	// The reader: every line is a reply line; a connection that has
	// switched to TLS (a 220 after the greeting: STARTTLS) is not text
	// any more.
	readErr := make(chan error, 1)
	go func() {
		greeted := cfg.tls
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				if errors.Is(err, io.EOF) || isReset(err) {
					err = nil
				}
				if errors.Is(err, bufio.ErrBufferFull) {
					err = fmt.Errorf("reply line longer than %d bytes", br.Size())
				}
				readErr <- err
				return
			}
			if err := checkReplyLine(line); err != nil {
				readErr <- err
				return
			}
			if bytes.HasPrefix(line, []byte("220")) {
				if greeted {
					io.Copy(io.Discard, br)
					readErr <- nil
					return
				}
				greeted = true
			}
		}
	}()
	// The writer: split at random boundaries, now and then a pause.
	for rest := input; len(rest) > 0; {
		n := 1 + rng.IntN(min(len(rest), 1+rng.IntN(512)))
		if rng.IntN(4) == 0 {
			n = len(rest) // the rest in one write: pipelined
		}
		if _, err := conn.Write(rest[:n]); err != nil {
			break // the server may close first (QUIT, too many errors)
		}
		rest = rest[n:]
		if rng.IntN(8) == 0 {
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		}
	}
	// Done: the server must close the connection soon after our FIN (a
	// failed AUTH costs it a second).
	if tc, ok := nc.(*net.TCPConn); ok && !cfg.tls {
		tc.CloseWrite()
	} else if tc, ok := conn.(*tls.Conn); ok {
		tc.CloseWrite()
	}
	select {
	case err := <-readErr:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("the server did not close the connection 10 s after the client's end (hang?)")
	}
}

// checkReplyLine checks the syntax of RFC 5321 4.2.
func checkReplyLine(line []byte) error {
	if len(line) < 5 || !bytes.HasSuffix(line, []byte("\r\n")) || (line[3] != ' ' && line[3] != '-') {
		return fmt.Errorf("malformed reply line %q", line)
	}
	code, err := strconv.Atoi(string(line[:3]))
	if err != nil || code < 200 || code > 599 {
		return fmt.Errorf("malformed reply code in %q", line)
	}
	if len(line) > 512 {
		return fmt.Errorf("reply line of %d bytes, longer than RFC 5321 4.5.3.1.5 allows", len(line))
	}
	if i := bytes.IndexAny(line[:len(line)-2], "\r\n\x00"); i >= 0 {
		return fmt.Errorf("control character in reply line %q", line)
	}
	return nil
}

// fuzzSeed returns the seed: SMTPKIT_FUZZ_SEED, else 1 in the short form
// (the same sessions every run) and the time in the long form (new ones).
func fuzzSeed(t *testing.T) uint64 {
	if s := os.Getenv("SMTPKIT_FUZZ_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SMTPKIT_FUZZ_SEED: %v", err)
		}
		return n
	}
	if isLong() {
		return uint64(time.Now().UnixNano())
	}
	return 1
}

// TestProtocolFuzz runs the protocol fuzzer against mailsink in five
// configurations (plain, AUTH in clear, inside STARTTLS with AUTH, LMTP,
// PROXY protocol) for a fixed time each.
//
//	short: 1 s per configuration; long: 25 s per configuration
func TestProtocolFuzz(t *testing.T) {
	seed := fuzzSeed(t)
	budget := pick(time.Second, 25*time.Second)
	workers := 4
	t.Logf("seed %d (replay: SMTPKIT_FUZZ_SEED=%d)", seed, seed)
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	limits := []string{"-quiet", "-max-size", "20000", "-max-rcpts", "5", "-command-timeout", "10s", "-data-timeout", "10s"}
	configs := []fuzzConfig{
		{name: "plain"},
		{name: "auth", args: []string{"-auth", fuzzUser + ":" + fuzzPass}},
		{name: "tls", args: []string{"-tls-cert", cert, "-tls-key", key, "-auth", fuzzUser + ":" + fuzzPass}, tls: true},
		{name: "lmtp", args: []string{"-lmtp"}, lmtp: true},
		{name: "proxy", args: []string{"-proxy-protocol"}, proxy: true},
	}
	var total fuzzStats
	for ci := range configs {
		cfg := &configs[ci]
		t.Run(cfg.name, func(t *testing.T) {
			s := startSink(t, append(append([]string(nil), limits...), cfg.args...)...)
			var stats fuzzStats
			var next atomic.Int64
			var mu sync.Mutex
			var failures []fuzzFailure
			stop := time.Now().Add(budget)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					g := &gen{lmtp: cfg.lmtp}
					for time.Now().Before(stop) && !s.Exited() {
						i := int(next.Add(1))
						// Each session has its own stream: the same seed gives
						// the same sessions whatever the scheduling.
						rng := rand.New(rand.NewPCG(seed, uint64(ci)<<40|uint64(i)))
						g.rng = rng
						input := g.session(cfg.proxy)
						err := runFuzzSession(s.Addr, cfg, rng, input)
						stats.sessions.Add(1)
						stats.bytes.Add(int64(len(input)))
						if err != nil {
							mu.Lock()
							failures = append(failures, fuzzFailure{cfg.name, i, append([]byte(nil), input...), err})
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			total.sessions.Add(stats.sessions.Load())
			total.bytes.Add(stats.bytes.Load())
			for k, f := range failures {
				if k >= 5 {
					t.Errorf("... and %d more failures", len(failures)-k)
					break
				}
				in := f.input
				if len(in) > 2000 {
					in = in[:2000]
				}
				t.Errorf("session %d (seed %d): %v\ninput (%d bytes): %q", f.session, seed, f.err, len(f.input), in)
			}
			s.alive(t)
			// startSink's cleanup checks stderr for panics and races.
			// Still serving.
			if err := normalSession(s.Addr, cfg); err != nil {
				t.Errorf("a normal transaction after the fuzzing: %v", err)
			}
			t.Logf("%s: %d sessions (%d KiB) in %v, %d messages stored, %d failures",
				cfg.name, stats.sessions.Load(), stats.bytes.Load()>>10, budget, countFiles(t, s.Maildir, "new"), len(failures))
		})
	}
	t.Logf("protocol fuzzer: %d sessions, %d KiB sent, seed %d", total.sessions.Load(), total.bytes.Load()>>10, seed)
}

// normalSession runs a well-behaved session with one message in the
// configuration cfg.
func normalSession(addr string, cfg *fuzzConfig) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	if cfg.proxy {
		if _, err := nc.Write([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 4000 25\r\n")); err != nil {
			return err
		}
	}
	c := newConn(nc)
	c.timeout = 5 * time.Second
	if code, text, err := c.readReply(); err != nil || code != 220 {
		return errors.Join(err, &replyError{"greeting", code, text})
	}
	if cfg.lmtp {
		err = c.expect("LHLO after.test", 250) // RFC 2033 4.1
	} else {
		err = c.ehlo("after.test")
	}
	if err != nil {
		return err
	}
	if cfg.tls {
		if err := errors.Join(c.startTLS(), c.ehlo("after.test")); err != nil {
			return err
		}
	}
	if c.has("AUTH") {
		if err := c.expect("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+fuzzUser+"\x00"+fuzzPass)), 235); err != nil {
			return err
		}
	}
	code, err := c.send("<after@rel.test>", []string{"after@rel.test"}, message("after@rel.test", 1, 500, false))
	if err == nil && code != 250 {
		err = &replyError{"end of data", code, ""}
	}
	return err
}

func TestCheckReplyLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"250 OK\r\n", true},
		{"250-PIPELINING\r\n", true},
		{"354 \r\n", true},
		{"250 OK\n", false},
		{"250OK\r\n", false},
		{"25 OK\r\n", false},
		{"199 x\r\n", false},
		{"600 x\r\n", false},
		{"abc x\r\n", false},
		{"250 a\rb\r\n", false},
		{"250 a\x00b\r\n", false},
		{"250 " + strings.Repeat("x", 506) + "\r\n", true},
		{"250 " + strings.Repeat("x", 507) + "\r\n", false},
	} {
		if err := checkReplyLine([]byte(tc.line)); (err == nil) != tc.ok {
			t.Errorf("checkReplyLine(%q) = %v, want ok %v", tc.line, err, tc.ok)
		}
	}
}

// TestSmuggling sends, inside a message, the end-of-data sequences other
// servers have accepted (CVE-2023-51764 and kin) followed by a second
// transaction: mailsink must never store the smuggled message, and the
// carrier message either is refused or holds the sequence as data.
func TestSmuggling(t *testing.T) {
	s := startSink(t, "-quiet")
	seqs := []string{"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r", "\r.\r\n", "\r\n\x00.\r\n", "\n.\r", ".\n", "\r\n.\r\r\n"}
	for i, seq := range seqs {
		c, err := dial(s.Addr, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ehlo("smuggler.test"); err != nil {
			t.Fatal(err)
		}
		carrier := "Message-ID: <carrier" + itoa(i) + "@rel.test>\r\n\r\nfirst" + seq +
			"MAIL FROM:<smuggled@rel.test>\r\nRCPT TO:<victim@rel.test>\r\nDATA\r\n" +
			"Message-ID: <smuggled" + itoa(i) + "@rel.test>\r\n\r\nsmuggled\r\n"
		// Pipelined in one write, the way the attack is sent.
		err = c.write("MAIL FROM:<carrier@rel.test>\r\nRCPT TO:<to@rel.test>\r\nDATA\r\n" + carrier + ".\r\nQUIT\r\n")
		var codes []int
		for err == nil {
			var code int
			if code, _, err = c.readReply(); err == nil {
				codes = append(codes, code)
			}
		}
		c.Close()
		t.Logf("%q: replies %v", seq, codes)
		if len(codes) < 4 || codes[0] != 250 || codes[1] != 250 || codes[2] != 354 {
			t.Errorf("%q: replies %v, want 250 250 354, then the message's", seq, codes)
		}
	}
	if err := s.Stop(); err != nil {
		t.Errorf("mailsink exit: %v", err)
	}
	files := scanMaildir(t, s.Maildir)
	for id, fs := range files {
		for _, f := range fs {
			if strings.HasPrefix(id, "smuggled") || bytes.HasPrefix(f, []byte("Return-Path: <smuggled@")) {
				t.Errorf("a smuggled message was stored (%s): %q", id, f)
			}
			if strings.HasPrefix(id, "carrier") && !bytes.Contains(f, []byte("\nMAIL FROM:<smuggled@rel.test>\r\n")) {
				t.Errorf("carrier %s stored without the smuggling attempt as data: %q", id, f)
			}
		}
	}
	t.Logf("smuggling: %d sequences, %d carrier messages stored (with the sequence as data), none smuggled", len(seqs), len(files))
}
