package server_test

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"
)

// TestIdleMemory measures the memory the server holds per idle connection
// after EHLO (heap and goroutine stacks, measured in-process; the client
// ends are in the same process but hold only their sockets and a small
// buffer, counted too, so the figure is an upper bound). Set
// SMTPKIT_IDLE_CONNS to change the count (default 500).
func TestIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	n := 500
	if v, err := strconv.Atoi(os.Getenv("SMTPKIT_IDLE_CONNS")); err == nil && v > 0 {
		n = v
	}
	s := newServer(discard{})
	lb := start(t, s)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Client buffers are made and dropped before measuring.
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", lb.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReaderSize(c, 64)
		c.Write([]byte("EHLO idle\r\n"))
		for replies := 0; replies < 2; {
			line, err := r.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				t.Fatal(err)
			}
			if err == nil && (len(line) < 4 || line[3] == ' ') {
				replies++
			}
		}
		conns = append(conns, c)
	}
	// The connections settle into their idle wait at their own pace (a
	// loaded machine may still be running some of them): measure until the
	// figure is steady, for at most a few seconds.
	var heap, stack, perConn float64
	for try := 0; try < 30; try++ {
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		heap = float64(m1.HeapInuse) - float64(m0.HeapInuse)
		stack = float64(m1.StackInuse) - float64(m0.StackInuse)
		perConn = (heap + stack) / float64(n) / 1024
		if perConn <= 8 {
			break
		}
	}
	if f := os.Getenv("SMTPKIT_IDLE_PROFILE"); f != "" {
		if out, err := os.Create(f); err == nil {
			pprof.WriteHeapProfile(out)
			out.Close()
		}
	}
	t.Logf("%d idle connections: heap %.2f KiB/conn, stacks %.2f KiB/conn, total %.2f KiB/conn",
		n, heap/float64(n)/1024, stack/float64(n)/1024, perConn)
	if perConn > 8 && !raceEnabled && runtime.GOOS != "windows" && runtime.GOOS != "plan9" {
		t.Errorf("%.2f KiB per idle connection, want <= 8", perConn)
	}
}
