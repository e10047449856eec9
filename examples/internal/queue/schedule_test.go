package queue

import (
	"reflect"
	"testing"
	"time"
)

func TestParseDelays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []time.Duration
		ok   bool
	}{
		{"1s,2s,4s", []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, true},
		{" 200ms , 1m ", []time.Duration{200 * time.Millisecond, time.Minute}, true},
		{"30m", []time.Duration{30 * time.Minute}, true},
		{"", nil, false},
		{"1s,,2s", nil, false},
		{"0s", nil, false},
		{"-1s", nil, false},
		{"soon", nil, false},
	} {
		got, err := ParseDelays(tc.in)
		if (err == nil) != tc.ok || (tc.ok && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("ParseDelays(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestScheduleDelay(t *testing.T) {
	s := Schedule{Delays: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}}
	for attempts, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 4 * time.Second} {
		if got := s.Delay(attempts); got != want {
			t.Errorf("Delay(%d) = %v, want %v", attempts, got, want)
		}
	}
	// RFC 5321 4.5.4.1: the default first retry is at least 30 minutes,
	// and every default delay too.
	var def Schedule
	for a := 1; a < 10; a++ {
		if def.Delay(a) < 30*time.Minute {
			t.Errorf("default Delay(%d) = %v < 30m", a, def.Delay(a))
		}
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := def.GiveUp(created).Sub(created); got != 5*24*time.Hour {
		t.Errorf("default MaxAge %v", got)
	}
}

func TestScheduleNext(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Schedule{Delays: []time.Duration{time.Minute}, MaxAge: 10 * time.Minute}
	next, exp := s.Next(1, created, created.Add(time.Minute))
	if exp || !next.Equal(created.Add(2*time.Minute)) {
		t.Errorf("Next = %v %v", next, exp)
	}
	// Clamped to the give-up time: the last attempt is made then.
	next, exp = s.Next(5, created, created.Add(9*time.Minute+30*time.Second))
	if exp || !next.Equal(created.Add(10*time.Minute)) {
		t.Errorf("Next near the end = %v %v", next, exp)
	}
	if _, exp = s.Next(6, created, created.Add(10*time.Minute)); !exp {
		t.Error("not expired at MaxAge")
	}
}
