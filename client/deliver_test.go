package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

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
	d := &Deliverer{Resolver: res, Options: &Options{LocalName: "relay.example", Dialer: dialer}}

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
	if !strings.HasPrefix(dialed, "10.0.0.1:25 10.0.0.2:25 10.0.0.3:25") {
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
