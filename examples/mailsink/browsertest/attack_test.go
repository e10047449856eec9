package browsertest

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// connWatch counts the TCP connections made to its listeners, by name: a
// preconnect opens one and sends nothing, which an HTTP server's handler
// never sees.
type connWatch struct {
	mu    sync.Mutex
	conns map[string]int
	seen  chan string
}

func newConnWatch() *connWatch {
	return &connWatch{conns: map[string]int{}, seen: make(chan string, 100)}
}

// listen returns the address of a new listener whose connections count
// under name.
func (w *connWatch) listen(t *testing.T, name string) string {
	return e2e.ServeTCP(t, func(c net.Conn) {
		c.Close()
		w.mu.Lock()
		w.conns[name]++
		w.mu.Unlock()
		w.seen <- name
	})
}

func (w *connWatch) count() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := map[string]int{}
	for k, v := range w.conns {
		m[k] = v
	}
	return m
}

// TestAttackHTMLBodyOpensNoConnection: the HTML body's policy forbids any
// request, but Chromium still opened connections to the sender's servers
// for <link rel=preconnect> (preconnects are not subject to CSP), for an
// <iframe>'s source, and for a preconnect inside <noscript> (markup when
// scripts are off): a tracking beacon that tells the sender when and from
// where the mail was read. A page of the test's own with a preconnect is
// opened afterwards: its connection arriving shows that the browser does
// preconnect, and that those of the mail would have arrived by then.
func TestAttackHTMLBodyOpensNoConnection(t *testing.T) {
	ctx := newBrowser(t)
	a := startSink(t)
	w := newConnWatch()
	vectors := map[string]string{
		"preconnect":          `<link rel="preconnect" href="http://%s">`,
		"preconnect-upper":    `<LINK REL=PRECONNECT HREF=http://%s>`,
		"preconnect-noscript": `<noscript><link rel="preconnect" href="http://%s"></noscript>`,
		"iframe":              `<iframe src="http://%s/frame"></iframe>`,
		"iframe-lazy":         `<iframe loading="lazy" src="http://%s/frame"></iframe>`,
		// Refused by the sandbox (no allow-scripts) today: kept as a guard.
		"meta-refresh": `<meta http-equiv="refresh" content="0;url=http://%s/refresh">`,
		"dns-prefetch": `<link rel="dns-prefetch" href="http://%s">`,
		"prefetch":     `<link rel="prefetch" href="http://%s/prefetch">`,
	}
	var body strings.Builder
	for name, v := range vectors {
		fmt.Fprintf(&body, v, w.listen(t, name))
	}
	send(t, a.smtp, "a@x.test", "b@y.test", "Subject: beacons\r\nContent-Type: text/html\r\n\r\n<html><head></head><body><p id=status>hello</p>"+body.String()+"</body></html>\r\n")
	id := a.list(t, "subject:beacons").Messages[0].ID

	control := w.listen(t, "control")
	page := newControlPage(t, `<!doctype html><link rel="preconnect" href="http://`+control+`"><p>control</p>`)
	run(t, ctx, "open the HTML view",
		chromedp.Navigate("http://"+a.web+"/messages/"+id+"?tab=html"),
		chromedp.WaitVisible(chromedp.CSS("iframe#html")),
	)
	if status := frameText(t, ctx, "/html", chromedp.CSS("#status")); status != "hello" {
		t.Fatalf("the body did not load: %q", status)
	}
	run(t, ctx, "open the control page", chromedp.Navigate(page))
	select {
	case <-waitFor(w.seen, "control"):
	case <-time.After(time.Minute):
		t.Fatal("the control page's preconnect never came: the browser does not preconnect here")
	}
	got := w.count()
	delete(got, "control")
	if len(got) != 0 {
		t.Errorf("opening the mail made connections: %v", got)
	}
}

// waitFor returns a channel closed when name comes on seen.
func waitFor(seen <-chan string, name string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for n := range seen {
			if n == name {
				close(done)
				return
			}
		}
	}()
	return done
}

// newControlPage serves html on a server of the test's own and returns
// its URL.
func newControlPage(t *testing.T, html string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/html")
		rw.Write([]byte(html))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/"
}
