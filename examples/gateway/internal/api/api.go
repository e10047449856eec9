// Package api is the gateway's HTTP API for outbound mail:
//
//	POST /v1/messages       submit a message (JSON, or a raw message/rfc822), 202 with its queue ID
//	GET  /v1/messages/{id}  its delivery state, recipient by recipient
//
// Every request needs "Authorization: Bearer TOKEN" with one of the
// configured tokens (RFC 6750 2.1), compared in constant time. A refused
// request gets a JSON body {"error": "...", "field": "..."} naming the
// field at fault. A body larger than the limit is refused with 413 before
// it is read whole (its Content-Length, else http.MaxBytesReader). A POST
// with an Idempotency-Key that the same token already used is not queued
// again: the first answer is given again (draft-ietf-httpapi-idempotency-key-header).
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtp/examples/gateway/internal/compose"
	"github.com/smtpkit/smtp/examples/gateway/internal/records"
	"github.com/smtpkit/smtp/examples/internal/durable"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// Defaults of a Config.
const (
	// DefaultMaxMessageBytes bounds a message, as the SMTP side's SIZE
	// does: 25 MiB, the size most providers take.
	DefaultMaxMessageBytes = 25 << 20
	// DefaultMaxRecipients bounds the recipients of one message (to, cc
	// and bcc together).
	DefaultMaxRecipients = 1000
	// DefaultMaxHeaderFields bounds a JSON request's "headers", and
	// DefaultMaxAttachments its "attachments": each costs work and memory
	// far beyond its few bytes of JSON.
	DefaultMaxHeaderFields = 100
	DefaultMaxAttachments  = 100
	// DefaultIdempotencyTTL is how long an Idempotency-Key is remembered
	// (Stripe's 24 hours).
	DefaultIdempotencyTTL = 24 * time.Hour
	// MaxIdempotencyKey bounds the length of an Idempotency-Key.
	MaxIdempotencyKey = 255
	// jsonOverhead is what a JSON request may hold beyond the base64 of a
	// message of the maximum size.
	jsonOverhead = 1 << 20
)

// ErrNotFound is returned by Queue.Status for an unknown message.
var ErrNotFound = errors.New("api: no such message")

// Queue is where submitted messages go.
type Queue interface {
	// Submit queues msg for env. prepare, when not nil, is called with
	// the queue ID before the message is committed (an error aborts it).
	// When Submit returns nil the message is durable and will be
	// delivered.
	Submit(ctx context.Context, env *Envelope, msg []byte, prepare func(id string) error) (string, error)
	// Status returns the state of message id, queued or finished (for as
	// long as finished messages are kept); ErrNotFound when unknown.
	Status(ctx context.Context, id string) (*queue.Message, error)
}

// Config configures a Handler.
type Config struct {
	Queue Queue
	// Tokens are the bearer tokens that may use the API; at least one.
	Tokens []string
	// Idempotency keeps the Idempotency-Key records: the queue's
	// companion, so that a key survives a restart as the message does.
	Idempotency *records.Dir
	// Builder builds the messages of JSON requests.
	Builder *compose.Builder
	// MaxMessageBytes bounds a message (DefaultMaxMessageBytes); a JSON
	// request may be a third larger, for the base64 of its attachments.
	MaxMessageBytes int64
	// MaxRecipients bounds the recipients of a message
	// (DefaultMaxRecipients).
	MaxRecipients int
	// MaxHeaderFields bounds the fields of a request's "headers"
	// (DefaultMaxHeaderFields); MaxAttachments its attachments
	// (DefaultMaxAttachments). Counts are checked before any of the work
	// they cause, recipients as they are parsed.
	MaxHeaderFields int
	MaxAttachments  int
	// IdempotencyTTL is how long a key is remembered
	// (DefaultIdempotencyTTL).
	IdempotencyTTL time.Duration
	Log            *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves the API.
type Handler struct {
	cfg    Config
	tokens [][sha256.Size]byte
	mux    *http.ServeMux

	mu sync.Mutex
	// inflight holds the idempotency keys of requests being handled.
	inflight map[string]bool
}

// New returns the API's handler.
func New(cfg Config) (*Handler, error) {
	if len(cfg.Tokens) == 0 {
		return nil, errors.New("api: no token")
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = DefaultMaxRecipients
	}
	if cfg.MaxHeaderFields <= 0 {
		cfg.MaxHeaderFields = DefaultMaxHeaderFields
	}
	if cfg.MaxAttachments <= 0 {
		cfg.MaxAttachments = DefaultMaxAttachments
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Builder == nil {
		cfg.Builder = &compose.Builder{}
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), inflight: map[string]bool{}}
	for _, t := range cfg.Tokens {
		h.tokens = append(h.tokens, sha256.Sum256([]byte(t)))
	}
	h.mux.HandleFunc("POST /v1/messages", h.authorized(h.submit))
	h.mux.HandleFunc("GET /v1/messages/{id}", h.authorized(h.status))
	for path, allow := range map[string]string{"/v1/messages": "POST", "/v1/messages/{id}": "GET, HEAD"} {
		h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "", r.Method+" not allowed here; use "+allow)
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such endpoint: POST /v1/messages, GET /v1/messages/{id}")
	})
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// errorBody is the JSON body of a refusal.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Not an HTML page (nosniff, application/json): "<" stays "<".
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, field, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Field: field})
}

// tokenKey identifies a caller: the SHA-256 of its token.
type tokenKey [sha256.Size]byte

// authorized checks the bearer token (RFC 6750 2.1) in constant time:
// the SHA-256 of the token given is compared with that of every token
// configured, all of them, so that neither the time nor the length of a
// token leaks which one is near.
func (h *Handler) authorized(next func(http.ResponseWriter, *http.Request, tokenKey)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			// RFC 6750 3: the challenge, without an error code when
			// the request had no token.
			w.Header().Set("WWW-Authenticate", `Bearer realm="smtpkit-gateway"`)
			writeError(w, http.StatusUnauthorized, "", "missing bearer token (Authorization: Bearer TOKEN)")
			return
		}
		d := sha256.Sum256([]byte(tok))
		ok := 0
		for i := range h.tokens {
			ok |= subtle.ConstantTimeCompare(d[:], h.tokens[i][:])
		}
		if ok != 1 {
			h.cfg.Log.Warn("API request with an invalid token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="smtpkit-gateway", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "", "invalid bearer token")
			return
		}
		next(w, r, tokenKey(d))
	}
}

// Accepted is the body of a 202.
type Accepted struct {
	ID        string `json:"id"`
	MessageID string `json:"message_id"`
}

// submit handles POST /v1/messages.
func (h *Handler) submit(w http.ResponseWriter, r *http.Request, caller tokenKey) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	limit := h.cfg.MaxMessageBytes
	switch ct {
	case "application/json":
		limit = limit/3*4 + jsonOverhead
	case "message/rfc822":
	default:
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type",
			"send application/json, or a raw message as message/rfc822")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if _, given := r.Header["Idempotency-Key"]; given && !validKey(key) {
		writeError(w, http.StatusBadRequest, "Idempotency-Key", "want 1 to 255 printable ASCII characters")
		return
	}
	// A body known to be too large is refused before any of it is read;
	// one of unknown length is cut off at the limit.
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "", "request body of "+strconv.FormatInt(r.ContentLength, 10)+
			" bytes; the limit is "+strconv.FormatInt(limit, 10))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "", "request body larger than "+strconv.FormatInt(limit, 10)+" bytes")
			return
		}
		writeError(w, http.StatusBadRequest, "", "cannot read the request body")
		return
	}
	sum := sha256.New()
	sum.Write([]byte(ct + "\n" + r.URL.RawQuery + "\n"))
	sum.Write(body)
	fp := hex.EncodeToString(sum.Sum(nil))
	var idem *idemRequest
	if key != "" {
		var done bool
		if idem, done = h.beginIdempotent(w, r.Context(), caller, key, fp); done {
			return
		}
		defer h.endIdempotent(idem)
	}
	msg, env, accepted, err := h.prepare(ct, body, r)
	if err != nil {
		h.refuse(w, err)
		return
	}
	env.Client, env.TLS = r.RemoteAddr, r.TLS != nil
	var prepare func(string) error
	if idem != nil {
		prepare = func(id string) error {
			idem.rec = idemRecord{ID: id, MessageID: accepted.MessageID, Fingerprint: fp, State: statePending, Created: h.cfg.Now()}
			return h.cfg.Idempotency.Put(idem.name, idem.rec)
		}
	}
	id, err := h.cfg.Queue.Submit(r.Context(), env, msg, prepare)
	if err != nil {
		if idem != nil && idem.rec.ID != "" {
			h.cfg.Idempotency.Delete(idem.name)
		}
		h.cfg.Log.Error("message not queued", "err", err)
		if durable.IsNoSpace(err) {
			writeError(w, http.StatusInsufficientStorage, "", "the queue is full; try again later")
			return
		}
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "", "the message could not be queued; try again later")
		return
	}
	accepted.ID = id
	if idem != nil {
		idem.rec.State = stateCommitted
		if err := h.cfg.Idempotency.Put(idem.name, idem.rec); err != nil {
			// The message is queued; a retry with the key finds the
			// pending record and the message, and answers the same.
			h.cfg.Log.Error("cannot record the idempotency key as done", "id", id, "err", err)
		}
	}
	w.Header().Set("Location", "/v1/messages/"+id)
	writeJSON(w, http.StatusAccepted, accepted)
}

// prepare builds or checks the message of a request.
func (h *Handler) prepare(ct string, body []byte, r *http.Request) ([]byte, *Envelope, *Accepted, error) {
	var msg []byte
	var env *Envelope
	acc := &Accepted{}
	if ct == "message/rfc822" {
		q := r.URL.Query()
		var err error
		if msg, env, err = rawMessage(body, q.Get("from"), q["to"], h.cfg.Builder, h.cfg.Now(), h.cfg.MaxRecipients); err != nil {
			return nil, nil, nil, err
		}
		acc.MessageID = messageIDOf(msg)
	} else {
		req, err := decodeJSON(body)
		if err != nil {
			return nil, nil, nil, err
		}
		req.limits = limits{recipients: h.cfg.MaxRecipients, headerFields: h.cfg.MaxHeaderFields, attachments: h.cfg.MaxAttachments}
		m, e, err := req.message()
		if err != nil {
			return nil, nil, nil, err
		}
		built, err := h.cfg.Builder.Build(m)
		if err != nil {
			return nil, nil, nil, err
		}
		msg, env = built.Data, e
		env.SMTPUTF8 = env.SMTPUTF8 || built.SMTPUTF8
		acc.MessageID = "<" + built.MessageID + ">"
	}
	if len(env.To) > h.cfg.MaxRecipients {
		return nil, nil, nil, badRequest("to", "%d recipients; the limit is %d", len(env.To), h.cfg.MaxRecipients)
	}
	if int64(len(msg)) > h.cfg.MaxMessageBytes {
		return nil, nil, nil, &BadRequest{Status: http.StatusRequestEntityTooLarge,
			Reason: "message of " + strconv.Itoa(len(msg)) + " bytes; the limit is " + strconv.FormatInt(h.cfg.MaxMessageBytes, 10)}
	}
	return msg, env, acc, nil
}

// messageIDOf returns the Message-ID field of a raw message, or "".
func messageIDOf(msg []byte) string {
	hdr, _ := splitHeader(msg)
	for line := range strings.SplitSeq(string(hdr), "\r\n") {
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Message-ID") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// refuse answers a request whose content is at fault.
func (h *Handler) refuse(w http.ResponseWriter, err error) {
	var br *BadRequest
	var fe *compose.FieldError
	switch {
	case errors.As(err, &br):
		writeError(w, br.Status, br.Field, br.Error())
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Field, fe.Error())
	default:
		h.cfg.Log.Error("cannot build the message", "err", err)
		writeError(w, http.StatusInternalServerError, "", "internal error")
	}
}

// RecipientStatus is a recipient in a status.
type RecipientStatus struct {
	Address string `json:"address"`
	// State is "pending", "delivered" or "failed".
	State string `json:"state"`
	// Status is the RFC 3463 code of the last attempt ("2.0.0", "5.1.1").
	Status string `json:"status,omitempty"`
	// Diagnostic is the server's reply, or what went wrong.
	Diagnostic string    `json:"diagnostic,omitempty"`
	RemoteMTA  string    `json:"remote_mta,omitempty"`
	Updated    time.Time `json:"updated,omitzero"`
}

// Status is the body of GET /v1/messages/{id}.
type Status struct {
	ID string `json:"id"`
	// State sums the recipients up: "queued" while one is pending, then
	// "delivered", "failed", or "partial" (some of each).
	State       string            `json:"state"`
	From        string            `json:"from"`
	Created     time.Time         `json:"created"`
	Attempts    int               `json:"attempts"`
	NextAttempt time.Time         `json:"next_attempt,omitzero"`
	Recipients  []RecipientStatus `json:"recipients"`
}

// status handles GET /v1/messages/{id}.
func (h *Handler) status(w http.ResponseWriter, r *http.Request, _ tokenKey) {
	m, err := h.cfg.Queue.Status(r.Context(), r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "id", "no such message (unknown, or finished too long ago)")
		return
	}
	if err != nil {
		h.cfg.Log.Error("cannot read the message's state", "id", r.PathValue("id"), "err", err)
		writeError(w, http.StatusInternalServerError, "", "cannot read the message's state")
		return
	}
	writeJSON(w, http.StatusOK, StatusOf(m))
}

// StatusOf summarises a queued or finished message.
func StatusOf(m *queue.Message) *Status {
	s := &Status{ID: m.ID, From: m.From, Created: m.Created, Attempts: m.Attempts, Recipients: []RecipientStatus{}}
	delivered, failed, pending := 0, 0, 0
	for _, r := range m.Recipients {
		switch r.State {
		case queue.Delivered:
			delivered++
		case queue.Failed:
			failed++
		default:
			pending++
		}
		s.Recipients = append(s.Recipients, RecipientStatus{
			Address: r.Addr, State: string(r.State), Status: r.Status, Diagnostic: r.Diagnostic,
			RemoteMTA: r.RemoteMTA, Updated: r.Updated,
		})
	}
	switch {
	case pending > 0:
		s.State = "queued"
		s.NextAttempt = m.NextAttempt
	case failed == 0:
		s.State = "delivered"
	case delivered == 0:
		s.State = "failed"
	default:
		s.State = "partial"
	}
	return s
}
