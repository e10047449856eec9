package webui

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtp/examples/internal/mimeparse"
	"github.com/smtpkit/smtp/examples/mailsink/internal/mailstore"
)

// funcs are the templates' helpers. Every value from a message reaches the
// page through html/template's contextual escaping, never as template.HTML.
var funcs = template.FuncMap{
	"size":     humanSize,
	"when":     func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
	"ago":      ago,
	"pathesc":  url.PathEscape,
	"msgURL":   func(id string) string { return "/messages/" + url.PathEscape(id) },
	"apiURL":   messageURL,
	"partURL":  func(id, part string) string { return messageURL(id) + "/parts/" + url.PathEscape(part) },
	"addrs":    addrs,
	"join":     strings.Join,
	"rfc3339":  func(t time.Time) string { return t.Format(time.RFC3339) },
	"sub":      func(a, b int) int { return a - b },
	"add":      func(a, b int) int { return a + b },
	"int64":    func(n int) int64 { return int64(n) },
	"filename": shownFilename,
	"tabClass": func(cur, tab string) string { return map[bool]string{true: "tab on", false: "tab"}[cur == tab] },
}

func humanSize(n int64) string {
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1024*1024:
		return fmt.Sprintf("%.1f kB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1024*1024))
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return t.Local().Format("15:04")
	}
	return t.Local().Format("2006-01-02")
}

func addrs(as []mimeparse.Address) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

// listView is the data of the list page and its rows.
type listView struct {
	Q        string
	Total    int
	Start    int
	Limit    int
	Messages []mailstore.Summary
}

func (u *ui) listData(r *http.Request) (listView, error) {
	start, limit, err := pageParams(r)
	if err != nil {
		return listView{}, err
	}
	total, page := u.store.List(query(r), start, limit)
	return listView{Q: r.FormValue("q"), Total: total, Start: start, Limit: limit, Messages: page}, nil
}

func (u *ui) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := u.pages.ExecuteTemplate(w, name, data); err != nil {
		u.log.Error("page not rendered", "page", name, "err", err)
	}
}

func (u *ui) listPage(w http.ResponseWriter, r *http.Request) {
	v, err := u.listData(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u.render(w, "list.html", v)
}

// listRows renders the list's table body alone, which the page's script
// fetches when the event stream says the list changed.
func (u *ui) listRows(w http.ResponseWriter, r *http.Request) {
	v, err := u.listData(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u.render(w, "rows", v)
}

// messageView is the data of the message page.
type messageView struct {
	*mailstore.Message
	Tab      string
	Raw      string
	RawCut   bool
	Problems []string
	Tabs     []string
}

// tabs of the message page.
var tabs = []string{"text", "html", "headers", "raw", "attachments", "envelope"}

func (u *ui) messagePage(w http.ResponseWriter, r *http.Request) {
	m, err := u.store.Get(r.PathValue("id"))
	switch {
	case errors.Is(err, mailstore.ErrNotFound):
		http.Error(w, "no such message", http.StatusNotFound)
		return
	case err != nil:
		u.log.Error("message not read", "id", r.PathValue("id"), "err", err)
		http.Error(w, "the message could not be read", http.StatusInternalServerError)
		return
	}
	v := messageView{Message: m, Tab: r.FormValue("tab"), Tabs: tabs}
	if v.Tab == "" {
		v.Tab = "text"
		if m.Parsed.HTML != "" {
			v.Tab = "html"
		}
	}
	if v.Tab == "raw" {
		raw := m.File
		if len(raw) > maxRawShown {
			raw, v.RawCut = raw[:maxRawShown], true
		}
		v.Raw = strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	v.Problems = problemTexts(m.Parsed)
	u.render(w, "message.html", v)
}
