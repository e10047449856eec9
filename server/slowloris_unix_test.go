//go:build unix

package server

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkSlowloris measures the server's CPU time per second of 1000
// connections that sent the start of a command and nothing more (getrusage
// of the process; the clients only wait), on the raw path and the net.Conn
// path. Each iteration is 100 ms of waiting.
//
//	go test -run=XXX -bench=Slowloris -benchtime=30x ./server
func BenchmarkSlowloris(b *testing.B) {
	const n = 1000
	for _, raw := range []bool{true, false} {
		b.Run(map[bool]string{true: "raw", false: "stream"}[raw], func(b *testing.B) {
			addr, _ := serve(b, nopServer(0), raw)
			for range n {
				c, _ := dialGreeted(b, addr)
				c.Write([]byte("EHL"))
			}
			time.Sleep(time.Second) // every connection waits
			cpu := func() time.Duration {
				var ru syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
				return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			}
			b.ResetTimer()
			c0, w0 := cpu(), time.Now()
			for range b.N {
				time.Sleep(100 * time.Millisecond)
			}
			used, wall := cpu()-c0, time.Since(w0)
			b.ReportMetric(100*float64(used)/float64(wall), "%cpu")
			b.ReportMetric(float64(used)/wall.Seconds()/n, "cpu-ns/conn/s")
		})
	}
}
