package client

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
)

func oneRcpt(to string) envelope.Envelope {
	return envelope.Envelope{From: path("s@src.example"), To: []envelope.Recipient{{Path: path(to)}}}
}

// TestConnCacheReuse: three messages to one exchanger go over one
// connection, each checked with RSET before reuse; the outcomes name the
// address and the reply to the message.
func TestConnCacheReuse(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	addr := fs.start()
	cache := &ConnCache{IdleTimeout: time.Minute}
	defer cache.Close()
	d := &Deliverer{Routes: map[string]string{"dom.example": addr}, Cache: cache}
	msg := strings.NewReader("hi\r\n")
	for i := range 3 {
		out := d.Deliver(testCtx(t), oneRcpt("a@dom.example"), msg, msg.Size())
		if !out[0].Delivered() {
			t.Fatalf("message %d: %+v", i, out[0])
		}
		if out[0].Addr != addr || out[0].Reply == nil || out[0].Reply.Text() != "OK queued as 1234" || out[0].TLS.Version != 0 {
			t.Errorf("message %d: addr %q reply %v tls %v", i, out[0].Addr, out[0].Reply, out[0].TLS)
		}
	}
	wire := fs.bytes()
	if n := strings.Count(wire, "EHLO"); n != 1 {
		t.Errorf("%d EHLO, want one connection:\n%s", n, wire)
	}
	if n := strings.Count(wire, "RSET"); n != 2 {
		t.Errorf("%d RSET, want one check per reuse", n)
	}
	if n := len(fs.msgs()); n != 3 || cache.Reused() != 2 {
		t.Errorf("%d messages, %d reused", n, cache.Reused())
	}
	cache.Close()
	if !waitWire(fs, "QUIT") {
		t.Error("Close did not QUIT the cached connection")
	}
}

// waitWire waits a while for s in what the server received.
func waitWire(fs *fakeServer, s string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(fs.bytes(), s) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return strings.Contains(fs.bytes(), s)
}

// TestConnCacheCheckFails: a cached connection that fails the RSET check
// is replaced by a new one and the message is delivered, whether the
// server dropped it or does not answer (given up after ProbeTimeout,
// within a context whose deadline, 10 s, comes before
// DefaultCacheProbeTimeout).
func TestConnCacheCheckFails(t *testing.T) {
	cases := []struct {
		name  string
		probe time.Duration
		rset  func(fc *fakeConn, hung <-chan struct{})
	}{
		{"Dropped", 0, func(fc *fakeConn, _ <-chan struct{}) { fc.conn.Close() }},
		{"Unanswered", 100 * time.Millisecond, func(_ *fakeConn, hung <-chan struct{}) { <-hung }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t, "PIPELINING")
			hung := make(chan struct{})
			defer close(hung)
			fs.onCommand = func(fc *fakeConn, line string) bool {
				if line == "RSET" {
					tc.rset(fc, hung)
					return true
				}
				return false
			}
			cache := &ConnCache{IdleTimeout: time.Minute, ProbeTimeout: tc.probe}
			defer cache.Close()
			d := &Deliverer{Routes: map[string]string{"dom.example": fs.start()}, Cache: cache}
			msg := strings.NewReader("hi\r\n")
			for i := range 2 {
				if out := d.Deliver(testCtx(t), oneRcpt("a@dom.example"), msg, msg.Size()); !out[0].Delivered() {
					t.Fatalf("message %d: %+v", i, out[0])
				}
			}
			if n := strings.Count(fs.bytes(), "EHLO"); n != 2 || cache.Reused() != 0 {
				t.Errorf("%d EHLO, %d reused; want a new connection after the failed check", n, cache.Reused())
			}
		})
	}
}

// TestConnCacheIdleQuit: a connection idle past IdleTimeout is closed
// with QUIT.
func TestConnCacheIdleQuit(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	short := &ConnCache{IdleTimeout: 10 * time.Millisecond}
	defer short.Close()
	d := &Deliverer{Routes: map[string]string{"dom.example": fs.start()}, Cache: short}
	msg := strings.NewReader("hi\r\n")
	if out := d.Deliver(testCtx(t), oneRcpt("a@dom.example"), msg, msg.Size()); !out[0].Delivered() {
		t.Fatalf("%+v", out[0])
	}
	if !waitWire(fs, "QUIT") {
		t.Error("idle connection not closed with QUIT")
	}
}

// TestDeliverTLSInfo: an outcome says the TLS version and whether the
// certificate was verified for the exchanger, verified or not (RFC 7435
// opportunistic TLS still reports it).
func TestDeliverTLSInfo(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	msg := strings.NewReader("hi\r\n")
	for _, tc := range []struct {
		name     string
		client   *tls.Config
		verified bool
	}{
		{"untrusted", nil, false},
		{"trusted", cert.ClientConfig(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t, "PIPELINING", "STARTTLS")
			fs.tls = cert.ServerConfig()
			d := &Deliverer{Routes: map[string]string{"dom.example": fs.start()}, Options: &Options{TLSConfig: tc.client}}
			out := d.Deliver(testCtx(t), oneRcpt("a@dom.example"), msg, msg.Size())
			if !out[0].Delivered() {
				t.Fatalf("%+v", out[0])
			}
			want := "TLSv1.3/unverified"
			if tc.verified {
				want = "TLSv1.3/verified"
			}
			if got := out[0].TLS.String(); got != want {
				t.Errorf("TLS %s, want %s", got, want)
			}
		})
	}
	if got := (TLSInfo{}).String(); got != "none" {
		t.Errorf("no TLS: %q", got)
	}
}

// TestDeliverOutcomeAddr: a refused recipient's outcome names the
// connection it came from; a failed connection names none.
func TestDeliverOutcomeAddr(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING")
	fs.rcptReply = map[string]string{"gone@dom.example": "550 5.1.1 no such user"}
	addr := fs.start()
	d := &Deliverer{Routes: map[string]string{"dom.example": addr, "down.example": "127.0.0.1:1"}}
	msg := strings.NewReader("hi\r\n")
	out := d.Deliver(testCtx(t), oneRcpt("gone@dom.example"), msg, msg.Size())
	if !out[0].Permanent() || out[0].Addr != addr || out[0].Reply != nil {
		t.Errorf("refused: %+v", out[0])
	}
	out = d.Deliver(testCtx(t), oneRcpt("a@down.example"), msg, msg.Size())
	if !out[0].Temporary() || out[0].Addr != "" {
		t.Errorf("no connection: %+v", out[0])
	}
}
