package mimeparse_test

import (
	"fmt"

	"github.com/smtpkit/smtp/examples/internal/mimeparse"
)

func ExampleParse() {
	raw := []byte("From: =?utf-8?q?Ren=C3=A9?= <rene@example.org>\r\n" +
		"Subject: report\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n" +
		"\r\n" +
		"--b\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"See the attachment.\r\n" +
		"--b\r\n" +
		"Content-Type: text/csv\r\n" +
		"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.csv\r\n" +
		"\r\n" +
		"a,b\r\n" +
		"--b--\r\n")
	m := mimeparse.Parse(raw)
	fmt.Println(m.From[0].Name, "|", m.Subject, "|", m.Text)
	for _, a := range m.Attachments {
		fmt.Println(a.Filename, a.ContentType, a.Size())
	}
	// Output:
	// René | report | See the attachment.
	// résumé.csv text/csv 3
}
