package server

import (
	"net"
	"testing"

	"github.com/smtpkit/smtp/reply"
)

func TestClientKey(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 1}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 1}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 1}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 1}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "eth0"}, "fe80::/64"},
		{&net.UnixAddr{Name: "/run/smtp.sock", Net: "unix"}, "/run/smtp.sock"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := clientKey(tt.addr); got != tt.want {
			t.Errorf("clientKey(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestWithEnhanced(t *testing.T) {
	ok := reply.OK()
	if withEnhanced(ok) != ok {
		t.Error("a reply with a matching code was copied")
	}
	start := reply.StartMailInput()
	if withEnhanced(start) != start {
		t.Error("a 3xx reply was changed")
	}
	bare := &reply.Reply{Code: reply.CodeMailboxUnavailable, Lines: []string{"No"}}
	got := withEnhanced(bare)
	if got.Enhanced != reply.Enh(5, 0, 0) || bare.Enhanced != (reply.EnhancedCode{}) {
		t.Errorf("withEnhanced(bare) = %v, original now %v", got.Enhanced, bare.Enhanced)
	}
	wrong := reply.New(reply.CodeMailboxBusy, reply.EnhOK(), "Later")
	if got := withEnhanced(wrong); got.Enhanced != reply.Enh(4, 0, 0) {
		t.Errorf("withEnhanced(450 2.0.0) = %v", got.Enhanced)
	}
	// Built without New: the class follows the code, the rest is kept.
	full := &reply.Reply{Code: reply.CodeInsufficientStorage, Enhanced: reply.EnhMailboxFull()}
	if got := withEnhanced(full); got.Enhanced != reply.Enh(4, 2, 2) || full.Enhanced != reply.Enh(5, 2, 2) {
		t.Errorf("withEnhanced(452 5.2.2) = %v, original now %v", got.Enhanced, full.Enhanced)
	}
	malformed := &reply.Reply{Code: reply.CodeMailboxBusy, Enhanced: reply.Enh(4, 1000, 0)}
	if got := withEnhanced(malformed); got.Enhanced != reply.Enh(4, 0, 0) {
		t.Errorf("withEnhanced(450 4.1000.0) = %v", got.Enhanced)
	}
}

// TestCannedWire: the prebuilt wire form of the replies of every
// transaction is what AppendWire writes, with and without enhanced codes,
// and is found only for those very replies (an equal reply made
// elsewhere, which a backend may change, is formatted).
func TestCannedWire(t *testing.T) {
	s := &Server{Hostname: "mx.test"}
	s.init()
	c := &s.cfg
	for _, r := range []*reply.Reply{c.canned.senderOK, c.canned.rcptOK, c.canned.startData, c.canned.queued, c.canned.ok} {
		if withEnhanced(r) != r {
			t.Errorf("canned %q needs withEnhanced, which reply skips for it", r.Error())
		}
		for _, enh := range []bool{false, true} {
			if got, want := string(c.wireOf(r, enh)), string(r.AppendWire(nil, enh)); got != want {
				t.Errorf("wire of %q (enhanced %v) = %q, want %q", r.Error(), enh, got, want)
			}
		}
	}
	if c.wireOf(reply.OK(), true) != nil || c.wireOf(c.canned.closing, false) != nil {
		t.Error("a reply that is not canned was found")
	}
}
