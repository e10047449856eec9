package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/smtpkit/smtp/client/dane"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// Attacks on the client and the Deliverer by a hostile server or a
// network attacker, each over real sockets.

// mitm is a network attacker in front of an exchanger: it answers every
// connection itself, as script says, before any TLS. script gets the
// command lines the client sends ("" for the greeting) and returns the
// reply to each ("" to read the next line without answering).
func mitm(t *testing.T, script func(line string) string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				r := bufio.NewReader(conn)
				line := ""
				for {
					if rep := script(line); rep != "" {
						if _, err := conn.Write([]byte(rep + "\r\n")); err != nil {
							return
						}
					}
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(l, "\r\n")
					if strings.EqualFold(line, "QUIT") {
						conn.Write([]byte("221 bye\r\n"))
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestAttackPreTLSRefusal: a network attacker cannot turn a delivery that
// a policy requires TLS for (DANE, MTA-STS enforce, TLSRequired,
// REQUIRETLS) into a permanent failure by answering, in clear, before TLS
// with a 5xx greeting or a 5xx to EHLO (or HELO): nothing said before TLS
// is protected (RFC 3207 4.2, 6), so the exchanger is skipped and the
// mail waits (RFC 7672 2.2, RFC 8461 4.2), as for a stripped STARTTLS.
// Without such a policy a refusal of EHLO or HELO stands (the attacker
// could as well refuse the recipients in clear); a 5xx greeting defers the
// mail whatever the policy (TestDeliverGreeting5xxDefers).
func TestAttackPreTLSRefusal(t *testing.T) {
	refusals := map[string]func(line string) string{
		"greeting-554": func(line string) string {
			if line == "" {
				return "554 5.7.1 you are blocked"
			}
			return "503 5.5.1 go away"
		},
		"EHLO-554": func(line string) string {
			switch {
			case line == "":
				return "220 mx ESMTP"
			case strings.HasPrefix(line, "EHLO"):
				return "554 5.7.1 not welcome"
			}
			return "503 5.5.1 go away"
		},
		"HELO-521": func(line string) string {
			switch {
			case line == "":
				return "220 mx ESMTP"
			case strings.HasPrefix(line, "EHLO"):
				return "502 5.5.2 what"
			case strings.HasPrefix(line, "HELO"):
				return "521 5.3.2 does not accept mail"
			}
			return "503 5.5.1 go away"
		},
	}
	const dom, host = "pol.example", "mx.pol.example"
	// route sends the exchanger's address to the attacker.
	route := func(w *world, attacker string) {
		w.mx(dom, 10, host, nil)
		w.dialer.mu.Lock()
		w.dialer.routes["10.0.0.1:25"] = attacker
		w.dialer.mu.Unlock()
	}
	policies := []struct {
		name       string
		deliverer  func(w *world) *Deliverer
		requireTLS bool
		permanent  bool // no policy: the refusal is final
	}{
		{name: "DANE", deliverer: func(w *world) *Deliverer {
			leaf := smtptest.SelfSigned(w.t, smtptest.CertOptions{DNSNames: []string{host}})
			w.tlsa(host, dane.Record(3, 1, 1, leaf.Leaf))
			return w.deliverer(true, false)
		}},
		{name: "MTA-STS-enforce", deliverer: func(w *world) *Deliverer {
			w.sts(dom, "enforce", host)
			return w.deliverer(false, true)
		}},
		{name: "TLSRequired", deliverer: func(w *world) *Deliverer {
			d := w.deliverer(false, false)
			d.TLSPolicy = TLSRequired
			return d
		}},
		{name: "REQUIRETLS", requireTLS: true, deliverer: func(w *world) *Deliverer {
			return w.deliverer(false, false)
		}},
		{name: "no-policy", permanent: true, deliverer: func(w *world) *Deliverer {
			return w.deliverer(false, false)
		}},
	}
	for _, pol := range policies {
		for name, script := range refusals {
			t.Run(pol.name+"/"+name, func(t *testing.T) {
				w := newWorld(t)
				route(w, mitm(t, script))
				o := deliverOne(t, pol.deliverer(w), "rcpt@"+dom, pol.requireTLS)
				if o.Delivered() {
					t.Fatalf("delivered to the attacker")
				}
				if pol.permanent && name != "greeting-554" {
					if !o.Permanent() {
						t.Errorf("without a policy: %v (%v), want the refusal as it is", o.Status(), o.Err)
					}
					return
				}
				if !o.Temporary() {
					t.Fatalf("outcome %v (%v): an unprotected refusal bounced mail that TLS is required for", o.Status(), o.Err)
				}
				// The server's refusal is kept as the cause.
				var le, said *Error
				if !errors.As(o.Err, &le) || !le.Local || !errors.As(le.Err, &said) || !said.Permanent() || said.Local {
					t.Errorf("err = %v, want a Local transient *Error caused by the server's refusal", o.Err)
				}
			})
		}
	}
}

// TestAttackBatchEndNotSent: in SendBatch the end of a message goes out
// with the next message's commands (RFC 2920 3.1). When the context ends
// before they leave (while the next message is read), the server never
// got that end: the message is not delivered, and must be reported so
// (StatusDeferred, safe to retry), not as an outcome unknown, which a
// retry loop following Result.Retry would drop.
func TestAttackBatchEndNotSent(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING"}, {"PIPELINING", "8BITMIME", "SIZE 1000000"}} {
		t.Run(strings.Join(ext, "+"), func(t *testing.T) {
			fs := newFakeServer(t, ext...)
			c := dialT(t, fs.start(), nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			msgs := []Message{
				{Envelope: env("a@x.example", "b@y.example"), Body: strings.NewReader("Subject: one\r\n\r\none\r\n")},
				{Envelope: env("a@x.example", "c@y.example"), Body: cancelOnRead{cancel, strings.NewReader("two\r\n")}},
			}
			rs := c.SendBatch(ctx, msgs)
			c.Close()
			fs.stop()
			if got := fs.msgs(); len(got) != 0 {
				t.Fatalf("the server got %q", got)
			}
			for i, r := range rs {
				if st := r.Result.Recipients[0].Status(); st != StatusDeferred || errors.Is(r.Err, ErrOutcomeUnknown) {
					t.Errorf("message %d: %v (%v), want deferred: it was not delivered", i+1, st, r.Err)
				}
				if to := r.Result.Retry(msgs[i].Envelope).To; len(to) != 1 {
					t.Errorf("message %d: Retry %v, want its recipient", i+1, to)
				}
			}
		})
	}
}

// stop closes fs's listener and waits until it has served its
// connections: what it received is then all the client sent (the client
// must have closed its side).
func (fs *fakeServer) stop() {
	fs.ln.Close()
	fs.wg.Wait()
}

// hasControl reports a control character (other than HT) in s: what a
// terminal or a log viewer may act on.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

// TestAttackErrorControlCharacters: a hostile server's words reach the
// caller's logs through error strings: a reply's text (RFC 5321 4.2:
// textstring is printable), or a certificate's names quoted by crypto/x509
// when the handshake fails. Escape sequences and line breaks never come
// out of Error(); the reply's text stays as it came in Error.Text.
func TestAttackErrorControlCharacters(t *testing.T) {
	const esc = "\x1b]0;pwned\x07\x1b[2J"
	t.Run("reply", func(t *testing.T) {
		fs := newFakeServer(t, "PIPELINING")
		fs.rcptReply = map[string]string{"b@y.example": "550-5.1.1 first" + esc + "\r\n550 5.1.1 second\x7fline"}
		c := dialT(t, fs.start(), nil)
		_, err := c.Send(testCtx(t), env("a@x.example", "b@y.example", "c@y.example"), strings.NewReader("x\r\n"))
		var re *RecipientsError
		if !errors.As(err, &re) || len(re.Failed) != 1 {
			t.Fatalf("err = %v", err)
		}
		var e *Error
		if !errors.As(re.Failed[0].Err, &e) || e.Text != "first"+esc+"\nsecond\x7fline" {
			t.Fatalf("Error.Text %q, want the reply's lines as they came", e.Text)
		}
		for _, s := range []string{e.Error(), err.Error()} {
			if hasControl(s) {
				t.Errorf("control characters in %q", s)
			}
		}
		if !strings.Contains(e.Error(), "first") || !strings.Contains(e.Error(), "second") {
			t.Errorf("Error() lost the text: %q", e.Error())
		}
	})
	t.Run("certificate", func(t *testing.T) {
		ca := smtptest.NewCA(t, "Root")
		cert := ca.Issue(t, smtptest.CertOptions{DNSNames: []string{"evil" + esc + ".example"}})
		fs := newFakeServer(t, "STARTTLS")
		fs.tls = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
		addr := fs.start()
		_, err := DialStartTLS(testCtx(t), addr, &Options{LocalName: "c.example",
			TLSConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "mx.example"}})
		var ne *NetError
		if !errors.As(err, &ne) {
			t.Fatalf("err = %v", err)
		}
		if hasControl(err.Error()) {
			t.Errorf("control characters in %q", err.Error())
		}
		// The Deliverer reports the same failure under its TLS policy.
		d := &Deliverer{TLSPolicy: TLSRequired,
			Resolver: &fakeResolver{mx: map[string][]*net.MX{"y.example": {{Host: "mx.example.", Pref: 10}}},
				ips: map[string][]string{"mx.example": {"10.0.0.1"}}},
			Options: &Options{LocalName: "c.example", TLSConfig: &tls.Config{RootCAs: ca.Pool},
				Dialer: &mapDialer{routes: map[string]string{"10.0.0.1:25": addr}}}}
		msg := strings.NewReader("x\r\n")
		o := d.Deliver(testCtx(t), env("a@x.example", "b@y.example"), msg, msg.Size())[0]
		var pe *TLSPolicyError
		if !errors.As(o.Err, &pe) || !o.Temporary() {
			t.Fatalf("outcome %v", o.Err)
		}
		for _, s := range []string{o.Err.Error(), pe.Error()} {
			if hasControl(s) {
				t.Errorf("control characters in %q", s)
			}
		}
	})
}

// TestAttackResetRefused: RSET must be answered 250 (RFC 5321 4.1.1.5).
// A server that refuses the RSET pipelined before a transaction (Send
// resets the one a failed Send left open) is out of step with the client:
// the client cannot know what its MAIL, RCPT and DATA start on the server,
// so it closes the connection. It never sends the lone dot of RFC 2920
// 3.1, which delivers an empty message where the server did accept
// recipients, and never reports the RSET's refusal as the message's when
// the server may have taken it (BDAT LAST pipelined with RSET): a
// permanent refusal would bounce a message that was delivered.
func TestAttackResetRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  []string
		want RecipientStatus
	}{
		{"DATA", []string{"PIPELINING"}, StatusDeferred},
		{"BDAT-LAST-pipelined", []string{"PIPELINING", "CHUNKING"}, StatusUnknown},
		{"lockstep", nil, StatusDeferred},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t, tc.ext...)
			fs.rcptReply = map[string]string{"bad@y.example": "550 5.1.1 no such user"}
			fs.onCommand = func(fc *fakeConn, line string) bool {
				if line == "RSET" {
					fc.send("502 5.5.1 RSET not implemented")
					return true
				}
				return false
			}
			c := dialT(t, fs.start(), nil)
			// A transaction refused at RCPT: the next Send resets it.
			if _, err := c.Send(testCtx(t), env("a@x.example", "bad@y.example"), strings.NewReader("one\r\n")); err == nil {
				t.Fatal("refused recipient accepted")
			}
			res, err := c.Send(testCtx(t), env("a@x.example", "good@y.example"), strings.NewReader("two\r\n"))
			c.Close()
			fs.stop()
			for _, m := range fs.msgs() {
				if m == "" {
					t.Errorf("an empty message was delivered")
				}
			}
			if st := res.Recipients[0].Status(); st != tc.want {
				t.Errorf("status %v (%v), want %v; server got %q", st, err, tc.want, fs.msgs())
			}
		})
	}
}

// TestAttackCredentialsAfterFailedStartTLS: a network attacker answers
// STARTTLS with 454 (RFC 3207 4: TLS not available) or breaks the
// handshake, and offers PLAIN, LOGIN and XOAUTH2 in clear. A program that
// goes on after the failed StartTLS (as go-smtp programs often do) sends
// no password or token: the refusal is the client's, before the wire.
func TestAttackCredentialsAfterFailedStartTLS(t *testing.T) {
	for _, starttls := range []string{"454 4.7.0 TLS not available", "220 2.0.0 go ahead"} {
		t.Run(starttls[:3], func(t *testing.T) {
			fs := newFakeServer(t, "STARTTLS", "AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER")
			fs.onCommand = func(fc *fakeConn, line string) bool {
				if line == "STARTTLS" {
					fc.send(starttls, "250 not TLS at all") // no handshake follows
					return true
				}
				return false
			}
			// As for "smtp.example:587": no loopback exemption (a Dialer
			// of the program's own, since the fake listens on 127.0.0.1).
			c, err := Dial(testCtx(t), fs.start(), &Options{LocalName: "c.example", Dialer: &net.Dialer{},
				TLSConfig: &tls.Config{ServerName: "smtp.example"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.StartTLS(testCtx(t), nil); err == nil {
				t.Fatal("StartTLS succeeded")
			}
			for _, try := range []func() error{
				func() error { return c.Auth(testCtx(t), PlainAuth("", "u", "secret")) },
				func() error { return c.Auth(testCtx(t), LoginAuth("u", "secret")) },
				func() error { return c.AuthAuto(testCtx(t), Credentials{Username: "u", Password: "secret"}) },
				func() error { return c.AuthAuto(testCtx(t), Credentials{Username: "u", Token: "tok3n"}) },
			} {
				var e *Error
				if err := try(); err == nil || (errors.As(err, &e) && !e.Local) {
					t.Errorf("err = %v, want a refusal of the client", err)
				}
			}
			c.Close()
			fs.stop()
			if w := fs.bytes(); strings.Contains(w, "AUTH") {
				t.Errorf("credentials on the wire: %q", w)
			}
		})
	}
}

// TestAttackRequireTLSEveryPath: a REQUIRETLS message (RFC 8689) never
// leaves over a connection a network attacker stripped of STARTTLS while
// announcing REQUIRETLS in clear, whatever the path: Send (DATA, BDAT),
// SendBatch between two ordinary messages (which still go), Mail, and
// LMTP; and the Deliverer's implicit MX (no MX record: the domain is its
// own exchanger) takes it only when DNSSEC covers the denial of MX records
// (RFC 8689 4.2.1, RFC 7672 2.2.1) and the certificate is valid for it.
func TestAttackRequireTLSEveryPath(t *testing.T) {
	for _, lmtp := range []bool{false, true} {
		for _, ext := range [][]string{{"PIPELINING", "REQUIRETLS"}, {"PIPELINING", "CHUNKING", "REQUIRETLS"}, {"REQUIRETLS"}} {
			name := strings.Join(ext, "+")
			if lmtp {
				name = "LMTP/" + name
			}
			t.Run(name, func(t *testing.T) {
				fs := newFakeServer(t, ext...)
				fs.lmtp = lmtp
				c := dialT(t, fs.start(), &Options{LMTP: lmtp})
				ctx := testCtx(t)
				if _, err := c.Send(ctx, requireTLSEnv(), strings.NewReader("secret\r\n")); !refusedForRequireTLS(err) {
					t.Errorf("Send: %v", err)
				}
				rs := c.SendBatch(ctx, []Message{
					{Envelope: env("a@x.example", "b@y.example"), Body: strings.NewReader("one\r\n")},
					{Envelope: requireTLSEnv(), Body: strings.NewReader("secret\r\n")},
					{Envelope: env("a@x.example", "b@y.example"), Body: strings.NewReader("three\r\n")},
				})
				if rs[0].Err != nil || !refusedForRequireTLS(rs[1].Err) || rs[2].Err != nil {
					t.Errorf("SendBatch: %v, %v, %v", rs[0].Err, rs[1].Err, rs[2].Err)
				}
				if err := c.Mail(ctx, path("a@x.example"), &envelope.MailParams{RequireTLS: true}); !refusedForRequireTLS(err) {
					t.Errorf("Mail: %v", err)
				}
				c.Quit(ctx)
				fs.stop()
				if w := fs.bytes(); strings.Contains(w, "REQUIRETLS") || strings.Contains(w, "secret") {
					t.Errorf("the REQUIRETLS message left in clear: %q", w)
				}
				if m := fs.msgs(); len(m) != 2 || m[0] != "one\r\n" || m[1] != "three\r\n" {
					t.Errorf("messages %q", m)
				}
			})
		}
	}
	t.Run("implicit-MX", func(t *testing.T) {
		const dom = "implicit.example"
		for _, signed := range []bool{false, true} {
			w := newWorld(t)
			srv, _ := w.server(dom, certWebPKI)
			w.mx(dom, 0, dom, srv) // an address, no MX record
			if !signed {
				w.dns.Insecure(dom)
			}
			want := wantRefused
			if signed {
				want = wantTLS
			}
			deliverCheck(t, w.deliverer(true, false), "rcpt@"+dom, true, srv, want)
		}
	})
}

// TestAttackPositiveReplyNotRefused: a reply's first digit says what
// happened (RFC 5321 4.2.1: 2yz is a positive completion, and a client
// that receives an unexpected code decides by the first digit). A server
// that answers the end of the message, MAIL, RCPT or a BDAT chunk with
// another 2yz than 250 took it: reporting it refused would bounce a
// message that was delivered, and a resend would duplicate it.
func TestAttackPositiveReplyNotRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  []string
		lmtp bool
	}{
		{"DATA", []string{"PIPELINING"}, false},
		{"BDAT", []string{"PIPELINING", "CHUNKING"}, false},
		{"lockstep", nil, false},
		{"LMTP", []string{"PIPELINING"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t, tc.ext...)
			fs.lmtp = tc.lmtp
			fs.dataReply = "252 2.0.0 queued as 42"
			fs.lmtpReplies = []string{"252 2.0.0 delivered", "250 2.0.0 delivered"}
			fs.onCommand = func(fc *fakeConn, line string) bool {
				if strings.HasPrefix(line, "MAIL") {
					fc.rcpt, fc.to = 0, nil
					fc.send("252 2.1.0 sender ok")
					return true
				}
				return false
			}
			fs.rcptReply = map[string]string{"b@y.example": "252 2.1.5 will try"}
			c := dialT(t, fs.start(), &Options{LMTP: tc.lmtp, ChunkSize: 4})
			res, err := c.Send(testCtx(t), env("a@x.example", "b@y.example", "c@y.example"), strings.NewReader("hello, world\r\n"))
			if err != nil || res.Accepted() != 2 {
				t.Fatalf("Send: %v, %d accepted", err, res.Accepted())
			}
			// Mail, Rcpt and the DataWriter of the low-level API agree.
			ctx := testCtx(t)
			if err := c.Mail(ctx, path("a@x.example"), nil); err != nil {
				t.Fatalf("Mail: %v", err)
			}
			if err := c.Rcpt(ctx, path("b@y.example"), nil); err != nil {
				t.Fatalf("Rcpt: %v", err)
			}
			if tc.name == "BDAT" {
				return // no DATA to a CHUNKING server in this fake
			}
			w, err := c.Data(ctx)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("hi\r\n"))
			if err := w.Close(); err != nil {
				t.Fatalf("DataWriter.Close: %v", err)
			}
		})
	}
}

// TestAttackRouteTLSRequired: TLSRequired ("requires STARTTLS and a
// certificate valid for the host name; without it nothing is sent")
// holds for a route too (a smarthost, sendmail's -starttls -route): a
// network attacker who strips STARTTLS, or presents a certificate of his
// own, gets nothing; a route without TLSRequired keeps its opportunistic
// TLS.
func TestAttackRouteTLSRequired(t *testing.T) {
	cert := smtptest.MustCertificate(t) // valid for 127.0.0.1
	for _, tc := range []struct {
		name   string
		ext    []string
		tls    *tls.Config // the server's
		policy TLSPolicy
		want   outcome
	}{
		{"stripped", []string{"PIPELINING"}, nil, TLSRequired, wantDeferred},
		{"untrusted", []string{"PIPELINING", "STARTTLS"}, smtptest.MustCertificate(t).ServerConfig(), TLSRequired, wantDeferred},
		{"verified", []string{"PIPELINING", "STARTTLS"}, cert.ServerConfig(), TLSRequired, wantTLS},
		{"opportunistic-stripped", []string{"PIPELINING"}, nil, TLSOpportunistic, wantClear},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t, tc.ext...)
			fs.tls = tc.tls
			addr := fs.start()
			roots := cert.ClientConfig()
			roots.ServerName = ""
			d := &Deliverer{TLSPolicy: tc.policy, Routes: map[string]string{"y.example": addr},
				Options: &Options{LocalName: "c.example", TLSConfig: roots}}
			msg := strings.NewReader("secret\r\n")
			o := d.Deliver(testCtx(t), env("a@x.example", "b@y.example"), msg, msg.Size())[0]
			fs.stop()
			got := fs.msgs()
			switch tc.want {
			case wantDeferred:
				if !o.Temporary() || len(got) != 0 {
					t.Errorf("outcome %v (%v), server got %q", o.Status(), o.Err, got)
				}
				var pe *TLSPolicyError
				if !errors.As(o.Err, &pe) || pe.Policy != PolicyTLSRequired {
					t.Errorf("err = %v, want a *TLSPolicyError of TLSRequired", o.Err)
				}
			case wantTLS, wantClear:
				if !o.Delivered() || len(got) != 1 || (o.TLS.Version != 0) != (tc.want == wantTLS) {
					t.Errorf("outcome %v (%v), TLS %v, server got %q", o.Status(), o.Err, o.TLS, got)
				}
			}
		})
	}
}

// TestAttackManyMXWithoutAddresses: a hostile DNS (the recipient domain's
// own) answers with thousands of MX names that have no address, or whose
// lookups hang until they time out. MaxAttempts bounds the addresses
// tried; it bounds the exchangers looked up as well, so that one Deliver
// costs at most MaxAttempts address lookups per domain, not one per name
// (hours, with lookups that time out).
func TestAttackManyMXWithoutAddresses(t *testing.T) {
	var mxs []*net.MX
	for i := range 2000 {
		mxs = append(mxs, &net.MX{Host: "mx" + strconv.Itoa(i) + ".evil.example.", Pref: uint16(i % 3)})
	}
	r := &fakeResolver{mx: map[string][]*net.MX{"evil.example": mxs}}
	d := &Deliverer{Resolver: r, Options: &Options{LocalName: "c.example"}, MaxRecipients: 1}
	msg := strings.NewReader("x\r\n")
	// Three transactions (MaxRecipients 1) to the domain.
	outs := d.Deliver(testCtx(t), env("a@x.example", "b@evil.example", "c@evil.example", "d@evil.example"), msg, msg.Size())
	for _, o := range outs {
		if !o.Temporary() {
			t.Errorf("outcome %v (%v), want deferred", o.Status(), o.Err)
		}
	}
	lookups := 0
	for _, q := range r.asked {
		if strings.HasPrefix(q, "A ") {
			lookups++
		}
	}
	if lookups > DefaultMaxAttempts {
		t.Errorf("%d address lookups for one domain, want at most %d", lookups, DefaultMaxAttempts)
	}
}
