//go:build unix

package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
)

// Test messages. Postfix keeps lines as they are below 998 octets, so the
// bytes that reach the next hop are the message after one Received header.
var (
	// asciiMsg has tabs, trailing spaces and lines starting with dots.
	asciiMsg = crlf(
		"From: Sender <sender@client.interop.test>",
		"To: rcpt@relay.interop.test",
		"Subject: interop: ascii",
		"Date: Mon, 23 Nov 2026 10:00:00 +0000",
		"Message-ID: <ascii.1@client.interop.test>",
		"",
		"tab\there, trailing spaces   ",
		".leading dot",
		"..two dots",
		".",
		"last line")

	// eightBitMsg is 8-bit text: UTF-8 and ISO-8859-1 octets in the body.
	eightBitMsg = crlf(
		"From: sender@client.interop.test",
		"To: rcpt@relay.interop.test",
		"Subject: interop: 8bit",
		"Date: Mon, 23 Nov 2026 10:00:00 +0000",
		"Message-ID: <8bit.1@client.interop.test>",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: 8bit",
		"",
		"Grüße, Ünïcödé — 用户",
		"latin-1 octets: \xe9\xe8\xe0")
)

// bigMessage returns a message of about n octets: base64 lines of random
// octets, so that BDAT needs several chunks.
func bigMessage(t testing.TB, n int) []byte {
	t.Helper()
	raw := make([]byte, n*3/4)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	var b bytes.Buffer
	b.Write(crlf(
		"From: sender@client.interop.test",
		"To: rcpt@relay.interop.test",
		"Subject: interop: big",
		"Date: Mon, 23 Nov 2026 10:00:00 +0000",
		"Message-ID: <big.1@client.interop.test>",
		"MIME-Version: 1.0",
		"Content-Type: application/octet-stream",
		"Content-Transfer-Encoding: base64",
		""))
	for len(enc) > 0 {
		k := min(76, len(enc))
		b.WriteString(enc[:k])
		b.WriteString("\r\n")
		enc = enc[k:]
	}
	return b.Bytes()
}

// TestPostfix runs the cases that need a Postfix instance, which it
// starts once: our client submits to its smtpd, and its SMTP client relays
// to our in-process server (DSN, SMTPUTF8, CHUNKING and PIPELINING on).
func TestPostfix(t *testing.T) {
	needPostfix(t)
	rec := startRecorder(t, func(r *recorder) {
		r.srv.EnableDSN = true
		r.srv.EnableSMTPUTF8 = true
		r.srv.EnableChunking = true
	})
	pf := startPostfix(t, rec.Addr)

	t.Run("BDATRelayedByteExact", func(t *testing.T) { testBDAT(t, pf, rec, "ascii", asciiMsg, 0, false) })
	t.Run("BDAT8BitMIME", func(t *testing.T) { testBDAT(t, pf, rec, "eightbit", eightBitMsg, 0, true) })
	t.Run("BDATManyChunks", func(t *testing.T) { testBDAT(t, pf, rec, "big", bigMessage(t, 1<<20), 64<<10, false) })
	t.Run("BinaryMIMENotOffered", func(t *testing.T) { testBinaryMIME(t, pf) })
	t.Run("DSNParamsRelayed", func(t *testing.T) { testDSNRelayed(t, pf, rec) })
	t.Run("DSNSuccessNotice", func(t *testing.T) { testDSNSuccess(t, pf, rec) })
	t.Run("SMTPUTF8Relayed", func(t *testing.T) { testSMTPUTF8(t, pf, rec) })
}

// dialPostfix connects our client to the instance's smtpd and says EHLO.
func dialPostfix(t testing.TB, pf *postfix, opts client.Options) (*client.Client, *strings.Builder) {
	t.Helper()
	trace := &strings.Builder{}
	opts.LocalName = "client.interop.test"
	opts.Trace = trace
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, err := client.Dial(ctx, pf.smtpd, &opts)
	if err != nil {
		t.Fatalf("dial postfix: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello(ctx, ""); err != nil {
		t.Fatalf("EHLO: %v\n%s", err, trace)
	}
	return c, trace
}

// send sends msg with env and QUITs; it returns Postfix's queue id.
func send(t testing.TB, c *client.Client, trace *strings.Builder, env envelope.Envelope, msg []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	res, err := c.Send(ctx, env, bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("Send: %v\ntrace:\n%s", err, trace)
	}
	qid := queueID(t, res.Text())
	if err := c.Quit(ctx); err != nil {
		t.Errorf("QUIT: %v", err)
	}
	return qid
}

// smtpdStats returns the command counts Postfix's smtpd logged when the
// session that queued qid ended ("ehlo=1 mail=1 rcpt=1 bdat=3 quit=1
// commands=7").
func (p *postfix) smtpdStats(t testing.TB, qid string) string {
	t.Helper()
	pid := p.waitLog(t, regexp.MustCompile(`smtpd\[(\d+)\]: `+qid+`: client=`))[1]
	// The first disconnect of that process after the client= line.
	re := regexp.MustCompile(`smtpd\[` + pid + `\]: disconnect from \S+ (.*)`)
	deadline := time.Now().Add(caseTimeout)
	for {
		log := p.log()
		if m := re.FindStringSubmatch(log[strings.Index(log, qid+": client="):]); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no disconnect line for %s:\n%s", qid, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countLines counts the trace lines starting with prefix.
func countLines(trace, prefix string) int {
	n := 0
	for _, l := range strings.Split(trace, "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// testBDAT: our client sends msg to local@relayDomain with BDAT (in
// chunks of chunkSize when not 0) to Postfix, which relays it to our server. The bytes must arrive
// exactly, and Postfix's own log must count the BDAT commands.
func testBDAT(t *testing.T, pf *postfix, rec *recorder, local string, msg []byte, chunkSize int, eightBit bool) {
	c, trace := dialPostfix(t, pf, client.Options{ChunkSize: chunkSize})
	ext := c.Extensions()
	if !ext.Chunking {
		t.Fatalf("Postfix 3.4+ announces CHUNKING; got %+v", ext.List)
	}
	if ext.BinaryMIME {
		t.Logf("note: this Postfix announces BINARYMIME")
	}
	env := envelope.Envelope{
		From: path("sender@" + senderDomain),
		To:   []envelope.Recipient{{Path: path(local + "@" + relayDomain)}},
	}
	qid := send(t, c, trace, env, msg)

	chunks := countLines(trace.String(), "C: BDAT ")
	if chunks == 0 || countLines(trace.String(), "C: DATA") != 0 {
		t.Fatalf("client did not use BDAT alone:\n%s", trace)
	}
	if chunkSize > 0 && chunks < len(msg)/chunkSize {
		t.Errorf("%d BDAT chunks for %d octets in chunks of %d", chunks, len(msg), chunkSize)
	}
	if !strings.Contains(trace.String(), " LAST") {
		t.Errorf("no BDAT ... LAST in the trace:\n%s", trace)
	}
	stats := pf.smtpdStats(t, qid)
	if !strings.Contains(" "+stats+" ", " bdat="+strconv.Itoa(chunks)+" ") || strings.Contains(stats, "data=") {
		t.Errorf("Postfix counted %q, the client sent %d BDAT commands", stats, chunks)
	}

	got := rec.next(t, env.To[0].Address.String())
	body := stripTrace(t, got.Data, "Received")
	if !bytes.Equal(body, msg) {
		t.Errorf("relayed message differs (%d octets, want %d) at %d", len(body), len(msg), firstDiff(body, msg))
	}
	if got.From.String() != env.From.String() || len(got.To) != 1 || got.To[0].String() != env.To[0].String() {
		t.Errorf("envelope %s -> %v", got.From, got.To)
	}
	if want := map[bool]envelope.BodyType{true: envelope.Body8BitMIME}[eightBit]; eightBit && got.Mail.Body != want {
		t.Errorf("BODY %v reached our server, want %v (Postfix keeps BODY=8BITMIME)", got.Mail.Body, want)
	}
	if got.Hello != "pf.interop.test" {
		t.Errorf("Postfix's EHLO name %q", got.Hello)
	}
	if !got.Pipelined {
		t.Errorf("Postfix's SMTP client did not pipeline MAIL, RCPT and DATA to our server (commands %v)", got.Commands)
	}
	if !contains(got.Commands, "DATA") || contains(got.Commands, "BDAT") {
		t.Errorf("Postfix's SMTP client sent %v (it never sends BDAT)", got.Commands)
	}
}

// testBinaryMIME: Postfix does not announce BINARYMIME, so a binary
// message must be refused by our client before anything is sent.
func testBinaryMIME(t *testing.T, pf *postfix) {
	c, trace := dialPostfix(t, pf, client.Options{})
	if c.Extensions().BinaryMIME {
		t.Skip("this Postfix announces BINARYMIME")
	}
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	env := envelope.Envelope{
		From: path("sender@" + senderDomain),
		Mail: envelope.MailParams{Body: envelope.BodyBinaryMIME},
		To:   []envelope.Recipient{{Path: path("rcpt@" + relayDomain)}},
	}
	_, err := c.Send(ctx, env, bytes.NewReader([]byte("Subject: bin\r\n\r\n\x00\x01\x02\r\n")))
	var ce *client.Error
	var xe *client.ExtensionError
	if !errors.As(err, &ce) || !ce.Local || !errors.As(err, &xe) || xe.Extension != "BINARYMIME" {
		t.Fatalf("Send of BODY=BINARYMIME to a server without it: %v, want a Local *Error with ExtensionError BINARYMIME", err)
	}
	if strings.Contains(trace.String(), "C: MAIL") {
		t.Errorf("MAIL was sent:\n%s", trace)
	}
	if err := c.Quit(ctx); err != nil {
		t.Errorf("QUIT after the local refusal: %v", err)
	}
}

// testDSNRelayed: the DSN parameters our client gives Postfix (RFC 3461)
// come back from Postfix's SMTP client to our server unchanged.
func testDSNRelayed(t *testing.T, pf *postfix, rec *recorder) {
	c, trace := dialPostfix(t, pf, client.Options{})
	if !c.Extensions().DSN {
		t.Fatalf("Postfix announces DSN; got %+v", c.Extensions().List)
	}
	// An ENVID with characters that need xtext (RFC 3461 4): "+", "=", space.
	const envID = "env+1=two three"
	env := envelope.Envelope{
		From: path("sender@" + senderDomain),
		Mail: envelope.MailParams{Ret: envelope.RetHdrs, EnvID: envID},
		To: []envelope.Recipient{
			{Path: path("first@" + relayDomain), Params: envelope.RcptParams{
				Notify: envelope.NotifySuccess | envelope.NotifyFailure,
				ORcpt:  &envelope.ORcpt{AddrType: "rfc822", Addr: "orig+list@example.org"}}},
			{Path: path("second@" + relayDomain), Params: envelope.RcptParams{Notify: envelope.NotifyNever}},
			{Path: path("third@" + relayDomain), Params: envelope.RcptParams{Notify: envelope.NotifyDelay | envelope.NotifyFailure}},
		},
	}
	send(t, c, trace, env, asciiMsg)
	for _, want := range []string{"RET=HDRS", "ENVID=env+2B1+3Dtwo+20three", "NOTIFY=SUCCESS,FAILURE",
		"ORCPT=rfc822;orig+2Blist@example.org", "NOTIFY=NEVER"} {
		if !strings.Contains(trace.String(), want) {
			t.Errorf("our client did not send %s:\n%s", want, trace)
		}
	}

	got := rec.next(t, "first@"+relayDomain)
	t.Logf("relayed by Postfix: MAIL %s %s; RCPT %v", got.From, got.Mail.String(), recipients(got.To))
	if got.Mail.Ret != envelope.RetHdrs || got.Mail.EnvID != envID {
		t.Errorf("MAIL params %q, want RET=HDRS and ENVID %q", got.Mail.String(), envID)
	}
	if len(got.To) != 3 {
		t.Fatalf("recipients %v", recipients(got.To))
	}
	byAddr := map[string]envelope.RcptParams{}
	for _, r := range got.To {
		byAddr[r.Address.String()] = r.Params
	}
	first := byAddr["first@"+relayDomain]
	if first.Notify != envelope.NotifySuccess|envelope.NotifyFailure || first.ORcpt == nil ||
		!strings.EqualFold(first.ORcpt.AddrType, "rfc822") || first.ORcpt.Addr != "orig+list@example.org" {
		t.Errorf("first recipient's params %q", first.String())
	}
	if n := byAddr["second@"+relayDomain].Notify; n != envelope.NotifyNever {
		t.Errorf("second recipient NOTIFY %v, want NEVER", n)
	}
	if n := byAddr["third@"+relayDomain].Notify; n != envelope.NotifyDelay|envelope.NotifyFailure {
		t.Errorf("third recipient NOTIFY %v, want DELAY,FAILURE", n)
	}
	// Postfix adds the original recipient as ORCPT when none was given.
	for _, a := range []string{"second@" + relayDomain, "third@" + relayDomain} {
		if o := byAddr[a].ORcpt; o != nil && o.Addr != a {
			t.Errorf("%s relayed with ORCPT %s;%s", a, o.AddrType, o.Addr)
		}
	}
	if body := stripTrace(t, got.Data, "Received"); !bytes.Equal(body, asciiMsg) {
		t.Errorf("relayed message differs at %d:\n%s", firstDiff(body, asciiMsg), got.Data)
	}
}

// testDSNSuccess: Postfix delivers into a Maildir a message our client
// sent with NOTIFY=SUCCESS, RET=HDRS, ENVID and ORCPT, then sends a
// success notification (RFC 3464) to the sender, routed to our server: the
// notice must carry our ENVID and ORCPT and, for RET=HDRS, only the header
// section of the message.
func testDSNSuccess(t *testing.T, pf *postfix, rec *recorder) {
	c, trace := dialPostfix(t, pf, client.Options{})
	const envID = "success-42"
	rcpt := "user@" + boxDomain
	msg := bytes.ReplaceAll(asciiMsg, []byte("rcpt@relay.interop.test"), []byte(rcpt))
	env := envelope.Envelope{
		From: path("dsn-sender@" + senderDomain),
		Mail: envelope.MailParams{Ret: envelope.RetHdrs, EnvID: envID},
		To: []envelope.Recipient{{Path: path(rcpt), Params: envelope.RcptParams{
			Notify: envelope.NotifySuccess, ORcpt: &envelope.ORcpt{AddrType: "rfc822", Addr: "alias@example.org"}}}},
	}
	send(t, c, trace, env, msg)

	// The delivered copy: Postfix's virtual(8) writes LF line ends and
	// prepends Return-Path, X-Original-To, Delivered-To and Received.
	stored := pf.maildirMessage(t)
	stored = stripTrace(t, stored, "Return-Path", "X-Original-To", "Delivered-To", "Received")
	if want := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")); !bytes.Equal(stored, want) {
		t.Errorf("delivered message differs at %d:\n%s", firstDiff(stored, want), stored)
	}

	notice := rec.next(t, "dsn-sender@"+senderDomain)
	text := string(notice.Data)
	if !notice.From.Null || len(notice.To) != 1 || notice.To[0].Address.String() != "dsn-sender@"+senderDomain {
		t.Errorf("notice envelope %s -> %v, want <> -> dsn-sender@%s", notice.From, recipients(notice.To), senderDomain)
	}
	for _, want := range []string{
		"report-type=delivery-status",
		"Original-Envelope-Id: " + envID,
		"Original-Recipient: rfc822;alias@example.org",
		"Final-Recipient: rfc822; " + rcpt,
		"Action: delivered",
		"Content-Type: text/rfc822-headers",
		"Subject: interop: ascii",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the success notice lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "..two dots") || strings.Contains(text, "last line") {
		t.Errorf("RET=HDRS, yet the notice returns the body:\n%s", text)
	}
}

// testSMTPUTF8: our client submits a message with UTF-8 addresses and
// headers (it adds SMTPUTF8 itself); Postfix's SMTP client must relay it
// with SMTPUTF8 and BODY=8BITMIME to our server, byte for byte.
func testSMTPUTF8(t *testing.T, pf *postfix, rec *recorder) {
	c, trace := dialPostfix(t, pf, client.Options{})
	if !c.Extensions().SMTPUTF8 {
		t.Fatalf("Postfix (smtputf8_enable=yes) announces SMTPUTF8; got %+v", c.Extensions().List)
	}
	from, to := "发件人@"+senderDomain, "用户@"+relayDomain
	msg := crlf(
		"From: "+from,
		"To: "+to,
		"Subject: 你好, Grüße",
		"Date: Mon, 23 Nov 2026 10:00:00 +0000",
		"Message-ID: <utf8.1@client.interop.test>",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: 8bit",
		"",
		"正文 body")
	env := envelope.Envelope{From: path(from), To: []envelope.Recipient{{Path: path(to)}}}
	send(t, c, trace, env, msg)
	if !regexp.MustCompile(`C: MAIL FROM:<发件人@client\.interop\.test>.* SMTPUTF8`).MatchString(trace.String()) {
		t.Errorf("our client did not declare SMTPUTF8:\n%s", trace)
	}

	got := rec.next(t, to)
	if !got.Mail.SMTPUTF8 {
		t.Errorf("Postfix relayed without SMTPUTF8: %q", got.Mail.String())
	}
	if got.Mail.Body != envelope.Body8BitMIME {
		t.Errorf("Postfix relayed with BODY %v, want 8BITMIME", got.Mail.Body)
	}
	if got.From.Address.String() != from || len(got.To) != 1 || got.To[0].Address.String() != to {
		t.Errorf("envelope %s -> %v", got.From, recipients(got.To))
	}
	recv := string(got.Data[:bytes.Index(got.Data, []byte("\r\nFrom: "))])
	if !strings.Contains(recv, "with UTF8SMTP") {
		t.Errorf("Postfix's Received header does not say UTF8SMTP: %q", recv)
	}
	if body := stripTrace(t, got.Data, "Received"); !bytes.Equal(body, msg) {
		t.Errorf("relayed message differs at %d:\n%s", firstDiff(body, msg), got.Data)
	}
}

func recipients(rs []envelope.Recipient) []string {
	var out []string
	for _, r := range rs {
		s := r.Path.String()
		if p := r.Params.String(); p != "" {
			s += " " + p
		}
		out = append(out, s)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
