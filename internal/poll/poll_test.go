package poll

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	var n atomic.Int32
	go func() {
		for i := 0; i < 3; i++ {
			time.Sleep(time.Millisecond)
			n.Add(1)
		}
	}()
	Until(t, "three steps", func() bool { return n.Load() == 3 })
}

// fatal records a failure instead of ending the goroutine.
type fatal struct {
	testing.TB
	failed bool
}

func (f *fatal) Helper()               {}
func (f *fatal) Fatalf(string, ...any) { f.failed = true; panic(f) }

func TestWithinTimesOut(t *testing.T) {
	f := &fatal{TB: t}
	func() {
		defer func() { _ = recover() }()
		Within(f, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if !f.failed {
		t.Fatal("a condition that never holds did not fail the test")
	}
}
