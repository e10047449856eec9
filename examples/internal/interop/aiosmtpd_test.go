//go:build unix

package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// pyAiosmtpd serves SMTP with aiosmtpd (no CHUNKING: it has no BDAT) on
// 127.0.0.1:argv[1] and writes each message's content to argv[2]/N.eml and
// its envelope to argv[2]/N.json. It runs until killed.
const pyAiosmtpd = `
import asyncio, itertools, json, os, sys
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
seq = itertools.count()
class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = next(seq)
        with open(os.path.join(out, "%d.eml.tmp" % n), "wb") as f:
            f.write(envelope.original_content)
        with open(os.path.join(out, "%d.json.tmp" % n), "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "mail_options": envelope.mail_options, "smtputf8": envelope.smtp_utf8}, f)
        os.rename(os.path.join(out, "%d.eml.tmp" % n), os.path.join(out, "%d.eml" % n))
        os.rename(os.path.join(out, "%d.json.tmp" % n), os.path.join(out, "%d.json" % n))
        return "250 OK stored"
c = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="aiosmtpd.interop.test",
               enable_SMTPUTF8=True, decode_data=False)
c.start()
try:
    asyncio.new_event_loop().run_until_complete(asyncio.Event().wait())
finally:
    c.stop()
`

// TestAiosmtpdNoChunking: aiosmtpd does not offer CHUNKING, so our client,
// configured with a small chunk size, must fall back to DATA (dot-stuffed)
// and the message must arrive byte for byte, with BODY=8BITMIME declared.
func TestAiosmtpdNoChunking(t *testing.T) {
	py := needPython(t, "aiosmtpd")
	dir := t.TempDir()
	addr := e2e.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p := e2e.Start(t, "", py, "-c", pyAiosmtpd, port, dir)
	p.WaitListen(addr, caseTimeout)

	// 8-bit text, dot lines and 200 KiB of base64, larger than ChunkSize.
	msg := append(append([]byte(nil), eightBitMsg...), crlf(".", "..dots", ".")...)
	msg = append(msg, bigMessage(t, 200<<10)...)

	var trace strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, err := client.Dial(ctx, addr, &client.Options{LocalName: "client.interop.test", ChunkSize: 16 << 10, Trace: &trace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if c.Extensions().Chunking {
		t.Fatalf("aiosmtpd announced CHUNKING: %+v", c.Extensions().List)
	}
	env := envelope.Envelope{From: path("sender@client.interop.test"), To: []envelope.Recipient{
		{Path: path("a@interop.test")}, {Path: path("b@interop.test")}}}
	res, err := c.Send(ctx, env, bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("Send: %v\n%s", err, trace.String())
	}
	if !strings.Contains(res.Text(), "OK stored") {
		t.Errorf("final reply %q", res.Text())
	}
	if err := c.Quit(ctx); err != nil {
		t.Errorf("QUIT: %v", err)
	}
	if countLines(trace.String(), "C: DATA") != 1 || countLines(trace.String(), "C: BDAT") != 0 {
		t.Errorf("want DATA and no BDAT:\n%s", trace.String())
	}

	got := waitFile(t, filepath.Join(dir, "0.eml"))
	if !bytes.Equal(got, msg) {
		t.Errorf("aiosmtpd stored %d octets, want %d; first difference at %d", len(got), len(msg), firstDiff(got, msg))
	}
	var seen struct {
		From        string
		To          []string
		MailOptions []string `json:"mail_options"`
	}
	if err := json.Unmarshal(waitFile(t, filepath.Join(dir, "0.json")), &seen); err != nil {
		t.Fatal(err)
	}
	if seen.From != "sender@client.interop.test" || !slices.Equal(seen.To, []string{"a@interop.test", "b@interop.test"}) {
		t.Errorf("aiosmtpd saw %s -> %v", seen.From, seen.To)
	}
	if !slices.ContainsFunc(seen.MailOptions, func(o string) bool { return strings.EqualFold(o, "BODY=8BITMIME") }) {
		t.Errorf("aiosmtpd saw MAIL options %v, want BODY=8BITMIME", seen.MailOptions)
	}
}

// waitFile waits up to caseTimeout for name to exist and returns its bytes.
func waitFile(t testing.TB, name string) []byte {
	t.Helper()
	deadline := time.Now().Add(caseTimeout)
	for {
		b, err := os.ReadFile(name)
		if err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within %v", name, caseTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
