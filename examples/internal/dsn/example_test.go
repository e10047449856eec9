package dsn_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/smtpkit/smtp/examples/internal/dsn"
)

func Example() {
	from := "alice@example.org" // the failed message's reverse-path
	if !dsn.ShouldNotify(from) {
		return // never bounce a bounce
	}
	r := &dsn.Report{
		ReportingMTA: "relay.example.org",
		To:           from,
		Arrival:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Recipients: []dsn.Recipient{{
			FinalRecipient: "bob@example.net",
			RemoteMTA:      "mx.example.net",
			Diagnostic:     "550 5.1.1 no such user",
		}},
		Original: []byte("Subject: hello\r\n\r\nHi Bob\r\n"),
	}
	msg, eightBit, err := r.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	// Send msg with MAIL FROM:<> to alice (BODY=8BITMIME if eightBit).
	for _, field := range []string{"Final-Recipient: rfc822; bob@example.net", "Action: failed", "Status: 5.1.1"} {
		fmt.Println(bytes.Contains(msg, []byte(field)), field)
	}
	fmt.Println("8-bit:", eightBit)
	// Output:
	// true Final-Recipient: rfc822; bob@example.net
	// true Action: failed
	// true Status: 5.1.1
	// 8-bit: false
}
