package webui

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/smtpkit/smtp/examples/mailsink/internal/mailstore"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Limits and defaults of the handlers.
const (
	// DefaultPageSize is the length of a page of the list.
	DefaultPageSize = 50
	// MaxPageSize bounds the limit parameter of the list API.
	MaxPageSize = 1000
	// DefaultWait is the wait API's timeout when none is given.
	DefaultWait = 30 * time.Second
	// MaxWait bounds the wait API's timeout.
	MaxWait = 5 * time.Minute
	// ReleaseTimeout bounds a whole release (connect, TLS, AUTH, send).
	ReleaseTimeout = time.Minute
	// maxRequestBody bounds the JSON body of a release request.
	maxRequestBody = 64 << 10
	// maxRawShown bounds the raw source shown in the page; the download
	// has it all.
	maxRawShown = 2 << 20
	// eventPing is how often the event stream sends a comment, so that a
	// dead client is noticed and proxies keep the stream open.
	eventPing = 25 * time.Second
)

// Options configures the handler.
type Options struct {
	// Store is the index of the Maildir. Required.
	Store *mailstore.Store
	// Addr is the address the handler is served on. When its host is a
	// loopback address or "localhost", requests must name a loopback host
	// in their Host header (DNS rebinding protection).
	Addr string
	// LocalName is the EHLO name a release gives; "" means the host name.
	LocalName string
	// Logger receives releases and failures; nil means slog.Default().
	Logger *slog.Logger
}

// ui serves the web UI and the JSON API.
type ui struct {
	store     *mailstore.Store
	localName string
	log       *slog.Logger
	pages     *template.Template
}

// New returns the handler of the web UI (/) and the JSON API (/api/v1/).
func New(opts Options) http.Handler {
	u := &ui{store: opts.Store, localName: opts.LocalName, log: opts.Logger}
	if u.log == nil {
		u.log = slog.Default()
	}
	u.pages = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", u.listPage)
	mux.HandleFunc("GET /list", u.listRows)
	mux.HandleFunc("GET /messages/{id}", u.messagePage)
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	mux.HandleFunc("GET /api/v1/messages", u.apiList)
	mux.HandleFunc("DELETE /api/v1/messages", u.apiDeleteAll)
	mux.HandleFunc("GET /api/v1/messages/wait", u.apiWait)
	mux.HandleFunc("GET /api/v1/messages/{id}", u.apiGet)
	mux.HandleFunc("DELETE /api/v1/messages/{id}", u.apiDelete)
	mux.HandleFunc("GET /api/v1/messages/{id}/raw", u.apiRaw)
	mux.HandleFunc("GET /api/v1/messages/{id}/html", u.apiHTML)
	mux.HandleFunc("GET /api/v1/messages/{id}/parts/{part}", u.apiPart)
	mux.HandleFunc("POST /api/v1/messages/{id}/release", u.apiRelease)
	mux.HandleFunc("GET /api/v1/events", u.apiEvents)

	var h http.Handler = mux
	h = requireJSON(h)
	// Cross-site requests that change something (a page elsewhere posting
	// to 127.0.0.1:8025) are refused: Sec-Fetch-Site, else Origin against
	// Host.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	h = cop.Handler(h)
	h = securityHeaders(h)
	if IsLoopback(opts.Addr) {
		h = checkHost(h)
	}
	return h
}

// securityHeaders sets the headers every response gets: no MIME sniffing,
// no framing (the HTML body endpoint allows its own origin), no referrer,
// and a Content-Security-Policy for the UI's pages that allows only its own
// script and style.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// requireJSON refuses a POST whose body is not declared JSON: an HTML form
// of another site cannot send that content type without a CORS preflight,
// which this server never grants (a second line against cross-site
// requests, for browsers without Sec-Fetch-Site and Origin).
func requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			ct := r.Header.Get("Content-Type")
			if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
				writeError(w, http.StatusUnsupportedMediaType, "the request body must be application/json")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// IsLoopback reports whether addr ("host:port" or a host) is a loopback
// address or "localhost".
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkHost refuses requests whose Host header names anything but a
// loopback host: a page of another site that rebinds its own name to
// 127.0.0.1 (DNS rebinding) sends its name, and gets nothing.
func checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
		if !(host == "localhost" || strings.HasSuffix(host, ".localhost") || IsLoopback(host)) {
			writeError(w, http.StatusMisdirectedRequest, "this server answers only to a loopback host name (localhost, 127.0.0.1, [::1])")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeJSON writes v as the response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// The body is served as application/json with nosniff: no need to
	// escape <, > and & for HTML, and the output stays readable.
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// apiError is the body of every error response.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// Serve serves h on l until ctx ends, then shuts down: the open event
// streams and waits end with ctx, the other requests get ShutdownGrace.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	reqCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	cancel()
	sctx, cancel2 := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel2()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}

// ShutdownGrace is how long Serve waits for requests in progress at
// shutdown.
const ShutdownGrace = 5 * time.Second
