package smtptest

import (
	"net"
	"testing"
	"time"
)

// TestAttackNetConnsLeak: netConns forgets every connection once it is
// gone, behind the proxy too: those whose header was refused (garbage, or
// none before the peer left) never reach the server's disconnect event.
func TestAttackNetConnsLeak(t *testing.T) {
	for _, proxy := range []bool{false, true} {
		s := NewUnstartedServer(t)
		s.Config.ProxyProtocol = proxy
		s.Config.ProxyHeaderTimeout = 200 * time.Millisecond
		s.Start()
		for i := range 20 {
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			switch i % 3 {
			case 0:
				c.Write([]byte("EHLO x\r\nQUIT\r\n")) // no header
			case 1:
				c.Write([]byte("PROXY TCP4 192.0.2.7 192.0.2.1 1000 25\r\nQUIT\r\n"))
			case 2: // closes at once
				c.Close()
				continue
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			var b [512]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					break
				}
			}
			c.Close()
		}
		s.Close()
		s.mu.Lock()
		n := len(s.netConns)
		s.mu.Unlock()
		if n != 0 {
			t.Errorf("ProxyProtocol %v: %d connections left in netConns after Close", proxy, n)
		}
	}
}
