package server_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/textproto"
)

// The DATA and BDAT paths must give the same answer to the same message:
// the size limit (MaxMessageBytes), the text line limit
// (MaxTextLineLength) and the policy look at what the backend receives,
// whichever way it came. DATA's dot-stuffing is transparency (RFC 5321
// 4.5.2), not text: a stuffed dot counts toward no limit, and neither does
// a NUL the policy drops. The only answer DATA may give alone is the
// refusal of a fake end of data (SMTP smuggling), a sequence that means
// nothing in BDAT.

// agreeConfig is a server setting the differential runs under.
type agreeConfig struct {
	name    string
	policy  textproto.Policy
	maxLine int
	maxSize int64
}

var agreeConfigs = []agreeConfig{
	{"line 10", textproto.Policy{}, 10, 0},
	{"size 40", textproto.Policy{}, 0, 40},
	{"line 12 size 40", textproto.Policy{}, 12, 40},
	{"normalize all, line 10 size 60", textproto.Policy{
		BareLF: textproto.Normalize, BareCR: textproto.Normalize, NUL: textproto.Normalize}, 10, 60},
	{"allow all, line 10 size 60", textproto.Policy{
		BareLF: textproto.Allow, BareCR: textproto.Allow, NUL: textproto.Allow}, 10, 60},
	{"strict 7-bit, line 10 size 60", textproto.Policy{
		BareLF: textproto.Reject, BareCR: textproto.Reject, NUL: textproto.Reject, EightBit: textproto.Reject}, 10, 60},
}

// agreeServer is a chunking server of one agreeConfig.
type agreeServer struct {
	cfg agreeConfig
	lb  *smtptest.Loopback
	b   *testBackend
}

func startAgreeServer(tb testing.TB, cfg agreeConfig) *agreeServer {
	b := &testBackend{}
	s := chunkingServer(b)
	s.Policy = cfg.policy
	s.MaxTextLineLength = cfg.maxLine
	s.MaxMessageBytes = cfg.maxSize
	if cfg.maxSize == 0 {
		s.MaxMessageBytes = -1
	}
	return &agreeServer{cfg: cfg, lb: smtptest.Start(tb, s), b: b}
}

// stuffDots returns what a client sends after DATA for a message whose
// content is body (what BDAT sends as it is): a dot that starts a line,
// as the server's policy sees lines, is doubled (RFC 5321 4.5.2). A bare
// LF or CR that the policy allows through starts no line; any other does.
func stuffDots(body []byte, p textproto.Policy) []byte {
	lineEnd := func(a textproto.Action) bool { return a != textproto.Allow }
	out := make([]byte, 0, len(body)+len(body)/8+1)
	bol := true
	for i, c := range body {
		if bol && c == '.' {
			out = append(out, '.')
		}
		out = append(out, c)
		switch {
		case c == '\n':
			bol = i > 0 && body[i-1] == '\r' || lineEnd(p.BareLF)
		case c == '\r' && (i+1 == len(body) || body[i+1] != '\n'):
			bol = lineEnd(p.BareCR)
		default:
			bol = false
		}
	}
	return out
}

// agreeResult is what one path made of a message: the final reply and
// what the backend stored ("" when nothing).
type agreeResult struct {
	reply  string
	stored string
}

// sendBoth sends body once with DATA and once with BDAT (in chunks of
// chunk octets, 0 for one) on a fresh connection and returns both
// results. body must end with CRLF.
func (a *agreeServer) sendBoth(tb testing.TB, body []byte, chunk int) (data, bdat agreeResult) {
	c := a.lb.Dial(tb)
	c.Timeout = smtptest.DefaultTimeout
	c.Expect("220 mx.test ESMTP ready\r\n")
	c.Send("EHLO client\r\n")
	c.ExpectCode("250")
	open := "C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 Sender OK\nC: RCPT TO:<b@c.example>\nS: 250 2.1.5 Recipient OK\n"

	n := len(a.b.Messages())
	c.Run(open + "C: DATA\nS: 354 Start mail input; end with <CRLF>.<CRLF>\n")
	c.Send(string(stuffDots(body, a.cfg.policy)) + ".\r\n")
	data.reply = readReply(tb, c)
	data.stored = storedSince(a.b, n)

	n = len(a.b.Messages())
	c.Run(open)
	if chunk <= 0 {
		chunk = len(body)
	}
	for rest := body; ; {
		k := min(chunk, len(rest))
		last := ""
		if k == len(rest) {
			last = " LAST"
		}
		c.Send("BDAT " + strconv.Itoa(k) + last + "\r\n" + string(rest[:k]))
		rest = rest[k:]
		bdat.reply = readReply(tb, c)
		if last != "" || !strings.HasPrefix(bdat.reply, "250 ") {
			break
		}
	}
	bdat.stored = storedSince(a.b, n)
	c.Run("C: QUIT\nS: 221 2.0.0 mx.test closing connection\n")
	return data, bdat
}

func readReply(tb testing.TB, c *smtptest.Conn) string {
	tb.Helper()
	r, err := c.ReadReply()
	if err != nil {
		tb.Fatalf("reading reply: %v (got %q)", err, r)
	}
	return r
}

// storedSince returns the message the backend stored after the first n,
// or "" when it stored none.
func storedSince(b *testBackend, n int) string {
	msgs := b.Messages()
	if len(msgs) <= n {
		return ""
	}
	return msgs[n].Data
}

// checkAgree sends body both ways and reports any difference but DATA's
// own refusal of a fake end of data.
func checkAgree(t *testing.T, a *agreeServer, body []byte, chunk int) (data, bdat agreeResult) {
	t.Helper()
	data, bdat = a.sendBoth(t, body, chunk)
	if strings.Contains(data.reply, textproto.FakeEndOfData.String()) {
		return data, bdat
	}
	if data != bdat {
		t.Errorf("%s: %q (chunks of %d)\nDATA: %q stored %q\nBDAT: %q stored %q",
			a.cfg.name, body, chunk, data.reply, data.stored, bdat.reply, bdat.stored)
	}
	return data, bdat
}

const (
	agreeOK       = "250 2.0.0 OK: message accepted\r\n"
	agreeTooLong  = "500 5.5.2 Line too long\r\n"
	agreeTooLarge = "552 5.3.4 Message size exceeds fixed maximum message size of "
)

// TestDataAndBDATAgree: the same message gets the same answer, and the
// backend the same bytes, over DATA (dot-stuffed) and BDAT, whatever the
// chunking.
func TestDataAndBDATAgree(t *testing.T) {
	tests := []struct {
		cfg   int    // index in agreeConfigs
		body  string // as BDAT sends it; ends with CRLF
		reply string // the expected answer (a prefix)
	}{
		// RFC 5321 4.5.3.1.6: the limit is on the text line; the dot
		// DATA adds in front of ".1234567" is transparency (4.5.2).
		{0, ".1234567\r\n", agreeOK},
		{0, "..234567\r\n", agreeOK},
		{0, ".12345678\r\n", agreeTooLong},
		{0, "x\r\n.1234567\r\n.\r\n", agreeOK},
		// A NUL the policy drops is not received, so not counted.
		{3, "1234\x005678\r\n", agreeOK},
		{3, "1234\x00\x00\x00\x005678\r\n", agreeOK},
		{3, "1234\x0056789\r\n", agreeTooLong},
		// A NUL passed through is received and counted.
		{4, "1234\x005678\r\n", agreeTooLong},
		// Bare line ends: counted after normalisation.
		{3, "12345678\r12345678\n12345678\r\n", agreeOK},
		{3, ".2345678\r.2345678\n.2345678\r\n", agreeOK},
		{4, "1234\n5678\r90\r\n", agreeOK},
		// The size counts what is received: 38 octets + CRLF is 40.
		{1, strings.Repeat("x", 38) + "\r\n", agreeOK},
		{1, "." + strings.Repeat("x", 37) + "\r\n", agreeOK},
		{1, strings.Repeat("x", 39) + "\r\n", agreeTooLarge},
		// 28 octets sent, 40 received; then 41.
		{1, strings.Repeat("x\n", 12) + "xx\r\n", agreeOK},
		{1, strings.Repeat("x\n", 12) + "xxx\r\n", agreeTooLarge},
		// Both limits in one line: the one crossed first answers.
		{2, strings.Repeat("1234567890\r\n", 3) + "12345678901\r\n", agreeTooLarge},
		{2, strings.Repeat("1234567890\r\n", 2) + "12345678901\r\n", agreeTooLong},
		// Policy refusals.
		{0, "a\rb\r\n", "554 5.6.0 Message refused: bare CR"},
		{0, "a\x00b\r\n", "554 5.6.0 Message refused: NUL byte"},
		{5, "a\nb\r\n", "554 5.6.0 Message refused: bare LF"},
		{5, "a\xc3\xa9\r\n", "554 5.6.0 Message refused: 8-bit byte"},
		// The first of a limit and a policy violation answers.
		{5, "12345678901\x00\r\n", agreeTooLong},
		{5, "1\x0012345678901\r\n", "554 5.6.0 Message refused: NUL byte"},
	}
	servers := make([]*agreeServer, len(agreeConfigs))
	for _, tt := range tests {
		if servers[tt.cfg] == nil {
			servers[tt.cfg] = startAgreeServer(t, agreeConfigs[tt.cfg])
		}
		a := servers[tt.cfg]
		for _, chunk := range []int{0, 1, 3} {
			data, _ := checkAgree(t, a, []byte(tt.body), chunk)
			if !strings.HasPrefix(data.reply, tt.reply) {
				t.Errorf("%s: %q (chunks of %d): got %q, want %q", a.cfg.name, tt.body, chunk, data.reply, tt.reply)
			}
			if want := strings.HasPrefix(tt.reply, "250"); want != (data.stored != "") {
				t.Errorf("%s: %q: stored %q", a.cfg.name, tt.body, data.stored)
			}
		}
	}
}

// FuzzDataAndBDATAgree sends arbitrary messages with DATA and BDAT under
// each agreeConfig and compares the answers and the bytes received.
func FuzzDataAndBDATAgree(f *testing.F) {
	seeds := []string{
		".1234567\r\n",
		"1234\x005678\r\n",
		"12345678\r12345678\n.2345678\r\n",
		"x\n.\n.\r\n",
		"\r\n.\r\n..\r\n",
		strings.Repeat("1234567890\r\n", 3) + "12345678901\r\n",
		"a\xc3\xa9\x00\rb\n",
	}
	for i, s := range seeds {
		for cfg := range agreeConfigs {
			f.Add(byte(cfg), byte(i), []byte(s))
		}
	}
	servers := make([]*agreeServer, len(agreeConfigs))
	for i, cfg := range agreeConfigs {
		servers[i] = startAgreeServer(f, cfg)
	}
	f.Fuzz(func(t *testing.T, cfg, chunk byte, body []byte) {
		if len(body) > 512 {
			return
		}
		if !strings.HasSuffix(string(body), "\r\n") {
			body = append(body, "\r\n"...)
		}
		checkAgree(t, servers[int(cfg)%len(servers)], body, int(chunk%8))
	})
}
