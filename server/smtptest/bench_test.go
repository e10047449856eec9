package smtptest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/server/smtptest"
)

// BenchmarkSend: the kit in a benchmark (*testing.B is a TB): our client's
// Send on one connection to the recording server.
func BenchmarkSend(b *testing.B) {
	ts := smtptest.NewServer(b)
	ctx := context.Background()
	c, err := client.Dial(ctx, ts.Addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	env := newEnv(b, "a@example.org", "b@example.org")
	msg := strings.NewReader("Subject: bench\r\n\r\nhello\r\n")
	b.ReportAllocs()
	for b.Loop() {
		msg.Seek(0, 0)
		if _, err := c.Send(ctx, env, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := len(ts.Messages()); n == 0 {
		b.Fatal("no message recorded")
	}
}
