package benchcmp

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/server"
)

// A server under test, listening on loopback until stop.
type runningServer struct {
	addr     string
	received *atomic.Int64 // messages the backend got to the end
	stop     func()
}

type serverImpl struct {
	name  string
	start func(tb testing.TB, tlsConf *tls.Config) *runningServer
}

var serverImpls = []serverImpl{
	{"smtpkit", startSMTPKitServer},
	{"gosmtp", startGoSMTPServer},
}

// maxMessage is the size limit of both servers, as the shell harness gives
// with -max-size 1073741824.
const maxMessage = 1 << 30

// smtpkit's server configured as examples/mailsink -discard is, with a
// backend that only reads the data.
func startSMTPKitServer(tb testing.TB, tlsConf *tls.Config) *runningServer {
	var received atomic.Int64
	s := &server.Server{
		Hostname:        "bench.example",
		TLSConfig:       tlsConf,
		Backend:         smtpkitBackend{&received},
		Logger:          slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})),
		EnableSMTPUTF8:  true,
		EnableChunking:  true,
		EnableDSN:       true,
		MaxMessageBytes: maxMessage,
	}
	l := listen(tb)
	done := make(chan struct{})
	go func() { s.Serve(l); close(done) }()
	return &runningServer{addr: l.Addr().String(), received: &received, stop: func() { s.Close(); <-done }}
}

type smtpkitBackend struct{ received *atomic.Int64 }

func (be smtpkitBackend) NewSession(context.Context, *server.Conn) (server.Session, error) {
	return smtpkitSink(be), nil
}

type smtpkitSink struct{ received *atomic.Int64 }

func (smtpkitSink) Mail(context.Context, envelope.Path, envelope.MailParams) error { return nil }
func (smtpkitSink) Rcpt(context.Context, envelope.Path, envelope.RcptParams) error { return nil }
func (s smtpkitSink) Data(_ context.Context, r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.received.Add(1)
	return nil
}
func (smtpkitSink) Reset(context.Context)        {}
func (smtpkitSink) Logout(context.Context) error { return nil }

// go-smtp's server configured as ../../../shared/peers/gosmtp/sink is, with
// the same discarding backend.
func startGoSMTPServer(tb testing.TB, tlsConf *tls.Config) *runningServer {
	var received atomic.Int64
	s := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return goSMTPSink{&received}, nil
	}))
	s.Domain = "bench.example"
	s.TLSConfig = tlsConf
	s.MaxMessageBytes = maxMessage
	s.MaxRecipients = 100
	s.EnableSMTPUTF8 = true
	s.ReadTimeout = 5 * time.Minute
	s.WriteTimeout = 5 * time.Minute
	s.ErrorLog = log.New(io.Discard, "", 0)
	l := listen(tb)
	done := make(chan struct{})
	go func() { s.Serve(l); close(done) }()
	return &runningServer{addr: l.Addr().String(), received: &received, stop: func() { s.Close(); <-done }}
}

type goSMTPSink struct{ received *atomic.Int64 }

func (goSMTPSink) Mail(string, *gosmtp.MailOptions) error { return nil }
func (goSMTPSink) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s goSMTPSink) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.received.Add(1)
	return nil
}
func (goSMTPSink) Reset()        {}
func (goSMTPSink) Logout() error { return nil }

func listen(tb testing.TB) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// rawClient is the load: a minimal client on a raw socket that allocates
// nothing per message, writes each command with one write and reads each
// reply before the next command (like smtp-source), or, pipelined, sends
// MAIL, RCPT and DATA in one write (RFC 2920) and the body after the 354.
type rawClient struct {
	nc net.Conn
	r  *bufio.Reader
}

var (
	cmdEHLO     = []byte("EHLO " + benchHelo + "\r\n")
	cmdMail     = []byte("MAIL FROM:<" + benchSender + ">\r\n")
	cmdRcpt     = []byte("RCPT TO:<" + benchRcpt + ">\r\n")
	cmdData     = []byte("DATA\r\n")
	cmdQuit     = []byte("QUIT\r\n")
	cmdStartTLS = []byte("STARTTLS\r\n")
	cmdPipeline = []byte(string(cmdMail) + string(cmdRcpt) + string(cmdData))
)

// dialRaw connects, reads the greeting and says EHLO; with tlsConf it then
// says STARTTLS, shakes hands and says EHLO again.
func dialRaw(addr string, tlsConf *tls.Config) (*rawClient, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &rawClient{nc: nc, r: bufio.NewReaderSize(nc, 4096)}
	err = c.expect('2')
	if err == nil {
		err = c.cmd(cmdEHLO, '2')
	}
	if err == nil && tlsConf != nil {
		if err = c.cmd(cmdStartTLS, '2'); err == nil {
			tc := tls.Client(nc, tlsConf)
			c.nc, c.r = tc, bufio.NewReaderSize(tc, 4096)
			if err = tc.Handshake(); err == nil {
				err = c.cmd(cmdEHLO, '2')
			}
		}
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// expect reads one whole reply and checks the first digit of its code.
func (c *rawClient) expect(digit byte) error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) < 4 || line[0] != digit {
			return fmt.Errorf("unexpected reply %q", line)
		}
		if line[3] != '-' {
			return nil
		}
	}
}

func (c *rawClient) cmd(p []byte, digit byte) error {
	if _, err := c.nc.Write(p); err != nil {
		return err
	}
	return c.expect(digit)
}

// send sends one message; body ends with the CRLF "." CRLF terminator.
func (c *rawClient) send(body []byte, pipelined bool) error {
	if pipelined {
		if _, err := c.nc.Write(cmdPipeline); err != nil {
			return err
		}
		for _, d := range []byte("223") {
			if err := c.expect(d); err != nil {
				return err
			}
		}
	} else {
		if err := c.cmd(cmdMail, '2'); err != nil {
			return err
		}
		if err := c.cmd(cmdRcpt, '2'); err != nil {
			return err
		}
		if err := c.cmd(cmdData, '3'); err != nil {
			return err
		}
	}
	return c.cmd(body, '2')
}

func (c *rawClient) quit() error {
	err := c.cmd(cmdQuit, '2')
	c.nc.Close()
	return err
}

// load is one server scenario.
type load struct {
	name      string
	size      int  // message bytes
	conns     int  // connections in parallel
	perConn   int  // messages per connection before QUIT and a new one
	pipelined bool // MAIL, RCPT, DATA in one write
	tls       bool // STARTTLS after the first EHLO
	noQuit    bool // close without QUIT (for the limit responder)
}

// The scenarios of ../../../shared/bench/server-throughput.sh, plus the
// pipelined and STARTTLS variants.
var loads = []load{
	{name: "1k-1conn", size: 1024, conns: 1, perConn: 1 << 30},
	{name: "1k-20conn-100perconn", size: 1024, conns: 20, perConn: 100},
	{name: "1k-1perconn", size: 1024, conns: 1, perConn: 1},
	{name: "100k-10conn", size: 100 << 10, conns: 10, perConn: 200},
	{name: "1k-1conn-pipelined", size: 1024, conns: 1, perConn: 1 << 30, pipelined: true},
	{name: "1k-1conn-starttls", size: 1024, conns: 1, perConn: 1 << 30, tls: true},
	{name: "1k-20conn-100perconn-starttls", size: 1024, conns: 20, perConn: 100, tls: true},
}

// run sends n messages in all over ld.conns connections. A connection
// takes messages from a shared count and starts over after ld.perConn.
func (ld load) run(addr string, tlsConf *tls.Config, body []byte, n int) error {
	var left atomic.Int64
	left.Store(int64(n))
	var tc *tls.Config
	if ld.tls {
		tc = tlsConf
	}
	errs := make(chan error, ld.conns)
	var wg sync.WaitGroup
	for range ld.conns {
		wg.Go(func() {
			for left.Load() > 0 {
				c, err := dialRaw(addr, tc)
				if err != nil {
					errs <- err
					return
				}
				for i := 0; i < ld.perConn && left.Add(-1) >= 0; i++ {
					if err := c.send(body, ld.pipelined); err != nil {
						c.nc.Close()
						errs <- err
						return
					}
				}
				if ld.noQuit {
					c.nc.Close()
				} else if err := c.quit(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(<-errs)
}

// BenchmarkServer compares the servers in-process: one op is one message
// received, so allocs/op is the allocations per message of the server and
// the driver together (the driver makes a few per connection, none per
// message) and cpu-us/msg is the whole process's CPU time.
func BenchmarkServer(b *testing.B) {
	tlsConf := testTLSConfig(b)
	for _, ld := range loads {
		body := append(message(ld.size), ".\r\n"...)
		for _, impl := range serverImpls {
			b.Run(ld.name+"/"+impl.name, func(b *testing.B) {
				srv := impl.start(b, tlsConf.server)
				defer srv.stop()
				if err := ld.run(srv.addr, tlsConf.client, body, ld.conns); err != nil { // warm up
					b.Fatal(err)
				}
				base := srv.received.Load()
				b.ReportAllocs()
				b.SetBytes(int64(ld.size))
				b.ResetTimer()
				cpu := startCPU()
				if err := ld.run(srv.addr, tlsConf.client, body, b.N); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu.report(b)
				if got := srv.received.Load() - base; got != int64(b.N) {
					b.Fatalf("the backend received %d messages, want %d", got, b.N)
				}
			})
		}
	}
}

// TestServers runs every scenario briefly against both servers.
func TestServers(t *testing.T) {
	tlsConf := testTLSConfig(t)
	for _, impl := range serverImpls {
		for _, ld := range loads {
			t.Run(ld.name+"/"+impl.name, func(t *testing.T) {
				srv := impl.start(t, tlsConf.server)
				defer srv.stop()
				body := append(message(min(ld.size, 4096)), ".\r\n"...)
				n := 2 * ld.conns
				if err := ld.run(srv.addr, tlsConf.client, body, n); err != nil {
					t.Fatal(err)
				}
				if got := srv.received.Load(); got != int64(n) {
					t.Fatalf("the backend received %d messages, want %d", got, n)
				}
			})
		}
	}
}

// TestDrive is the raw client as a load generator for a server in another
// process, so that the server can be pinned to a CPU of its own and its CPU
// time read from /proc. It runs only when BENCHCMP_DRIVE_ADDR is set:
//
//	BENCHCMP_DRIVE_ADDR=127.0.0.1:PORT   the server
//	BENCHCMP_DRIVE_CONNS=20              connections in parallel
//	BENCHCMP_DRIVE_N=20000               messages in all
//	BENCHCMP_DRIVE_PIPELINED=1           MAIL RCPT DATA in one write
//	BENCHCMP_DRIVE_NOQUIT=1              close without QUIT (the limit
//	                                     responder of ../shared/bench knows
//	                                     only EHLO and transactions)
//
// The messages are 1 KiB; the bytes sent are those of ../shared/bench's
// tools/limit, whose responder they can therefore drive. It prints
// "msgs=N secs=S msgs_per_s=R".
func TestDrive(t *testing.T) {
	addr := os.Getenv("BENCHCMP_DRIVE_ADDR")
	if addr == "" {
		t.Skip("BENCHCMP_DRIVE_ADDR is not set")
	}
	envInt := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
			return v
		}
		return def
	}
	ld := load{
		name:      "drive",
		size:      1024,
		conns:     envInt("BENCHCMP_DRIVE_CONNS", 20),
		perConn:   1 << 30,
		pipelined: os.Getenv("BENCHCMP_DRIVE_PIPELINED") == "1",
		noQuit:    os.Getenv("BENCHCMP_DRIVE_NOQUIT") == "1",
	}
	n := envInt("BENCHCMP_DRIVE_N", 20000)
	body := append(message(ld.size), ".\r\n"...)
	start := time.Now()
	if err := ld.run(addr, nil, body, n); err != nil {
		t.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("msgs=%d secs=%.3f msgs_per_s=%.0f\n", n, secs, float64(n)/secs)
}

type tlsConfigs struct{ server, client *tls.Config }

// testTLSConfig makes a self-signed ECDSA P-256 certificate for
// 127.0.0.1; the client does not verify it.
func testTLSConfig(tb testing.TB) tlsConfigs {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bench.example"},
		DNSNames:     []string{"bench.example"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return tlsConfigs{
		server: &tls.Config{Certificates: []tls.Certificate{cert}},
		client: &tls.Config{InsecureSkipVerify: true, ServerName: "bench.example"},
	}
}
