package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// Sizes of the benchmark loads: 1000 messages of 1 KiB over 8 connections
// (SMTP) or 8 clients (HTTP), as the relay's benchmark.
const (
	benchN     = 1000
	benchConns = 8
	benchSize  = 1024
)

// benchReceiver is a webhook receiver that counts what it takes.
func benchReceiver(b *testing.B) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv, &n
}

func waitCount(b *testing.B, n *atomic.Int64, want int64) {
	deadline := time.Now().Add(5 * time.Minute)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d delivered", n.Load(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// BenchmarkInbound measures SMTP to webhook: 1000 messages of 1 KiB sent
// over 8 connections into the gateway (each queued, fsynced, before its
// 250), posted by its workers to a local webhook. It reports the messages
// per second accepted (all 250s given) and delivered (the webhook has
// them all), from the first submission.
//
//	go test -run '^$' -bench Inbound -benchtime 3x ./examples/gateway
func BenchmarkInbound(b *testing.B) {
	benchInbound(b)
}

// BenchmarkInboundSync is BenchmarkInbound with -sync: each 250 waits for
// the webhook's answer, nothing is queued.
func BenchmarkInboundSync(b *testing.B) {
	benchInbound(b, "-sync")
}

func benchInbound(b *testing.B, args ...string) {
	hook, count := benchReceiver(b)
	var accepted, delivered float64
	for range b.N {
		dir := b.TempDir()
		e2e.WriteFile(b, dir, "secret", testSecret+"\n", 0o600)
		addr := e2e.FreeAddr(b)
		g := e2e.Start(b, dir, gatewayBin, append([]string{"-listen", addr, "-route", "bench.test=" + hook.URL,
			"-secret-file", "secret", "-queue", "queue", "-hostname", "gw.test"}, args...)...)
		g.WaitListen(addr, wait)
		start := count.Load()
		l := e2e.Load{Addrs: []string{addr}, From: "load@example.net", To: "sink@bench.test", N: benchN, Conns: benchConns, Size: benchSize}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		t0 := time.Now()
		if err := l.Submit(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		accepted += time.Since(t0).Seconds()
		waitCount(b, count, start+benchN)
		delivered += time.Since(t0).Seconds()
		g.Stop()
	}
	b.ReportMetric(float64(b.N*benchN)/accepted, "accepted/s")
	b.ReportMetric(float64(b.N*benchN)/delivered, "delivered/s")
}

// BenchmarkOutbound measures HTTP to SMTP: 1000 JSON requests of 1 KiB
// of text from 8 clients to the API (each message built, queued and
// fsynced before its 202), delivered by the gateway's workers to a local
// SMTP server as the smart host. It reports the messages per second
// accepted (all 202s given) and delivered (the server has them all).
//
//	go test -run '^$' -bench Outbound -benchtime 3x ./examples/gateway
func BenchmarkOutbound(b *testing.B) {
	sink := e2e.StartCountingSink(b)
	text := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\\n", benchSize/64)
	var accepted, delivered float64
	for range b.N {
		dir := b.TempDir()
		e2e.WriteFile(b, dir, "token", testToken+"\n", 0o600)
		addr := e2e.FreeAddr(b)
		g := e2e.Start(b, dir, gatewayBin, "-listen", "", "-http", addr, "-token-file", "token", "-queue", "queue",
			"-smarthost", sink.Addr, "-hostname", "gw.test")
		g.WaitListen(addr, wait)
		start := sink.Count()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConns}, Timeout: time.Minute}
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, benchConns)
		t0 := time.Now()
		for range benchConns {
			wg.Go(func() {
				for i := next.Add(1); i <= benchN; i = next.Add(1) {
					body := fmt.Sprintf(`{"from":"app@shop.test","to":"user%d@example.net","subject":"bench %d","text":"%s"}`, i, i, text)
					req, _ := http.NewRequest("POST", "http://"+addr+"/v1/messages", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+testToken)
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						errs <- err
						return
					}
					var buf bytes.Buffer
					buf.ReadFrom(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						errs <- fmt.Errorf("POST: %d %s", resp.StatusCode, buf.Bytes())
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		accepted += time.Since(t0).Seconds()
		if err := sink.Wait(start+benchN, 5*time.Minute); err != nil {
			b.Fatal(err)
		}
		delivered += time.Since(t0).Seconds()
		g.Stop()
	}
	b.ReportMetric(float64(b.N*benchN)/accepted, "accepted/s")
	b.ReportMetric(float64(b.N*benchN)/delivered, "delivered/s")
}
