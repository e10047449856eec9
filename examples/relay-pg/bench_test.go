package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
	"github.com/smtpkit/smtp/examples/relay-pg/internal/pgtest"
)

// benchRelays starts k relays on the queue spec (a URL or a directory),
// delivering the recipients' domain y.test to sinkAddr; it returns their
// processes and listeners.
func benchRelays(b *testing.B, k int, spec, sinkAddr string, extra ...string) ([]*e2e.Proc, []string) {
	b.Helper()
	procs := make([]*e2e.Proc, k)
	addrs := make([]string, k)
	var wg sync.WaitGroup
	for i := range k {
		wg.Go(func() {
			addrs[i] = e2e.FreeAddr(b)
			args := append([]string{"-listen", addrs[i], "-auth", "load:load-pw", "-queue", spec, "-route", "y.test=" + sinkAddr,
				"-retry", "1s", "-hostname", fmt.Sprintf("relay%d.test", i+1), "-log", os.DevNull}, extra...)
			procs[i] = e2e.Start(b, "", relayBin, args...)
			procs[i].WaitListen(addrs[i], 30*time.Second)
		})
	}
	wg.Wait()
	return procs, addrs
}

// BenchmarkRelaysOneQueue measures messages/s accepted (every 250 received)
// and delivered (every message at the destination) through one relay,
// then three, on one PostgreSQL queue: 1000 messages of 1 KiB over 12
// connections spread over the relays. PostgreSQL, the relays, the load and
// the destination share this machine's CPUs.
//
//	cd examples/relay-pg && go test -run '^$' -bench RelaysOneQueue -benchtime 1x .
func BenchmarkRelaysOneQueue(b *testing.B) {
	pgtest.Need(b)
	const n, conns = 1000, 12
	for _, k := range []int{1, 3} {
		b.Run(fmt.Sprintf("relays=%d", k), func(b *testing.B) {
			for range b.N {
				url := shared.NewDatabase(b)
				sink := e2e.StartCountingSink(b)
				procs, addrs := benchRelays(b, k, url, sink.Addr)
				l := e2e.Load{Addrs: addrs, User: "load", Pass: "load-pw", From: "a@x.test", To: "b@y.test", N: n, Conns: conns, Size: 1024}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				t0 := time.Now()
				if err := l.Submit(ctx); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := sink.Wait(n, 5*time.Minute); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				cancel()
				b.ReportMetric(n/t1.Sub(t0).Seconds(), "accepted/s")
				b.ReportMetric(n/t2.Sub(t0).Seconds(), "delivered/s")
				for _, p := range procs {
					p.Stop()
				}
			}
		})
	}
}

// BenchmarkRecovery measures how long the queue of a relay killed with
// SIGKILL during its deliveries takes to be finished by the others: from
// the kill until the queue is empty (the killed relay's interrupted
// attempts retried and recorded). On PostgreSQL two other relays take the
// killed relay's claims when their lease (-lease 5s here; 1m by default)
// expires; on disk the relay is started again at once (as a supervisor
// would) and resumes its queue. The time is measured by polling relay
// -list every 50 ms.
//
//	cd examples/relay-pg && go test -run '^$' -bench Recovery -benchtime 1x .
func BenchmarkRecovery(b *testing.B) {
	const n, lease = 60, 5 * time.Second
	for _, kind := range []string{"postgres", "disk"} {
		b.Run("queue="+kind, func(b *testing.B) {
			if kind == "postgres" {
				pgtest.Need(b)
			}
			for range b.N {
				b.StopTimer()
				sk := startSink(b, false)
				spec, k := filepath.Join(b.TempDir(), "queue"), 1
				if kind == "postgres" {
					spec, k = shared.NewDatabase(b), 3
				}
				procs, addrs := benchRelays(b, k, spec, sk.addr, "-lease", lease.String())
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				l := e2e.Load{Addrs: addrs, User: "load", Pass: "load-pw", From: "a@x.test", To: "b@y.test", N: n, Conns: 6, Size: 1024}
				if err := l.Submit(ctx); err != nil {
					b.Fatal(err)
				}
				cancel()
				for {
					if _, w := sk.counts(); w["relay1.test"] > 0 {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				b.StartTimer()
				t0 := time.Now()
				procs[0].Kill()
				if kind == "disk" {
					benchRelays(b, 1, spec, sk.addr)
				}
				sk.openGate()
				for {
					_, out, _ := e2e.Run(b, time.Minute, nil, relayBin, "-queue", spec, "-list")
					if out == "" { // an empty queue, listed into a pipe
						break
					}
					if time.Since(t0) > 5*time.Minute {
						b.Fatalf("queue not empty after 5 minutes:\n%s", out)
					}
					time.Sleep(50 * time.Millisecond)
				}
				b.ReportMetric(time.Since(t0).Seconds(), "s-to-recover")
				b.StopTimer()
				for _, p := range procs[1:] {
					p.Stop()
				}
			}
		})
	}
}
