package server_test

import (
	"testing"
)

func TestBasicTransaction(t *testing.T) {
	b := &testBackend{}
	lb := start(t, newServer(b))
	c := dial(t, lb)
	c.Run(`
		C: EHLO client
		` + ehloWith() + `
		C: MAIL FROM:<a@example.org>
		S: 250 2.1.0 Sender OK
		C: RCPT TO:<b@example.net>
		S: 250 2.1.5 Recipient OK
		C: DATA
		S: 354 Start mail input; end with <CRLF>.<CRLF>
		C: Subject: hi
		C:
		C: ..dot
		C: body
		C: .
		S: 250 2.0.0 OK: message accepted
		C: QUIT
		S: 221 2.0.0 mx.test closing connection
	`)
	c.ExpectClosed()
	msgs := b.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "<a@example.org>" || len(m.To) != 1 || m.To[0] != "<b@example.net>" {
		t.Errorf("envelope = %q -> %q", m.From, m.To)
	}
	if want := "Subject: hi\r\n\r\n.dot\r\nbody\r\n"; m.Data != want {
		t.Errorf("data = %q, want %q", m.Data, want)
	}
}
