package mta

import (
	"io"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-auth", "a:b", "-route", "Y.test.=127.0.0.1:25", "-route", "*=h:2",
		"-retry", "1s,2s", "-max-age", "1h", "-hostname", "r.test", "-queue", "/q"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.routes["y.test"] != "127.0.0.1:25" || c.routes["*"] != "h:2" || len(c.schedule.Delays) != 2 ||
		c.schedule.MaxAge != time.Hour || c.hostname != "r.test" || c.queueDir != "/q" || c.listen != DefaultListen {
		t.Errorf("parsed %+v", c)
	}
	c, err = parseFlags([]string{"-auth", "a:b"}, io.Discard)
	if err != nil || c.schedule.MaxAge != 5*24*time.Hour || c.schedule.Delays != nil || c.queueDir != "queue" {
		t.Errorf("defaults %+v %v", c, err)
	}
	if c, err := parseFlags([]string{"-list", "-queue", "q"}, io.Discard); err != nil || !c.list {
		t.Errorf("-list: %v", err)
	}
	c, err = parseFlags([]string{"-auth", "a:b", "-dkim", "X.test:s1:/k/1.pem", "-dkim", "x.test:s2:/k/2.pem"}, io.Discard)
	if err != nil || len(c.dkim) != 2 || c.dkim[0] != (dkimSpec{"x.test", "s1", "/k/1.pem"}) || c.dkim[1].selector != "s2" {
		t.Errorf("-dkim: %+v %v", c, err)
	}
	// -dkim-dns is a command of its own: no -auth needed.
	if c, err := parseFlags([]string{"-dkim-dns", "x.test:s:/k.pem"}, io.Discard); err != nil || len(c.dkimDNS) != 1 {
		t.Errorf("-dkim-dns: %v", err)
	}
	// Delivery security: the state in the queue directory unless given;
	// a PostgreSQL queue has none.
	c, err = parseFlags([]string{"-auth", "a:b", "-queue", "/q", "-dns-resolver", "127.0.0.1:53", "-mta-sts", "-tlsrpt", "-mx-port", "2525"}, io.Discard)
	if err != nil || c.stateDir != "/q" || c.tls != (TLSFlags{DNSResolver: "127.0.0.1:53", MTASTS: true, TLSRPT: true, MXPort: 2525}) {
		t.Errorf("security flags: %+v %v", c, err)
	}
	c, err = parseFlags([]string{"-auth", "a:b", "-queue", "postgres://db/mail", "-mta-sts", "-state-dir", "/s"}, io.Discard)
	if err != nil || c.stateDir != "/s" || c.tls.MXPort != 25 {
		t.Errorf("-state-dir: %+v %v", c, err)
	}
	if c, err := parseFlags([]string{"-auth", "a:b", "-queue", "postgres://db/mail", "-dns-resolver", "[::1]:53"}, io.Discard); err != nil || c.stateDir != "" {
		t.Errorf("DANE needs no state: %+v %v", c, err)
	}
	for _, bad := range [][]string{
		{"-auth", "a:b", "-queue", "postgres://db/mail", "-mta-sts"},
		{"-auth", "a:b", "-queue", "postgres://db/mail", "-tlsrpt"},
		{"-auth", "a:b", "-dns-resolver", "127.0.0.1"},
		{"-auth", "a:b", "-mx-port", "0"},
		{}, // no -auth: nobody could relay
		{"-auth", "a:b", "-route", "nohost"},
		{"-auth", "a:b", "-route", "x=noport"},
		{"-auth", "a:b", "-retry", "1s,x"},
		{"-auth", "a:b", "-max-age", "0s"},
		{"-auth", "a:b", "-workers", "0"},
		{"-auth", "nopass"},
		{"-auth", "a:b", "-dkim", "x.test:sel"},
		{"-auth", "a:b", "-dkim", "x.test:bad_selector:/k"},
		{"-dkim-dns", "x.test:s:/k", "-list"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestAllowInsecureAuth(t *testing.T) {
	for _, tc := range []struct {
		listen  string
		tls     bool
		allow   bool
		wantErr bool
	}{
		{"127.0.0.1:2587", false, true, false},
		{"[::1]:2587", false, true, false},
		{"localhost:2587", false, true, false},
		{"0.0.0.0:587", false, false, true},
		{":587", false, false, true},
		{"0.0.0.0:587", true, false, false},
		{"127.0.0.1:587", true, false, false},
	} {
		allow, err := allowInsecureAuth(tc.listen, tc.tls)
		if allow != tc.allow || (err != nil) != tc.wantErr {
			t.Errorf("allowInsecureAuth(%q, %v) = %v, %v", tc.listen, tc.tls, allow, err)
		}
	}
}
