package server_test

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtp/server"
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
	heap, stack := idleMemory(t, newServer(discard{}), n, 8, "EHLO idle\r\n", 1)
	perConn := heap + stack
	t.Logf("%d idle connections: heap %.2f KiB/conn, stacks %.2f KiB/conn, total %.2f KiB/conn",
		n, heap, stack, perConn)
	if perConn > 8 && !raceEnabled && runtime.GOOS != "windows" && runtime.GOOS != "plan9" {
		t.Errorf("%.2f KiB per idle connection, want <= 8", perConn)
	}
}

// A client that sends the start of its next command with the end of a
// message (DATA or BDAT), then waits, holds its connection in the middle of
// a line (no hand-off): the server must not keep the 32 KiB buffer it
// borrowed for the message data while it waits (it did when the big
// buffer went back only before a read at the start of a line).
func TestIdleMemoryMidCommandAfterData(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 200
	const txn = "EHLO idle\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n"
	chunk := strings.Repeat("Subject: hi\r\n", 200)
	for _, tc := range []struct {
		name    string
		script  string
		replies int
	}{
		// One write: the end of the data and "NO" arrive together, so
		// the server finds the partial command in the buffer that held
		// the data.
		{"DATA", txn + "DATA\r\n" + chunk + ".\r\nNO", 5},
		{"BDAT", txn + "BDAT " + strconv.Itoa(len(chunk)) + " LAST\r\n" + chunk + "NO", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(discard{})
			s.EnableChunking = true
			heap, stack := idleMemory(t, s, n, 12, tc.script, tc.replies)
			t.Logf("%d connections waiting mid-command: heap %.2f KiB/conn, stacks %.2f KiB/conn", n, heap, stack)
			if heap > 12 && !raceEnabled {
				t.Errorf("heap %.2f KiB per connection waiting mid-command, want <= 12", heap)
			}
		})
	}
}

// idleMemory opens n connections to s, sends script on each and reads replies
// replies after the greeting, then measures the heap and goroutine stacks
// the connections hold, in KiB per connection, until the total is at most
// want or a few seconds have passed.
func idleMemory(t *testing.T, s *server.Server, n int, want float64, script string, replies int) (heap, stack float64) {
	lb := start(t, s)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Client buffers are made and dropped before measuring. Two
	// collections empty the sync.Pools, whose spare buffers (of an earlier
	// test's connections) the connections would otherwise take unseen.
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", lb.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReaderSize(c, 64)
		c.Write([]byte(script))
		for got := 0; got < replies+1; { // and the greeting
			line, err := r.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				t.Fatal(err)
			}
			if err == nil && (len(line) < 4 || line[3] == ' ') {
				if line[0] != '2' && line[0] != '3' {
					t.Fatalf("reply %q", line)
				}
				got++
			}
		}
		conns = append(conns, c)
	}
	// The connections settle into their wait at their own pace (a
	// loaded machine may still be running some of them): measure until
	// the figure is steady, for at most a few seconds.
	for try := 0; try < 30; try++ {
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		heap = (float64(m1.HeapInuse) - float64(m0.HeapInuse)) / float64(n) / 1024
		stack = (float64(m1.StackInuse) - float64(m0.StackInuse)) / float64(n) / 1024
		if heap+stack <= want {
			break
		}
	}
	if f := os.Getenv("SMTPKIT_IDLE_PROFILE"); f != "" {
		if out, err := os.Create(f); err == nil {
			pprof.WriteHeapProfile(out)
			out.Close()
		}
	}
	return heap, stack
}
