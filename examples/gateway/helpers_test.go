package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/examples/gateway/internal/webhook"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// The binaries built by TestMain.
var gatewayBin, mailsinkBin, relayBin string

func TestMain(m *testing.M) {
	os.Exit(e2e.RunWithPrograms(m, map[string]*string{"gateway": &gatewayBin, "mailsink": &mailsinkBin, "relay": &relayBin}))
}

// Secrets of the test gateways.
const (
	testSecret = "whsec-0123456789abcdef0123456789abcdef"
	testToken  = "tok-0123456789abcdef0123456789"
)

// wait bounds every wait of a test for something that should happen; it
// is generous because the machine may be loaded (never an assertion on
// speed).
const wait = 60 * time.Second

// hookRequest is one request a receiver got.
type hookRequest struct {
	ID, Attempt string
	Payload     webhook.Payload
	// SigErr is the result of verifying the signature with testSecret,
	// which the README's verifySignature must agree with.
	SigErr error
	Body   []byte
}

// receiver is a webhook receiver in the test: a real HTTP server that
// verifies each request's signature, records it, and answers with what
// answer says (200 when answer is nil).
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	got chan hookRequest

	mu     sync.Mutex
	n      int
	answer func(n int, r *hookRequest, w http.ResponseWriter)
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, got: make(chan hookRequest, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setAnswer(f func(n int, r *hookRequest, w http.ResponseWriter)) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	hr := hookRequest{ID: r.Header.Get(webhook.IDHeader), Attempt: r.Header.Get(webhook.AttemptHeader), Body: body}
	now := time.Now()
	hr.SigErr = webhook.Verify(r.Header.Get(webhook.SignatureHeader), body, [][]byte{[]byte(testSecret)}, now, 0)
	if ok := verifySignature([]byte(testSecret), r.Header.Get(webhook.SignatureHeader), body, now); ok != (hr.SigErr == nil) {
		rc.t.Errorf("the README's verifySignature says %v, webhook.Verify %v", ok, hr.SigErr)
	}
	if err := json.Unmarshal(body, &hr.Payload); err != nil {
		rc.t.Errorf("payload is not JSON: %v", err)
	}
	rc.mu.Lock()
	rc.n++
	n, answer := rc.n, rc.answer
	rc.mu.Unlock()
	if answer == nil {
		w.WriteHeader(http.StatusOK)
	} else {
		answer(n, &hr, w)
	}
	rc.got <- hr
}

// newDownReceiver returns a receiver that answers 503 until up is set,
// then 200.
func newDownReceiver(t *testing.T) (rc *receiver, up *atomic.Bool) {
	rc, up = newReceiver(t), new(atomic.Bool)
	rc.setAnswer(func(n int, r *hookRequest, w http.ResponseWriter) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return rc, up
}

// drain brings a receiver of newDownReceiver up and forgets the requests
// it refused so far (a gateway killed meanwhile sends no more of them).
func (rc *receiver) drain(up *atomic.Bool) {
	up.Store(true)
	for len(rc.got) > 0 {
		<-rc.got
	}
}

// next returns the next request.
func (rc *receiver) next() hookRequest {
	rc.t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(wait):
		rc.t.Fatal("the webhook got no request")
		return hookRequest{}
	}
}

// gateway is a gateway process in a test.
type gatewayProc struct {
	*e2e.Proc
	dir        string
	smtp, http string
	args       []string
}

// startGateway runs the gateway with a queue, secret and token files in
// dir, listening for SMTP and HTTP on free loopback ports, with args
// added.
func startGateway(t *testing.T, dir string, args ...string) *gatewayProc {
	t.Helper()
	e2e.WriteFile(t, dir, "secret", testSecret+"\n", 0o600)
	e2e.WriteFile(t, dir, "token", testToken+"\n", 0o600)
	g := &gatewayProc{dir: dir, smtp: e2e.FreeAddr(t), http: e2e.FreeAddr(t)}
	g.args = append([]string{"-listen", g.smtp, "-http", g.http, "-queue", filepath.Join(dir, "queue"),
		"-secret-file", filepath.Join(dir, "secret"), "-token-file", filepath.Join(dir, "token"), "-hostname", "gw.test"}, args...)
	g.start(t)
	return g
}

func (g *gatewayProc) start(t *testing.T) {
	t.Helper()
	g.Proc = e2e.Start(t, g.dir, gatewayBin, g.args...)
	g.WaitListen(g.smtp, wait)
	g.WaitListen(g.http, wait)
}

// restart starts the gateway again with the same flags and addresses.
func (g *gatewayProc) restart(t *testing.T) {
	t.Helper()
	g.start(t)
}

// send submits one message over SMTP.
func send(t *testing.T, addr, from string, to []string, msg string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, addr, &client.Options{LocalName: "client.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(ctx, from, to, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit(ctx)
}

// api sends a request to the gateway's API with the test token.
func (g *gatewayProc) api(t *testing.T, method, path, ct string, body []byte, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+g.http+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: wait}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// startSink runs a mailsink on addr storing into dir/maildir, with args
// added; it returns the Maildir.
func startSink(t *testing.T, dir, addr string, args ...string) (*e2e.Proc, string) {
	t.Helper()
	md := filepath.Join(dir, "maildir")
	p := e2e.Start(t, dir, mailsinkBin, append([]string{"-listen", addr, "-maildir", md, "-http", "", "-hostname", "sink.test"}, args...)...)
	p.WaitListen(addr, wait)
	return p, md
}

// waitFor polls cond until it holds, failing the test after wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queueEmpty reports whether the gateway's queue directory q holds no
// message (both ways).
func queueEmpty(t *testing.T, q string) bool {
	for _, sub := range []string{inboundDir, outboundDir} {
		ents, err := os.ReadDir(filepath.Join(q, sub, "state"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if len(ents) > 0 {
			return false
		}
	}
	return true
}
