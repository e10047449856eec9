package client

import (
	"strings"
	"testing"
	"time"
)

// TestPacedDeadlines: the socket's deadline is moved only when a step's
// deadline is earlier (see pacedConn), so a later step whose timeout is
// longer than those before it must still get all of it: the 354 and the
// replies to MAIL and RCPT have short timeouts, the final reply comes
// after them, within its own, for two messages in a row, with DATA and
// with BDAT.
func TestPacedDeadlines(t *testing.T) {
	const short = 150 * time.Millisecond
	for _, ext := range [][]string{{"PIPELINING"}, {"PIPELINING", "CHUNKING"}} {
		t.Run(strings.Join(ext, "+"), func(t *testing.T) {
			fs := newFakeServer(t, ext...)
			fs.afterData(func(fc *fakeConn) {
				time.Sleep(3 * short) // longer than every timeout but the final reply's
				fc.send("250 2.0.0 ok")
			})
			c := dialT(t, fs.start(), &Options{MailTimeout: short, RcptTimeout: short, DataInitTimeout: short,
				DataBlockTimeout: short, CommandTimeout: short, DataTermTimeout: 10 * short})
			for i := range 2 {
				if _, err := c.Send(testCtx(t), env("a@x.example", "b@y.example"), strings.NewReader("hi\r\n")); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
		})
	}
}
