package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/gateway/internal/webhook"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// readmeReceiver is an application that follows examples/README.md to
// the letter: it checks the signature with the README's verifySignature,
// drops a request whose delivery it already took (the README's step 4:
// the signed delivery_id of the body; a retry after a lost response, or a
// replay within the signature's 5 minutes), and stores the recipients of
// each request it takes. failFirst makes it answer the first request with
// a 500 (after storing nothing), as an application that fails once.
type readmeReceiver struct {
	mu        sync.Mutex
	seen      map[string]bool
	stored    []string
	requests  []*http.Request
	bodies    [][]byte
	failFirst bool
}

func (rr *readmeReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !verifySignature([]byte(testSecret), r.Header.Get(webhook.SignatureHeader), body, time.Now()) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p struct {
		DeliveryID string `json:"delivery_id"`
		Envelope   struct {
			RcptTo []string `json:"rcpt_to"`
		} `json:"envelope"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.requests = append(rr.requests, r)
	rr.bodies = append(rr.bodies, body)
	if rr.failFirst {
		rr.failFirst = false
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if rr.seen[p.DeliveryID] {
		w.WriteHeader(http.StatusOK) // already have it
		return
	}
	rr.seen[p.DeliveryID] = true
	rr.stored = append(rr.stored, p.Envelope.RcptTo...)
	w.WriteHeader(http.StatusOK)
}

func (rr *readmeReceiver) storedRcpts() []string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	s := append([]string(nil), rr.stored...)
	sort.Strings(s)
	return s
}

// TestAttackWebhookDedupLosesDomain: a message for recipients of two
// routed domains reaches the application as two requests, one per
// domain, with the same queue ID in X-Smtpkit-Id and in the body's id.
// The README told receivers to drop a request whose X-Smtpkit-Id they
// had taken: a receiver that did so dropped the second domain's request,
// answered 200, and the gateway removed the message. Mail acknowledged
// with 250 was lost for that domain's recipients, with no bounce. The
// header is not signed either, so a replay with another X-Smtpkit-Id
// passed a receiver's check. Each request carries a delivery_id, signed
// in the body, the same in every attempt of that delivery and different
// for each domain; the README's receiver keys on it.
func TestAttackWebhookDedupLosesDomain(t *testing.T) {
	rr := &readmeReceiver{seen: map[string]bool{}, failFirst: true}
	srv := httptest.NewServer(rr)
	defer srv.Close()
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "a.test="+srv.URL, "-route", "b.test="+srv.URL, "-retry", "100ms")
	if err := send(t, g.smtp, "alice@example.net", []string{"x@a.test", "y@b.test"}, "Subject: both\r\n\r\nhello\r\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to empty", func() bool { return queueEmpty(t, g.dir+"/queue") })
	if got := rr.storedRcpts(); strings.Join(got, ",") != "x@a.test,y@b.test" {
		t.Errorf("the application stored %v, want both recipients once (the other domain's request was taken for a duplicate)", got)
	}

	rr.mu.Lock()
	reqs, bodies := rr.requests, rr.bodies
	rr.mu.Unlock()
	// The failed first attempt and its retry: the same delivery_id.
	ids := map[string][]string{}
	for i, b := range bodies {
		var p struct {
			DeliveryID string `json:"delivery_id"`
		}
		json.Unmarshal(b, &p)
		ids[p.DeliveryID] = append(ids[p.DeliveryID], reqs[i].Header.Get(webhook.AttemptHeader))
	}
	if len(ids) != 2 {
		t.Errorf("delivery_ids and their attempts %v, want two deliveries, one of them tried twice", ids)
	}

	// A captured request replayed at once with another X-Smtpkit-Id: the
	// README's receiver drops it (the body is the same delivery).
	before := len(rr.storedRcpts())
	req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(bodies[len(bodies)-1]))
	for k, v := range reqs[len(reqs)-1].Header {
		req.Header[k] = v
	}
	req.Header.Set(webhook.IDHeader, "forged."+reqs[len(reqs)-1].Header.Get(webhook.IDHeader))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if after := len(rr.storedRcpts()); after != before {
		t.Errorf("a replay with a changed X-Smtpkit-Id was stored again (%d recipients stored, was %d)", after, before)
	}
}

// TestAttackSyncMemoryUnbounded: with -sync, every SMTP session turned
// its message into a webhook payload (about 2.7 times the message) and
// posted it at once, however many sessions there were: -workers bounded
// only the queued direction, so anyone on the Internet could make the
// gateway hold sessions x (1 + 2.7) x -max-size (25 MiB: some 90 MiB a
// connection) by opening connections to it. The payloads being built and
// posted at once must be at most -workers, as the README promises for
// the webhook side; the other sessions wait for a slot with their
// message spooled outside memory. The first request is held until a
// second one comes, or for 3 s: a second one while the first is held is
// a second payload in memory.
func TestAttackSyncMemoryUnbounded(t *testing.T) {
	const sessions, size = 4, 2 << 20
	var mu sync.Mutex
	active, most, n := 0, 0, 0
	second := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		active++
		n++
		most = max(most, active)
		first := n == 1
		if n == 2 {
			close(second)
		}
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		if first {
			select {
			case <-second:
			case <-time.After(3 * time.Second):
			}
		}
		mu.Lock()
		active--
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	g := startGateway(t, t.TempDir(), "-route", "shop.test="+srv.URL, "-sync", "-workers", "1")
	body := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 76)+"\r\n", size/78)
	errs := make(chan error, sessions)
	for range sessions {
		go func() { errs <- send(t, g.smtp, "a@example.net", []string{"x@shop.test"}, body) }()
	}
	for range sessions {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n != sessions || most > 1 {
		t.Errorf("%d requests, at most %d at once; want %d, one at a time (-workers 1)", n, most, sessions)
	}
}

// TestAttackBackscatterReflectsBody: the gateway takes mail for its
// routed domains from anyone, and bounces what the application refuses
// to the reverse-path, which anyone may forge. A spammer sent its spam
// to a refused address with the victim as sender: the gateway mailed the
// spam, whole, to the victim, from the gateway's own address (backscatter,
// RFC 5321 6.2; RFC 3834 5). The bounce of mail from the Internet must
// carry the original's header section only (RFC 3461 4.3's RET=HDRS,
// RFC 6522 text/rfc822-headers), so that nothing of the body is reflected.
func TestAttackBackscatterReflectsBody(t *testing.T) {
	rc := newReceiver(t)
	rc.setAnswer(func(n int, r *hookRequest, w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) })
	sink := e2e.FreeAddr(t)
	_, md := startSink(t, t.TempDir(), sink)
	g := startGateway(t, t.TempDir(), "-route", "shop.test="+rc.srv.URL, "-smarthost", sink)
	spam := "From: victim@example.net\r\nSubject: hello\r\nMessage-ID: <spam-1@example.net>\r\n\r\nCHEAP PILLS at http://spam.example/\r\n"
	if err := send(t, g.smtp, "victim@example.net", []string{"nobody@shop.test"}, spam); err != nil {
		t.Fatal(err)
	}
	files := e2e.Maildir(t, md, 1, wait)
	if len(files) != 1 {
		t.Fatalf("%d bounces", len(files))
	}
	body := string(e2e.ReadStored(t, files[0]).Body)
	if strings.Contains(body, "CHEAP PILLS") {
		t.Errorf("the bounce to the forged sender carries the spam's body:\n%s", body)
	}
	if !strings.Contains(body, "Content-Type: text/rfc822-headers") || !strings.Contains(body, "Message-ID: <spam-1@example.net>") ||
		!strings.Contains(body, "Final-Recipient: rfc822; nobody@shop.test") {
		t.Errorf("the bounce lacks the report or the original's header section:\n%s", body)
	}
}
