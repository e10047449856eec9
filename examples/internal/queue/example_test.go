package queue_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/smtpkit/smtp/examples/internal/queue"
)

func Example() {
	dir, _ := os.MkdirTemp("", "queue")
	defer os.RemoveAll(dir)
	q, err := queue.Open(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()

	// A server's DATA handler: stream the message in, commit, then 250.
	w, _ := q.Create()
	w.ReadFrom(strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	m := &queue.Message{From: "a@example.org", Recipients: []queue.Recipient{
		{Addr: "b@example.net", State: queue.Pending},
		{Addr: "c@example.com", State: queue.Pending},
	}}
	if err := w.Commit(m); err != nil {
		fmt.Println("451/452, not acknowledged:", err)
		return
	}

	// A delivery attempt: one recipient got it, the other is deferred.
	m.Attempts++
	m.Recipients[0].State = queue.Delivered
	var s queue.Schedule // RFC 5321 4.5.4.1 defaults
	m.NextAttempt, _ = s.Next(m.Attempts, m.Created, time.Now())
	q.Save(m)

	msgs, _ := queue.List(dir) // what relay -list prints, lock-free
	for _, r := range msgs[0].Recipients {
		fmt.Println(r.Addr, r.State)
	}
	fmt.Println(m.NextAttempt.Sub(m.Created).Round(time.Minute))
	// Output:
	// b@example.net delivered
	// c@example.com pending
	// 30m0s
}
