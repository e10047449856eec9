package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	secret    = []byte("0123456789abcdef0123456789abcdef")
	newSecret = []byte("fedcba9876543210fedcba9876543210")
)

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	now := time.Unix(1767225600, 0)
	h := Sign([][]byte{secret}, now, body)
	if !strings.HasPrefix(h, "t=1767225600,v1=") || len(h) != len("t=1767225600,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	cases := []struct {
		name    string
		header  string
		body    []byte
		secrets [][]byte
		now     time.Time
		want    error
	}{
		{"Valid", h, body, [][]byte{secret}, now, nil},
		{"ValidLate", h, body, [][]byte{secret}, now.Add(DefaultTolerance), nil},
		{"ValidEarlyClock", h, body, [][]byte{secret}, now.Add(-DefaultTolerance), nil},
		{"Replayed", h, body, [][]byte{secret}, now.Add(DefaultTolerance + time.Second), ErrTimestamp},
		{"FromTheFuture", h, body, [][]byte{secret}, now.Add(-DefaultTolerance - time.Second), ErrTimestamp},
		{"BodyChanged", h, []byte(`{"id":"y"}`), [][]byte{secret}, now, ErrMismatch},
		{"OtherSecret", h, body, [][]byte{newSecret}, now, ErrMismatch},
		{"ReceiverHasBoth", h, body, [][]byte{newSecret, secret}, now, nil},
		{"TimeChanged", strings.Replace(h, "t=1767225600", "t=1767225601", 1), body, [][]byte{secret}, now, ErrMismatch},
		{"Missing", "", body, [][]byte{secret}, now, ErrNoSignature},
		{"NoV1", "t=1767225600", body, [][]byte{secret}, now, ErrNoSignature},
		{"NoTime", "v1=" + strings.Repeat("0", 64), body, [][]byte{secret}, now, ErrMalformed},
		{"TwoTimes", "t=1,t=2,v1=" + strings.Repeat("0", 64), body, [][]byte{secret}, now, ErrMalformed},
		{"ShortSig", "t=1767225600,v1=abcd", body, [][]byte{secret}, now, ErrMalformed},
		{"Garbage", "hello", body, [][]byte{secret}, now, ErrMalformed},
		{"UnknownSchemeIgnored", h + ",v0=whatever", body, [][]byte{secret}, now, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(tc.header, tc.body, tc.secrets, tc.now, 0); !errors.Is(err, tc.want) {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSignRotation: with two secrets the header carries two signatures,
// and a receiver knowing either accepts it.
func TestSignRotation(t *testing.T) {
	body := []byte("{}")
	now := time.Now()
	h := Sign([][]byte{newSecret, secret}, now, body)
	if strings.Count(h, "v1=") != 2 {
		t.Fatalf("header %q", h)
	}
	for _, s := range [][]byte{secret, newSecret} {
		if err := Verify(h, body, [][]byte{s}, now, 0); err != nil {
			t.Errorf("secret %s: %v", s, err)
		}
	}
}

// TestSignatureIsHMACOfTimeDotBody pins the recipe the documentation
// gives, against a value computed independently (Python:
// hmac.new(b"0123456789abcdef0123456789abcdef", b"1767225600.{}", "sha256").hexdigest()).
func TestSignatureIsHMACOfTimeDotBody(t *testing.T) {
	got := Sign([][]byte{secret}, time.Unix(1767225600, 0), []byte("{}"))
	const want = "t=1767225600,v1=b7be7938951cd5456a1e6101d62f960010ae1a7b79450661c6af410ba2d5f546"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestParseSecrets(t *testing.T) {
	got, err := ParseSecrets([]byte("# rotate: new first\n  " + string(newSecret) + "  \n\n" + string(secret) + "\r\n"))
	if err != nil || len(got) != 2 || string(got[0]) != string(newSecret) || string(got[1]) != string(secret) {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range []string{"", "# only a comment\n", "short\n"} {
		if _, err := ParseSecrets([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "short\n") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

func TestClassify(t *testing.T) {
	for code, want := range map[int]Outcome{
		200: Delivered, 201: Delivered, 202: Delivered, 204: Delivered,
		301: Retry, 302: Retry, 307: Retry,
		400: Refused, 401: Refused, 403: Refused, 404: Refused, 410: Refused, 413: Refused, 422: Refused,
		408: Retry, 429: Retry,
		500: Retry, 502: Retry, 503: Retry, 504: Retry,
	} {
		if got := Classify(code); got != want {
			t.Errorf("%d: %v, want %v", code, got, want)
		}
	}
}

// TestPost: over a real HTTP server, the request carries a valid
// signature, the ID and the attempt, and every answer is classified.
func TestPost(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		header     map[string]string
		want       Outcome
		text       string
		retryAfter time.Duration
	}{
		{"OK", 200, "", nil, Delivered, "", 0},
		{"Accepted", 202, `{"ok":true}`, nil, Delivered, `{"ok":true}`, 0},
		{"Forbidden", 403, "mailbox disabled\r\nBcc: x\x00\xff", nil, Refused, "mailbox disabled Bcc: x??", 0},
		{"NotFound", 404, "", nil, Refused, "", 0},
		{"ServerError", 500, "database down", nil, Retry, "database down", 0},
		{"RateLimited", 429, "slow down", map[string]string{"Retry-After": "120"}, Retry, "slow down", 2 * time.Minute},
		{"Unavailable", 503, "", map[string]string{"Retry-After": "99999999"}, Retry, "", MaxRetryAfter},
		{"RequestTimeout", 408, "", nil, Retry, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Pointer[http.Request]
			var gotBody atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got.Store(r)
				gotBody.Store(b)
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := &Client{Secrets: [][]byte{secret}, UserAgent: "smtpkit-gateway-test"}
			body := []byte(`{"id":"msg1"}`)
			res := c.Post(context.Background(), srv.URL+"/hook", body, "msg1", 3)
			if res.Outcome != tc.want || res.StatusCode != tc.status || res.Text != tc.text || res.RetryAfter != tc.retryAfter {
				t.Errorf("result %+v, want %v %d %q retry-after %v", res, tc.want, tc.status, tc.text, tc.retryAfter)
			}
			r := got.Load()
			if r == nil {
				t.Fatal("no request")
			}
			if err := Verify(r.Header.Get(SignatureHeader), gotBody.Load().([]byte), [][]byte{secret}, time.Now(), 0); err != nil {
				t.Errorf("signature: %v", err)
			}
			if r.Header.Get(IDHeader) != "msg1" || r.Header.Get(AttemptHeader) != "3" ||
				r.Header.Get("Content-Type") != "application/json" || r.URL.Path != "/hook" || r.Method != "POST" {
				t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
			}
		})
	}
}

// TestPostNoRedirect: a redirect is not followed (the message and its
// signature do not go to another host), and it is retried, not bounced.
func TestPostNoRedirect(t *testing.T) {
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL, http.StatusTemporaryRedirect))
	defer srv.Close()
	res := (&Client{Secrets: [][]byte{secret}}).Post(context.Background(), srv.URL, []byte("{}"), "id", 1)
	if res.Outcome != Retry || res.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("result %+v", res)
	}
	if hits.Load() != 0 {
		t.Errorf("redirect followed: %d requests to the other server", hits.Load())
	}
}

// TestPostTimeout: a receiver that does not answer in time is a transient
// failure.
func TestPostTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := &Client{Secrets: [][]byte{secret}, HTTP: NewHTTPClient(100*time.Millisecond, 1)}
	res := c.Post(context.Background(), srv.URL, []byte("{}"), "id", 1)
	if res.Outcome != Retry || res.StatusCode != 0 || !res.Timeout() {
		t.Errorf("result %+v (timeout %v)", res, res.Timeout())
	}
	if d := res.Describe(); d != "no response in time" {
		t.Errorf("Describe: %q", d)
	}
}

// TestPostRefusedConnection: no response at all is retried, and the
// description does not repeat the URL (which may hold a secret).
func TestPostRefusedConnection(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?token=s3cr3t"
	srv.Close()
	res := (&Client{Secrets: [][]byte{secret}}).Post(context.Background(), url, []byte("{}"), "id", 1)
	if res.Outcome != Retry || res.Err == nil {
		t.Fatalf("result %+v", res)
	}
	if d := res.Describe(); strings.Contains(d, "s3cr3t") || !strings.HasPrefix(d, "no response: ") {
		t.Errorf("Describe: %q", d)
	}
}

// TestPostResponseCapped: an endless response body is read only up to the
// cap; without one Post would never return.
func TestPostResponseCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		chunk := []byte(strings.Repeat("no ", 1024))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := &Client{Secrets: [][]byte{secret}, HTTP: NewHTTPClient(time.Hour, 1), MaxResponseBytes: 1 << 10}
	done := make(chan Result, 1)
	go func() { done <- c.Post(context.Background(), srv.URL, []byte("{}"), "id", 1) }()
	select {
	case res := <-done:
		if res.Outcome != Refused || len(res.Text) > MaxText {
			t.Errorf("result %v %d %d", res.Outcome, res.StatusCode, len(res.Text))
		}
	case <-time.After(time.Minute):
		t.Fatal("Post did not return: the response is not capped")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		"30":                            30 * time.Second,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:10:00 GMT": 10 * time.Minute,
		"Wed, 31 Dec 2025 23:00:00 GMT": 0,
		"Sat, 01 Jan 2028 00:00:00 GMT": MaxRetryAfter,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"  ok  ":                             "ok",
		"a\r\n.\r\nQUIT":                     "a . QUIT",
		"Grüße":                              "Gr??e",
		strings.Repeat("x", 300):             strings.Repeat("x", 200),
		"a" + strings.Repeat(" ", 300) + "b": "a b",
	} {
		if got := Sanitize(in, 200); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func ExampleVerify() {
	secrets := [][]byte{[]byte("0123456789abcdef0123456789abcdef")}
	body := []byte(`{"id":"example"}`)
	now := time.Unix(1767225600, 0)
	header := Sign(secrets, now, body) // what the gateway sends
	fmt.Println(Verify(header, body, secrets, now.Add(time.Minute), DefaultTolerance))
	fmt.Println(Verify(header, body, secrets, now.Add(time.Hour), DefaultTolerance))
	// Output:
	// <nil>
	// webhook: signature time outside the tolerance
}
