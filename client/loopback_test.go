package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// store is a backend that keeps the messages it receives.
type store struct {
	mu       sync.Mutex
	messages []stored
	users    map[string]string
	refuse   map[string]*reply.Reply // recipient -> reply
	lmtpFail map[string]error        // recipient -> error after the message
}

type stored struct {
	from   string
	to     []string
	params envelope.MailParams
	data   string
}

func (s *store) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	return &session{st: s}, nil
}

type session struct {
	st  *store
	cur stored
}

func (s *session) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	s.cur = stored{from: from.String(), params: p}
	return nil
}

func (s *session) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	if r := s.st.refuse[to.Address.String()]; r != nil {
		return r
	}
	s.cur.to = append(s.cur.to, to.Address.String())
	return nil
}

func (s *session) Data(ctx context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	s.st.mu.Lock()
	s.st.messages = append(s.st.messages, s.cur)
	s.st.mu.Unlock()
	return reply.New(250, reply.EnhOK(), "queued as Q1")
}

func (s *session) LMTPData(ctx context.Context, r io.Reader) ([]error, error) {
	if err := s.Data(ctx, r); err != nil {
		var rep *reply.Reply
		if !errors.As(err, &rep) || !rep.Positive() {
			return nil, err
		}
	}
	out := make([]error, len(s.cur.to))
	for i, to := range s.cur.to {
		out[i] = s.st.lmtpFail[to]
	}
	return out, nil
}

func (s *session) Reset(ctx context.Context)        { s.cur = stored{} }
func (s *session) Logout(ctx context.Context) error { return nil }
func (s *session) AuthPassword(ctx context.Context, identity, user, pass string) error {
	if p, ok := s.st.users[user]; ok && p == pass {
		return nil
	}
	return server.ErrAuthFailed
}

func (s *store) all() []stored {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stored(nil), s.messages...)
}

type loopbackOpts struct {
	chunking, lmtp, tls, utf8, auth, requireTLS bool
	maxRcpts                                    int
}

func startServer(t testing.TB, o loopbackOpts) (*store, string, *smtptest.Certificate) {
	st := &store{users: map[string]string{"user": "pass word"}}
	srv := &server.Server{
		Hostname:          "mx.test",
		Backend:           st,
		EnableChunking:    o.chunking,
		LMTP:              o.lmtp,
		EnableSMTPUTF8:    o.utf8,
		EnableDSN:         true,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowInsecureAuth: o.auth && !o.tls,
		AuthFailureDelay:  -1,
		MaxRecipients:     o.maxRcpts,
		EnableRequireTLS:  o.requireTLS,
	}
	var cert *smtptest.Certificate
	if o.tls {
		cert = smtptest.MustCertificate(t)
		srv.TLSConfig = cert.ServerConfig()
	}
	lb := smtptest.Start(t, srv)
	return st, lb.Addr, cert
}

func mustPath(s string) envelope.Path {
	p, err := envelope.ParsePath("<"+s+">", envelope.ParseOptions{SMTPUTF8: true})
	if err != nil {
		panic(err)
	}
	return p
}

func newEnv(from string, to ...string) envelope.Envelope {
	e := envelope.Envelope{From: mustPath(from)}
	for _, t := range to {
		e.To = append(e.To, envelope.Recipient{Path: mustPath(t)})
	}
	return e
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestLoopback sends through our own server, with DATA and with BDAT,
// plain and under STARTTLS with AUTH.
func TestLoopback(t *testing.T) {
	const msg = "Subject: loop\n\n.leading dot\r\nline\rcaf\xc3\xa9\r\n"
	const want = "Subject: loop\r\n\r\n.leading dot\r\nline\r\ncaf\xc3\xa9\r\n"
	for _, o := range []loopbackOpts{{}, {chunking: true}, {tls: true, auth: true}, {tls: true, auth: true, chunking: true}, {auth: true}} {
		name := "data"
		if o.chunking {
			name = "bdat"
		}
		if o.tls {
			name += "+tls"
		}
		if o.auth {
			name += "+auth"
		}
		t.Run(name, func(t *testing.T) {
			st, addr, cert := startServer(t, o)
			ctx := ctxT(t)
			opts := &client.Options{LocalName: "client.test"}
			var c *client.Client
			var err error
			if o.tls {
				opts.TLSConfig = cert.ClientConfig()
				c, err = client.DialStartTLS(ctx, addr, opts)
			} else {
				c, err = client.Dial(ctx, addr, opts)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello(ctx, ""); err != nil {
				t.Fatal(err)
			}
			x := c.Extensions()
			if !x.Pipelining || x.Chunking != o.chunking || !x.EightBitMIME || !x.EnhancedStatusCodes {
				t.Errorf("extensions %+v", x)
			}
			if o.auth {
				if err := c.AuthAuto(ctx, client.Credentials{Username: "user", Password: "wrong"}); err == nil {
					t.Fatal("wrong password accepted")
				} else {
					var e *client.Error
					if !errors.As(err, &e) || e.Code != 535 {
						t.Fatalf("err = %v", err)
					}
				}
				if err := c.AuthAuto(ctx, client.Credentials{Username: "user", Password: "pass word"}); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 3; i++ {
				res, err := c.Send(ctx, newEnv("a@src.test", "b@dst.test", "c@dst.test"), strings.NewReader(msg))
				if err != nil {
					t.Fatal(err)
				}
				if res.Code != 250 || res.Text() != "queued as Q1" || res.Accepted() != 2 {
					t.Errorf("result %+v %q", res, res.Text())
				}
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			msgs := st.all()
			if len(msgs) != 3 {
				t.Fatalf("%d messages", len(msgs))
			}
			m := msgs[0]
			if m.data != want || m.from != "<a@src.test>" || strings.Join(m.to, " ") != "b@dst.test c@dst.test" || m.params.Body != envelope.Body8BitMIME {
				t.Errorf("stored %+v", m)
			}
		})
	}
}

func TestLoopbackErrors(t *testing.T) {
	st, addr, _ := startServer(t, loopbackOpts{})
	st.refuse = map[string]*reply.Reply{"gone@dst.test": reply.New(550, reply.EnhBadMailbox(), "no such user")}
	ctx := ctxT(t)
	c, err := client.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Send(ctx, newEnv("a@src.test", "gone@dst.test", "ok@dst.test"), strings.NewReader("hi\r\n"))
	var re *client.RecipientsError
	if !errors.As(err, &re) || re.Accepted != 1 {
		t.Fatalf("err = %v", err)
	}
	var e *client.Error
	if !errors.As(res.Recipients[0].Err, &e) || e.Code != 550 || e.Enhanced != reply.EnhBadMailbox() || e.Text != "no such user" {
		t.Errorf("recipient 0: %v", res.Recipients[0].Err)
	}
	// All refused, then a good one on the same connection.
	if _, err := c.Send(ctx, newEnv("a@src.test", "gone@dst.test"), strings.NewReader("hi\r\n")); !errors.As(err, &re) {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.Send(ctx, newEnv("a@src.test", "ok@dst.test"), strings.NewReader("again\r\n")); err != nil {
		t.Fatal(err)
	}
	// UTF-8 address without SMTPUTF8 offered.
	_, err = c.Send(ctx, newEnv("a@src.test", "jos\u00e9@dst.test"), strings.NewReader("x\r\n"))
	var xe *client.ExtensionError
	if !errors.As(err, &xe) || xe.Extension != "SMTPUTF8" {
		t.Fatalf("err = %v", err)
	}
	if r, err := c.Verify(ctx, "someone"); err != nil || r.Code != 252 {
		t.Errorf("Verify: %v %v", r, err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(st.all()); n != 2 {
		t.Errorf("%d messages", n)
	}
}

func TestLoopbackUTF8(t *testing.T) {
	st, addr, _ := startServer(t, loopbackOpts{utf8: true})
	ctx := ctxT(t)
	c, err := client.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send(ctx, newEnv("jos\u00e9@src.test", "m\u00fcller@dst.test"), strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	m := st.all()[0]
	if !m.params.SMTPUTF8 || m.to[0] != "m\u00fcller@dst.test" {
		t.Errorf("stored %+v", m)
	}
}

func TestLoopbackLMTP(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		st, addr, _ := startServer(t, loopbackOpts{lmtp: true, chunking: chunking})
		st.lmtpFail = map[string]error{"full@dst.test": reply.New(452, reply.Enh(4, 2, 2), "mailbox full")}
		ctx := ctxT(t)
		c, err := client.Dial(ctx, addr, &client.Options{LMTP: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Send(ctx, newEnv("a@src.test", "ok@dst.test", "full@dst.test", "ok2@dst.test"), strings.NewReader("x\r\n"))
		var re *client.RecipientsError
		if !errors.As(err, &re) || re.Accepted != 2 || len(re.Failed) != 1 {
			t.Fatalf("chunking=%v: err = %v", chunking, err)
		}
		// Two have it: the message may not be sent again as it is, only
		// to the deferred recipient.
		if r := res.Recipients[1]; r.Code != 452 || r.Status() != client.StatusDeferred || re.Temporary() || re.Permanent() {
			t.Errorf("recipient 1: %+v", r)
		}
		if retry := res.Retry(newEnv("a@src.test", "ok@dst.test", "full@dst.test", "ok2@dst.test")); len(retry.To) != 1 || retry.To[0].Path != mustPath("full@dst.test") {
			t.Errorf("retry %v", retry.To)
		}
		c.Quit(ctx)
	}
}

// TestLoopbackConcurrent runs several clients at once (and the race
// detector over them).
func TestLoopbackConcurrent(t *testing.T) {
	st, addr, _ := startServer(t, loopbackOpts{chunking: true})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			c, err := client.Dial(ctx, addr, nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.Quit(ctx)
			for j := 0; j < 20; j++ {
				if err := c.SendMail(ctx, "a@src.test", []string{"b@dst.test"}, bytes.NewReader([]byte("hello\r\n"))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(st.all()); n != 160 {
		t.Errorf("%d messages", n)
	}
}

// scramStore's sessions authenticate with SCRAM-SHA-256 only.
type scramStore struct{ store }

type scramSession struct{ session }

func (s *scramStore) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	return &scramSession{session{st: &s.store}}, nil
}

func (s *scramSession) AuthScram(ctx context.Context, user string) (server.ScramCredentials, error) {
	if user != "user" {
		return server.ScramCredentials{}, server.ErrAuthFailed
	}
	return server.NewScramCredentials("pass word", []byte("salty salt"), 4096)
}

func TestLoopbackScram(t *testing.T) {
	cert := smtptest.MustCertificate(t)
	st := &scramStore{}
	srv := &server.Server{Hostname: "mx.test", Backend: st, TLSConfig: cert.ServerConfig(), AuthFailureDelay: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	lb := smtptest.Start(t, srv)
	ctx := ctxT(t)
	var trace bytes.Buffer
	c, err := client.DialStartTLS(ctx, lb.Addr, &client.Options{TLSConfig: cert.ClientConfig(), Trace: &trace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Extensions().HasAuth("SCRAM-SHA-256") {
		t.Fatalf("server does not offer SCRAM-SHA-256: %v", c.Extensions().Auth)
	}
	if err := c.Auth(ctx, client.ScramSHA256Auth("user", "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := c.AuthAuto(ctx, client.Credentials{Username: "user", Password: "pass word"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(trace.String(), "C: AUTH SCRAM-SHA-256") || strings.Contains(trace.String(), "pass word") {
		t.Errorf("trace:\n%s", trace.String())
	}
	if _, err := c.Send(ctx, newEnv("user@src.test", "b@dst.test"), strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
}

// discardStore is a backend that reads and drops messages, for benchmarks.
type discardStore struct{}

type discardSession struct{}

func (discardStore) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	return discardSession{}, nil
}
func (discardSession) Mail(context.Context, envelope.Path, envelope.MailParams) error { return nil }
func (discardSession) Rcpt(context.Context, envelope.Path, envelope.RcptParams) error { return nil }
func (discardSession) Data(ctx context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discardSession) Reset(context.Context)        {}
func (discardSession) Logout(context.Context) error { return nil }

// BenchmarkLoopbackSend is a whole transaction (1 KiB) against our own
// server over loopback, on one reused connection; allocations include the
// server's.
func BenchmarkLoopbackSend(b *testing.B) {
	for _, bc := range []struct {
		name          string
		chunking, tls bool
	}{{"data", false, false}, {"bdat", true, false}, {"data-tls", false, true}, {"bdat-tls", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := &server.Server{Hostname: "mx.test", Backend: discardStore{}, EnableChunking: bc.chunking,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Events: server.EventsFunc(func(*server.Conn, server.Event) {})}
			opts := &client.Options{LocalName: "bench.test"}
			if bc.tls {
				cert := smtptest.MustCertificate(b)
				srv.TLSConfig = cert.ServerConfig()
				opts.TLSConfig = cert.ClientConfig()
			}
			lb := smtptest.Start(b, srv)
			ctx := context.Background()
			var c *client.Client
			var err error
			if bc.tls {
				c, err = client.DialStartTLS(ctx, lb.Addr, opts)
			} else {
				c, err = client.Dial(ctx, lb.Addr, opts)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer c.Quit(ctx)
			msg := bytes.Repeat([]byte("0123456789 the quick brown fox jumps over the lazy dog 01234567890123456\r\n"), 14)
			to := []string{"rcpt@dst.test"}
			r := bytes.NewReader(msg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.Reset(msg)
				if err := c.SendMail(ctx, "sender@src.test", to, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLoopbackTooManyRecipients: our server's MaxRecipients answers 452
// 4.5.3 past its limit (RFC 5321 4.5.3.1.10); Send delivers to everyone in
// as many transactions, each recipient once.
func TestLoopbackTooManyRecipients(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		st, addr, _ := startServer(t, loopbackOpts{chunking: chunking, maxRcpts: 2})
		ctx := ctxT(t)
		c, err := client.Dial(ctx, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		to := []string{"r1@dst.test", "r2@dst.test", "r3@dst.test", "r4@dst.test", "r5@dst.test"}
		res, err := c.Send(ctx, newEnv("a@src.test", to...), strings.NewReader("hello\r\n"))
		if err != nil || res.Accepted() != 5 {
			t.Fatalf("chunking=%v: %v", chunking, err)
		}
		c.Quit(ctx)
		got := map[string]int{}
		msgs := st.all()
		for _, m := range msgs {
			for _, r := range m.to {
				got[r]++
			}
		}
		if len(msgs) != 3 || len(got) != 5 {
			t.Errorf("chunking=%v: %d messages, recipients %v", chunking, len(msgs), got)
		}
		for r, n := range got {
			if n != 1 {
				t.Errorf("%s: %d copies", r, n)
			}
		}
	}
}

// TestLoopbackRequireTLS: a REQUIRETLS message reaches our server only
// over TLS whose certificate the client verified (RFC 8689 4.2.1).
func TestLoopbackRequireTLS(t *testing.T) {
	st, addr, cert := startServer(t, loopbackOpts{tls: true, requireTLS: true})
	ctx := ctxT(t)
	e := newEnv("a@src.test", "b@dst.test")
	e.Mail.RequireTLS = true
	var ce *client.Error

	c, err := client.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, e, strings.NewReader("x\r\n")); !errors.As(err, &ce) || !ce.Local || ce.Enhanced != reply.EnhRequireTLS() {
		t.Errorf("in clear: %v", err)
	}
	c.Close()

	insecure := cert.ClientConfig()
	insecure.RootCAs, insecure.InsecureSkipVerify = nil, true
	c, err = client.DialStartTLS(ctx, addr, &client.Options{TLSConfig: insecure})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, e, strings.NewReader("x\r\n")); !errors.Is(err, client.ErrNoVerifiedTLS) || !c.Extensions().RequireTLS {
		t.Errorf("unverified TLS: %v", err)
	}
	c.Close()

	c, err = client.DialStartTLS(ctx, addr, &client.Options{TLSConfig: cert.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, e, strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx)
	if m := st.all(); len(m) != 1 || !m[0].params.RequireTLS {
		t.Errorf("stored %+v", m)
	}
}
