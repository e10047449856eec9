package benchcmp

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"
)

// holdServer is the baseline of BenchmarkIdleConn: it greets and answers
// the EHLO of each connection from its accept loop and then only keeps the
// connection (no goroutine, no buffer), so that what a real server costs
// beyond the two sockets' own objects is the difference.
func startHoldServer(tb testing.TB) (addr string, stop func()) {
	l := listen(tb)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("220 hold.example ESMTP\r\n"))
			c.Read(buf) // the EHLO; the raw client sends it in one write
			c.Write([]byte("250-hold.example\r\n250 PIPELINING\r\n"))
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return l.Addr().String(), func() {
		l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}
}

// BenchmarkIdleConn measures the memory of idle connections in-process:
// b.N connections (use -benchtime=2000x; at most 20000) each read the
// greeting, said EHLO and read the reply, then stay open. It reports the
// Go heap and goroutine stack in use per connection, both ends included
// (the client end is a bare net.Conn; the "hold" row is two sockets and
// nothing else, so a server's own cost is its row minus that one), and the
// goroutines per connection.
func BenchmarkIdleConn(b *testing.B) {
	impls := []struct {
		name  string
		start func(testing.TB) (string, func())
	}{
		{"hold", startHoldServer},
		{"smtpkit", func(tb testing.TB) (string, func()) {
			s := startSMTPKitServer(tb, nil)
			return s.addr, s.stop
		}},
		{"gosmtp", func(tb testing.TB) (string, func()) {
			s := startGoSMTPServer(tb, nil)
			return s.addr, s.stop
		}},
	}
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			n := b.N
			if n > 20000 {
				b.Skipf("%d connections: use -benchtime=Nx with N <= 20000", n)
			}
			addr, stop := impl.start(b)
			defer stop()
			m0, g0 := settledMem()
			conns := make([]net.Conn, 0, n)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for range n {
				c, err := dialIdle(addr)
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
			}
			m1, g1 := settledMem()
			b.StopTimer()
			if dir := os.Getenv("BENCHCMP_IDLE_HEAPPROFILE"); dir != "" {
				// The heap while the connections are held (run with
				// -memprofilerate=1 to see every object).
				writeHeapProfile(b, filepath.Join(dir, "idle-"+impl.name+".heap"))
			}
			b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/float64(n), "heap-B/conn")
			b.ReportMetric(float64(int64(m1.StackInuse)-int64(m0.StackInuse))/float64(n), "stack-B/conn")
			b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/conn")
		})
	}
}

func writeHeapProfile(tb testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		tb.Fatal(err)
	}
}

// dialIdle opens a connection past EHLO and keeps only the net.Conn.
func dialIdle(addr string) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &rawClient{nc: nc, r: bufio.NewReaderSize(nc, 512)}
	if err := c.expect('2'); err != nil {
		nc.Close()
		return nil, err
	}
	if err := c.cmd(cmdEHLO, '2'); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

// settledMem lets the servers' goroutines park, collects garbage twice
// (stacks shrink during a collection) and returns the memory statistics
// and the number of goroutines.
func settledMem() (runtime.MemStats, int) {
	time.Sleep(300 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m, runtime.NumGoroutine()
}
