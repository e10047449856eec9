package benchcmp

import (
	"strconv"
	"syscall"
	"testing"
	"time"
)

const (
	benchHelo   = "client.bench.example"
	benchSender = "sender@bench.example"
	benchRcpt   = "rcpt@bench.example"
)

// message returns a message of exactly size bytes (size >= 128): a short
// header, then CRLF lines of at most 78 characters, none starting with a
// dot, ending with CRLF. The same shape as ../../../shared/bench/clients.
func message(size int) []byte {
	b := make([]byte, 0, size+80)
	b = append(b, "From: <"+benchSender+">\r\nTo: <"+benchRcpt+">\r\n"+
		"Subject: benchcmp\r\nMessage-ID: <benchcmp@bench.example>\r\n\r\n"...)
	for i := 0; len(b) < size; i++ {
		left := size - len(b)
		n := min(78, left-2) // characters before CRLF
		if left-n-2 == 1 {
			n-- // never leave a single byte for the last line
		}
		line := strconv.AppendInt(nil, int64(10000+i%10000), 10)[1:] // 4 digits
		line = append(line, ' ')
		for len(line) < n {
			line = append(line, 'y')
		}
		b = append(b, line[:max(n, 0)]...)
		b = append(b, "\r\n"...)
	}
	return b[:size]
}

// cpuClock measures the process's user+system CPU time.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{cpuNow()} }

// report adds msgs/s and cpu-us/msg to the benchmark's result, counting
// one message per op. Call it after the timed part.
func (c cpuClock) report(b *testing.B) {
	cpu := cpuNow() - c.start
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/msg")
}

func TestMessage(t *testing.T) {
	for size := 128; size < 2100; size++ {
		m := message(size)
		if len(m) != size {
			t.Fatalf("size %d: got %d bytes", size, len(m))
		}
		if m[size-2] != '\r' || m[size-1] != '\n' {
			t.Fatalf("size %d: no final CRLF", size)
		}
		lineStart := 0
		for i := 0; i < len(m); i++ {
			if m[i] == '\n' {
				if i == 0 || m[i-1] != '\r' {
					t.Fatalf("size %d: bare LF at %d", size, i)
				}
				if n := i - 1 - lineStart; n > 78 {
					t.Fatalf("size %d: line of %d characters", size, n)
				}
				lineStart = i + 1
			} else if m[i] == '.' && i == lineStart {
				t.Fatalf("size %d: line starting with a dot at %d", size, i)
			}
		}
	}
}
