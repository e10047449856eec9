package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestStampFormatsAsAppendFormat: the printed time, made from a per-second
// cache, is what time.Time.AppendFormat gives for every time: the same
// second again, the next second, milliseconds from 0 to 999, other years,
// and zones with and without daylight saving time (the zone's offset is
// part of the cached text).
func TestStampFormatsAsAppendFormat(t *testing.T) {
	locs := []*time.Location{time.UTC, time.Local, time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("X", 5*3600+45*60)}
	if berlin, err := time.LoadLocation("Europe/Berlin"); err == nil {
		locs = append(locs, berlin)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, loc := range locs {
		var s stamp
		sec := time.Date(2026, 3, 29, 0, 59, 58, 0, time.UTC).Unix() // a DST change in Berlin at 01:00 UTC
		for i := 0; i < 5000; i++ {
			switch rng.IntN(4) {
			case 0: // same second
			case 1:
				sec++
			case 2:
				sec += rng.Int64N(1 << 20)
			default:
				sec = rng.Int64N(1<<37) - 1<<36 // years far from now, some before 1970
			}
			tm := time.Unix(sec, rng.Int64N(1e9)).In(loc)
			if i%7 == 0 {
				tm = time.Unix(sec, int64(rng.IntN(1000))*1e6+999_999).In(loc) // a millisecond's last nanosecond
			}
			got := string(s.append([]byte("x "), tm))
			want := "x " + tm.Format(stampLayout)
			if got != want {
				t.Fatalf("%v: got %q, want %q", tm, got, want)
			}
		}
	}
}

// BenchmarkStamp: the printed time from the per-second cache, against
// formatting it whole.
func BenchmarkStamp(b *testing.B) {
	tm := time.Now()
	b.Run("cached", func(b *testing.B) {
		var s stamp
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf = s.append(buf[:0], tm)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf = tm.AppendFormat(buf[:0], stampLayout)
		}
	})
}
