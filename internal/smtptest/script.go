package smtptest

import (
	"context"
	"testing"

	kit "github.com/smtpkit/smtp/server/smtptest"
)

// ServeScript plays the server side of a transcript on one connection, for
// client tests, with the public kit's Peer (server/smtptest.NewPeer): a mismatch
// fails tb with the transcript around it. It returns the address to dial
// and a channel closed when the script is over.
func ServeScript(tb testing.TB, script string) (addr string, done <-chan struct{}) {
	tb.Helper()
	p := kit.NewPeer(tb, script)
	ch := make(chan struct{})
	go func() {
		p.Wait(context.Background())
		close(ch)
	}()
	return p.Addr, ch
}
