package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/gateway/internal/compose"
	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/internal/mimeparse"
	"github.com/smtpkit/smtp/server/smtptest"
)

func addr(name, a string) compose.Address {
	local, domain, _ := strings.Cut(a, "@")
	return compose.Address{Name: name, Addr: envelope.Address{Local: local, Domain: domain}}
}

// withAttachments builds a message with a small and a large attachment.
func withAttachments(t *testing.T, big []byte) string {
	t.Helper()
	b, err := (&compose.Builder{Hostname: "client.test"}).Build(&compose.Message{
		From: addr("René", "rene@example.net"), To: []compose.Address{addr("", "orders@shop.test")},
		Subject: "Bestellung Nr. 7", Text: "Anbei die Dateien.\n", HTML: "<p>Anbei die <b>Dateien</b>.</p>",
		Attachments: []compose.Attachment{
			{Filename: "liste.csv", ContentType: "text/csv", Content: []byte("a;b\n1;2\n")},
			{Filename: "scan.pdf", ContentType: "application/pdf", Content: big},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b.Data)
}

// TestInboundWebhook: a message with attachments sent over SMTP arrives
// at the webhook, signed, with its envelope, decoded header, bodies and
// attachments; one over -max-attachment is referenced by its part in the
// raw message, which is there whole, after the gateway's Received field.
func TestInboundWebhook(t *testing.T) {
	rc := newReceiver(t)
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "shop.test="+rc.srv.URL+"/inbound", "-max-attachment", "1000")
	big := bytes.Repeat([]byte("%PDF-1.7 "), 300)
	msg := withAttachments(t, big)
	if err := send(t, g.smtp, "rene@example.net", []string{"orders@shop.test"}, msg); err != nil {
		t.Fatal(err)
	}
	r := rc.next()
	if r.SigErr != nil {
		t.Errorf("signature: %v", r.SigErr)
	}
	p := r.Payload
	if r.ID != p.ID || p.ID == "" || r.Attempt != "1" {
		t.Errorf("id %q (payload %q) attempt %q", r.ID, p.ID, r.Attempt)
	}
	if p.Envelope.MailFrom != "rene@example.net" || len(p.Envelope.RcptTo) != 1 || p.Envelope.RcptTo[0] != "orders@shop.test" ||
		!strings.HasPrefix(p.Envelope.RemoteAddr, "127.0.0.1:") {
		t.Errorf("envelope %+v", p.Envelope)
	}
	if p.Subject != "Bestellung Nr. 7" || len(p.From) != 1 || p.From[0].Name != "René" ||
		p.Text != "Anbei die Dateien.\n" || p.HTML != "<p>Anbei die <b>Dateien</b>.</p>" {
		t.Errorf("subject %q from %v text %q html %q", p.Subject, p.From, p.Text, p.HTML)
	}
	if len(p.Attachments) != 2 {
		t.Fatalf("attachments %+v", p.Attachments)
	}
	csv, pdf := p.Attachments[0], p.Attachments[1]
	if csv.Filename != "liste.csv" || string(csv.Content) != "a;b\r\n1;2\r\n" && string(csv.Content) != "a;b\n1;2\n" || csv.Omitted {
		t.Errorf("csv %+v", csv)
	}
	if pdf.Filename != "scan.pdf" || !pdf.Omitted || pdf.Content != nil || pdf.Size != len(big) || pdf.Part == "" {
		t.Errorf("pdf %+v", pdf)
	}
	// The omitted attachment is in the raw message, under its part number.
	parsed := mimeparse.Parse(p.Raw)
	found := false
	for _, part := range parsed.Parts {
		if part.Path == pdf.Part && bytes.Equal(part.Data, big) {
			found = true
		}
	}
	if !found {
		t.Errorf("part %s of the raw message is not the attachment", pdf.Part)
	}
	if !strings.HasPrefix(string(p.Raw), "Received: from client.test ([127.0.0.1])\r\n\tby gw.test with ESMTP id "+p.ID) ||
		!strings.HasSuffix(string(p.Raw), msg) || p.Headers[0].Name != "Received" {
		t.Errorf("raw message:\n%.300s", p.Raw)
	}
	waitFor(t, "an empty queue", func() bool { return queueEmpty(t, filepath.Join(dir, "queue")) })
	// SIGTERM: a graceful end, status 0.
	if err := g.Stop(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// TestInboundRetry: a 500 is retried on the -retry schedule with the same
// ID and the next attempt number, until the webhook takes the message.
func TestInboundRetry(t *testing.T) {
	rc := newReceiver(t)
	rc.setAnswer(func(n int, r *hookRequest, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "database down")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "shop.test="+rc.srv.URL, "-retry", "50ms")
	if err := send(t, g.smtp, "a@example.net", []string{"x@shop.test"}, "Subject: retry me\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 1; i <= 3; i++ {
		r := rc.next()
		if r.Attempt != fmt.Sprint(i) || r.SigErr != nil {
			t.Errorf("request %d: attempt %q, signature %v", i, r.Attempt, r.SigErr)
		}
		ids = append(ids, r.ID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("IDs %v, want the same for every attempt", ids)
	}
	waitFor(t, "an empty queue", func() bool { return queueEmpty(t, filepath.Join(dir, "queue")) })
	if log := g.Stderr.String(); !strings.Contains(log, "database down") {
		t.Errorf("the webhook's answer is not logged:\n%s", log)
	}
}

// TestInboundRefusedBounces: a 403 is final: the sender gets a delivery
// status notification (RFC 3464) with the webhook's text, through the
// outbound side (here a smart host, a mailsink).
func TestInboundRefusedBounces(t *testing.T) {
	rc := newReceiver(t)
	rc.setAnswer(func(n int, r *hookRequest, w http.ResponseWriter) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "mailbox orders is closed\r\n")
	})
	dir := t.TempDir()
	sink := e2e.FreeAddr(t)
	_, md := startSink(t, t.TempDir(), sink)
	g := startGateway(t, dir, "-route", "shop.test="+rc.srv.URL, "-smarthost", sink)
	msg := "From: a@example.net\r\nSubject: please refuse\r\nMessage-ID: <orig-1@example.net>\r\n\r\nbody\r\n"
	if err := send(t, g.smtp, "a@example.net", []string{"orders@shop.test"}, msg); err != nil {
		t.Fatal(err)
	}
	rc.next()
	files := e2e.Maildir(t, md, 1, wait)
	if len(files) != 1 {
		t.Fatalf("%d bounces", len(files))
	}
	st := e2e.ReadStored(t, files[0])
	if st.From != "" || len(st.To) != 1 || st.To[0] != "a@example.net" {
		t.Errorf("bounce envelope <%s> -> %v", st.From, st.To)
	}
	m := mimeparse.Parse(st.Body)
	body := strings.Join(strings.Fields(string(st.Body)), " ")
	for _, want := range []string{"multipart/report", "report-type=delivery-status", "Final-Recipient: rfc822; orders@shop.test",
		"Action: failed", "Status: 5.7.1", "403 Forbidden: mailbox orders is closed", "orig-1@example.net"} {
		if !strings.Contains(body, want) {
			t.Errorf("bounce lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, rc.srv.URL) {
		t.Error("the bounce shows the webhook's URL")
	}
	if len(m.To) != 1 || m.To[0].Address != "a@example.net" {
		t.Errorf("bounce To %v", m.To)
	}
	waitFor(t, "an empty queue", func() bool { return queueEmpty(t, filepath.Join(dir, "queue")) })
	if n := len(rc.got); n != 0 {
		t.Errorf("%d more requests after the refusal", n)
	}
}

// TestInboundRelayDenied: the gateway takes mail for its routed domains
// only (RFC 5321 3.6.2: 550 5.7.1), any case, IDN in either form.
func TestInboundRelayDenied(t *testing.T) {
	rc := newReceiver(t)
	g := startGateway(t, t.TempDir(), "-route", "shop.test="+rc.srv.URL, "-route", "bücher.test="+rc.srv.URL)
	err := send(t, g.smtp, "a@example.net", []string{"x@elsewhere.test"}, "Subject: x\r\n\r\nx\r\n")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != 550 || ce.Enhanced.String() != "5.7.1" {
		t.Fatalf("unrouted domain: %v", err)
	}
	if err := send(t, g.smtp, "a@example.net", []string{"x@SHOP.test", "y@xn--bcher-kva.test", "z@bücher.test"}, "Subject: x\r\n\r\nx\r\n"); err != nil {
		t.Fatalf("routed domains: %v", err)
	}
	// One request per recipient domain (the client wrote bücher.test as
	// its A-label).
	var got []string
	for len(got) < 3 {
		got = append(got, rc.next().Payload.Envelope.RcptTo...)
	}
	slices.Sort(got)
	if want := []string{"x@SHOP.test", "y@xn--bcher-kva.test", "z@xn--bcher-kva.test"}; !slices.Equal(got, want) {
		t.Errorf("rcpt_to %v, want %v", got, want)
	}
}

// TestInboundSlowWebhook: the 250 comes from the queue, not the webhook:
// the client is answered while the webhook still holds the request.
func TestInboundSlowWebhook(t *testing.T) {
	rc := newReceiver(t)
	release := make(chan struct{})
	rc.setAnswer(func(n int, r *hookRequest, w http.ResponseWriter) {
		<-release
		w.WriteHeader(http.StatusOK)
	})
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "shop.test="+rc.srv.URL, "-workers", "1", "-webhook-timeout", "10m")
	// If the session waited for the webhook, these sends would never
	// return: the webhook answers only after them.
	for i := range 3 {
		if err := send(t, g.smtp, "a@example.net", []string{"x@shop.test"}, fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	for range 3 {
		rc.next()
	}
	waitFor(t, "an empty queue", func() bool { return queueEmpty(t, filepath.Join(dir, "queue")) })
}

// TestInboundSync: with -sync the webhook's answer is the reply to the
// message: 2xx 250, 4xx 550 with its text sanitised, 5xx and no answer in
// time 451; recipients of another webhook wait for another transaction.
func TestInboundSync(t *testing.T) {
	rc := newReceiver(t)
	other := newReceiver(t)
	rc.setAnswer(func(n int, r *hookRequest, w http.ResponseWriter) {
		switch strings.TrimSpace(r.Payload.Subject) {
		case "ok":
			w.WriteHeader(http.StatusOK)
		case "refuse":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "no such list\r\n354 smuggled\x00")
		case "fail":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "slow":
			time.Sleep(2 * time.Second) // longer than -webhook-timeout
		}
	})
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "shop.test="+rc.srv.URL, "-route", "other.test="+other.srv.URL,
		"-sync", "-webhook-timeout", "300ms")
	cases := []struct {
		subject string
		code    int
		enh     string
		text    string
	}{
		{"ok", 250, "", ""},
		{"refuse", 550, "5.1.1", "no such list 354 smuggled?"},
		{"fail", 451, "4.3.0", ""},
		{"slow", 451, "4.4.1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.subject, func(t *testing.T) {
			err := send(t, g.smtp, "a@example.net", []string{"x@shop.test"}, "Subject: "+tc.subject+"\r\n\r\nx\r\n")
			if tc.code == 250 {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				var ce *client.Error
				if !errors.As(err, &ce) || int(ce.Code) != tc.code || ce.Enhanced.String() != tc.enh || !strings.Contains(ce.Text, tc.text) {
					t.Fatalf("reply %v, want %d %s %q", err, tc.code, tc.enh, tc.text)
				}
			}
			if r := rc.next(); r.SigErr != nil {
				t.Errorf("signature: %v", r.SigErr)
			}
		})
	}
	// Two webhooks in one transaction: the second's recipient is
	// deferred with 452 4.5.3 (RFC 5321 4.5.3.1.10); the client sends it
	// the message in a transaction of its own.
	c := smtptest.Dial(t, g.smtp)
	c.Expect("220")
	for _, step := range [][2]string{{"EHLO client.test", "250"}, {"MAIL FROM:<a@example.net>", "250"},
		{"RCPT TO:<x@shop.test>", "250"}, {"RCPT TO:<y@other.test>", "452 4.5.3"}} {
		if r := c.Cmd(step[0]); !strings.HasPrefix(r.Code.String()+" "+r.Enhanced.String(), step[1]) {
			t.Errorf("%s: %v, want %s", step[0], r, step[1])
		}
	}
	if err := send(t, g.smtp, "a@example.net", []string{"x@shop.test", "y@other.test"}, "Subject: ok\r\n\r\nx\r\n"); err != nil {
		t.Fatalf("two webhooks: %v", err)
	}
	for _, r := range []hookRequest{rc.next(), other.next()} {
		if len(r.Payload.Envelope.RcptTo) != 1 {
			t.Errorf("rcpt_to %v", r.Payload.Envelope.RcptTo)
		}
	}
	// Nothing queued in -sync mode.
	if !queueEmpty(t, filepath.Join(dir, "queue")) {
		t.Error("messages queued with -sync")
	}
}

// TestKillRestart: mail queued both ways when the gateway is killed with
// SIGKILL is all delivered after a restart, none of it twice.
func TestKillRestart(t *testing.T) {
	rc, up := newDownReceiver(t)
	dir := t.TempDir()
	sinkAddr := e2e.FreeAddr(t) // nothing listens there yet
	g := startGateway(t, dir, "-route", "shop.test="+rc.srv.URL, "-smarthost", sinkAddr, "-retry", "200ms", "-outbound-retry", "200ms")
	const n = 10
	for i := range n {
		if err := send(t, g.smtp, "a@example.net", []string{"x@shop.test"}, fmt.Sprintf("Subject: in %d\r\n\r\nx\r\n", i)); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"from":"app@example.org","to":"user%d@example.net","subject":"out %d","text":"x"}`, i, i)
		if code, _, b := g.api(t, "POST", "/v1/messages", "application/json", []byte(body)); code != 202 {
			t.Fatalf("POST: %d %s", code, b)
		}
	}
	rc.next() // the webhook was tried, and refused for now
	g.Kill()
	rc.drain(up) // what came before the kill
	_, md := startSink(t, t.TempDir(), sinkAddr)
	g.restart(t)
	in := map[string]int{}
	for len(in) < n {
		in[rc.next().Payload.Subject]++
	}
	files := e2e.Maildir(t, md, n, wait)
	out := map[string]bool{}
	for _, f := range files {
		out[mimeparse.Parse(e2e.ReadStored(t, f).Body).Subject] = true
	}
	if len(files) != n || len(out) != n {
		t.Errorf("%d outbound messages stored, %d different; want %d", len(files), len(out), n)
	}
	waitFor(t, "an empty queue", func() bool { return queueEmpty(t, filepath.Join(dir, "queue")) })
	for len(rc.got) > 0 {
		in[(<-rc.got).Payload.Subject]++
	}
	for s, c := range in {
		if c != 1 {
			t.Errorf("%q posted %d times after the restart", s, c)
		}
	}
	if len(e2e.Maildir(t, md, n+1, 0)) != n {
		t.Error("an outbound message was delivered twice")
	}
}

// TestInboundPostmaster: RCPT TO:<Postmaster> without a domain must be
// accepted (RFC 5321 4.1.1.3, 4.5.1); it goes to postmaster@ the domain
// -postmaster names, by default the first -route.
func TestInboundPostmaster(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "postmaster@shop.test"},
		{[]string{"-postmaster", "Other.test"}, "postmaster@other.test"},
	} {
		rc := newReceiver(t)
		args := append([]string{"-route", "shop.test=" + rc.srv.URL, "-route", "other.test=" + rc.srv.URL}, tc.args...)
		g := startGateway(t, t.TempDir(), args...)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		c, err := client.Dial(ctx, g.smtp, &client.Options{LocalName: "client.test"})
		if err != nil {
			t.Fatal(err)
		}
		env := envelope.Envelope{
			From: envelope.Path{Address: envelope.Address{Local: "a", Domain: "example.net"}},
			To:   []envelope.Recipient{{Path: envelope.Path{Address: envelope.Address{Local: "Postmaster"}}}},
		}
		if _, err := c.Send(ctx, env, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
			t.Fatalf("%v: <Postmaster> refused: %v", tc.args, err)
		}
		c.Quit(ctx)
		cancel()
		if got := rc.next().Payload.Envelope.RcptTo; !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%v: rcpt_to %v, want %s", tc.args, got, tc.want)
		}
	}
	if _, err := parseFlags([]string{"-route", "shop.test=http://127.0.0.1:9/", "-postmaster", "nowhere.test"}, io.Discard); err == nil {
		t.Error("-postmaster naming a domain without a route accepted")
	}
}

// TestSyncDeliversQueued: mail queued (250) by a gateway that is then
// restarted with -sync still goes to the webhook. The -sync gateway ran
// no worker on its inbound queue, so what it held stayed there, neither
// delivered nor bounced, for as long as -sync was on.
func TestSyncDeliversQueued(t *testing.T) {
	rc, up := newDownReceiver(t)
	dir := t.TempDir()
	g := startGateway(t, dir, "-route", "shop.test="+rc.srv.URL, "-retry", "200ms")
	if err := send(t, g.smtp, "a@example.net", []string{"x@shop.test"}, "Subject: queued\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	rc.next() // tried, and refused for now: the message stays queued
	g.Kill()
	rc.drain(up)
	g.args = append(g.args, "-sync")
	g.restart(t)
	if r := rc.next(); strings.TrimSpace(r.Payload.Subject) != "queued" {
		t.Fatalf("the webhook got %q, want the queued message", r.Payload.Subject)
	}
	waitFor(t, "an empty queue", func() bool { return queueEmpty(t, filepath.Join(dir, "queue")) })
}
