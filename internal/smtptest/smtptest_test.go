package smtptest

import (
	"crypto/tls"
	"net"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		want, got string
		ok        bool
	}{
		{"250 OK\r\n", "250 OK\r\n", true},
		{"250 OK\r\n", "250 Ok\r\n", false},
		{"220 {*} ESMTP\r\n", "220 mx.example ESMTP\r\n", true},
		{"220 {*} ESMTP\r\n", "220 a\r\nb ESMTP\r\n", false},
		{"250 {*}\r\n", "250 queued as 12\r\n", true},
		{"250 {*}\r\n", "250 x\r\n251 y\r\n", false},
		{"a.b\r\n", "aXb\r\n", false},
	}
	for _, tt := range tests {
		if got := Match(tt.want, tt.got); got != tt.ok {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.want, tt.got, got, tt.ok)
		}
	}
}

func TestCountReplies(t *testing.T) {
	for s, want := range map[string]int{
		"":                            0,
		"250 OK\r\n":                  1,
		"250-a\r\n250-b\r\n250 c\r\n": 1,
		"250 a\r\n354 b\r\n250\r\n":   3,
	} {
		if got := CountReplies(s); got != want {
			t.Errorf("CountReplies(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestScriptRoundTrip(t *testing.T) {
	addr, done := ServeScript(t, `
		S: 220 test ESMTP
		C: EHLO client
		C: NOOP
		S: 250-test
		S: 250 PIPELINING
		S: 250 2.0.0 OK
		C: QUIT
		S: 221 2.0.0 Bye
	`)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(t, nc)
	c.Run(`
		S: 220 {*} ESMTP
		C: EHLO client
		C: NOOP
		S: 250-test
		S: 250 PIPELINING
		S: 250 2.0.0 OK
		C: QUIT
		S: 221 2.0.0 Bye
	`)
	c.ExpectClosed()
	<-done
}

func TestCertificateHandshake(t *testing.T) {
	cert := MustCertificate(t)
	l, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tl := tls.NewListener(l, cert.ServerConfig())
	errc := make(chan error, 1)
	go func() {
		c, err := tl.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- c.(*tls.Conn).Handshake()
	}()
	cfg := cert.ClientConfig()
	cfg.ServerName = "127.0.0.1"
	c, err := tls.Dial("tcp", l.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("dial with IP name: %v", err)
	}
	defer c.Close()
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "localhost" {
		t.Errorf("CommonName = %q", cn)
	}
}
