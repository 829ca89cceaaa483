package engine

import (
	"testing"
	"time"
)

func TestParseGUCDuration(t *testing.T) {
	for v, want := range map[string]time.Duration{"0": 0, "250ms": 250 * time.Millisecond, "30s": 30 * time.Second,
		"5min": 5 * time.Minute, "1h": time.Hour, "2d": 48 * time.Hour, "": 0, "x": 0} {
		if got := parseGUCDuration(v); got != want {
			t.Errorf("parseGUCDuration(%q) = %v, want %v", v, got, want)
		}
	}
}
