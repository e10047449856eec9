package mta

import "testing"

func TestURLHasPassword(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://relay@db/mail":                     false,
		"postgres://relay:secret@db/mail":              true,
		"postgresql://relay:@db/mail":                  true,
		"postgres://db/mail?user=relay&password=x":     true,
		"postgres://relay@db/mail?sslmode=verify-full": false,
		"./queue": false,
	} {
		if got := urlHasPassword(s); got != want {
			t.Errorf("urlHasPassword(%q) = %v, want %v", s, got, want)
		}
	}
}
