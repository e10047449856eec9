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
	for _, bad := range [][]string{
		{}, // no -auth: nobody could relay
		{"-auth", "a:b", "-route", "nohost"},
		{"-auth", "a:b", "-route", "x=noport"},
		{"-auth", "a:b", "-retry", "1s,x"},
		{"-auth", "a:b", "-max-age", "0s"},
		{"-auth", "a:b", "-workers", "0"},
		{"-auth", "nopass"},
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
