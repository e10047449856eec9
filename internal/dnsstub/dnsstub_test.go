package dnsstub_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/smtpkit/smtp/internal/dnsstub"
	"github.com/smtpkit/smtp/internal/dnsstub/dnstest"
)

func lookupA(t *testing.T, c *dnsstub.Client, name string) (*dnsstub.Response, []string) {
	t.Helper()
	resp, err := c.Exchange(context.Background(), name, dnsmessage.TypeA)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	_, rrs := resp.Records(name, dnsmessage.TypeA)
	var ips []string
	for _, rr := range rrs {
		a := rr.Body.(*dnsmessage.AResource).A
		ips = append(ips, net.IP(a[:]).String())
	}
	return resp, ips
}

// TestExchange: answers with and without AD, NXDOMAIN, NODATA, a CNAME
// chain, and the query's DNSSEC bits.
func TestExchange(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddA("secure.example", "192.0.2.1")
	srv.AddA("insecure.example", "192.0.2.2")
	srv.Insecure("insecure.example")
	srv.AddTXT("txtonly.example", "hello")
	srv.AddCNAME("alias.example", "secure.example")
	srv.AddCNAME("alias2.example", "insecure.example")
	c := &dnsstub.Client{Server: srv.Addr}

	cases := []struct {
		name   string
		rcode  dnsmessage.RCode
		secure bool
		ips    []string
	}{
		{"secure.example", dnsmessage.RCodeSuccess, true, []string{"192.0.2.1"}},
		{"SECURE.Example.", dnsmessage.RCodeSuccess, true, []string{"192.0.2.1"}},
		{"insecure.example", dnsmessage.RCodeSuccess, false, []string{"192.0.2.2"}},
		{"txtonly.example", dnsmessage.RCodeSuccess, true, nil}, // NODATA
		{"missing.example", dnsmessage.RCodeNameError, true, nil},
		{"alias.example", dnsmessage.RCodeSuccess, true, []string{"192.0.2.1"}},
		{"alias2.example", dnsmessage.RCodeSuccess, false, []string{"192.0.2.2"}},
	}
	for _, tc := range cases {
		resp, ips := lookupA(t, c, tc.name)
		if resp.RCode != tc.rcode || resp.Secure != tc.secure || len(ips) != len(tc.ips) || (len(ips) > 0 && ips[0] != tc.ips[0]) {
			t.Errorf("%s: rcode %v secure %v ips %v, want %v %v %v", tc.name, resp.RCode, resp.Secure, ips, tc.rcode, tc.secure, tc.ips)
		}
	}
	qs := srv.Queries()
	if len(qs) != len(cases) {
		t.Fatalf("%d queries for %d lookups", len(qs), len(cases))
	}
	for _, q := range qs {
		if !q.DO || !q.AD || q.Network != "udp" {
			t.Errorf("query %+v: want DO and AD set, over UDP", q)
		}
	}
	// The owner of records found through a CNAME is the chain's end.
	resp, _ := lookupA(t, c, "alias.example")
	if owner, _ := resp.Records("alias.example", dnsmessage.TypeA); owner != "secure.example" {
		t.Errorf("owner %q", owner)
	}
}

// TestServFail: SERVFAIL (a validating resolver's answer for bogus data)
// is an *Error with the RCODE, not an empty answer.
func TestServFail(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddA("bogus.example", "192.0.2.1")
	srv.ServFail("bogus.example", dnsmessage.TypeA)
	c := &dnsstub.Client{Server: srv.Addr}
	_, err := c.Exchange(context.Background(), "bogus.example", dnsmessage.TypeA)
	var e *dnsstub.Error
	if !errors.As(err, &e) || e.RCode != dnsmessage.RCodeServerFailure || e.Name != "bogus.example" {
		t.Fatalf("err %v", err)
	}
}

// TestTruncatedRetriesOverTCP: RFC 7766 5.
func TestTruncatedRetriesOverTCP(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddA("big.example", "192.0.2.7")
	srv.Truncate()
	c := &dnsstub.Client{Server: srv.Addr}
	resp, ips := lookupA(t, c, "big.example")
	if len(ips) != 1 || ips[0] != "192.0.2.7" || !resp.Secure {
		t.Fatalf("ips %v secure %v", ips, resp.Secure)
	}
	qs := srv.Queries()
	if len(qs) != 2 || qs[0].Network != "udp" || qs[1].Network != "tcp" {
		t.Fatalf("queries %+v, want udp then tcp", qs)
	}
}

// TestSpoofedAnswerIgnored: an answer with another ID that arrives first
// is not taken.
func TestSpoofedAnswerIgnored(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddA("target.example", "192.0.2.1")
	srv.Insecure("target.example")
	srv.Spoof()
	c := &dnsstub.Client{Server: srv.Addr}
	resp, ips := lookupA(t, c, "target.example")
	if len(ips) != 1 || ips[0] != "192.0.2.1" || resp.Secure {
		t.Fatalf("took %v secure %v, want the real answer 192.0.2.1 without AD", ips, resp.Secure)
	}
}

// TestRandomIDs: the IDs of successive queries are not a sequence.
func TestRandomIDs(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ids := make(chan uint16, 8)
	go func() {
		buf := make([]byte, 512)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				close(ids)
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) == nil {
				ids <- m.Header.ID
			}
		}
	}()
	// The server never answers: each lookup times out after one attempt.
	c := &dnsstub.Client{Server: pc.LocalAddr().String(), Timeout: 50 * time.Millisecond, Attempts: 1}
	seen := map[uint16]bool{}
	for range 8 {
		_, err := c.Exchange(context.Background(), "x.example", dnsmessage.TypeA)
		var e *dnsstub.Error
		if !errors.As(err, &e) || !e.Timeout {
			t.Fatalf("err %v, want a timeout *Error", err)
		}
		seen[<-ids] = true
	}
	if len(seen) < 6 {
		t.Errorf("only %d different IDs in 8 queries", len(seen))
	}
}

// TestContextCancelled: a cancelled context ends the lookup at once.
func TestContextCancelled(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := &dnsstub.Client{Server: pc.LocalAddr().String(), Timeout: time.Hour}
	if _, err := c.Exchange(ctx, "x.example", dnsmessage.TypeA); err == nil {
		t.Fatal("no error")
	}
}
