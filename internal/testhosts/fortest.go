package testhosts

import (
	"context"
	"errors"
	"os"
)

// TB is the part of testing.TB that ForTest uses.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
}

// ForTest makes n hosts for a test and closes them when it ends. When the
// machine cannot make them (not root, no namespaces, cgroups or sshd) the
// test is skipped with the reason, or fails when CI=true, since CI installs
// what they need; a Delay on a kernel without netem always skips.
func ForTest(t TB, n int, opt Options) *Net {
	t.Helper()
	nt, err := New(context.Background(), n, opt)
	return forTest(t, nt, err)
}

// forTest skips or fails t on New's error, or has t close nt when it ends.
func forTest(t TB, nt *Net, err error) *Net {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrNoNetem):
		t.Skipf("%v", err)
	case errors.Is(err, ErrUnavailable) && os.Getenv("CI") != "true":
		t.Skipf("%v", err)
	default:
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := nt.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return nt
}
