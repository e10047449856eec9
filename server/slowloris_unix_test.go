//go:build unix

package server

import (
	"bufio"
	"net"
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
			s := nopServer(0)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			var sl net.Listener = l
			if !raw {
				sl = hiddenTCP{l}
			}
			go s.Serve(sl)
			defer s.Close()
			for range n {
				c, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
					b.Fatal(err)
				}
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
