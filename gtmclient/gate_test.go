package gtmclient_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtm"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/poll"
)

// enterAsync starts GateEnter in the background; the channel yields its release (or nil on error).
func enterAsync(ctx context.Context, t *testing.T, c *gtmclient.Client, kind gtmclient.GateKind) <-chan func() {
	ch := make(chan func(), 1)
	go func() {
		rel, err := c.GateEnter(ctx, kind)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("GateEnter: %v", err)
			}
			ch <- nil
			return
		}
		ch <- rel
	}()
	return ch
}

func granted(t *testing.T, ch <-chan func()) func() {
	t.Helper()
	select {
	case rel := <-ch:
		if rel == nil {
			t.Fatal("GateEnter failed")
		}
		return rel
	case <-time.After(15 * time.Second):
		t.Fatal("GateEnter not granted")
	}
	return nil
}

func notGranted(t *testing.T, ch <-chan func()) {
	t.Helper()
	select {
	case <-ch:
		t.Fatal("GateEnter granted while it should wait")
	default:
	}
}

// The isolationtester-style spec of DESIGN.md §7, over the network:
//
//	r1: enter reader       -> granted
//	c1: enter committer    -> waits (r1 holds)
//	r2: enter reader       -> waits (c1 waits: no overtaking)
//	r1: release            -> c1 granted
//	c2: enter committer    -> waits (r2 waits for its turn)
//	c1: release            -> r2 granted
//	r2: release            -> c2 granted
func TestGateSpecOverNetwork(t *testing.T) {
	s, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	ctx := testCtx(t)
	r1, r2, c1, c2 := dial(t, addr), dial(t, addr), dial(t, addr), dial(t, addr)
	waitState := func(what string, want gtm.GateState) {
		t.Helper()
		poll.Until(t, what, func() bool { return s.Gate() == want })
	}

	relR1, err := r1.GateEnter(ctx, gtmclient.GateReader)
	if err != nil {
		t.Fatal(err)
	}
	chC1 := enterAsync(ctx, t, c1, gtmclient.GateCommitter)
	waitState("c1 waiting", gtm.GateState{Active: gtmclient.GateReader, Holders: 1, CommittersWaiting: 1})
	notGranted(t, chC1)
	chR2 := enterAsync(ctx, t, r2, gtmclient.GateReader)
	waitState("r2 waiting", gtm.GateState{Active: gtmclient.GateReader, Holders: 1, ReadersWaiting: 1, CommittersWaiting: 1})
	notGranted(t, chR2)

	relR1()
	relR1() // a second call does nothing
	relC1 := granted(t, chC1)
	notGranted(t, chR2)
	chC2 := enterAsync(ctx, t, c2, gtmclient.GateCommitter)
	waitState("c2 waiting", gtm.GateState{Active: gtmclient.GateCommitter, Holders: 1, ReadersWaiting: 1, CommittersWaiting: 1})
	relC1()
	relR2 := granted(t, chR2)
	notGranted(t, chC2)
	relR2()
	relC2 := granted(t, chC2)
	relC2()
	waitState("gate free", gtm.GateState{Active: gtmclient.GateCommitter})
}

func TestGateEnterCancelledWithdraws(t *testing.T) {
	s, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	ctx := testCtx(t)
	r, c := dial(t, addr), dial(t, addr)
	rel, err := r.GateEnter(ctx, gtmclient.GateReader)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.GateEnter(cctx, gtmclient.GateCommitter); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GateEnter with an expiring context: %v", err)
	}
	poll.Until(t, "committer withdrawn", func() bool { return s.Gate().CommittersWaiting == 0 })
	// Readers are not held back by the withdrawn committer.
	rel2, err := r.GateEnter(ctx, gtmclient.GateReader)
	if err != nil {
		t.Fatal(err)
	}
	rel()
	rel2()
	relC, err := c.GateEnter(ctx, gtmclient.GateCommitter)
	if err != nil {
		t.Fatal(err)
	}
	relC()
}

func TestGateReleasedWhenClientDies(t *testing.T) {
	s, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	ctx := testCtx(t)
	holder, waiter, other := dial(t, addr), dial(t, addr), dial(t, addr)
	if _, err := holder.GateEnter(ctx, gtmclient.GateCommitter); err != nil {
		t.Fatal(err)
	}
	// The dying client also had a request waiting; it must not block anyone later.
	ch := enterAsync(ctx, t, waiter, gtmclient.GateReader)
	chOther := enterAsync(ctx, t, other, gtmclient.GateReader)
	poll.Until(t, "readers waiting", func() bool { return s.Gate().ReadersWaiting == 2 })
	holder.Close() // its connection dies holding the gate
	granted(t, chOther)
	granted(t, ch)
	waiter.Close() // dies holding a reader grant
	poll.Until(t, "only one reader left", func() bool { return s.Gate().Holders == 1 })
}

// A continuous stream of overlapping readers never keeps a committer out,
// and readers and committers are never inside together.
func TestGateNoStarvationAndExclusion(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	ctx := testCtx(t)
	var readersIn, committersIn atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		c := dial(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				rel, err := c.GateEnter(ctx, gtmclient.GateReader)
				if err != nil {
					t.Error(err)
					return
				}
				readersIn.Add(1)
				if committersIn.Load() != 0 {
					t.Error("reader inside with a committer")
				}
				time.Sleep(200 * time.Microsecond)
				readersIn.Add(-1)
				rel()
			}
		}()
	}
	committer := dial(t, addr)
	for i := range 30 {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rel, err := committer.GateEnter(cctx, gtmclient.GateCommitter)
		cancel()
		if err != nil {
			t.Fatalf("committer %d starved: %v", i, err)
		}
		committersIn.Add(1)
		if readersIn.Load() != 0 {
			t.Error("committer inside with a reader")
		}
		committersIn.Add(-1)
		rel()
	}
	close(stop)
	wg.Wait()
}

func TestStandbyRefusesGate(t *testing.T) {
	_, paddr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	_, saddr := startGTM(t, t.TempDir(), "127.0.0.1:0", gtm.WithStandbyOf(paddr))
	c := dial(t, saddr)
	ctx := testCtx(t)
	if _, err := c.GateEnter(ctx, gtmclient.GateReader); !errors.Is(err, gtmclient.ErrUnavailable) {
		t.Fatalf("GateEnter on a standby: %v", err)
	}
}
