package textproto

import (
	"bufio"
	"bytes"
	"io"
	nettextproto "net/textproto"
	"strings"
	"testing"
)

// benchMessage returns about size bytes of message text with 76-octet
// lines, some of them starting with a dot, and the number of lines.
func benchMessage(size int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString("From: a@example.com\r\nTo: b@example.com\r\nSubject: benchmark\r\n\r\n")
	line := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2)[:74]
	n := 4
	for b.Len() < size {
		if n%20 == 0 {
			b.WriteString(".")
			b.WriteString(line[1:])
		} else {
			b.WriteString(line)
		}
		b.WriteString("\r\n")
		n++
	}
	return b.Bytes(), n
}

func encode(msg []byte) []byte {
	var wire bytes.Buffer
	w := NewWriter(&wire)
	d := w.DotWriter(Policy{})
	d.Write(msg)
	d.Close()
	return wire.Bytes()
}

func BenchmarkDotReader(b *testing.B) {
	msg, lines := benchMessage(1 << 20)
	wire := encode(msg)
	for _, bc := range []struct {
		name string
		lim  DataLimits
	}{
		{"default", DataLimits{MaxSize: 10 << 20}},
		{"strict-7bit", DataLimits{MaxSize: 10 << 20, MaxLineLength: MaxTextLine, Policy: Policy{BareLF: Reject, EightBit: Reject}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			br := bytes.NewReader(wire)
			r := NewReader(br)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				br.Reset(wire)
				r.Reset(br)
				d := r.DotReader(bc.lim)
				for {
					_, err := d.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(lines), "lines/op")
		})
	}
	// For comparison: the standard library's decoder (which is not
	// smuggling-safe).
	b.Run("net-textproto", func(b *testing.B) {
		br := bytes.NewReader(wire)
		bio := bufio.NewReader(br)
		buf := make([]byte, 32<<10)
		b.SetBytes(int64(len(wire)))
		b.ReportAllocs()
		for b.Loop() {
			br.Reset(wire)
			bio.Reset(br)
			d := nettextproto.NewReader(bio).DotReader()
			for {
				_, err := d.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkDotWriter(b *testing.B) {
	msg, lines := benchMessage(1 << 20)
	lf := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	for _, bc := range []struct {
		name string
		msg  []byte
	}{{"crlf", msg}, {"lf-only", lf}} {
		b.Run(bc.name, func(b *testing.B) {
			w := NewWriter(io.Discard)
			b.SetBytes(int64(len(bc.msg)))
			b.ReportAllocs()
			for b.Loop() {
				d := w.DotWriter(Policy{})
				for s := bc.msg; len(s) > 0; {
					k := min(len(s), 4096)
					if _, err := d.Write(s[:k]); err != nil {
						b.Fatal(err)
					}
					s = s[k:]
				}
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(lines), "lines/op")
		})
	}
}

func BenchmarkReadLine(b *testing.B) {
	var in bytes.Buffer
	const n = 1000
	for i := range n {
		if i%2 == 0 {
			in.WriteString("RCPT TO:<recipient@example.com> NOTIFY=SUCCESS,FAILURE\r\n")
		} else {
			in.WriteString("NOOP\r\n")
		}
	}
	wire := in.Bytes()
	br := bytes.NewReader(wire)
	r := NewReader(br)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(wire)
		r.Reset(br)
		for {
			if _, err := r.ReadLine(0, Policy{}); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
	b.ReportMetric(n, "lines/op")
}

// BenchmarkValidateCommandLine: a printable line (the fast path, eight
// bytes at a time) and one with an 8-bit address under SMTPUTF8 (the byte
// loop).
func BenchmarkValidateCommandLine(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"printable", "RCPT TO:<recipient@example.com> NOTIFY=SUCCESS,FAILURE"},
		{"utf8", "RCPT TO:<r\xc3\xa9cipient@example.com> NOTIFY=SUCCESS,FAILURE"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			line := []byte(bc.line)
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				if err := ValidateCommandLine(line, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
