package gtmclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/poll"
)

// Two clients number their transactions from ranges of their own: no id is
// handed out twice, and a client's ids keep growing across its ranges.
func TestNextGXIDRanges(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	a, b := dial(t, addr), dial(t, addr)
	ctx := testCtx(t)
	seen := map[uint64]bool{}
	for _, c := range []*gtmclient.Client{a, b, a, b} {
		var last uint64
		for i := 0; i < gtmclient.GXIDRange+10; i++ {
			id, err := c.NextGXID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if seen[id] {
				t.Fatalf("gxid %d handed out twice", id)
			}
			if id <= last {
				t.Fatalf("gxid %d after %d", id, last)
			}
			seen[id], last = true, id
		}
	}
}

// A restarted gtm never hands out an id of a range given out before the
// restart, used or not.
func TestNextGXIDRangesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	srv, addr := startGTM(t, dir, "127.0.0.1:0")
	c := dial(t, addr)
	ctx := testCtx(t)
	first, err := c.NextGXID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	_, addr = startGTM(t, dir, "127.0.0.1:0")
	id, err := dial(t, addr).NextGXID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id < first+gtmclient.GXIDRange {
		t.Fatalf("gxid %d after a restart; the range from %d was handed out before it", id, first)
	}
}

// CommitAndEnter logs the decision at once, even while a reader holds the
// gate; the gate is granted when the reader leaves.
func TestCommitAndEnterWaitsForReaders(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	c := dial(t, addr)
	ctx := testCtx(t)
	leaveReader, err := c.GateEnter(ctx, gtmclient.GateReader)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		release func()
		decided bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		rel, decided, err := c.CommitAndEnter(ctx, time.Minute, "xl_ce1", []string{"dn1", "dn2"})
		done <- result{rel, decided, err}
	}()
	poll.Until(t, "the decision logged while the gate waits", func() bool {
		st, err := c.Decision(ctx, "xl_ce1")
		return err == nil && st == gtmclient.Committed
	})
	select {
	case r := <-done:
		t.Fatalf("committer passed the gate a reader holds: %+v", r)
	default:
	}
	leaveReader()
	select {
	case r := <-done:
		if !r.decided || r.err != nil || r.release == nil {
			t.Fatalf("CommitAndEnter = %+v", r)
		}
		r.release()
	case <-time.After(15 * time.Second):
		t.Fatal("committer not granted after the reader left")
	}
	// The gate is free again: a reader enters at once.
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rel, err := c.GateEnter(rctx, gtmclient.GateReader)
	if err != nil {
		t.Fatalf("reader after the commit: %v", err)
	}
	rel()
}

// A gate not granted within gateWait: the decision stands, the error is the
// gate's, and the withdrawn request does not hold readers back.
func TestCommitAndEnterGateBound(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	c := dial(t, addr)
	ctx := testCtx(t)
	leaveReader, err := c.GateEnter(ctx, gtmclient.GateReader)
	if err != nil {
		t.Fatal(err)
	}
	rel, decided, err := c.CommitAndEnter(ctx, 200*time.Millisecond, "xl_ce2", []string{"dn1", "dn2"})
	if !decided || !errors.Is(err, context.DeadlineExceeded) || rel != nil {
		t.Fatalf("CommitAndEnter = decided %v, %v; want decided and the gate's deadline", decided, err)
	}
	if st, err := c.Decision(ctx, "xl_ce2"); err != nil || st != gtmclient.Committed {
		t.Fatalf("Decision = %v, %v", st, err)
	}
	// No committer waits any more: a second reader shares the gate at once.
	rctx, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	rel2, err := c.GateEnter(rctx, gtmclient.GateReader)
	if err != nil {
		t.Fatalf("second reader: %v", err)
	}
	rel2()
	leaveReader()
}

// A commit decision that conflicts with a logged abort is refused and leaves
// nothing held at the gate.
func TestCommitAndEnterConflict(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	c := dial(t, addr)
	ctx := testCtx(t)
	if err := c.LogDecision(ctx, "xl_ce3", []string{"dn1", "dn2"}, false); err != nil {
		t.Fatal(err)
	}
	rel, decided, err := c.CommitAndEnter(ctx, time.Minute, "xl_ce3", []string{"dn1", "dn2"})
	if decided || !errors.Is(err, gtmclient.ErrDecisionConflict) || rel != nil {
		t.Fatalf("CommitAndEnter = decided %v, %v; want the conflict", decided, err)
	}
	poll.Until(t, "the withdrawn committer lets a reader in", func() bool {
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		rel, err := c.GateEnter(rctx, gtmclient.GateReader)
		if err != nil {
			return false
		}
		rel()
		return true
	})
}

// ForgetLater's gids reach the gtm in batches, without a caller waiting.
func TestForgetLater(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	c := dial(t, addr)
	ctx := testCtx(t)
	gids := []string{"xl_f1", "xl_f2", "xl_f3", "xl_f4"}
	for _, gid := range gids {
		if err := c.LogDecision(ctx, gid, []string{"dn1", "dn2"}, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, gid := range gids {
		c.ForgetLater(gid)
	}
	poll.Until(t, "every decision forgotten", func() bool {
		ds, err := c.ListDecisions(ctx)
		return err == nil && len(ds) == 0 && c.ForgetsQueued() == 0
	})
}
