package browsertest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// mailsinkBin is the mailsink binary built by TestMain.
var mailsinkBin string

func TestMain(m *testing.M) {
	os.Exit(e2e.RunWithPrograms(m, map[string]*string{"mailsink": &mailsinkBin}))
}

// chromium returns the browser's path: $CHROMIUM, or chromium on $PATH.
// Without one the test skips, or fails under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium: install Debian's chromium package (.ci/browser-tests does)")
	}
	t.Skip("no chromium on $PATH (apt-get install chromium, or set CHROMIUM)")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and returns a
// tab's context, with the test's deadline.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// sink is a running mailsink with its web UI.
type sink struct {
	smtp, web string
	proc      *e2e.Proc
}

func startSink(t *testing.T, args ...string) sink {
	t.Helper()
	dir := t.TempDir()
	s := sink{smtp: e2e.FreeAddr(t), web: e2e.FreeAddr(t)}
	s.proc = e2e.Start(t, dir, mailsinkBin, append([]string{"-listen", s.smtp, "-http", s.web, "-maildir", filepath.Join(dir, "md")}, args...)...)
	s.proc.WaitListen(s.smtp, 10*time.Second)
	s.proc.WaitListen(s.web, 10*time.Second)
	return s
}

// apiList is the list API's answer.
type apiList struct {
	Total    int `json:"total"`
	Messages []struct {
		ID      string `json:"id"`
		Subject string `json:"subject"`
	} `json:"messages"`
}

func (s sink) list(t *testing.T, q string) apiList {
	t.Helper()
	resp, err := http.Get("http://" + s.web + "/api/v1/messages?q=" + q)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l apiList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	return l
}

func send(t *testing.T, addr, from, to, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	split := func(a string) envelope.Path {
		l, d, _ := strings.Cut(a, "@")
		return envelope.Path{Address: envelope.Address{Local: l, Domain: d}}
	}
	env := envelope.Envelope{From: split(from), To: []envelope.Recipient{{Path: split(to)}}}
	if _, err := c.Send(ctx, env, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx)
}

// watchdog is an HTTP server that stands for the rest of the world: a
// mail's script or remote content that got out would reach it.
type watchdog struct {
	addr string
	mu   sync.Mutex
	hits []string
}

func newWatchdog(t *testing.T) *watchdog {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &watchdog{addr: l.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.hits = append(w.hits, r.URL.Path)
		w.mu.Unlock()
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return w
}

func (w *watchdog) Hits() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.hits...)
}

// htmlMail is an HTML message with a script, remote content of every kind
// (image, style sheet, CSS background, font, iframe), an inline image and
// a PDF attachment.
func htmlMail(remote string) string {
	return "From: Shop <shop@x.test>\r\nTo: Bob <bob@y.test>\r\nSubject: Your order has shipped\r\nMessage-ID: <order-1@x.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n" +
		"--m\r\nContent-Type: multipart/related; boundary=r\r\n\r\n" +
		"--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		`<html><head><link rel="stylesheet" href="http://` + remote + `/remote.css">` +
		`<style>@font-face{font-family:x;src:url(http://` + remote + `/font.woff)} body{font-family:x,sans-serif}</style></head>` +
		`<body><h2 style="color:#2563eb">Your order has shipped</h2>` +
		`<p id="status">the script did not run</p>` +
		`<p>Logo: <img src="cid:logo@x.test" width="16" height="16" alt="logo"></p>` +
		`<p style="background:url(http://` + remote + `/background.png)">Track it <a href="https://shop.example/track/1">here</a>.</p>` +
		`<img src="http://` + remote + `/pixel.gif" alt="remote pixel"><iframe src="http://` + remote + `/frame"></iframe>` +
		`<script>document.getElementById("status").textContent="SCRIPT RAN";fetch("http://` + remote + `/script-ran");parent.postMessage("x","*")</script>` +
		"</body></html>\r\n" +
		"--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x.test>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n--r--\r\n" +
		"--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice 42.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJeLjz9MK\r\n--m--\r\n"
}

// screenshot saves a PNG of the page into $MAILSINK_SCREENSHOTS (the
// docs' images) or the test's directory.
func screenshot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	dir := os.Getenv("MAILSINK_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.CaptureScreenshot()(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), png, 0o644)
	})
}

// run runs actions, failing the test on an error.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action and returns its value, failing the test on an
// error.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// frameText returns the text of the element sel inside the page's iframe
// whose URL contains urlPart. Chromium may run a sandboxed iframe in a
// process of its own (a separate target), so the text is read by
// attaching to that target.
func frameText(t *testing.T, ctx context.Context, urlPart string, sel chromedp.CSS) string {
	t.Helper()
	targets, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range targets {
		if ti.Type == "iframe" && strings.Contains(ti.URL, urlPart) {
			fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(ti.TargetID), chromedp.WithDetachOnCancel())
			defer cancel()
			return value(t, fctx, "text in the iframe target", chromedp.Text(sel))
		}
	}
	// In the page's process: query through the iframe element.
	frames := value(t, ctx, "iframe", chromedp.Nodes(chromedp.CSS("iframe#html")))
	return value(t, ctx, "text in the iframe", chromedp.Text(sel, chromedp.FromNode(frames[0])))
}

// TestBrowser walks through the UI as a developer would: mail arrives in
// the open list without a reload, search, the HTML view with its script
// and remote content blocked, an attachment download, a release to a
// second mailsink, a deletion.
func TestBrowser(t *testing.T) {
	ctx := newBrowser(t)
	a := startSink(t)
	b := startSink(t)
	world := newWatchdog(t)
	base := "http://" + a.web

	// The list, open and listening before any mail arrives; a reload would
	// clear the mark set on the page.
	run(t, ctx, "open the list",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
	)
	value(t, ctx, "mark the page", chromedp.Evaluate[string](`window.notReloaded = "yes"`))
	send(t, a.smtp, "shop@x.test", "bob@y.test", htmlMail(world.addr))
	send(t, a.smtp, "billing@x.test", "bob@y.test", "From: Billing <billing@x.test>\r\nTo: bob@y.test\r\nSubject: Invoice 42\r\n\r\nPlease find the invoice.\r\n")
	send(t, a.smtp, "news@x.test", "carl@y.test", "From: News <news@x.test>\r\nTo: carl@y.test\r\nSubject: Weekly news\r\n\r\nAll the news.\r\n")
	run(t, ctx, "rows appear", chromedp.WaitVisible(chromedp.CSS("tr.msg:nth-child(3)")))
	rows := value(t, ctx, "rows", chromedp.Nodes(chromedp.CSSAll("tr.msg")))
	marker := value(t, ctx, "mark", chromedp.Evaluate[string](`window.notReloaded`))
	count := value(t, ctx, "count", chromedp.Text(chromedp.CSS("#count")))
	first := value(t, ctx, "first row", chromedp.Text(chromedp.CSS("tr.msg td.subject a")))
	if len(rows) != 3 || marker != "yes" || count != "3 messages" || first != "Weekly news" {
		t.Fatalf("%d rows, mark %q, count %q, first %q", len(rows), marker, count, first)
	}
	run(t, ctx, "screenshot", screenshot(t, "mailsink-list.png"))

	// Search.
	run(t, ctx, "search",
		chromedp.SendKeys(chromedp.CSS("#q"), "subject:invoice\r"),
		chromedp.WaitVisible(chromedp.CSS(`#q[value="subject:invoice"]`)),
	)
	found := value(t, ctx, "found", chromedp.Nodes(chromedp.CSSAll("tr.msg")))
	subject := value(t, ctx, "found subject", chromedp.Text(chromedp.CSS("tr.msg td.subject a")))
	if len(found) != 1 || subject != "Invoice 42" {
		t.Errorf("search: %d rows, %q", len(found), subject)
	}

	// The HTML view: nothing the mail holds runs or loads; the inline
	// image shows.
	l := a.list(t, "subject:shipped")
	if l.Total != 1 {
		t.Fatalf("list %+v", l)
	}
	id := l.Messages[0].ID
	run(t, ctx, "open the message",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("tr.msg")),
		chromedp.Click(chromedp.CSS(`tr.msg[data-id="`+id+`"] td.subject a`)),
		chromedp.WaitVisible(chromedp.CSS("iframe#html")),
	)
	if status := frameText(t, ctx, "/html", chromedp.CSS("#status")); status != "the script did not run" {
		t.Errorf("the mail's script ran: %q", status)
	}
	run(t, ctx, "screenshot", screenshot(t, "mailsink-message.png"))
	if hits := world.Hits(); len(hits) != 0 {
		t.Errorf("the mail reached the outside: %v", hits)
	}

	// Download the attachment.
	dl := t.TempDir()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	begin := chromedp.BrowserEvents(ctx, browser.DownloadWillBegin)
	run(t, ctx, "download",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: ptr(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS("#tab-attachments")),
		chromedp.WaitVisible(chromedp.CSS("a.download")),
		chromedp.Click(chromedp.CSS("a.download")),
	)
	suggested := ""
	for ev, err := range begin {
		if err != nil {
			t.Fatal(err)
		}
		suggested = ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State != browser.DownloadProgressStateCompleted {
			continue
		}
		got, err := os.ReadFile(filepath.Join(dl, ev.GUID))
		if err != nil || string(got) != "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" || suggested != "invoice 42.pdf" {
			t.Errorf("downloaded %q as %q: %v", got, suggested, err)
		}
		break
	}

	// Release it to the second mailsink.
	run(t, ctx, "release",
		chromedp.Click(chromedp.CSS("#release-open")),
		chromedp.SendKeys(chromedp.CSS("#release-server"), b.smtp),
		chromedp.SetValue(chromedp.CSS("#release-security"), "none"),
		chromedp.Click(chromedp.CSS("#release-send")),
		chromedp.WaitVisible(chromedp.CSS("#release-recipients")),
	)
	outcome := value(t, ctx, "release outcome", chromedp.Text(chromedp.CSS("#release-recipients")))
	if !strings.Contains(outcome, "bob@y.test") || !strings.Contains(outcome, "250") || !strings.Contains(outcome, "accepted") {
		t.Errorf("release outcome %q", outcome)
	}
	if l := b.list(t, "subject:shipped"); l.Total != 1 {
		t.Errorf("second sink has %+v", l)
	}

	// Delete it (two clicks: the button asks).
	run(t, ctx, "delete",
		chromedp.Click(chromedp.CSS("#delete")),
		chromedp.WaitVisible(chromedp.CSS("#delete.armed")),
		chromedp.Click(chromedp.CSS("#delete")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="list"]`)),
	)
	if l := a.list(t, ""); l.Total != 2 {
		t.Errorf("after delete: %+v", l)
	}
	resp, err := http.Get(base + "/api/v1/messages/" + id)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("deleted message: %d", resp.StatusCode)
	}
}

func ptr[T any](v T) *T { return &v }
