package client

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"testing"

	"golang.org/x/net/proxy"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
)

// Tests of the client against a peer it must not trust: a hostile server
// or a man in the middle (issue 13).

// scramVariant is how a scripted SCRAM-SHA-256 server ends the exchange.
type scramVariant int

const (
	scramHonest     scramVariant = iota // 334 v=<right signature>, then 235
	scramNoProof                        // 235 right after client-final: no v=
	scramWrongProof                     // 334 v=<wrong signature>, then 235 to whatever comes
	scramError                          // 334 e=..., then 235 to whatever comes
	scramEarly                          // 235 right after client-first
)

// serveScram plays SCRAM-SHA-256 for user "u", password "pw", with the
// real server half up to client-final, then ends as v says.
func serveScram(t *testing.T, fc *fakeConn, line string, v scramVariant) {
	f := strings.Fields(line)
	srv := saslServer(t, "SCRAM-SHA-256")
	first, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil {
		t.Errorf("client-first: %v", err)
		return
	}
	if v == scramEarly {
		fc.send("235 2.7.0 OK")
		return
	}
	ch, _, err := srv.Next(context.Background(), first)
	if err != nil {
		t.Errorf("server-first: %v", err)
		return
	}
	fc.send("334 " + base64.StdEncoding.EncodeToString(ch))
	l, _ := fc.readLine()
	final, err := base64.StdEncoding.DecodeString(l)
	if err != nil {
		t.Errorf("client-final %q: %v", l, err)
		return
	}
	ch, _, err = srv.Next(context.Background(), final)
	if err != nil {
		fc.send("535 5.7.8 no")
		return
	}
	switch v {
	case scramNoProof:
		fc.send("235 2.7.0 OK")
		return
	case scramWrongProof:
		ch = []byte("v=" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	case scramError:
		ch = []byte("e=other-error")
	}
	fc.send("334 " + base64.StdEncoding.EncodeToString(ch))
	fc.readLine() // the empty response, or "*"
	fc.send("235 2.7.0 OK")
}

// TestScramRequiresServerProof: RFC 5802 5 and RFC 7677: the SCRAM client
// accepts success only after it checked the server's signature. A server
// that says 235 without it, with a wrong one, after an error, or before
// the client's proof, fails the exchange, and the client sends nothing
// more on that connection: the peer did not prove it holds the user's keys.
func TestScramRequiresServerProof(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    scramVariant
	}{
		{"no-proof", scramNoProof},
		{"wrong-proof", scramWrongProof},
		{"error", scramError},
		{"early", scramEarly},
		{"honest", scramHonest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := authServer(t, "SCRAM-SHA-256", func(fc *fakeConn, line string) { serveScram(t, fc, line, tc.v) })
			c := dialT(t, fs.start(), nil)
			ctx := testCtx(t)
			err := c.Auth(ctx, ScramSHA256Auth("u", "pw"))
			if tc.v == scramHonest {
				if err != nil {
					t.Fatalf("honest server: %v", err)
				}
				if err := c.Noop(ctx); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("success accepted without the server's proof; wire %q", fs.bytes())
			}
			var se *ServerAuthError
			if !errors.As(err, &se) || !errors.Is(err, ErrServerNotAuthenticated) || se.Mechanism != "SCRAM-SHA-256" || isTemporary(err) {
				t.Errorf("err = %#v (%v)", err, err)
			}
			before := fs.bytes()
			if _, err := c.Send(ctx, env("a@x.example", "b@y.example"), strings.NewReader("secret\r\n")); err == nil {
				t.Errorf("Send after an unproven server succeeded")
			}
			if got := fs.bytes(); got != before || strings.Contains(got, "MAIL") {
				t.Errorf("sent after the failed proof: %q", strings.TrimPrefix(got, before))
			}
		})
	}
}

// TestAuthSuccessAfterCancel: a 235 to the "*" that cancels an exchange
// (RFC 4954 4: the server must answer 501) is not a success; the peer is
// out of step and the connection is closed.
func TestAuthSuccessAfterCancel(t *testing.T) {
	fs := authServer(t, "CRAM-MD5", func(fc *fakeConn, line string) {
		fc.send("334 not base64!")
		fc.readLine()
		fc.send("235 2.7.0 OK")
	})
	c := dialT(t, fs.start(), nil)
	ctx := testCtx(t)
	err := c.Auth(ctx, CramMD5Auth("u", "pw"))
	var se *ServerAuthError
	if !errors.As(err, &se) || !errors.Is(err, ErrServerNotAuthenticated) {
		t.Fatalf("err = %v", err)
	}
	if err := c.Noop(ctx); err == nil || strings.Contains(fs.bytes(), "NOOP") {
		t.Errorf("connection kept after a success to a cancelled exchange: %v", err)
	}
}

// TestOAuthSuccessAfterError: RFC 7628 3.2.3: after the error challenge
// the server must fail the exchange; a 235 there is not believed.
func TestOAuthSuccessAfterError(t *testing.T) {
	for _, mech := range []string{"OAUTHBEARER", "XOAUTH2"} {
		t.Run(mech, func(t *testing.T) {
			fs := authServer(t, mech, func(fc *fakeConn, line string) {
				fc.send("334 " + b64(`{"status":"invalid_token"}`))
				fc.readLine()
				fc.send("235 2.7.0 OK")
			})
			c := dialT(t, fs.start(), nil)
			var m Mechanism = XOAuth2Auth("u", "tok")
			if mech == "OAUTHBEARER" {
				m = OAuthBearerAuth("u", "mx.example", 25, "tok")
			}
			err := c.Auth(testCtx(t), m)
			if !errors.Is(err, ErrServerNotAuthenticated) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestAuthNotOffered: RFC 4954 3: a mechanism the server did not announce
// is refused before anything goes on the wire, with a typed error.
func TestAuthNotOffered(t *testing.T) {
	fs := newFakeServer(t, "AUTH CRAM-MD5")
	c := dialT(t, fs.start(), nil)
	for _, m := range []Mechanism{PlainAuth("", "u", "pw"), LoginAuth("u", "pw"), ScramSHA256Auth("u", "pw")} {
		err := c.Auth(testCtx(t), m)
		var e *Error
		var xe *ExtensionError
		if !errors.As(err, &e) || !e.Local || e.Code != reply.CodeParamNotImplemented || e.Enhanced != reply.Enh(5, 5, 4) ||
			!errors.As(err, &xe) || xe.Extension != "AUTH "+m.Name() {
			t.Errorf("%s: err = %v", m.Name(), err)
		}
	}
	if got := fs.bytes(); got != "EHLO client.example\r\n" {
		t.Errorf("sent %q", got)
	}
}

// TestAuthAutoOrder: AuthAuto takes the strongest mechanism offered:
// SCRAM-SHA-256 > CRAM-MD5 > PLAIN > LOGIN for a password, CRAM-MD5 above
// PLAIN over TLS as well (it never hands the password to the peer), and
// never a mechanism the server did not announce; when it fails, AuthAuto
// does not try a weaker one (a man in the middle could force that).
func TestAuthAutoOrder(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	for _, tc := range []struct {
		offer, want string
	}{
		{"LOGIN PLAIN CRAM-MD5 SCRAM-SHA-256", "SCRAM-SHA-256"},
		{"PLAIN LOGIN CRAM-MD5", "CRAM-MD5"},
		{"LOGIN PLAIN", "PLAIN"},
		{"LOGIN", "LOGIN"},
	} {
		fs := newFakeServer(t, "STARTTLS", "AUTH "+tc.offer)
		fs.tls = cert.ServerConfig()
		fs.onCommand = func(fc *fakeConn, line string) bool {
			if !strings.HasPrefix(line, "AUTH ") {
				return false
			}
			fc.send("535 5.7.8 no")
			return true
		}
		c, err := DialStartTLS(testCtx(t), fs.start(), &Options{LocalName: "client.example", TLSConfig: cert.ClientConfig()})
		if err != nil {
			t.Fatal(err)
		}
		err = c.AuthAuto(testCtx(t), Credentials{Username: "u", Password: "pw"})
		c.Close()
		// Over TLS the recorder sees the plaintext.
		tries := strings.Count(fs.bytes(), "\r\nAUTH ")
		got := ""
		if _, rest, ok := strings.Cut(fs.bytes(), "\r\nAUTH "); ok {
			got, _, _ = strings.Cut(strings.Fields(rest)[0], "\r")
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != 535 || got != tc.want || tries != 1 {
			t.Errorf("offer %q: chose %q (%d tries), err %v", tc.offer, got, tries, err)
		}
	}
}

// TestAuthClearTextProxy: the exemption from "no password in clear
// without TLS" for a loopback server is decided from the host dialled,
// never from the connection's peer address: through a SOCKS5 proxy on
// 127.0.0.1 the peer address is the proxy's, and the password would
// travel on to a remote server in clear. A custom Dialer gets no
// exemption at all, and neither does NewClient unless the caller sets
// InsecureAuth.
func TestAuthClearTextProxy(t *testing.T) {
	fs := newFakeServer(t, "AUTH PLAIN LOGIN")
	fs.onCommand = func(fc *fakeConn, line string) bool {
		if strings.HasPrefix(line, "AUTH") {
			fc.send("235 2.7.0 OK")
			return true
		}
		return false
	}
	target := fs.start()
	ctx := testCtx(t)
	cr := Credentials{Username: "u", Password: "pw"}
	refused := func(t *testing.T, c *Client) {
		t.Helper()
		var e *Error
		if err := c.AuthAuto(ctx, cr); !errors.As(err, &e) || !e.Local {
			t.Errorf("AuthAuto: %v", err)
		}
		if err := c.Auth(ctx, PlainAuth("", "u", "pw")); !errors.As(err, &e) || !e.Local || e.Code != reply.CodeEncryptionRequired {
			t.Errorf("Auth PLAIN: %v", err)
		}
		if err := c.Auth(ctx, LoginAuth("u", "pw")); !errors.As(err, &e) || !e.Local {
			t.Errorf("Auth LOGIN: %v", err)
		}
	}
	for _, dialled := range []string{"smtp.example.net:587", target} {
		t.Run("socks5/"+dialled, func(t *testing.T) {
			paddr, asked := socks5Server(t, target)
			d, err := proxy.SOCKS5("tcp", paddr, nil, proxy.Direct)
			if err != nil {
				t.Fatal(err)
			}
			before := len(fs.bytes())
			c := dialT(t, dialled, &Options{Dialer: d.(proxy.ContextDialer)})
			if got := <-asked; got != dialled {
				t.Fatalf("proxy asked for %q", got)
			}
			refused(t, c)
			c.Close()
			if got := fs.bytes()[before:]; strings.Contains(got, "AUTH") {
				t.Errorf("password sent in clear through the proxy: %q", got)
			}
		})
	}
	t.Run("newclient", func(t *testing.T) {
		for _, insecure := range []bool{false, true} {
			conn, err := net.Dial("tcp", target)
			if err != nil {
				t.Fatal(err)
			}
			before := len(fs.bytes())
			c, err := NewClient(ctx, conn, "127.0.0.1", &Options{LocalName: "client.example", InsecureAuth: insecure})
			if err != nil {
				t.Fatal(err)
			}
			if insecure {
				if err := c.AuthAuto(ctx, cr); err != nil {
					t.Errorf("InsecureAuth: %v", err)
				}
			} else {
				refused(t, c)
				if got := fs.bytes()[before:]; strings.Contains(got, "AUTH") {
					t.Errorf("password sent in clear over a caller's connection: %q", got)
				}
			}
			c.Close()
		}
	})
	// Dialled directly, a loopback host keeps its exemption.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		_, port, _ := net.SplitHostPort(target)
		c := dialT(t, net.JoinHostPort(host, port), nil)
		if err := c.AuthAuto(ctx, cr); err != nil {
			t.Errorf("direct %s: %v", host, err)
		}
		c.Close()
	}
}

// TestLoopbackNeedsLoopbackHost: a direct connection that reached a
// loopback address keeps the exemption only when the host asked for names
// this machine (127.0.0.1, ::1, localhost): a name that a hostile DNS
// points at 127.0.0.1 gets none, since the address alone says nothing of
// whom the caller meant to reach.
func TestLoopbackNeedsLoopbackHost(t *testing.T) {
	target := newFakeServer(t).start()
	_, port, _ := net.SplitHostPort(target)
	conn, err := net.Dial("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for host, want := range map[string]bool{
		"127.0.0.1":        true,
		"localhost":        true,
		"mail.localhost":   true,
		"smtp.example.net": false,
		"127.0.0.1.nip.io": false,
	} {
		if got := dialled(net.JoinHostPort(host, port), nil, conn).loopback; got != want {
			t.Errorf("%s, connected to %v: loopback = %v, want %v", host, conn.RemoteAddr(), got, want)
		}
	}
}

// TestOAuthBearerHostThroughProxy: OAUTHBEARER names the server dialled
// (RFC 7628 3.1 host and port), not the proxy the connection went through.
func TestOAuthBearerHostThroughProxy(t *testing.T) {
	gotc := make(chan string, 1)
	fs := authServer(t, "OAUTHBEARER", func(fc *fakeConn, line string) {
		b, _ := base64.StdEncoding.DecodeString(strings.Fields(line)[2])
		gotc <- string(b)
		fc.send("235 2.7.0 OK")
	})
	cert := smtptest.MustCertificate(t)
	fs.ext = append(fs.ext, "STARTTLS")
	fs.tls = cert.ServerConfig()
	paddr, asked := socks5Server(t, fs.start())
	d, _ := proxy.SOCKS5("tcp", paddr, nil, proxy.Direct)
	cfg := cert.ClientConfig()
	c, err := DialStartTLS(testCtx(t), "smtp.example.net:587", &Options{LocalName: "client.example", TLSConfig: cfg, Dialer: d.(proxy.ContextDialer)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-asked
	if err := c.AuthAuto(testCtx(t), Credentials{Username: "u", Token: "tok"}); err != nil {
		t.Fatal(err)
	}
	if got := <-gotc; !strings.Contains(got, "\x01host=smtp.example.net\x01port=587\x01") {
		t.Errorf("OAUTHBEARER message %q", got)
	}
}

// requireTLSEnv is an envelope with REQUIRETLS (RFC 8689).
func requireTLSEnv() envelope.Envelope {
	e := env("a@x.example", "b@y.example")
	e.Mail.RequireTLS = true
	return e
}

// refusedForRequireTLS reports a Local 5.7.30 refusal (RFC 8689 5).
func refusedForRequireTLS(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Local && e.Enhanced == reply.EnhRequireTLS() && e.Permanent()
}

// TestRequireTLSStripped: RFC 8689 4.2.1: a REQUIRETLS message goes only
// over TLS with a verified certificate. A man in the middle who strips
// STARTTLS and announces REQUIRETLS in clear, or who offers TLS with a
// certificate that does not verify, never gets it.
func TestRequireTLSStripped(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	t.Run("clear", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "REQUIRETLS")
		c := dialT(t, fs.start(), nil)
		_, err := c.Send(testCtx(t), requireTLSEnv(), strings.NewReader("secret\r\n"))
		if !refusedForRequireTLS(err) {
			t.Errorf("err = %v", err)
		}
		if err := c.Mail(testCtx(t), path("a@x.example"), &envelope.MailParams{RequireTLS: true}); !refusedForRequireTLS(err) {
			t.Errorf("Mail: err = %v", err)
		}
		if got := fs.bytes(); got != "EHLO client.example\r\n" {
			t.Errorf("sent %q", got)
		}
	})
	t.Run("unverified", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "STARTTLS", "REQUIRETLS")
		fs.tls = cert.ServerConfig()
		cfg := cert.ClientConfig()
		cfg.RootCAs, cfg.InsecureSkipVerify = nil, true
		c, err := DialStartTLS(testCtx(t), fs.start(), &Options{LocalName: "client.example", TLSConfig: cfg})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Send(testCtx(t), requireTLSEnv(), strings.NewReader("secret\r\n")); !refusedForRequireTLS(err) {
			t.Errorf("err = %v", err)
		}
		if len(fs.msgs()) != 0 || strings.Contains(fs.bytes(), "MAIL") {
			t.Errorf("sent over unverified TLS")
		}
	})
	t.Run("verified", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING", "STARTTLS", "REQUIRETLS")
		fs.tls = cert.ServerConfig()
		c, err := DialStartTLS(testCtx(t), fs.start(), &Options{LocalName: "client.example", TLSConfig: cert.ClientConfig()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Send(testCtx(t), requireTLSEnv(), strings.NewReader("secret\r\n")); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(fs.bytes(), " REQUIRETLS\r\n") || len(fs.msgs()) != 1 {
			t.Errorf("wire %q", fs.bytes())
		}
	})
}

// TestDeliverRequireTLS: the Deliverer's opportunistic, unverified TLS
// never carries a REQUIRETLS message (RFC 8689 4.2.1): it goes only to an
// exchanger whose certificate is valid for its MX name and that announces
// REQUIRETLS over TLS. When every exchanger was reached and none qualifies
// the failure is permanent (5.7.30); when one could not be reached, it is
// transient.
func TestDeliverRequireTLS(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	e := requireTLSEnv()
	e.To = []envelope.Recipient{{Path: path("a@dom.example")}}
	msg := strings.NewReader("secret\r\n")
	res := &fakeResolver{
		mx:  map[string][]*net.MX{"dom.example": {{Host: "localhost.", Pref: 10}, {Host: "mx2.dom.example.", Pref: 20}}},
		ips: map[string][]string{"localhost": {"10.0.0.1"}, "mx2.dom.example": {"10.0.0.2"}},
	}
	server := func(ext ...string) *fakeServer {
		fs := newFakeServer(t, ext...)
		fs.tls = cert.ServerConfig()
		return fs
	}
	trust := func() *Options { return &Options{TLSConfig: &tls.Config{RootCAs: cert.Pool}} }
	for _, tc := range []struct {
		name      string
		mx1       *fakeServer // nil: connection refused
		opts      *Options
		policy    TLSPolicy
		delivered bool
		perm      bool
	}{
		{"stripped", server("PIPELINING", "REQUIRETLS"), trust(), TLSOpportunistic, false, true},
		{"unverified", server("PIPELINING", "STARTTLS", "REQUIRETLS"), &Options{}, TLSOpportunistic, false, true},
		{"no-requiretls", server("PIPELINING", "STARTTLS"), trust(), TLSOpportunistic, false, true},
		{"disabled", server("PIPELINING", "STARTTLS", "REQUIRETLS"), trust(), TLSDisabled, false, true},
		{"verified", server("PIPELINING", "STARTTLS", "REQUIRETLS"), trust(), TLSOpportunistic, true, false},
		{"unreachable", nil, trust(), TLSOpportunistic, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// mx2 never qualifies: no TLS at all.
			mx2 := server("PIPELINING", "REQUIRETLS")
			routes := map[string]string{"10.0.0.2:25": mx2.start()}
			if tc.mx1 != nil {
				routes["10.0.0.1:25"] = tc.mx1.start()
			}
			opts := tc.opts
			opts.Dialer = &mapDialer{routes: routes}
			d := &Deliverer{Resolver: res, Options: opts, TLSPolicy: tc.policy}
			out := d.Deliver(testCtx(t), e, msg, msg.Size())[0]
			if out.Delivered() != tc.delivered {
				t.Fatalf("delivered = %v: %+v", out.Delivered(), out)
			}
			if len(mx2.msgs()) != 0 || strings.Contains(mx2.bytes(), "MAIL") {
				t.Errorf("sent to an exchanger without TLS: %q", mx2.bytes())
			}
			if tc.delivered {
				return
			}
			if tc.mx1 != nil && strings.Contains(tc.mx1.bytes(), "MAIL") {
				t.Errorf("sent to %s: %q", tc.name, tc.mx1.bytes())
			}
			var ce *Error
			if out.Permanent() != tc.perm || out.Temporary() == tc.perm || !errors.As(out.Err, &ce) ||
				ce.Enhanced.Subject != 7 || ce.Enhanced.Detail != 30 {
				t.Errorf("outcome %+v (%v)", out, out.Err)
			}
		})
	}
	t.Run("route", func(t *testing.T) {
		// A route uses unverified TLS, except for REQUIRETLS.
		fs := server("PIPELINING", "STARTTLS", "REQUIRETLS")
		d := &Deliverer{Routes: map[string]string{"dom.example": fs.start()}}
		out := d.Deliver(testCtx(t), e, msg, msg.Size())[0]
		if out.Delivered() || !out.Permanent() || strings.Contains(fs.bytes(), "MAIL") {
			t.Errorf("unverified route: %+v", out)
		}
		fs = server("PIPELINING", "STARTTLS", "REQUIRETLS")
		d = &Deliverer{Routes: map[string]string{"dom.example": fs.start()}, Options: trust()}
		if out := d.Deliver(testCtx(t), e, msg, msg.Size())[0]; !out.Delivered() {
			t.Errorf("verified route: %+v", out)
		}
	})
}

// TestAuthTokenInClear: an OAuth bearer token is a credential anyone who
// sees it can replay (RFC 6750 5.3, RFC 7628 5): XOAUTH2 and OAUTHBEARER
// need TLS as PLAIN does.
func TestAuthTokenInClear(t *testing.T) {
	clearTextRefused(t, "XOAUTH2 OAUTHBEARER", Credentials{Username: "u", Token: "tok"},
		XOAuth2Auth("u", "tok"), OAuthBearerAuth("u", "pipe", 25, "tok"))
}

// TestDeliverVerifiesMXName: under TLSRequired the certificate must be
// valid for the exchanger's own MX host name, even when the base
// TLSConfig names another server (here one the certificate is valid for).
func TestDeliverVerifiesMXName(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	fs := newFakeServer(t, "PIPELINING", "STARTTLS")
	fs.tls = cert.ServerConfig()
	res := &fakeResolver{
		mx:  map[string][]*net.MX{"dom.example": {{Host: "mx.dom.example.", Pref: 10}}},
		ips: map[string][]string{"mx.dom.example": {"10.0.0.1"}},
	}
	d := &Deliverer{Resolver: res, TLSPolicy: TLSRequired, Options: &Options{
		TLSConfig: cert.ClientConfig(), // ServerName "localhost"
		Dialer:    &mapDialer{routes: map[string]string{"10.0.0.1:25": fs.start()}},
	}}
	msg := strings.NewReader("secret\r\n")
	o := d.Deliver(testCtx(t), env("a@x.example", "b@dom.example"), msg, msg.Size())[0]
	if o.Delivered() || !o.Temporary() || strings.Contains(fs.bytes(), "MAIL") {
		t.Errorf("delivered to a certificate not valid for the MX name: %+v", o)
	}
}

// TestAuthTraceRedacted: Options.Trace shows the AUTH exchange with every
// credential replaced by "***", whatever the mechanism.
func TestAuthTraceRedacted(t *testing.T) {
	for _, m := range []Mechanism{PlainAuth("", "u", "pw"), LoginAuth("u", "pw"), ScramSHA256Auth("u", "pw"), CramMD5Auth("u", "pw")} {
		fs := authServer(t, m.Name(), func(fc *fakeConn, line string) { serveAuth(t, fc, line) })
		var trace strings.Builder
		c := dialT(t, fs.start(), &Options{Trace: &trace})
		if err := c.Auth(testCtx(t), m); err != nil {
			t.Fatalf("%s: %v", m.Name(), err)
		}
		sent := strings.Split(fs.bytes(), "\r\n")
		for _, l := range sent[1:] { // every AUTH line and response after EHLO
			if l == "AUTH "+m.Name() || l == "" {
				continue
			}
			if l = strings.TrimPrefix(l, "AUTH "+m.Name()+" "); strings.Contains(trace.String(), l) {
				t.Errorf("%s: trace shows %q", m.Name(), l)
			}
		}
		if !strings.Contains(trace.String(), "C: ***\r\n") && !strings.Contains(trace.String(), "C: AUTH "+m.Name()+" ***\r\n") {
			t.Errorf("%s: trace %q", m.Name(), trace.String())
		}
	}
}
