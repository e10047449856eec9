// Package browsertest drives mailsink's web UI in headless Chromium with
// chromedp. It is a module of its own (with a replace of the root) so that
// the library's users never download chromedp.
//
//	cd examples/mailsink/browsertest && go test ./...
//
// Chromium is Debian's "chromium" package (or CHROMIUM=/path/to/binary);
// without it the tests skip, except under CI=true, where they fail.
// MAILSINK_SCREENSHOTS=DIR writes the screenshots of docs/mailsink.md
// into DIR (docs/img).
package browsertest
