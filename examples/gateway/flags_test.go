package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-route", "Shop.Test.=https://hook.example/in?k=1", "-route", "bücher.test=http://127.0.0.1:9/",
		"-secret-file", "s", "-retry", "1s,2s", "-max-age", "1h", "-http", "127.0.0.1:8080", "-token-file", "t",
		"-smarthost", "mx.example:587"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.routes["shop.test"] != "https://hook.example/in?k=1" || c.routes["xn--bcher-kva.test"] != "http://127.0.0.1:9/" ||
		len(c.retry.Delays) != 2 || c.retry.MaxAge != time.Hour || c.outRetry.MaxAge != time.Hour || c.outRetry.Delays != nil ||
		c.listen != DefaultListen || c.smartHost != "mx.example:587" {
		t.Errorf("parsed %+v", c)
	}
	if c, err := parseFlags([]string{"-route", "a.test=http://h/", "-secret-file", "s", "-max-attachment", "0"}, io.Discard); err != nil || c.maxAttachment >= 0 {
		t.Errorf("-max-attachment 0: %d %v, want none inlined (negative for webhook.NewPayload)", c.maxAttachment, err)
	}
	c, err = parseFlags([]string{"-route", "a.test=http://h/", "-secret-file", "s"}, io.Discard)
	if err != nil || c.retry.Delays[0] != 30*time.Second || c.retry.MaxAge != 5*24*time.Hour || c.httpAddr != "" ||
		c.maxAttachment != 5<<20 {
		t.Errorf("defaults %+v %v: the first webhook retry must come within a minute", c, err)
	}
	bad := map[string][]string{
		"nothing":           {"-listen", ""},
		"no route":          {"-secret-file", "s"},
		"no secret":         {"-route", "a.test=http://h/"},
		"no token":          {"-listen", "", "-http", "127.0.0.1:1"},
		"route not a URL":   {"-route", "a.test=h:25", "-secret-file", "s"},
		"route ftp":         {"-route", "a.test=ftp://h/", "-secret-file", "s"},
		"route no domain":   {"-route", "=http://h/", "-secret-file", "s"},
		"route twice":       {"-route", "a.test=http://h/", "-route", "A.test=http://i/", "-secret-file", "s"},
		"route literal":     {"-route", "[127.0.0.1]=http://h/", "-secret-file", "s"},
		"bad retry":         {"-route", "a.test=http://h/", "-secret-file", "s", "-retry", "soon"},
		"sync without smtp": {"-listen", "", "-http", "127.0.0.1:1", "-token-file", "t", "-sync"},
		"bad smarthost":     {"-listen", "", "-http", "127.0.0.1:1", "-token-file", "t", "-smarthost", "mx"},
		"DANE smarthost":    {"-listen", "", "-http", "127.0.0.1:1", "-token-file", "t", "-smarthost", "mx:25", "-dns-resolver", "127.0.0.1:53"},
		"bad resolver":      {"-listen", "", "-http", "127.0.0.1:1", "-token-file", "t", "-dns-resolver", "127.0.0.1"},
		"bad MX port":       {"-listen", "", "-http", "127.0.0.1:1", "-token-file", "t", "-mx-port", "70000"},
		"argument":          {"-route", "a.test=http://h/", "-secret-file", "s", "extra"},
		"negative cap":      {"-route", "a.test=http://h/", "-secret-file", "s", "-max-attachment", "-1"},
	}
	for name, args := range bad {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%s: %v accepted", name, args)
		}
	}
}

// TestRefusedAtStart: the gateway does not start with secrets others may
// read, a secret too short, or an API in clear on a network address.
func TestRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	good := e2e.WriteFile(t, dir, "good", testSecret+"\n", 0o600)
	open := e2e.WriteFile(t, dir, "open", testSecret+"\n", 0o644)
	short := e2e.WriteFile(t, dir, "short", "secret\n", 0o600)
	q := filepath.Join(dir, "q")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"SecretReadable", []string{"-route", "a.test=http://h/", "-secret-file", open}, "chmod 600"},
		{"SecretShort", []string{"-route", "a.test=http://h/", "-secret-file", short}, "too short"},
		{"TokenReadable", []string{"-listen", "", "-http", "127.0.0.1:0", "-token-file", open}, "chmod 600"},
		{"APIInClear", []string{"-listen", "", "-http", "0.0.0.0:0", "-token-file", good}, "not a loopback address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := e2e.Run(t, wait, nil, gatewayBin, append(tc.args, "-queue", q)...)
			if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, testSecret) {
				t.Errorf("exit %d, stderr %q, want %q", code, stderr, tc.want)
			}
		})
	}
}

// TestQueuePrivate: what the gateway writes (queues, records) is for its
// owner only.
func TestQueuePrivate(t *testing.T) {
	rc := newReceiver(t)
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "shop.test="+rc.srv.URL, "-smarthost", "127.0.0.1:1")
	if err := send(t, g.smtp, "a@example.net", []string{"x@shop.test"}, "Subject: x\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	rc.next()
	if code, _, _ := g.api(t, "POST", "/v1/messages", "application/json",
		[]byte(`{"from":"a@shop.test","to":"b@example.net","text":"x"}`), "Idempotency-Key", "k"); code != 202 {
		t.Fatal(code)
	}
	if n := e2e.CheckPrivate(t, filepath.Join(dir, "queue")); n < 3 {
		t.Errorf("only %d files checked", n)
	}
}
