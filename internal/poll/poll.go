// Package poll waits in tests until a condition holds, polling it with a
// deadline: tests never sleep to wait for a server or another goroutine.
// It owns nothing else and imports nothing of xlgo.
package poll

import (
	"testing"
	"time"
)

// Timeout is how long Until waits.
const Timeout = 15 * time.Second

// Until polls cond until it holds, failing t when Timeout passes first.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Within(t, Timeout, what, cond)
}

// Within polls cond until it holds, failing t when d passes first.
func Within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(wait)
	}
}
