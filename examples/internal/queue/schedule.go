package queue

import (
	"fmt"
	"strings"
	"time"
)

// Retry defaults of RFC 5321 4.5.4.1: "the retry interval SHOULD be at least
// 30 minutes" and "the give-up time generally needs to be at least 4-5 days".
const (
	DefaultFirstRetry = 30 * time.Minute
	DefaultMaxAge     = 5 * 24 * time.Hour
)

// DefaultDelays returns the default retry delays: 30 minutes, then 1, 2 and 4
// hours, the last repeating (RFC 5321 4.5.4.1 asks for at least 30 minutes
// and recommends variable strategies).
func DefaultDelays() []time.Duration {
	return []time.Duration{DefaultFirstRetry, time.Hour, 2 * time.Hour, 4 * time.Hour}
}

// Schedule decides when a message is tried again and when the relay gives up.
// The zero value uses the defaults.
type Schedule struct {
	// Delays between attempts: Delays[0] after the first attempt, and so on;
	// the last one repeats. Empty means DefaultDelays.
	Delays []time.Duration
	// MaxAge is how long after its arrival a message is given up (and
	// bounced). Zero means DefaultMaxAge.
	MaxAge time.Duration
}

// ParseDelays parses a comma-separated list of durations such as
// "1s,2s,4s". Every delay must be positive.
func ParseDelays(s string) ([]time.Duration, error) {
	var ds []time.Duration
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		d, err := time.ParseDuration(f)
		if err != nil {
			return nil, fmt.Errorf("retry delay %q: %w", f, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry delay %q: must be positive", f)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// Delay returns the wait after the given number of attempts (1 = after the
// first attempt).
func (s Schedule) Delay(attempts int) time.Duration {
	ds := s.Delays
	if len(ds) == 0 {
		ds = DefaultDelays()
	}
	i := attempts - 1
	if i < 0 {
		i = 0
	}
	if i >= len(ds) {
		i = len(ds) - 1
	}
	return ds[i]
}

// GiveUp returns the give-up time of a message created at created: its
// arrival plus MaxAge (DefaultMaxAge when zero).
func (s Schedule) GiveUp(created time.Time) time.Time {
	if s.MaxAge <= 0 {
		return created.Add(DefaultMaxAge)
	}
	return created.Add(s.MaxAge)
}

// Expired reports whether a message created at created is past its
// give-up time at now.
func (s Schedule) Expired(created, now time.Time) bool {
	return !now.Before(s.GiveUp(created))
}

// Next returns when to try again after a transient failure at now, given the
// number of attempts made, or expired = true when the message must be given
// up instead. The last attempt is made at the give-up time, not skipped: a
// next try that would fall after it is moved to it.
func (s Schedule) Next(attempts int, created, now time.Time) (next time.Time, expired bool) {
	if s.Expired(created, now) {
		return time.Time{}, true
	}
	next = now.Add(s.Delay(attempts))
	if deadline := s.GiveUp(created); next.After(deadline) {
		next = deadline
	}
	return next, false
}
