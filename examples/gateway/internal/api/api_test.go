package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/gateway/internal/compose"
	"github.com/smtpkit/smtp/examples/gateway/internal/records"
	"github.com/smtpkit/smtp/examples/internal/mimeparse"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

const token = "test-token-0123456789abcdef"

// diskQueue is the API's Queue on a real on-disk queue.
type diskQueue struct{ q *queue.Queue }

func (d diskQueue) Submit(_ context.Context, env *Envelope, msg []byte, prepare func(string) error) (string, error) {
	w, err := d.q.Create()
	if err != nil {
		return "", err
	}
	if prepare != nil {
		if err := prepare(w.ID()); err != nil {
			w.Abort()
			return "", err
		}
	}
	w.Write(msg)
	m := &queue.Message{From: env.From, SMTPUTF8: env.SMTPUTF8, EightBit: env.EightBit}
	for _, r := range env.To {
		m.Recipients = append(m.Recipients, queue.Recipient{Addr: r, State: queue.Pending})
	}
	if err := w.Commit(m); err != nil {
		return "", err
	}
	return m.ID, nil
}

func (d diskQueue) Status(_ context.Context, id string) (*queue.Message, error) {
	m, err := d.q.Get(id)
	if errors.Is(err, queue.ErrNotFound) {
		return nil, ErrNotFound
	}
	return m, err
}

type fixture struct {
	t   *testing.T
	srv *httptest.Server
	q   *queue.Queue
	h   *Handler
	dir string
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	q, err := queue.Open(filepath.Join(dir, "queue"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	idem, err := records.Open(filepath.Join(dir, "idempotency"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Queue: diskQueue{q}, Tokens: []string{token, "second-token-0123456789"}, Idempotency: idem,
		Builder: &compose.Builder{Hostname: "gw.example"}}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, q: q, h: h, dir: dir}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d %s: %v", r.status, r.body, err)
	}
}

func (f *fixture) do(method, path, ct string, body io.Reader, hdr map[string]string) *response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) post(body string, hdr map[string]string) *response {
	f.t.Helper()
	return f.do("POST", "/v1/messages", "application/json", strings.NewReader(body), hdr)
}

// queued returns the queued messages with their data.
func (f *fixture) queued() ([]*queue.Message, [][]byte) {
	f.t.Helper()
	msgs, errs := f.q.Load()
	if len(errs) > 0 {
		f.t.Fatal(errs)
	}
	var data [][]byte
	for _, m := range msgs {
		b, err := f.q.ReadData(m.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		data = append(data, b)
	}
	return msgs, data
}

func rcpts(m *queue.Message) []string {
	var out []string
	for _, r := range m.Recipients {
		out = append(out, r.Addr)
	}
	return out
}

func TestSubmitJSON(t *testing.T) {
	f := newFixture(t, nil)
	body := `{
		"from": "Ops Team <ops@example.org>",
		"to": ["Bob <bob@example.net>", "carol@Example.NET"],
		"cc": "Dora <dora@bücher.example>, bob@example.net",
		"bcc": ["audit@example.org"],
		"reply_to": "help@example.org",
		"subject": "Report für März",
		"text": "See attached.\n",
		"html": "<p>See <b>attached</b>.</p>",
		"attachments": [{"filename": "r.csv", "content_type": "text/csv", "content": "YSxiCjEsMgo="}],
		"headers": {"X-Campaign": "q1", "Message-ID": "<fixed-1@example.org>"}
	}`
	r := f.post(body, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	var acc Accepted
	r.decode(t, &acc)
	if !bytes.Contains(r.body, []byte(`"<fixed-1@example.org>"`)) {
		t.Errorf("body %s: the Message-ID escaped as for HTML", r.body)
	}
	if acc.ID == "" || acc.MessageID != "<fixed-1@example.org>" || r.header.Get("Location") != "/v1/messages/"+acc.ID {
		t.Errorf("accepted %+v, Location %q", acc, r.header.Get("Location"))
	}
	msgs, data := f.queued()
	if len(msgs) != 1 || msgs[0].ID != acc.ID {
		t.Fatalf("queued %v", msgs)
	}
	m := msgs[0]
	// Bcc in the envelope, each recipient once, IDN domains as A-labels.
	want := []string{"bob@example.net", "carol@Example.NET", "dora@xn--bcher-kva.example", "audit@example.org"}
	if m.From != "ops@example.org" || !slices.Equal(rcpts(m), want) || m.SMTPUTF8 {
		t.Errorf("envelope %s -> %v (smtputf8 %v), want %v", m.From, rcpts(m), m.SMTPUTF8, want)
	}
	if bytes.Contains(bytes.ToLower(data[0]), []byte("bcc")) || bytes.Contains(data[0], []byte("audit@")) {
		t.Errorf("the blind recipient shows in the message:\n%s", data[0])
	}
	p := mimeparse.Parse(data[0])
	if p.Subject != "Report für März" || p.Text != "See attached.\n" || p.HTML != "<p>See <b>attached</b>.</p>" ||
		p.MessageID != "fixed-1@example.org" || p.Header.Get("X-Campaign") != "q1" || len(p.Problems) > 0 {
		t.Errorf("parsed %q %q %q %q %v", p.Subject, p.Text, p.HTML, p.MessageID, p.Problems)
	}
	if len(p.Attachments) != 1 || string(p.Attachments[0].Data) != "a,b\n1,2\n" || p.Attachments[0].Filename != "r.csv" {
		t.Errorf("attachments %+v", p.Attachments)
	}
	if len(p.ReplyTo) != 1 || p.ReplyTo[0].Address != "help@example.org" || len(p.Cc) != 2 {
		t.Errorf("reply-to %v cc %v", p.ReplyTo, p.Cc)
	}
}

func TestAuth(t *testing.T) {
	f := newFixture(t, nil)
	ok := `{"from":"a@example.org","to":"b@example.net","text":"x"}`
	cases := []struct {
		name, auth string
		status     int
		challenge  string
	}{
		{"Missing", "", 401, `Bearer realm="smtpkit-gateway"`},
		{"Basic", "Basic dXNlcjpwYXNz", 401, `Bearer realm="smtpkit-gateway"`},
		{"Wrong", "Bearer nope", 401, `Bearer realm="smtpkit-gateway", error="invalid_token"`},
		{"Prefix", "Bearer " + token[:10], 401, `Bearer realm="smtpkit-gateway", error="invalid_token"`},
		{"Longer", "Bearer " + token + "x", 401, `Bearer realm="smtpkit-gateway", error="invalid_token"`},
		{"Good", "Bearer " + token, 202, ""},
		{"SchemeCase", "bearer " + token, 202, ""},
		{"SecondToken", "Bearer second-token-0123456789", 202, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.post(ok, map[string]string{"Authorization": tc.auth})
			if r.status != tc.status || r.header.Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("%d %q %s", r.status, r.header.Get("WWW-Authenticate"), r.body)
			}
		})
	}
	if r := f.do("GET", "/v1/messages/x", "", nil, map[string]string{"Authorization": ""}); r.status != 401 {
		t.Errorf("GET without token: %d", r.status)
	}
	if msgs, _ := f.queued(); len(msgs) != 3 {
		t.Errorf("%d messages queued, want 3", len(msgs))
	}
}

// TestBadRequests: each refusal names the field at fault, and nothing is
// queued.
func TestBadRequests(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxRecipients = 3 })
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"NotJSON", `{"from":`, 400, ""},
		{"Array", `[]`, 400, ""},
		{"Trailing", `{"from":"a@example.org","to":"b@example.net","text":"x"} {}`, 400, ""},
		{"UnknownField", `{"from":"a@example.org","to":"b@example.net","text":"x","attachment":[]}`, 400, "attachment"},
		{"WrongType", `{"from":"a@example.org","to":"b@example.net","subject":5}`, 400, "subject"},
		{"ToNumber", `{"from":"a@example.org","to":5,"text":"x"}`, 400, "to"},
		{"NoFrom", `{"to":"b@example.net","text":"x"}`, 400, "from"},
		{"FromList", `{"from":["a@example.org"],"to":"b@example.net","text":"x"}`, 400, "from"},
		{"BadFrom", `{"from":"not an address","to":"b@example.net","text":"x"}`, 400, "from"},
		{"BadTo", `{"from":"a@example.org","to":["b@example.net","c@"],"text":"x"}`, 400, "to[1]"},
		{"BadInList", `{"from":"a@example.org","to":"b@example.net, c@@x","text":"x"}`, 400, "to"},
		{"BadIDN", `{"from":"a@example.org","cc":["x@ex_ample..net"],"text":"x"}`, 400, "cc[0]"},
		{"LongLocal", `{"from":"a@example.org","to":"` + strings.Repeat("l", 65) + `@example.net","text":"x"}`, 400, "to[0]"},
		{"NoRecipient", `{"from":"a@example.org","text":"x"}`, 400, "to"},
		{"TooManyRecipients", `{"from":"a@example.org","to":"a@x.org, b@x.org, c@x.org, d@x.org","text":"x"}`, 400, "to"},
		{"Empty", `{"from":"a@example.org","to":"b@example.net"}`, 400, "text"},
		{"SubjectInjection", `{"from":"a@example.org","to":"b@example.net","subject":"hi\r\nBcc: v@x","text":"x"}`, 400, "subject"},
		{"NameInjection", `{"from":"a@example.org","to":["\"x\r\nBcc: v@x\" <b@example.net>"],"text":"x"}`, 400, "to[0]"},
		{"NotBase64", `{"from":"a@example.org","to":"b@example.net","attachments":[{"content":"YQ=="},{"content":"!!"}]}`, 400, "attachments[1].content"},
		{"BadContentType", `{"from":"a@example.org","to":"b@example.net","attachments":[{"content":"YQ","content_type":"nonsense"}]}`, 400, "attachments[0].content_type"},
		{"ReservedHeader", `{"from":"a@example.org","to":"b@example.net","text":"x","headers":{"Bcc":"v@x.org"}}`, 400, "headers.Bcc"},
		{"HeaderValueType", `{"from":"a@example.org","to":"b@example.net","text":"x","headers":{"X-A":1}}`, 400, "headers.X-A"},
		{"BadMessageID", `{"from":"a@example.org","to":"b@example.net","text":"x","headers":{"Message-ID":"nope"}}`, 400, "headers.Message-ID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.post(tc.body, nil)
			var e errorBody
			r.decode(t, &e)
			if r.status != tc.status || e.Field != tc.field || e.Error == "" {
				t.Errorf("%d %+v, want %d for %q", r.status, e, tc.status, tc.field)
			}
		})
	}
	if r := f.do("POST", "/v1/messages", "text/plain", strings.NewReader("x"), nil); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", r.status)
	}
	if r := f.do("POST", "/v1/messages", "application/json", strings.NewReader("{}"), map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}); r.status != 400 {
		t.Errorf("long Idempotency-Key: %d", r.status)
	}
	if r := f.do("DELETE", "/v1/messages/x", "", nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", r.status)
	}
	if msgs, _ := f.queued(); len(msgs) != 0 {
		t.Errorf("%d messages queued", len(msgs))
	}
}

// TestTooLargeRefusedBeforeRead: a body whose Content-Length passes the
// limit is refused at once, without waiting for it; one of unknown length
// is cut off at the limit.
func TestTooLargeRefusedBeforeRead(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxMessageBytes = 3 << 10 })
	limit := int64(3<<10)/3*4 + jsonOverhead
	// post sends a body that never ends: only a handler that refuses it
	// without reading it whole answers.
	post := func(t *testing.T, body io.Reader, length int64) {
		req, _ := http.NewRequest("POST", f.srv.URL+"/v1/messages", body)
		req.ContentLength = length
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d", resp.StatusCode)
		}
	}
	t.Run("ContentLength", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		go pw.Write([]byte(`{"from":"a@example.org",`))
		post(t, pr, limit+1)
	})
	t.Run("Chunked", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			chunk := bytes.Repeat([]byte(" "), 4096)
			pw.Write([]byte(`{"text":"`))
			for {
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
		}()
		defer pr.Close()
		post(t, pr, -1)
	})
	t.Run("BuiltMessage", func(t *testing.T) {
		// Within the request limit, but the message is larger than
		// allowed.
		r := f.post(`{"from":"a@example.org","to":"b@example.net","text":"`+strings.Repeat("x", 4<<10)+`"}`, nil)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d %s", r.status, r.body)
		}
	})
}

func TestSubmitRaw(t *testing.T) {
	f := newFixture(t, nil)
	raw := "From: Alice <alice@example.org>\n" +
		"To: bob@example.net, team: carol@example.net;\n" +
		"Bcc: secret@example.org,\n hidden@example.org\n" +
		"Subject: raw\n" +
		"\n" +
		"body line\n.dot line\n"
	r := f.do("POST", "/v1/messages", "message/rfc822", strings.NewReader(raw), nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	var acc Accepted
	r.decode(t, &acc)
	msgs, data := f.queued()
	if len(msgs) != 1 {
		t.Fatalf("%d queued", len(msgs))
	}
	want := []string{"bob@example.net", "carol@example.net", "secret@example.org", "hidden@example.org"}
	if msgs[0].From != "alice@example.org" || !slices.Equal(rcpts(msgs[0]), want) {
		t.Errorf("envelope %s -> %v", msgs[0].From, rcpts(msgs[0]))
	}
	d := string(data[0])
	if strings.Contains(d, "secret@") || strings.Contains(d, "hidden@") || strings.Contains(d, "Bcc") {
		t.Errorf("Bcc kept:\n%s", d)
	}
	if !strings.HasPrefix(d, "Date: ") || !strings.Contains(d, "\r\nMessage-ID: <") || acc.MessageID == "" ||
		!strings.Contains(d, "Message-ID: "+acc.MessageID+"\r\n") {
		t.Errorf("Date and Message-ID not added (accepted %+v):\n%s", acc, d)
	}
	if strings.Contains(strings.ReplaceAll(d, "\r\n", ""), "\n") || !strings.HasSuffix(d, "body line\r\n.dot line\r\n") {
		t.Errorf("line ends not CRLF:\n%q", d)
	}

	// The envelope from the query; the message's fields as they are.
	r = f.do("POST", "/v1/messages?from=bounces%40example.org&to=x%40example.net&to=y%40example.net", "message/rfc822",
		strings.NewReader("From: a@example.org\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <k@x>\r\nTo: z@example.net\r\n\r\nhi\r\n"), nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	r.decode(t, &acc)
	m, _ := f.q.Get(acc.ID)
	data2, _ := f.q.ReadData(acc.ID)
	if m.From != "bounces@example.org" || !slices.Equal(rcpts(m), []string{"x@example.net", "y@example.net"}) ||
		acc.MessageID != "<k@x>" || !strings.HasPrefix(string(data2), "From: a@example.org\r\nDate: Thu") {
		t.Errorf("envelope %s -> %v, %+v\n%s", m.From, rcpts(m), acc, data2)
	}
}

func TestSubmitRawRefused(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct{ name, query, raw, field string }{
		{"NoFrom", "", "To: b@example.net\r\n\r\nx\r\n", "message"},
		{"NoRecipient", "", "From: a@example.org\r\n\r\nx\r\n", "to"},
		{"NoHeader", "", "just text\r\n", "message"},
		{"LongLine", "", "From: a@example.org\r\nTo: b@example.net\r\n\r\n" + strings.Repeat("x", 999) + "\r\n", "message"},
		{"NUL", "", "From: a@example.org\r\nTo: b@example.net\r\n\r\na\x00b\r\n", "message"},
		{"BadTo", "", "From: a@example.org\r\nTo: b@\r\n\r\nx\r\n", "message"},
		{"BadQueryTo", "?to=nope", "From: a@example.org\r\n\r\nx\r\n", "to[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do("POST", "/v1/messages"+tc.query, "message/rfc822", strings.NewReader(tc.raw), nil)
			var e errorBody
			r.decode(t, &e)
			if r.status != 400 || e.Field != tc.field {
				t.Errorf("%d %+v, want 400 for %q", r.status, e, tc.field)
			}
		})
	}
}

func TestSubmitRaw8Bit(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do("POST", "/v1/messages", "message/rfc822",
		strings.NewReader("From: a@example.org\r\nTo: b@example.net\r\nSubject: Grüße\r\n\r\nGrüße\r\n"), nil)
	var acc Accepted
	r.decode(t, &acc)
	m, err := f.q.Get(acc.ID)
	if err != nil || !m.EightBit || !m.SMTPUTF8 {
		t.Errorf("8-bit body and UTF-8 header: %+v %v", m, err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"from":"a@example.org","to":"b@example.net","text":"once"}`
	key := map[string]string{"Idempotency-Key": "order-42"}
	first := f.post(body, key)
	if first.status != 202 || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	var a1, a2 Accepted
	first.decode(t, &a1)
	again := f.post(body, key)
	again.decode(t, &a2)
	if again.status != 202 || a2 != a1 || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %d %+v %v, want the first answer %+v", again.status, a2, again.header, a1)
	}
	// The same key for another request.
	if r := f.post(`{"from":"a@example.org","to":"b@example.net","text":"other"}`, key); r.status != http.StatusUnprocessableEntity {
		t.Errorf("key reused for another body: %d %s", r.status, r.body)
	}
	// Another caller's key of the same name is another key.
	other := f.post(body, map[string]string{"Idempotency-Key": "order-42", "Authorization": "Bearer second-token-0123456789"})
	var a3 Accepted
	other.decode(t, &a3)
	if other.status != 202 || a3.ID == a1.ID {
		t.Errorf("other caller: %d %+v", other.status, a3)
	}
	// A new handler on the same directories (a restart) remembers.
	h2, err := New(f.h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	f.srv = srv2
	var a4 Accepted
	f.post(body, key).decode(t, &a4)
	if a4 != a1 {
		t.Errorf("after restart: %+v, want %+v", a4, a1)
	}
	if msgs, _ := f.queued(); len(msgs) != 2 {
		t.Errorf("%d messages queued, want 2", len(msgs))
	}
}

// TestIdempotencyCrash: a record left pending by a crash is settled by
// what the queue holds: the committed message is not queued again, the
// key of a message never committed is free.
func TestIdempotencyCrash(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"from":"a@example.org","to":"b@example.net","text":"x"}`
	var acc Accepted
	f.post(body, map[string]string{"Idempotency-Key": "k1"}).decode(t, &acc)
	// Make both records look as a crash before the commit's end leaves
	// them: k1's message is in the queue, k2's is not.
	names, _ := f.h.cfg.Idempotency.Names()
	var rec idemRecord
	f.h.cfg.Idempotency.Get(names[0], &rec)
	rec.State = statePending
	f.h.cfg.Idempotency.Put(names[0], rec)
	sum := idemName(tokenKey(sha256.Sum256([]byte(token))), "k2")
	f.h.cfg.Idempotency.Put(sum, idemRecord{ID: "never.committed", Fingerprint: rec.Fingerprint, State: statePending, Created: time.Now()})

	n, err := f.h.Recover(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("Recover: %d %v", n, err)
	}
	var got idemRecord
	if err := f.h.cfg.Idempotency.Get(names[0], &got); err != nil || got.State != stateCommitted {
		t.Errorf("k1: %+v %v", got, err)
	}
	if err := f.h.cfg.Idempotency.Get(sum, &got); !errors.Is(err, records.ErrNotFound) {
		t.Errorf("k2 record kept: %v", err)
	}
	var again Accepted
	f.post(body, map[string]string{"Idempotency-Key": "k1"}).decode(t, &again)
	if again.ID != acc.ID {
		t.Errorf("k1 retried: %+v, want %+v", again, acc)
	}
	var fresh Accepted
	if r := f.post(body, map[string]string{"Idempotency-Key": "k2"}); r.status != 202 {
		t.Fatalf("k2: %d", r.status)
	} else {
		r.decode(t, &fresh)
	}
	if msgs, _ := f.queued(); len(msgs) != 2 || fresh.ID == acc.ID {
		t.Errorf("%d queued, k2 %+v", len(msgs), fresh)
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t, nil)
	var acc Accepted
	f.post(`{"from":"a@example.org","to":["b@example.net","c@example.net"],"text":"x"}`, nil).decode(t, &acc)
	r := f.do("GET", "/v1/messages/"+acc.ID, "", nil, nil)
	var s Status
	r.decode(t, &s)
	if r.status != 200 || s.ID != acc.ID || s.State != "queued" || len(s.Recipients) != 2 || s.Recipients[0].State != "pending" {
		t.Errorf("%d %+v", r.status, s)
	}
	m, _ := f.q.Get(acc.ID)
	m.Recipients[0].State, m.Recipients[0].Status, m.Recipients[0].Diagnostic = queue.Delivered, "2.0.0", "250 2.0.0 ok"
	m.Recipients[1].State, m.Recipients[1].Status = queue.Failed, "5.1.1"
	f.q.Save(m)
	f.do("GET", "/v1/messages/"+acc.ID, "", nil, nil).decode(t, &s)
	if s.State != "partial" || s.Recipients[0].Diagnostic != "250 2.0.0 ok" || s.Recipients[1].Status != "5.1.1" {
		t.Errorf("%+v", s)
	}
	for _, id := range []string{"nope", "..%2F..%2Fetc"} {
		if r := f.do("GET", "/v1/messages/"+id, "", nil, nil); r.status != 404 {
			t.Errorf("GET %s: %d %s", id, r.status, r.body)
		}
	}
}
