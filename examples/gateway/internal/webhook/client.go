package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of a Client.
const (
	// DefaultTimeout bounds one attempt, from the connection to the end
	// of the response body.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxResponseBytes is how much of a response body is read:
	// enough for an error message, not a way to fill the gateway's memory.
	DefaultMaxResponseBytes = 64 << 10
	// MaxText bounds the excerpt of a response kept in Result.Text, which
	// goes into SMTP replies (RFC 5321 4.5.3.1.5 allows 512 octets a
	// reply line) and bounces.
	MaxText = 200
	// MaxRetryAfter bounds the delay a Retry-After header can ask for.
	MaxRetryAfter = 24 * time.Hour
)

// Outcome is what a webhook's answer means for the message.
type Outcome int

const (
	// Delivered: a 2xx response; the receiver has the message.
	Delivered Outcome = iota
	// Retry: a transient failure; try again later: no response (network
	// error, timeout), 408 Request Timeout, 429 Too Many Requests, a 5xx,
	// or a redirect (3xx, not followed: the route's URL needs fixing, and
	// the mail waits in the queue meanwhile).
	Retry
	// Refused: any other 4xx; the receiver does not want the message,
	// trying again will not change that (the sender gets a bounce).
	Refused
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	case Refused:
		return "refused"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Classify returns the outcome of an HTTP status code.
func Classify(code int) Outcome {
	switch {
	case code >= 200 && code <= 299:
		return Delivered
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return Retry
	case code >= 400 && code <= 499:
		return Refused
	}
	return Retry
}

// Result is the result of one attempt.
type Result struct {
	Outcome Outcome
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int
	// Text is an excerpt of the response body, printable ASCII on one
	// line, at most MaxText characters; else the status text.
	Text string
	// RetryAfter is the delay a 429 or 503 asked for (RFC 9110 10.2.3),
	// at most MaxRetryAfter; zero when none.
	RetryAfter time.Duration
	// Err is the failure when there was no response: a network error, or
	// a timeout (Timeout reports which).
	Err error
}

// Timeout reports whether the attempt ran out of time.
func (r *Result) Timeout() bool {
	var ne net.Error
	return errors.Is(r.Err, context.DeadlineExceeded) || (errors.As(r.Err, &ne) && ne.Timeout())
}

// Describe says what happened, on one line, for logs and bounces.
func (r *Result) Describe() string {
	switch {
	case r.StatusCode == 0 && r.Timeout():
		return "no response in time"
	case r.StatusCode == 0:
		return "no response: " + Sanitize(errText(r.Err), MaxText)
	case r.Text == "":
		return strconv.Itoa(r.StatusCode) + " " + http.StatusText(r.StatusCode)
	}
	return strconv.Itoa(r.StatusCode) + " " + http.StatusText(r.StatusCode) + ": " + r.Text
}

// errText is the text of a failed request's error, without the URL that
// net/http puts in it: a route's URL may hold a secret (a token in the
// query), and the text goes into logs and bounces.
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if err == nil {
		return "failed"
	}
	return err.Error()
}

// NewHTTPClient returns the HTTP client of a Client: at most timeout for
// an attempt, redirects not followed (a redirect could send the mail, and
// its signature, to another host; it is an answer to fix the route with),
// up to conns idle connections kept per host for the next deliveries.
func NewHTTPClient(timeout time.Duration, conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Client posts signed messages to webhooks.
type Client struct {
	// HTTP sends the requests; nil means NewHTTPClient(DefaultTimeout, 4).
	HTTP *http.Client
	// Secrets sign each request (see SignatureHeader); at least one.
	Secrets [][]byte
	// UserAgent names the gateway in requests.
	UserAgent string
	// MaxResponseBytes bounds what is read of a response
	// (DefaultMaxResponseBytes).
	MaxResponseBytes int64
	// Now is the clock of the signatures; nil means time.Now.
	Now func() time.Time
}

// Post sends body (JSON) to url for message id, attempt number attempt,
// signed, and classifies the answer. It never follows a redirect and reads
// at most MaxResponseBytes of the response.
func (c *Client) Post(ctx context.Context, url string, body []byte, id string, attempt int) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Result{Outcome: Retry, Err: err}
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	req.Header.Set("Content-Type", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	req.Header.Set(SignatureHeader, Sign(c.Secrets, now(), body))
	req.Header.Set(IDHeader, id)
	req.Header.Set(AttemptHeader, strconv.Itoa(attempt))
	hc := c.HTTP
	if hc == nil {
		hc = NewHTTPClient(DefaultTimeout, 4)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Result{Outcome: Retry, Err: err}
	}
	defer resp.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	// Up to limit bytes are read, so that a short response lets the
	// connection be used again; the rest of a longer one is not.
	// A body that does not arrive whole changes nothing: the status
	// decides.
	data, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	r := Result{Outcome: Classify(resp.StatusCode), StatusCode: resp.StatusCode, Text: Sanitize(string(data), MaxText)}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now())
	}
	return r
}

// retryAfter parses a Retry-After value (RFC 9110 10.2.3): seconds or an
// HTTP date, bounded by MaxRetryAfter; zero when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		d = time.Duration(min(n, int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, MaxRetryAfter))
}

// Sanitize makes text from a webhook fit for an SMTP reply or a bounce:
// printable ASCII (RFC 5321 4.2 textstring; anything else becomes '?'),
// white space runs as one space, trimmed, at most max characters.
func Sanitize(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if b.Len() >= max {
			break
		}
		switch {
		case r == ' ' || r == '\t' || r == '\r' || r == '\n':
			space = b.Len() > 0
			continue
		case r < ' ' || r > '~':
			r = '?'
		}
		if space {
			b.WriteByte(' ')
			space = false
			if b.Len() >= max {
				break
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
