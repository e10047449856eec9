package reply

import (
	"testing"
)

func BenchmarkAppendWire(b *testing.B) {
	single := RecipientOK()
	ehlo := Hello("mx.example.org", "greets client.example.net",
		"PIPELINING", "SIZE 52428800", "8BITMIME", "ENHANCEDSTATUSCODES",
		"SMTPUTF8", "CHUNKING", "STARTTLS", "AUTH PLAIN LOGIN")
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = single.AppendWire(buf[:0], true)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("ehlo", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = ehlo.AppendWire(buf[:0], true)
		}
		b.SetBytes(int64(len(buf)))
	})
}

func BenchmarkReadReply(b *testing.B) {
	inputs := []struct {
		name string
		wire string
	}{
		{"single", "250 2.1.5 Recipient OK\r\n"},
		{"ehlo", string(Hello("mx.example.org", "greets client.example.net",
			"PIPELINING", "SIZE 52428800", "8BITMIME", "ENHANCEDSTATUSCODES",
			"SMTPUTF8", "CHUNKING", "STARTTLS", "AUTH PLAIN LOGIN").AppendWire(nil, true))},
	}
	for _, in := range inputs {
		b.Run(in.name+"/Reply", func(b *testing.B) {
			rd := NewReader(&loop{data: []byte(in.wire)}, Limits{})
			b.ReportAllocs()
			b.SetBytes(int64(len(in.wire)))
			for b.Loop() {
				if _, err := rd.ReadReply(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/Raw", func(b *testing.B) {
			rd := NewReader(&loop{data: []byte(in.wire)}, Limits{})
			b.ReportAllocs()
			b.SetBytes(int64(len(in.wire)))
			for b.Loop() {
				if _, err := rd.ReadRaw(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
