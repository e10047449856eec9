//go:build unix

package interop

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// BenchmarkRelayVsPostfix measures one relay (examples/relay, its disk
// queue fsynced before every 250) against a private Postfix relaying to
// the same destination on this machine, in one run: the same load (1000
// messages of 1 KiB over 8 connections) into each, twice (Postfix, relay,
// relay, Postfix), timed from the first submission until every message got
// its 250 (accepted) and until the destination has every message
// (delivered). It reports each side's messages/s and the ratios
// relay/Postfix.
// Each side keeps its default delivery concurrency (relay: -workers 4;
// Postfix: up to 20 per destination).
//
//	go test -run '^$' -bench RelayVsPostfix -benchtime 1x ./examples/internal/interop
func BenchmarkRelayVsPostfix(b *testing.B) {
	const n, conns = 1000, 8
	relayBin := e2e.Build(b, "relay")
	for range b.N {
		sink := e2e.StartCountingSink(b)
		pf := startPostfix(b, sink.Addr)
		relayAddr := e2e.FreeAddr(b)
		dir := b.TempDir()
		relay := e2e.Start(b, dir, relayBin, "-listen", relayAddr, "-auth", "load:load-pw", "-queue", filepath.Join(dir, "queue"),
			"-route", relayDomain+"="+sink.Addr, "-hostname", "relay.test", "-log", os.DevNull)
		relay.WaitListen(relayAddr, 10*time.Second)

		// measure returns the seconds until every message got its 250,
		// and until every one reached the destination.
		measure := func(name string, l e2e.Load) (accept, deliver float64) {
			start := sink.Count()
			l.N, l.Conns, l.Size, l.From, l.To = n, conns, 1024, "load@"+senderDomain, "sink@"+relayDomain
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			t0 := time.Now()
			if err := l.Submit(ctx); err != nil {
				b.Fatalf("%s: submission: %v", name, err)
			}
			t1 := time.Now()
			if err := sink.Wait(start+n, 5*time.Minute); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			return t1.Sub(t0).Seconds(), time.Since(t0).Seconds()
		}
		pfLoad := e2e.Load{Addrs: []string{pf.smtpd}}
		relayLoad := e2e.Load{Addrs: []string{relayAddr}, User: "load", Pass: "load-pw"}
		// Postfix, relay, relay, Postfix: a drift of the machine's load
		// during the run weighs on both sides alike.
		var pa, pd, ra, rd float64
		for _, side := range []string{"postfix", "relay", "relay", "postfix"} {
			if side == "postfix" {
				a, d := measure(side, pfLoad)
				pa, pd = pa+a, pd+d
			} else {
				a, d := measure(side, relayLoad)
				ra, rd = ra+a, rd+d
			}
		}
		b.ReportMetric(2*n/ra, "relay-accepted/s")
		b.ReportMetric(2*n/rd, "relay-delivered/s")
		b.ReportMetric(2*n/pa, "postfix-accepted/s")
		b.ReportMetric(2*n/pd, "postfix-delivered/s")
		b.ReportMetric(pa/ra, "x-accepted")
		b.ReportMetric(pd/rd, "x-delivered")
		relay.Stop()
	}
}
