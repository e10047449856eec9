package dsn

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

var original = []byte("From: a@example.org\r\nTo: b@example.net\r\nSubject: test\r\n\r\nHello\r\n.dot\r\n")

type parsed struct {
	header  mail.Header
	parts   []*multipart.Part
	bodies  [][]byte
	message []byte
}

func parse(t *testing.T, msg []byte) parsed {
	t.Helper()
	return parseParts(t, msg, 3)
}

// parseParts parses a report of n parts.
func parseParts(t *testing.T, msg []byte, n int) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("not a message: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	p := parsed{header: m.Header, message: msg}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		p.parts = append(p.parts, part)
		p.bodies = append(p.bodies, body)
	}
	if len(p.parts) != n {
		t.Fatalf("%d parts, want %d", len(p.parts), n)
	}
	return p
}

// statusGroups splits a delivery-status body into its field groups.
func statusGroups(t *testing.T, body []byte) []textproto.MIMEHeader {
	t.Helper()
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(body)))
	var groups []textproto.MIMEHeader
	for {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 {
			groups = append(groups, h)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("status fields: %v", err)
		}
	}
	return groups
}

func TestBuild(t *testing.T) {
	arrival := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := &Report{
		ReportingMTA: "relay.example.org",
		To:           "a@example.org",
		EnvID:        "QQ314159",
		Arrival:      arrival,
		Original:     original,
		Recipients: []Recipient{
			{FinalRecipient: "b@example.net", Diagnostic: "550 5.1.1 no such user", RemoteMTA: "mx.example.net", LastAttempt: arrival},
			{FinalRecipient: "c@example.net", OriginalRecipient: "rfc822;C@example.net", Diagnostic: "connection refused", Status: "4.4.1"},
		},
	}
	msg, eightBit, err := r.Build()
	if err != nil {
		t.Fatal(err)
	}
	if eightBit {
		t.Error("ASCII report flagged 8-bit")
	}
	p := parse(t, msg)
	if p.header.Get("To") != "<a@example.org>" || p.header.Get("Auto-Submitted") != "auto-replied" ||
		!strings.Contains(p.header.Get("From"), "MAILER-DAEMON@relay.example.org") {
		t.Errorf("headers %v", p.header)
	}
	if ct := p.parts[1].Header.Get("Content-Type"); ct != "message/delivery-status" {
		t.Errorf("part 2 is %q", ct)
	}
	groups := statusGroups(t, p.bodies[1])
	if len(groups) != 3 {
		t.Fatalf("%d field groups, want 1 + 2", len(groups))
	}
	want := []map[string]string{
		{"Reporting-Mta": "dns; relay.example.org", "Original-Envelope-Id": "QQ314159", "Arrival-Date": arrival.Format(time.RFC1123Z)},
		{"Final-Recipient": "rfc822; b@example.net", "Action": "failed", "Status": "5.1.1",
			"Remote-Mta": "dns; mx.example.net", "Diagnostic-Code": "smtp; 550 5.1.1 no such user"},
		// No remote reply: no Diagnostic-Code (TestNoReplyNoDiagnosticCode).
		{"Final-Recipient": "rfc822; c@example.net", "Original-Recipient": "rfc822;C@example.net", "Action": "failed",
			"Status": "4.4.1", "Diagnostic-Code": ""},
	}
	for i, w := range want {
		for k, v := range w {
			if got := groups[i].Get(k); got != v {
				t.Errorf("group %d %s = %q, want %q", i, k, got, v)
			}
		}
	}
	if ct := p.parts[2].Header.Get("Content-Type"); ct != "message/rfc822" {
		t.Errorf("part 3 is %q", ct)
	}
	if !bytes.Equal(p.bodies[2], original) {
		t.Errorf("returned original %q, want %q", p.bodies[2], original)
	}
	if !strings.Contains(string(p.bodies[0]), "<b@example.net>: host mx.example.net said: 550 5.1.1 no such user") {
		t.Errorf("text part: %s", p.bodies[0])
	}
	checkLines(t, msg)
}

// checkLines asserts the wire rules: CRLF only, no line over 998 octets.
func checkLines(t *testing.T, msg []byte) {
	t.Helper()
	for i, line := range bytes.Split(msg, []byte("\r\n")) {
		if len(line) > maxLine {
			t.Errorf("line %d is %d octets", i, len(line))
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d holds a bare CR or LF: %q", i, line)
		}
	}
}

func TestHeadersOnly(t *testing.T) {
	big := append(append([]byte(nil), original...), bytes.Repeat([]byte("x\r\n"), 1000)...)
	for _, tc := range []struct {
		name string
		r    Report
	}{
		{"RET=HDRS", Report{HeadersOnly: true}},
		{"too big", Report{MaxOriginal: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.To, r.Original = "a@x.test", big
			r.Recipients = []Recipient{{FinalRecipient: "b@y.test"}}
			msg, _, err := r.Build()
			if err != nil {
				t.Fatal(err)
			}
			p := parse(t, msg)
			if ct := p.parts[2].Header.Get("Content-Type"); ct != "text/rfc822-headers" {
				t.Errorf("part 3 is %q", ct)
			}
			if want := HeaderSection(big); !bytes.Equal(p.bodies[2], want) {
				t.Errorf("part 3 %q, want %q", p.bodies[2], want)
			}
			if g := statusGroups(t, p.bodies[1]); g[1].Get("Status") != "5.0.0" {
				t.Errorf("default status %q", g[1].Get("Status"))
			}
		})
	}
}

// TestRedacted: a redacted report (the original asked for REQUIRETLS, RFC
// 8689 5) has the explanation and the status, and nothing of the original:
// no third part, whatever RET asked, and its text says why.
func TestRedacted(t *testing.T) {
	for _, headersOnly := range []bool{false, true} {
		r := Report{To: "a@x.test", Original: original, Redacted: true, HeadersOnly: headersOnly,
			Recipients: []Recipient{{FinalRecipient: "b@y.test", Status: "5.7.30", Diagnostic: "REQUIRETLS needed"}}}
		msg, eightBit, err := r.Build()
		if err != nil {
			t.Fatal(err)
		}
		p := parseParts(t, msg, 2)
		if eightBit {
			t.Error("ASCII report flagged 8-bit")
		}
		for _, leak := range []string{"Subject: test", "Hello", "To: b@example.net"} {
			if bytes.Contains(msg, []byte(leak)) {
				t.Errorf("redacted report holds %q of the original:\n%s", leak, msg)
			}
		}
		if g := statusGroups(t, p.bodies[1]); g[1].Get("Status") != "5.7.30" {
			t.Errorf("status %q", g[1].Get("Status"))
		}
		text := string(p.bodies[0])
		if strings.Contains(text, "attached") || !strings.Contains(text, "REQUIRETLS") {
			t.Errorf("text part: %s", text)
		}
		checkLines(t, msg)
	}
}

func TestUTF8(t *testing.T) {
	r := &Report{To: "a@x.test", Original: []byte("Subject: é\r\n\r\nçà\r\n"),
		Recipients: []Recipient{{FinalRecipient: "用户@y.test", Diagnostic: "550 5.1.1 nope"}}}
	msg, eightBit, err := r.Build()
	if err != nil {
		t.Fatal(err)
	}
	if !eightBit {
		t.Error("8-bit report not flagged")
	}
	p := parse(t, msg)
	if ct := p.parts[1].Header.Get("Content-Type"); ct != "message/global-delivery-status" {
		t.Errorf("part 2 is %q", ct)
	}
	if ct := p.parts[2].Header.Get("Content-Type"); ct != "message/global" {
		t.Errorf("part 3 is %q", ct)
	}
	if p.parts[2].Header.Get("Content-Transfer-Encoding") != "8bit" {
		t.Error("8-bit original without Content-Transfer-Encoding: 8bit")
	}
	if g := statusGroups(t, p.bodies[1]); g[1].Get("Final-Recipient") != "utf-8; 用户@y.test" {
		t.Errorf("Final-Recipient %q", g[1].Get("Final-Recipient"))
	}
}

func TestRefusals(t *testing.T) {
	if _, _, err := (&Report{To: "a@x"}).Build(); !errors.Is(err, ErrNoRecipient) {
		t.Errorf("no recipients: %v", err)
	}
	if _, _, err := (&Report{Recipients: []Recipient{{FinalRecipient: "b@y"}}}).Build(); !errors.Is(err, ErrNullSender) {
		t.Errorf("null sender: %v", err)
	}
	if ShouldNotify("") || !ShouldNotify("a@b") {
		t.Error("ShouldNotify: a bounce must never be bounced")
	}
	for notify, want := range map[string]bool{"": true, "FAILURE": true, "SUCCESS,failure": true, "NEVER": false, "SUCCESS,DELAY": false} {
		if NotifyOnFailure(notify) != want {
			t.Errorf("NotifyOnFailure(%q) = %v", notify, !want)
		}
	}
}

func TestInjectionAndFolding(t *testing.T) {
	long := "550 5.7.1 " + strings.Repeat("word ", 300) + strings.Repeat("y", 1500)
	r := &Report{To: "a@x.test", ReportingMTA: "h\r\nBcc: evil@x",
		Recipients: []Recipient{{FinalRecipient: "b@y.test\r\nX-Injected: 1", RemoteMTA: "mx.y.test", Diagnostic: long, Status: "9.9.9"}}}
	msg, _, err := r.Build()
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, msg)
	p := parse(t, msg)
	if p.header.Get("Bcc") != "" {
		t.Error("header injected through ReportingMTA")
	}
	g := statusGroups(t, p.bodies[1])
	if g[1].Get("X-Injected") != "" {
		t.Error("field injected through the recipient")
	}
	if g[1].Get("Status") != "5.7.1" {
		t.Errorf("invalid Status not replaced by the reply's: %q", g[1].Get("Status"))
	}
	if d := g[1].Get("Diagnostic-Code"); !strings.HasPrefix(d, "smtp; 550 5.7.1 word word") || !strings.HasSuffix(d, "yyyy") {
		t.Errorf("folded Diagnostic-Code did not unfold: %.60q", d)
	}
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		rc   Recipient
		want string
	}{
		{Recipient{Status: "4.4.7"}, "4.4.7"},
		{Recipient{Diagnostic: "552 5.3.4 too big"}, "5.3.4"},
		{Recipient{Diagnostic: "552 4.3.4 mismatched class"}, "5.0.0"},
		{Recipient{Diagnostic: "451 try later"}, "4.0.0"},
		{Recipient{Diagnostic: "timeout"}, "5.0.0"},
		{Recipient{Action: ActionDelayed}, "4.0.0"},
		{Recipient{Status: "5.1234.1"}, "5.0.0"},
	} {
		if got := statusOf(tc.rc); got != tc.want {
			t.Errorf("statusOf(%+v) = %q, want %q", tc.rc, got, tc.want)
		}
	}
}

func TestHeaderSection(t *testing.T) {
	for in, want := range map[string]string{
		"A: b\r\n\r\nbody": "A: b\r\n\r\n",
		"\r\nbody":         "\r\n",
		"A: b\r\nC: d\r\n": "A: b\r\nC: d\r\n",
		"A: b\n\nbody\r\n": "A: b\n\n",
	} {
		if got := string(HeaderSection([]byte(in))); got != want {
			t.Errorf("HeaderSection(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzBuild feeds remote-controlled text (the diagnostic, addresses and the
// original message) into a report and checks that the result is always a
// well-formed multipart/report with lines within limits.
func FuzzBuild(f *testing.F) {
	f.Add("b@y.test", "550 5.1.1 no", "mx.y.test", string(original))
	f.Add("用户@y.test", "451-a\r\n451 b", "", "Subject: x\r\n\r\n--dsn-\r\n")
	f.Add("x\r\n", strings.Repeat("z", 3000), "\x00", "")
	f.Fuzz(func(t *testing.T, rcpt, diag, mta, orig string) {
		r := &Report{To: "a@x.test", ReportingMTA: "relay.test", Original: []byte(orig),
			Recipients: []Recipient{{FinalRecipient: rcpt, Diagnostic: diag, RemoteMTA: mta}}}
		msg, _, err := r.Build()
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		// Everything before the original must follow the line rules.
		head := msg[:bytes.LastIndex(msg, []byte("\r\n--"+params["boundary"]+"\r\n"))]
		for _, line := range bytes.Split(head, []byte("\r\n")) {
			if len(line) > maxLine || bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("bad line %q", line)
			}
		}
		mr := multipart.NewReader(m.Body, params["boundary"])
		n := 0
		for {
			_, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 3 {
			t.Fatalf("%d parts", n)
		}
	})
}

// TestNoReplyNoDiagnosticCode: a failure that no remote server replied
// to (a connection that failed, a local refusal) is not presented as
// something a host said: no Diagnostic-Code or Remote-MTA (RFC 3464
// 2.3.5, 2.3.6: the remote MTA's diagnostic), only the Status and the
// explanation in the text. Issue 14.16: an expired message's bounce said
// "host 127.0.0.1 said: smtp: connect: ...".
func TestNoReplyNoDiagnosticCode(t *testing.T) {
	r := &Report{
		ReportingMTA: "relay.example.org",
		To:           "a@example.org",
		Original:     original,
		Recipients: []Recipient{
			{FinalRecipient: "b@example.net", Status: "4.4.7",
				Diagnostic: "delivery time expired; last attempt: connection to mx.example.net failed: connection refused"},
			// A queue file of an older relay kept the host with a local
			// text: still not something the host said.
			{FinalRecipient: "c@example.net", Status: "4.4.7", RemoteMTA: "127.0.0.1", Diagnostic: "smtp: connect: connection refused"},
			{FinalRecipient: "d@example.net", RemoteMTA: "mx.example.net", Diagnostic: "452 4.2.2 mailbox full"},
		},
	}
	msg, _, err := r.Build()
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, msg)
	text := strings.ReplaceAll(string(p.bodies[0]), "\r\n    ", " ") // unfolded
	for _, want := range []string{
		"<b@example.net>: delivery time expired; last attempt: connection to mx.example.net failed: connection refused",
		"<c@example.net>: smtp: connect: connection refused",
		"<d@example.net>: host mx.example.net said: 452 4.2.2 mailbox full",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, " said: ") != 1 {
		t.Errorf("text part presents a local failure as a reply:\n%s", text)
	}
	groups := statusGroups(t, p.bodies[1])
	for i, g := range groups[1:3] {
		if g.Get("Diagnostic-Code") != "" || g.Get("Remote-Mta") != "" {
			t.Errorf("recipient %d without a reply has Diagnostic-Code %q, Remote-MTA %q", i, g.Get("Diagnostic-Code"), g.Get("Remote-Mta"))
		}
		if g.Get("Status") != "4.4.7" {
			t.Errorf("recipient %d Status %q", i, g.Get("Status"))
		}
	}
	if g := groups[3]; g.Get("Diagnostic-Code") != "smtp; 452 4.2.2 mailbox full" || g.Get("Remote-Mta") != "dns; mx.example.net" ||
		g.Get("Status") != "4.2.2" {
		t.Errorf("recipient with a reply: %v", g)
	}
}
