package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
)

// fakeResolver answers from maps; a missing name is "not found".
type fakeResolver struct {
	mx      map[string][]*net.MX
	ips     map[string][]string
	tempErr map[string]bool
	mu      sync.Mutex
	asked   []string
}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r *fakeResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	r.mu.Lock()
	r.asked = append(r.asked, "MX "+name)
	r.mu.Unlock()
	if r.tempErr[name] {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	if mx, ok := r.mx[name]; ok {
		return mx, nil
	}
	return nil, notFound(name)
}

func (r *fakeResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	r.asked = append(r.asked, "A "+host)
	r.mu.Unlock()
	var out []net.IPAddr
	for _, s := range r.ips[host] {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	if len(out) == 0 {
		return nil, notFound(host)
	}
	return out, nil
}

// mapDialer sends "ip:25" to the fake server registered for it; anything
// else is refused.
type mapDialer struct {
	mu     sync.Mutex
	routes map[string]string
	dialed []string
}

func (d *mapDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	to, ok := d.routes[addr]
	d.mu.Unlock()
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, to)
}

func TestMXOrder(t *testing.T) {
	mxs := []*net.MX{{Host: "c.", Pref: 20}, {Host: "a.", Pref: 10}, {Host: "b.", Pref: 10}, {Host: "d.", Pref: 30}}
	seen := map[string]bool{}
	for seed := 0; seed < 20; seed++ {
		k := seed
		got := strings.Join(mxOrder(mxs, func(n int) int { k = (k*7 + 3) % 101; return k % n }), " ")
		if got != "a b c d" && got != "b a c d" {
			t.Fatalf("order %q", got)
		}
		seen[got] = true
	}
	if len(seen) != 2 {
		t.Errorf("equal preferences never shuffled: %v", seen)
	}
	if got := mxOrder([]*net.MX{{Host: ".", Pref: 0}}, func(int) int { return 0 }); len(got) != 0 {
		t.Errorf("null MX: %q", got)
	}
}

func TestDeliver(t *testing.T) {
	for _, conc := range []int{1, 0} {
		t.Run("concurrency"+itoa(int64(conc)), func(t *testing.T) { testDeliver(t, conc) })
	}
}

func testDeliver(t *testing.T, concurrency int) {
	good := newFakeServer(t, "PIPELINING", "8BITMIME")
	goodAddr := good.start()
	tempfail := newFakeServer(t, "PIPELINING")
	tempfail.onCommand = func(fc *fakeConn, line string) bool {
		if strings.HasPrefix(line, "MAIL") {
			fc.send("421 4.3.2 shutting down")
			return true
		}
		return false
	}
	tempAddr := tempfail.start()
	permfail := newFakeServer(t, "PIPELINING")
	permfail.rcptReply = map[string]string{"gone@perm.example": "550 5.1.1 no such user"}
	permAddr := permfail.start()

	res := &fakeResolver{
		mx: map[string][]*net.MX{
			"multi.example":         {{Host: "mx2.multi.example.", Pref: 20}, {Host: "mx0.multi.example.", Pref: 5}, {Host: "mx1.multi.example.", Pref: 10}},
			"null.example":          {{Host: ".", Pref: 0}},
			"perm.example":          {{Host: "mx.perm.example.", Pref: 10}, {Host: "mx.good.example.", Pref: 20}},
			"xn--bcher-kva.example": {{Host: "mx.good.example.", Pref: 10}},
		},
		ips: map[string][]string{
			"mx0.multi.example": {"10.0.0.1"},        // refused
			"mx1.multi.example": {"10.0.0.2"},        // 421 on MAIL
			"mx2.multi.example": {"10.0.0.3"},        // good
			"implicit.example":  {"10.0.0.3"},        // no MX: the domain itself
			"mx.perm.example":   {"10.0.0.4"},        // 550 for one user
			"mx.good.example":   {"::1", "10.0.0.3"}, // first address refused
		},
		tempErr: map[string]bool{"dnsfail.example": true},
	}
	dialer := &mapDialer{routes: map[string]string{"10.0.0.2:25": tempAddr, "10.0.0.3:25": goodAddr, "10.0.0.4:25": permAddr, "127.0.0.1:25": goodAddr}}
	d := &Deliverer{Resolver: res, Options: &Options{LocalName: "relay.example", Dialer: dialer}, MaxConcurrency: concurrency}

	e := envelope.Envelope{From: path("s@src.example")}
	for _, to := range []string{"a@multi.example", "b@null.example", "c@implicit.example", "d@nxdomain.example",
		"e@dnsfail.example", "gone@perm.example", "ok@perm.example", "f@b\u00fccher.example", "g@[127.0.0.1]", "h@multi.example"} {
		e.To = append(e.To, envelope.Recipient{Path: path(to)})
	}
	out := d.Deliver(testCtx(t), e, strings.NewReader("Subject: x\r\n\r\nhi\r\n"), int64(len("Subject: x\r\n\r\nhi\r\n")))
	if len(out) != len(e.To) {
		t.Fatalf("%d outcomes", len(out))
	}
	type want struct {
		delivered, perm, temp bool
		code                  reply.Code
		enh                   reply.EnhancedCode
		host                  string
	}
	wants := []want{
		{delivered: true, host: "mx2.multi.example", code: 250},
		{perm: true, code: 556, enh: reply.Enh(5, 1, 10)},
		{delivered: true, host: "implicit.example", code: 250},
		{perm: true, code: 550, enh: reply.Enh(5, 1, 2)},
		{temp: true, code: 451, enh: reply.Enh(4, 4, 3)},
		{perm: true, host: "mx.perm.example", code: 550, enh: reply.Enh(5, 1, 1)},
		{delivered: true, host: "mx.perm.example", code: 250},
		{delivered: true, host: "mx.good.example", code: 250},
		{delivered: true, host: "127.0.0.1", code: 250},
		{delivered: true, host: "mx2.multi.example", code: 250},
	}
	for i, w := range wants {
		o := out[i]
		code, enh := o.Code, o.Enhanced
		var ee *Error
		if errors.As(o.Err, &ee) {
			code, enh = ee.Code, ee.Enhanced
		}
		if o.Delivered() != w.delivered || o.Permanent() != w.perm || o.Temporary() != w.temp || code != w.code ||
			(!w.enh.IsZero() && enh != w.enh) || (w.host != "" && o.Host != w.host) || o.Recipient.Path != e.To[i].Path {
			t.Errorf("%d %v: delivered=%v perm=%v temp=%v code=%d enh=%v host=%q err=%v", i, o.Recipient.Path,
				o.Delivered(), o.Permanent(), o.Temporary(), code, enh, o.Host, o.Err)
		}
	}
	if !strings.Contains(strings.Join(res.asked, ","), "MX xn--bcher-kva.example") {
		t.Errorf("IDN domain not looked up as A-labels: %v", res.asked)
	}
	// The multi.example recipients went in one transaction, after trying
	// the MXs in preference order.
	dialed := strings.Join(dialer.dialed, " ")
	if concurrency == 1 && !strings.HasPrefix(dialed, "10.0.0.1:25 10.0.0.2:25 10.0.0.3:25") {
		t.Errorf("dial order %q", dialed)
	}
	if n := strings.Count(good.bytes(), "RCPT TO:<a@multi.example>\r\nRCPT TO:<h@multi.example>\r\n"); n != 1 {
		t.Errorf("multi.example recipients not grouped: %q", good.bytes())
	}
}

func TestDeliverTLS(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	e := envelope.Envelope{From: path("s@src.example"), To: []envelope.Recipient{{Path: path("a@dom.example")}}}
	msg := strings.NewReader("hi\r\n")
	res := &fakeResolver{mx: map[string][]*net.MX{"dom.example": {{Host: "localhost.", Pref: 1}}}, ips: map[string][]string{"localhost": {"10.0.0.9"}}}

	t.Run("required-missing", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING")
		d := &Deliverer{Resolver: res, TLSPolicy: TLSRequired, Options: &Options{Dialer: &mapDialer{routes: map[string]string{"10.0.0.9:25": fs.start()}}}}
		out := d.Deliver(testCtx(t), e, msg, msg.Size())
		if !out[0].Temporary() || strings.Contains(fs.bytes(), "MAIL") {
			t.Fatalf("outcome %+v, wire %q", out[0], fs.bytes())
		}
	})
	t.Run("required-verified", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "STARTTLS")
		fs.tls = cert.ServerConfig()
		d := &Deliverer{Resolver: res, TLSPolicy: TLSRequired, Options: &Options{TLSConfig: cert.ClientConfig(), Dialer: &mapDialer{routes: map[string]string{"10.0.0.9:25": fs.start()}}}}
		out := d.Deliver(testCtx(t), e, msg, msg.Size())
		if !out[0].Delivered() {
			t.Fatalf("outcome %+v", out[0])
		}
	})
	t.Run("required-untrusted", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "STARTTLS")
		fs.tls = cert.ServerConfig()
		d := &Deliverer{Resolver: res, TLSPolicy: TLSRequired, Options: &Options{Dialer: &mapDialer{routes: map[string]string{"10.0.0.9:25": fs.start()}}}}
		out := d.Deliver(testCtx(t), e, msg, msg.Size())
		if !out[0].Temporary() || strings.Contains(fs.bytes(), "MAIL") {
			t.Fatalf("outcome %+v", out[0])
		}
	})
	t.Run("opportunistic-fallback", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "STARTTLS")
		fs.onCommand = func(fc *fakeConn, line string) bool {
			if line == "STARTTLS" {
				fc.send("220 go", "garbage instead of TLS")
				fc.conn.Close()
				return true
			}
			return false
		}
		d := &Deliverer{Resolver: res, Options: &Options{Dialer: &mapDialer{routes: map[string]string{"10.0.0.9:25": fs.start()}}}}
		out := d.Deliver(testCtx(t), e, msg, msg.Size())
		if !out[0].Delivered() {
			t.Fatalf("outcome %+v", out[0])
		}
	})
	t.Run("route", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "STARTTLS")
		fs.tls = cert.ServerConfig()
		d := &Deliverer{Routes: map[string]string{"dom.example": fs.start()}}
		out := d.Deliver(testCtx(t), e, msg, msg.Size())
		if !out[0].Delivered() || !strings.Contains(fs.bytes(), "STARTTLS") {
			t.Fatalf("outcome %+v", out[0])
		}
	})
}

// TestDeliverFallback: the next exchanger is tried after a connection
// failure or a 4xx, never after a 5xx to the transaction (RFC 5321 5.1).
func TestDeliverFallback(t *testing.T) {
	tests := []struct {
		name     string
		hook     func(fc *fakeConn, line string) bool
		fallback bool
	}{
		{"mail-550", replyTo("MAIL", "550 5.7.1 go away"), false},
		{"rcpt-550", replyTo("RCPT", "550 5.1.1 no such user"), false},
		{"data-554", replyTo("DATA", "554 5.6.0 bad content"), false},
		{"mail-451", replyTo("MAIL", "451 4.3.0 try later"), true},
		{"rcpt-450", replyTo("RCPT", "450 4.2.1 greylisted"), true},
		{"data-452", replyTo("DATA", "452 4.3.1 full"), true},
		{"ehlo-421", replyTo("EHLO", "421 4.3.2 closing"), true},
		{"closed", func(fc *fakeConn, line string) bool { fc.conn.Close(); return true }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first := newFakeServer(t, "PIPELINING")
			first.onCommand = tc.hook
			second := newFakeServer(t, "PIPELINING")
			res := &fakeResolver{
				mx:  map[string][]*net.MX{"dom.example": {{Host: "mx2.dom.example.", Pref: 20}, {Host: "mx1.dom.example.", Pref: 10}}},
				ips: map[string][]string{"mx1.dom.example": {"10.0.0.1"}, "mx2.dom.example": {"10.0.0.2"}},
			}
			dialer := &mapDialer{routes: map[string]string{"10.0.0.1:25": first.start(), "10.0.0.2:25": second.start()}}
			d := &Deliverer{Resolver: res, Options: &Options{Dialer: dialer}}
			e := env("s@src.example", "a@dom.example", "b@dom.example")
			msg := strings.NewReader("hi\r\n")
			out := d.Deliver(testCtx(t), e, msg, msg.Size())
			dialed := strings.Join(dialer.dialed, " ")
			if tc.fallback {
				if dialed != "10.0.0.1:25 10.0.0.2:25" || !out[0].Delivered() || !out[1].Delivered() || out[0].Host != "mx2.dom.example" {
					t.Errorf("dialed %q, outcomes %+v", dialed, out)
				}
				return
			}
			if dialed != "10.0.0.1:25" || !out[0].Permanent() || out[0].Host != "mx1.dom.example" || len(second.msgs()) != 0 {
				t.Errorf("dialed %q, outcomes %+v", dialed, out)
			}
			var e5 *Error
			if !errors.As(out[1].Err, &e5) || e5.Code/100 != 5 || e5.Local {
				t.Errorf("error %v", out[1].Err)
			}
		})
	}
}

// replyTo is a fakeServer hook that answers the command verb with r.
func replyTo(verb, r string) func(fc *fakeConn, line string) bool {
	return func(fc *fakeConn, line string) bool {
		if !strings.HasPrefix(line, verb) {
			return false
		}
		if verb == "DATA" {
			fc.send("354 go")
			fc.readData()
		}
		fc.send(r)
		return true
	}
}

// TestDeliverRand: the Rand field orders exchangers of equal preference.
func TestDeliverRand(t *testing.T) {
	fs := newFakeServer(t)
	addr := fs.start()
	for _, tc := range []struct {
		rand  func(int) int
		first string
	}{
		{func(n int) int { return n - 1 }, "10.0.0.1:25"}, // no swap
		{func(int) int { return 0 }, "10.0.0.2:25"},       // swapped
	} {
		res := &fakeResolver{
			mx:  map[string][]*net.MX{"dom.example": {{Host: "a.dom.example.", Pref: 10}, {Host: "b.dom.example.", Pref: 10}, {Host: "c.dom.example.", Pref: 5}}},
			ips: map[string][]string{"a.dom.example": {"10.0.0.1"}, "b.dom.example": {"10.0.0.2"}, "c.dom.example": {"10.0.0.3"}},
		}
		dialer := &mapDialer{routes: map[string]string{"10.0.0.1:25": addr, "10.0.0.2:25": addr}}
		d := &Deliverer{Resolver: res, Rand: tc.rand, Options: &Options{Dialer: dialer}}
		msg := strings.NewReader("hi\r\n")
		out := d.Deliver(testCtx(t), env("s@src.example", "a@dom.example"), msg, msg.Size())
		// c (preference 5) is refused, then the first of a and b.
		if got := strings.Join(dialer.dialed, " "); got != "10.0.0.3:25 "+tc.first || !out[0].Delivered() {
			t.Errorf("dialed %q, want 10.0.0.3:25 %s; %+v", got, tc.first, out[0])
		}
	}
}

// TestDeliverLimits: MaxAttempts bounds the addresses tried (whatever the
// number of MX records), and MaxRecipients splits a domain's recipients
// into several transactions.
func TestDeliverLimits(t *testing.T) {
	t.Run("attempts", func(t *testing.T) {
		res := &fakeResolver{mx: map[string][]*net.MX{}, ips: map[string][]string{}}
		var mxs []*net.MX
		for i := 0; i < 50; i++ {
			h := "mx" + itoa(int64(i)) + ".dom.example"
			mxs = append(mxs, &net.MX{Host: h + ".", Pref: uint16(i)})
			res.ips[h] = []string{"10.0.1." + itoa(int64(i)), "10.0.2." + itoa(int64(i))}
		}
		res.mx["dom.example"] = mxs
		dialer := &mapDialer{}
		d := &Deliverer{Resolver: res, MaxAttempts: 3, Options: &Options{Dialer: dialer}}
		msg := strings.NewReader("hi\r\n")
		out := d.Deliver(testCtx(t), env("s@src.example", "a@dom.example"), msg, msg.Size())
		if got := strings.Join(dialer.dialed, " "); got != "10.0.1.0:25 10.0.2.0:25 10.0.1.1:25" || !out[0].Temporary() {
			t.Errorf("dialed %q, outcome %+v", got, out[0])
		}
		// Addresses are looked up only for the exchangers tried.
		if n := strings.Count(strings.Join(res.asked, ","), "A "); n != 2 {
			t.Errorf("%d address lookups: %v", n, res.asked)
		}
	})
	t.Run("recipients", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING")
		d := &Deliverer{Routes: map[string]string{"dom.example": fs.start()}, MaxRecipients: 2}
		e := env("s@src.example", "a@dom.example", "b@dom.example", "c@dom.example", "d@dom.example", "e@dom.example")
		msg := strings.NewReader("hi\r\n")
		out := d.Deliver(testCtx(t), e, msg, msg.Size())
		for i, o := range out {
			if !o.Delivered() || o.Recipient.Path != e.To[i].Path {
				t.Errorf("%d: %+v", i, o)
			}
		}
		if n := len(fs.msgs()); n != 3 {
			t.Errorf("%d transactions, want 3", n)
		}
	})
}

// TestDeliverConcurrency: domains are delivered at once, never more than
// MaxConcurrency, and a shared Trace writer is safe (the race detector
// watches the bytes.Buffer).
func TestDeliverConcurrency(t *testing.T) {
	var mu sync.Mutex
	cur, peak := 0, 0
	fs := newFakeServer(t, "PIPELINING")
	fs.onCommand = func(fc *fakeConn, line string) bool {
		switch {
		case strings.HasPrefix(line, "MAIL"):
			mu.Lock()
			cur++
			peak = max(peak, cur)
			mu.Unlock()
			time.Sleep(100 * time.Millisecond) // hold the session
		case line == "QUIT":
			mu.Lock()
			cur--
			mu.Unlock()
		}
		return false
	}
	addr := fs.start()
	routes := map[string]string{}
	e := env("s@src.example")
	for i := 0; i < 6; i++ {
		dom := "d" + itoa(int64(i)) + ".example"
		routes[dom] = addr
		e.To = append(e.To, env("s@src.example", "a@"+dom, "b@"+dom).To...)
	}
	var trace bytes.Buffer
	d := &Deliverer{Routes: routes, MaxConcurrency: 2, Options: &Options{Trace: &trace}}
	msg := strings.NewReader("hi\r\n")
	out := d.Deliver(testCtx(t), e, msg, msg.Size())
	for i, o := range out {
		if !o.Delivered() || o.Recipient.Path != e.To[i].Path {
			t.Errorf("%d: %+v", i, o)
		}
	}
	if peak != 2 {
		t.Errorf("peak concurrency %d, want 2", peak)
	}
	if n := strings.Count(trace.String(), "C: QUIT\r\n"); n != 6 {
		t.Errorf("%d sessions in the trace", n)
	}
}

// TestDeliverStartTLSRefused: with opportunistic TLS, a STARTTLS refused
// with 454 goes on in clear on the same connection.
func TestDeliverStartTLSRefused(t *testing.T) {
	fs := newFakeServer(t, "PIPELINING", "STARTTLS")
	fs.onCommand = replyTo("STARTTLS", "454 4.7.0 TLS not available")
	dialer := &mapDialer{routes: map[string]string{"10.0.0.1:25": fs.start()}}
	res := &fakeResolver{mx: map[string][]*net.MX{"dom.example": {{Host: "mx.dom.example.", Pref: 1}}}, ips: map[string][]string{"mx.dom.example": {"10.0.0.1"}}}
	d := &Deliverer{Resolver: res, Options: &Options{Dialer: dialer}}
	msg := strings.NewReader("hi\r\n")
	out := d.Deliver(testCtx(t), env("s@src.example", "a@dom.example"), msg, msg.Size())
	if !out[0].Delivered() || len(dialer.dialed) != 1 || !strings.Contains(fs.bytes(), "STARTTLS\r\nMAIL FROM") {
		t.Errorf("outcome %+v, dialed %v, wire %q", out[0], dialer.dialed, fs.bytes())
	}
}
