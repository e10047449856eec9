package webui

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smtpkit/smtp/examples/internal/mimeparse"
	"github.com/smtpkit/smtp/examples/mailsink/internal/mailstore"
)

// listJSON is the answer of the list API.
type listJSON struct {
	Total    int                 `json:"total"`
	Start    int                 `json:"start"`
	Count    int                 `json:"count"`
	Messages []mailstore.Summary `json:"messages"`
}

// pageParams reads start and limit.
func pageParams(r *http.Request) (start, limit int, err error) {
	start, limit = 0, DefaultPageSize
	if v := r.FormValue("start"); v != "" {
		if start, err = strconv.Atoi(v); err != nil || start < 0 {
			return 0, 0, errors.New("start: want a number ≥ 0")
		}
	}
	if v := r.FormValue("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxPageSize {
			return 0, 0, fmt.Errorf("limit: want a number from 1 to %d", MaxPageSize)
		}
	}
	return start, limit, nil
}

// query builds the search of a request: q, plus from=, to= and subject=.
func query(r *http.Request) mailstore.Query {
	q := mailstore.ParseQuery(r.FormValue("q"))
	for _, f := range []string{"from", "to", "subject"} {
		q = q.Field(f, r.FormValue(f))
	}
	return q
}

func (u *ui) apiList(w http.ResponseWriter, r *http.Request) {
	start, limit, err := pageParams(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	total, page := u.store.List(query(r), start, limit)
	writeJSON(w, http.StatusOK, listJSON{Total: total, Start: start, Count: len(page), Messages: page})
}

func (u *ui) apiDeleteAll(w http.ResponseWriter, r *http.Request) {
	n, err := u.store.DeleteAll()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"deleted": n})
}

// parseTimeout reads the wait API's timeout: a Go duration ("10s",
// "1m30s") or seconds ("10").
func parseTimeout(v string) (time.Duration, error) {
	if v == "" {
		return DefaultWait, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		s, err2 := strconv.ParseFloat(v, 64)
		if err2 != nil {
			return 0, errors.New("timeout: want a duration such as 10s")
		}
		d = time.Duration(s * float64(time.Second))
	}
	if d < 0 || d > MaxWait {
		return 0, fmt.Errorf("timeout: want at most %v", MaxWait)
	}
	return d, nil
}

func (u *ui) apiWait(w http.ResponseWriter, r *http.Request) {
	d, err := parseTimeout(r.FormValue("timeout"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	sum, err := u.store.Wait(ctx, query(r), r.FormValue("since"))
	if err != nil {
		if r.Context().Err() != nil {
			return // the client left, or the server shuts down
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no matching message within %v", d))
		return
	}
	u.writeMessage(w, r, sum.ID)
}

// messageJSON is the answer of the get API.
type messageJSON struct {
	mailstore.Summary
	Envelope    mailstore.Envelope `json:"envelope"`
	Trace       *mailstore.Trace   `json:"trace"`
	Headers     []headerJSON       `json:"headers"`
	Text        string             `json:"text"`
	HTML        string             `json:"html"`
	Attachments []partJSON         `json:"attachments"`
	Inline      []partJSON         `json:"inline"`
	Problems    []string           `json:"problems"`
	RawURL      string             `json:"raw_url"`
	Raw         *string            `json:"raw,omitempty"`
}

type headerJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type partJSON struct {
	Part        string `json:"part"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	ContentID   string `json:"content_id,omitempty"`
	URL         string `json:"url"`
}

func messageURL(id string) string { return "/api/v1/messages/" + url.PathEscape(id) }

func partsJSON(id string, ps []*mimeparse.Part) []partJSON {
	out := []partJSON{}
	for _, p := range ps {
		out = append(out, partJSON{
			Part: p.Path, Filename: p.Filename, ContentType: p.ContentType, Size: p.Size(), ContentID: p.ContentID,
			URL: messageURL(id) + "/parts/" + url.PathEscape(p.Path),
		})
	}
	return out
}

func newMessageJSON(m *mailstore.Message) messageJSON {
	pm := m.Parsed
	j := messageJSON{
		Summary: m.Summary, Envelope: m.Envelope, Trace: m.Trace,
		Headers: []headerJSON{}, Text: pm.Text, HTML: pm.HTML,
		Attachments: partsJSON(m.ID, pm.Attachments), Inline: partsJSON(m.ID, pm.Inline),
		Problems: problemTexts(pm), RawURL: messageURL(m.ID) + "/raw",
	}
	for _, f := range pm.Header {
		j.Headers = append(j.Headers, headerJSON{f.Name, f.Value})
	}
	return j
}

// problemTexts returns what is wrong with a message's MIME, as the API and
// the page show it (never nil: an empty JSON list).
func problemTexts(pm *mimeparse.Message) []string {
	out := make([]string, 0, len(pm.Problems))
	for _, p := range pm.Problems {
		out = append(out, strings.TrimPrefix(p.Error(), "mimeparse: "))
	}
	return out
}

// load reads the message of the request's id, answering 404 itself.
func (u *ui) load(w http.ResponseWriter, id string) (*mailstore.Message, bool) {
	m, err := u.store.Get(id)
	switch {
	case errors.Is(err, mailstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such message")
		return nil, false
	case err != nil:
		u.log.Error("message not read", "id", id, "err", err)
		writeError(w, http.StatusInternalServerError, "the message could not be read")
		return nil, false
	}
	return m, true
}

func (u *ui) apiGet(w http.ResponseWriter, r *http.Request) {
	u.writeMessage(w, r, r.PathValue("id"))
}

func (u *ui) writeMessage(w http.ResponseWriter, r *http.Request, id string) {
	m, ok := u.load(w, id)
	if !ok {
		return
	}
	j := newMessageJSON(m)
	if v, _ := strconv.ParseBool(r.FormValue("raw")); v {
		// JSON strings are UTF-8: other bytes become U+FFFD here; the
		// raw endpoint has the exact bytes.
		raw := strings.ToValidUTF8(string(m.Raw), "\uFFFD")
		j.Raw = &raw
	}
	writeJSON(w, http.StatusOK, j)
}

func (u *ui) apiDelete(w http.ResponseWriter, r *http.Request) {
	err := u.store.Delete(r.PathValue("id"))
	switch {
	case errors.Is(err, mailstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such message")
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]int{"deleted": 1})
	}
}

// apiRaw serves the file as stored (envelope lines, Received field,
// message), as text, or with ?download=1 as an .eml attachment.
func (u *ui) apiRaw(w http.ResponseWriter, r *http.Request) {
	m, ok := u.load(w, r.PathValue("id"))
	if !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if v, _ := strconv.ParseBool(r.FormValue("download")); v {
		h.Set("Content-Type", "message/rfc822")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": safeFilename(m.ID, "") + ".eml"}))
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Write(m.File)
}

// htmlCSP is the policy of the HTML body: no scripts, no requests to
// anywhere (remote images, style sheets and fonts are blocked; inline
// styles and data: images are allowed, cid: images are turned into data:
// ones), no forms, and the sandbox (scripts off, a unique origin) even when
// the URL is opened on its own rather than in the UI's sandboxed iframe.
const htmlCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; " +
	"form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"

// MaxInlinedBytes bounds what turning cid: references into data: URLs adds
// to an HTML body, so that a small image referred to many times cannot make
// a page of gigabytes; references past it stay cid: (a broken image). It is
// the server's default message size, so any one image a message can carry
// is shown.
const MaxInlinedBytes = 32 << 20

// cidRE finds cid: URLs (RFC 2392) in an HTML body.
var cidRE = regexp.MustCompile(`(?i)\bcid:([^"'\s)>]+)`)

// apiHTML serves the HTML body for the UI's iframe.
func (u *ui) apiHTML(w http.ResponseWriter, r *http.Request) {
	m, ok := u.load(w, r.PathValue("id"))
	if !ok {
		return
	}
	if m.Parsed.HTML == "" {
		writeError(w, http.StatusNotFound, "the message has no HTML body")
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", htmlCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.Write([]byte(noBeacons(inlineCIDs(m.Parsed.HTML, m.Parsed.Inline, m.Parsed.Attachments))))
}

// inlineCIDs replaces the cid: URLs of images the message carries with
// data: URLs, which the policy allows, so inline images show without a
// request. What the replacements add is at most MaxInlinedBytes: past it a
// reference stays cid: (each data: URL is as long as its image, and a
// reference is a few bytes).
func inlineCIDs(html string, parts ...[]*mimeparse.Part) string {
	byCID := map[string]*mimeparse.Part{}
	for _, ps := range parts {
		for _, p := range ps {
			if p.ContentID != "" && strings.HasPrefix(p.ContentType, "image/") && safeToken(p.ContentType) {
				byCID[p.ContentID] = p
			}
		}
	}
	if len(byCID) == 0 {
		return html
	}
	dataURLs := map[string]string{} // by Content-ID, each encoded once
	added := 0
	return cidRE.ReplaceAllStringFunc(html, func(s string) string {
		id, err := url.PathUnescape(s[len("cid:"):])
		if err != nil {
			return s
		}
		p, ok := byCID[id]
		if !ok {
			return s
		}
		u, ok := dataURLs[id]
		if !ok {
			u = "data:" + p.ContentType + ";base64," + base64.StdEncoding.EncodeToString(p.Data)
			dataURLs[id] = u
		}
		if added+len(u) > MaxInlinedBytes {
			return s
		}
		added += len(u)
		return u
	})
}

// beaconTagRE finds the start tags of the elements for which Chromium
// opens a connection (DNS, TCP, TLS) although the body's policy forbids any
// request: <link> (rel=preconnect, dns-prefetch...: preconnects are not
// subject to CSP) and frames (their source is preconnected before the
// policy refuses it). As the HTML tokenizer reads a tag name: after "<",
// case-insensitive, ended by white space, "/" or ">" (WHATWG HTML, "tag
// name state"); every such sequence is matched, wherever it is, so no
// context (a <noscript>, which is markup with scripts off) hides one.
var beaconTagRE = regexp.MustCompile(`(?i)<(link|iframe|frame)([\t\n\f\r />])`)

// noBeacons renames those elements ("<x-link"), which then do nothing: a
// mail's <link> and frames could load nothing under the policy anyway.
func noBeacons(html string) string {
	return beaconTagRE.ReplaceAllString(html, "<x-$1$2")
}

// safeToken reports whether a media type is only type/subtype token
// characters (RFC 2045 5.1), fit to go into a header or a data: URL.
func safeToken(t string) bool {
	typ, sub, ok := strings.Cut(t, "/")
	isToken := func(s string) bool {
		return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
			return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?=`, r)
		})
	}
	return ok && isToken(typ) && isToken(sub)
}

// apiPart serves a part as a download: Content-Disposition attachment
// with a cleaned file name, never rendered by the browser.
func (u *ui) apiPart(w http.ResponseWriter, r *http.Request) {
	m, ok := u.load(w, r.PathValue("id"))
	if !ok {
		return
	}
	want := r.PathValue("part")
	for _, p := range m.Parsed.Parts {
		if p.Path != want {
			continue
		}
		ct := p.ContentType
		if !safeToken(ct) {
			ct = "application/octet-stream"
		}
		h := w.Header()
		h.Set("Content-Type", ct)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": safeFilename(p.Filename, p.ContentType)}))
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		h.Set("Content-Length", strconv.Itoa(len(p.Data)))
		w.Write(p.Data)
		return
	}
	writeError(w, http.StatusNotFound, "no such part")
}

// maxFilename bounds a download's file name, in bytes (file systems allow
// 255).
const maxFilename = 200

// safeFilename makes a sender's file name safe to save: the last path
// element only, no controls, no bidirectional controls (a right-to-left
// override shows "invoice\u202efdp.exe" as "invoiceexe.pdf"), none of the
// characters Windows forbids, no leading dots (hidden files, ".."), at most
// maxFilename bytes. An empty result becomes "attachment" with an extension
// for the type.
func safeFilename(name, contentType string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r):
			return -1
		case strings.ContainsRune(`<>:"/\|?*`, r):
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	for len(name) > maxFilename {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" {
		name = "attachment"
		if exts, _ := mime.ExtensionsByType(contentType); len(exts) > 0 {
			name += exts[0]
		}
	}
	return name
}

// shownFilename is a sender's file name as the page shows it: without
// bidirectional controls, which would show it in another order.
func shownFilename(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, name)
}

// apiEvents streams the index's changes as server-sent events: "new" with
// the summary of each message that arrives, "change" after a deletion.
func (u *ui) apiEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	_, seq := u.store.Since(^uint64(0))
	ch, removed := u.store.Changes()
	fmt.Fprint(w, "retry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	ping := time.NewTicker(eventPing)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-ch:
			var news []mailstore.Summary
			news, seq = u.store.Since(seq)
			var nowRemoved uint64
			ch, nowRemoved = u.store.Changes()
			for _, s := range news {
				b, _ := json.Marshal(s)
				fmt.Fprintf(w, "event: new\ndata: %s\n\n", b)
			}
			// Also when news came with it: -max-messages deletes the
			// oldest as a new one is added.
			if nowRemoved != removed {
				fmt.Fprint(w, "event: change\ndata: {}\n\n")
			}
			removed = nowRemoved
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
