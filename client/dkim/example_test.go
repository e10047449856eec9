package dkim_test

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"

	"github.com/smtpkit/smtp/client/dkim"
)

func ExampleSigner_Sign() {
	// In a program: key, err := dkim.LoadPrivateKey("/etc/mail/sel1.pem").
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	s, err := dkim.NewSigner("example.org", "sel1", key)
	if err != nil {
		panic(err)
	}
	s.Now = func() time.Time { return time.Unix(1765000000, 0) } // for a fixed output
	msg := "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nHello.\r\n"
	field, err := s.Sign(strings.NewReader(msg))
	if err != nil {
		panic(err)
	}
	// Send field followed by the message.
	fmt.Print(strings.ReplaceAll(string(field), "\r\n", "\n"))
	record, _ := dkim.PublicKeyRecord(key)
	fmt.Println("sel1._domainkey.example.org TXT", record)
	// Output:
	// DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;
	// 	s=sel1; t=1765000000; h=from:from:subject:to;
	// 	bh=yZQq1c8wjBl0fZ4Wc/oraMCAG1mZJv5v/hlvyFy+t6A=; b=WM3XcwYDinN0govLvsJ8zNuI6x
	// 	YrFMUQz2xA57LCWGxUx5vuwN7K64b9LTbCxQJNT/sH3QNPyYmN/IvBswc8Bw==
	// sel1._domainkey.example.org TXT v=DKIM1; k=ed25519; p=O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=
}
