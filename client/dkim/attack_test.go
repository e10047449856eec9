package dkim

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAttackSignManyFields: a message whose header section, within
// DefaultMaxHeaderSize, is hundreds of thousands of tiny fields (a relay
// signs what its users submit) is signed in time linear in its size: each
// signed name is paired with its field (RFC 6376 5.4.2) without scanning
// the header again. The signature covers every instance and verifies.
//
// The bound is a hang detector, not a measurement: the signing takes well
// under a second; pairing the fields by a scan per name took minutes.
func TestAttackSignManyFields(t *testing.T) {
	key := rfc8463Ed25519Key(t)
	s, err := NewSigner("example.org", "sel1", key)
	if err != nil {
		t.Fatal(err)
	}
	const field = "To:\r\n"
	n := (DefaultMaxHeaderSize - 200) / len(field)
	var msg bytes.Buffer
	msg.WriteString("From: a@example.org\r\n")
	msg.WriteString(strings.Repeat(field, n))
	msg.WriteString("\r\nbody\r\n")
	type result struct {
		sig []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		sig, err := s.Sign(bytes.NewReader(msg.Bytes()))
		done <- result{sig, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatalf("signing a header of %d fields did not end within a minute", n+1)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := strings.Count(string(r.sig), "to"); got < n {
		t.Errorf("h= names %d To fields, want %d", got, n)
	}
	// A smaller one of the same kind verifies: each name of h= paired
	// with its own instance (the whole one, with its signature, would
	// pass the header limit of the test's verifier).
	msg.Reset()
	msg.WriteString("From: a@example.org\r\n")
	for i := range 20000 {
		msg.WriteString("To: " + strconv.Itoa(i) + "\r\nX: x\r\n")
	}
	msg.WriteString("\r\nbody\r\n")
	sig, err := s.Sign(bytes.NewReader(msg.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	record, err := PublicKeyRecord(key)
	if err != nil {
		t.Fatal(err)
	}
	res, err := verify(append(sig, msg.Bytes()...), map[string]string{"sel1._domainkey.example.org": record})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("verify: %v %+v", err, res)
	}
	// Reordering two To fields breaks it: they were signed in order.
	swapped := strings.Replace(msg.String(), "To: 7\r\n", "To: 8\r\n", 1)
	swapped = strings.Replace(swapped, "To: 8\r\nX: x\r\nTo: 8", "To: 8\r\nX: x\r\nTo: 7", 1)
	if res, err := verify(append(sig, swapped...), map[string]string{"sel1._domainkey.example.org": record}); err != nil || res[0].Err == nil {
		t.Errorf("two To fields swapped, and the signature still verifies")
	}
}
