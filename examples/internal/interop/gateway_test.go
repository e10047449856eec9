//go:build unix

package interop

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// pyParseMail reads a message stored by mailsink (argv[1]) with Python's
// email package (the modern policy, which records every defect it finds)
// and prints what a mail program would show of it, as JSON.
const pyParseMail = `
import email, email.policy, hashlib, json, sys
raw = open(sys.argv[1], "rb").read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
def addrs(name):
    h = msg[name]
    return [[a.display_name, a.addr_spec] for a in h.addresses] if h is not None else []
def structure(p):
    if p.is_multipart():
        return p.get_content_type() + "(" + " ".join(structure(s) for s in p.iter_parts()) + ")"
    return p.get_content_type()
defects = [type(d).__name__ for d in msg.defects]
attachments = []
for part in msg.walk():
    defects += [type(d).__name__ for d in part.defects]
    if part.is_multipart() or part.get_filename() is None:
        continue
    data = part.get_payload(decode=True)
    attachments.append([part.get_filename(), part.get_content_type(), hashlib.sha256(data).hexdigest(),
                        part.get_content_disposition(), (part["Content-ID"] or "").strip("<>")])
long_lines = [i for i, l in enumerate(raw.split(b"\r\n")) if len(l) > 998]
print(json.dumps({
    "subject": str(msg["subject"]),
    "from": addrs("from"), "to": addrs("to"), "cc": addrs("cc"), "bcc": msg["bcc"] is not None,
    "x_note": str(msg["x-note"]),
    "text": msg.get_body(preferencelist=("plain",)).get_content(),
    "html": msg.get_body(preferencelist=("html",)).get_content(),
    "attachments": attachments, "structure": structure(msg), "defects": defects, "long_lines": long_lines,
}, ensure_ascii=False))
`

// TestGatewayOutboundPythonEmail: a message submitted to the gateway's
// HTTP API reaches a mailsink by SMTP, and Python's email package reads
// it back as it was submitted: encoded words in names and the subject,
// RFC 2231 file names split into continuations, the text and HTML bodies
// in their transfer encodings, attachments byte for byte, the MIME
// structure, no Bcc field, and no defect.
func TestGatewayOutboundPythonEmail(t *testing.T) {
	py := needPython(t, "email")
	gw, sinkBin := e2e.Build(t, "gateway"), e2e.Build(t, "mailsink")
	dir := t.TempDir()
	sinkAddr, httpAddr := e2e.FreeAddr(t), e2e.FreeAddr(t)
	md := filepath.Join(dir, "maildir")
	e2e.Start(t, dir, sinkBin, "-listen", sinkAddr, "-maildir", md, "-http", "").WaitListen(sinkAddr, caseTimeout)
	token := e2e.WriteFile(t, dir, "token", "interop-token-0123456789\n", 0o600)
	e2e.Start(t, dir, gw, "-listen", "", "-http", httpAddr, "-token-file", token, "-queue", filepath.Join(dir, "queue"),
		"-smarthost", sinkAddr, "-hostname", "gw.interop.test").WaitListen(httpAddr, caseTimeout)

	pdf := bytes.Repeat([]byte("%PDF-1.7\x00\xff binary "), 500)
	png := []byte("\x89PNG\r\n\x1a\n fake image")
	longName := strings.Repeat("Überweisungsbestätigung ", 6) + "März.pdf"
	var recipients []string
	for i := range 12 {
		recipients = append(recipients, "Empfänger Nummer "+string(rune('A'+i))+" <r"+string(rune('a'+i))+"@example.net>")
	}
	req := map[string]any{
		"from":     "Zoë Çelik <zoe@shop.interop.test>",
		"to":       recipients,
		"cc":       `"Smith, John (Sales)" <john@example.net>`,
		"bcc":      []string{"archive@example.org"},
		"subject":  "Ihre Rechnung für März — 100 € fällig, bitte bis Freitag überweisen 🙏",
		"text":     "Guten Tag,\n\nanbei Ihre Rechnung.\n.\nZeile mit Punkt oben.\n" + strings.Repeat("Lange Zeile ", 20) + "\n",
		"html":     "<p>你好，<b>世界</b></p><img src=\"cid:logo@shop\">" + strings.Repeat("<p>段落</p>", 30),
		"headers":  map[string]string{"X-Note": "überall erreichbar", "X-Campaign": "spring"},
		"reply_to": "Support <support@shop.interop.test>",
		"attachments": []map[string]string{
			{"filename": longName, "content_type": "application/pdf", "content": b64(pdf)},
			{"filename": "logo.png", "content_type": "image/png", "content": b64(png), "content_id": "logo@shop"},
			{"filename": "notes.txt", "content": b64([]byte("plain notes\n"))},
		},
	}
	body, _ := json.Marshal(req)
	hr, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/messages", bytes.NewReader(body))
	hr.Header.Set("Authorization", "Bearer interop-token-0123456789")
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("POST: %d %s", resp.StatusCode, rb)
	}
	// One transaction per recipient domain: example.net and example.org.
	files := e2e.Maildir(t, md, 2, caseTimeout)
	if len(files) != 2 {
		t.Fatalf("%d messages at the sink", len(files))
	}
	var got struct {
		Subject     string
		From, To    [][2]string
		Cc          [][2]string
		Bcc         bool
		XNote       string `json:"x_note"`
		Text, HTML  string
		Attachments [][5]string
		Structure   string
		Defects     []string
		LongLines   []int `json:"long_lines"`
	}
	out := runPeer(t, nil, py, "-c", pyParseMail, files[0])
	if err := json.Unmarshal([]byte(lastLine(out)), &got); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if got.Subject != req["subject"] || got.XNote != "überall erreichbar" {
		t.Errorf("subject %q, X-Note %q", got.Subject, got.XNote)
	}
	if len(got.From) != 1 || got.From[0] != [2]string{"Zoë Çelik", "zoe@shop.interop.test"} {
		t.Errorf("from %v", got.From)
	}
	if len(got.To) != 12 || got.To[11] != [2]string{"Empfänger Nummer L", "rl@example.net"} {
		t.Errorf("to %v", got.To)
	}
	if len(got.Cc) != 1 || got.Cc[0] != [2]string{"Smith, John (Sales)", "john@example.net"} || got.Bcc {
		t.Errorf("cc %v, bcc field %v", got.Cc, got.Bcc)
	}
	// Text comes back in its canonical form, CRLF line ends (RFC 2045
	// 6.7, 6.8).
	if strings.ReplaceAll(got.Text, "\r\n", "\n") != req["text"] || got.HTML != req["html"] {
		t.Errorf("text %q\nhtml %q", got.Text, got.HTML)
	}
	want := [][5]string{
		{longName, "application/pdf", sum(pdf), "attachment", ""},
		{"logo.png", "image/png", sum(png), "inline", "logo@shop"},
		{"notes.txt", "text/plain", sum([]byte("plain notes\n")), "attachment", ""},
	}
	slices.SortFunc(got.Attachments, func(a, b [5]string) int { return strings.Compare(a[1], b[1]) })
	if !slices.Equal(got.Attachments, want) {
		t.Errorf("attachments\n%v\nwant\n%v", got.Attachments, want)
	}
	const structure = "multipart/mixed(multipart/alternative(text/plain multipart/related(text/html image/png)) application/pdf text/plain)"
	if got.Structure != structure {
		t.Errorf("structure %s", got.Structure)
	}
	if len(got.Defects) > 0 || len(got.LongLines) > 0 {
		t.Errorf("defects %v, lines over 998 characters %v", got.Defects, got.LongLines)
	}
}

func b64(b []byte) string {
	s, _ := json.Marshal(b) // base64, quoted
	return strings.Trim(string(s), `"`)
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// PyVerify is the signature check examples/README.md gives receivers in
// Python; the test below runs it against the gateway's requests.
const PyVerify = `import hashlib, hmac, time

def verify(secret: bytes, header: str, body: bytes, tolerance: int = 300) -> bool:
    """Checks an X-Smtpkit-Signature header against the raw request body."""
    fields = [f.strip().split("=", 1) for f in header.split(",") if "=" in f]
    ts = [v for k, v in fields if k == "t"]
    sigs = [v for k, v in fields if k == "v1"]
    if len(ts) != 1 or not ts[0].isdigit() or not sigs:
        return False
    if abs(time.time() - int(ts[0])) > tolerance:
        return False  # too old (a replay), or clocks far apart
    mac = hmac.new(secret, ts[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(mac, s) for s in sigs)
`

// pyReceiver is a webhook receiver with Python's http.server that checks
// each request with PyVerify, answers 204 or 401, and prints one JSON line
// per request: the verdict, the verdict for the body changed by one byte
// and for the signature replayed 10 minutes later, and the subject.
// argv: port secret.
const pyReceiver = PyVerify + `
import http.server, json, sys, unittest.mock
secret = sys.argv[2].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        sig = self.headers["X-Smtpkit-Signature"]
        ok = verify(secret, sig, body)
        later = time.time() + 600
        with unittest.mock.patch("time.time", return_value=later):
            replayed = verify(secret, sig, body)
        self.send_response(204 if ok else 401)
        self.end_headers()
        print(json.dumps({"ok": ok, "tampered": verify(secret, sig, body + b" "), "replayed": replayed,
                          "subject": json.loads(body)["subject"]}), flush=True)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
`

// TestGatewayWebhookPythonVerify: the Python recipe of examples/README.md
// accepts the gateway's signature, and refuses a changed body and a
// replay; the README holds that code exactly.
func TestGatewayWebhookPythonVerify(t *testing.T) {
	py := needPython(t, "http.server", "hmac", "unittest.mock")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte(PyVerify)) {
		t.Error("examples/README.md does not hold the Python verification code this test runs")
	}
	gw := e2e.Build(t, "gateway")
	dir := t.TempDir()
	hookAddr, smtpAddr := e2e.FreeAddr(t), e2e.FreeAddr(t)
	const secret = "interop-secret-0123456789abcdef"
	_, port, _ := net.SplitHostPort(hookAddr)
	recv := e2e.Start(t, dir, py, "-c", pyReceiver, port, secret)
	recv.WaitListen(hookAddr, caseTimeout)
	sf := e2e.WriteFile(t, dir, "secret", secret+"\n", 0o600)
	e2e.Start(t, dir, gw, "-listen", smtpAddr, "-route", "hooks.interop.test=http://"+hookAddr+"/in", "-secret-file", sf,
		"-queue", filepath.Join(dir, "queue"), "-hostname", "gw.interop.test").WaitListen(smtpAddr, caseTimeout)
	c, err := client.Dial(t.Context(), smtpAddr, &client.Options{LocalName: "client.interop.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(t.Context(), "a@example.net", []string{"x@hooks.interop.test"},
		strings.NewReader("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_Python?=\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(caseTimeout)
	for !strings.Contains(recv.Stdout.String(), "\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver printed nothing; stderr:\n%s", recv.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var v struct {
		OK, Tampered, Replayed bool
		Subject                string
	}
	if err := json.Unmarshal([]byte(strings.SplitN(recv.Stdout.String(), "\n", 2)[0]), &v); err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.Tampered || v.Replayed || v.Subject != "Grüße aus Python" {
		t.Errorf("verdicts %+v", v)
	}
}
