package gtmclient_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtm"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/poll"
)

// startGTM runs a GTM on addr (use "127.0.0.1:0" for a free port) over dir and
// returns it with its address; it is closed at the end of the test.
func startGTM(t *testing.T, dir, addr string, opts ...gtm.Option) (*gtm.Server, string) {
	t.Helper()
	s, err := gtm.Open(dir, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

func dial(t *testing.T, addr string) *gtmclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gtmclient.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// watcher records the epochs its callback saw.
type watcher struct {
	mu     sync.Mutex
	seen   []uint64
	latest atomic.Uint64
}

func (w *watcher) fn(e uint64) {
	w.mu.Lock()
	w.seen = append(w.seen, e)
	w.mu.Unlock()
	w.latest.Store(e)
}

func (w *watcher) calls(e uint64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.seen {
		if s == e {
			n++
		}
	}
	return n
}

func TestClientAPI(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	c := dial(t, addr)
	ctx := testCtx(t)

	var last uint64
	for range 5 {
		id, err := c.NextGXID(ctx)
		if err != nil || id <= last {
			t.Fatalf("NextGXID = %d, %v after %d", id, err, last)
		}
		last = id
	}

	decisions := []gtmclient.Decision{
		{GID: "xl_a", Participants: []string{"datanode1", "datanode2"}, Commit: true},
		{GID: "xl_b", Participants: []string{"datanode2"}, Commit: false},
		{GID: "xl_c", Participants: []string{"datanode1"}, Commit: true},
	}
	for _, d := range decisions {
		if err := c.LogDecision(ctx, d.GID, d.Participants, d.Commit); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.LogDecision(ctx, "xl_a", []string{"datanode1"}, false); !errors.Is(err, gtmclient.ErrDecisionConflict) {
		t.Fatalf("conflicting LogDecision = %v", err)
	}
	if err := c.LogDecision(ctx, "", []string{"datanode1"}, true); err == nil {
		t.Fatal("LogDecision with empty gid succeeded")
	}
	if err := c.Forget(ctx, "xl_c"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		gid  string
		want gtmclient.DecisionState
	}{
		{"xl_a", gtmclient.Committed},
		{"xl_b", gtmclient.Aborted},
		{"xl_c", gtmclient.Unknown},
		{"nope", gtmclient.Unknown},
	} {
		got, err := c.Decision(ctx, tt.gid)
		if err != nil || got != tt.want {
			t.Errorf("Decision(%s) = %v, %v; want %v", tt.gid, got, err, tt.want)
		}
	}
	list, err := c.ListDecisions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(list, decisions[:2]) {
		t.Errorf("ListDecisions = %+v, want %+v", list, decisions[:2])
	}

	e0, err := c.CatalogEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e1, err := c.BumpCatalogEpoch(ctx)
	if err != nil || e1 != e0+1 {
		t.Fatalf("BumpCatalogEpoch = %d, %v after %d", e1, err, e0)
	}
	if got, _ := c.CatalogEpoch(ctx); got != e1 {
		t.Fatalf("CatalogEpoch = %d, want %d", got, e1)
	}
}

func TestConcurrentCallsShareOneClient(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0", gtm.WithGXIDBlock(64))
	c := dial(t, addr)
	ctx := testCtx(t)
	const workers, each = 16, 100
	ids := make(chan uint64, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var prev uint64
			for i := range each {
				id, err := c.NextGXID(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if id <= prev {
					t.Errorf("worker %d: %d after %d", w, id, prev)
				}
				prev = id
				ids <- id
				if i%10 == 0 {
					if _, err := c.Decision(ctx, "x"); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[uint64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("GXID %d twice", id)
		}
		seen[id] = true
	}
}

func TestBumpWaitsForEveryWatcher(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0", gtm.WithCatalogAckTimeout(30*time.Second))
	ws := []*watcher{{}, {}}
	var clients []*gtmclient.Client
	for _, w := range ws {
		c := dial(t, addr)
		c.WatchCatalog(func(e uint64) {
			if e > 0 {
				time.Sleep(20 * time.Millisecond) // a slow catalog reload
			}
			w.fn(e)
		})
		clients = append(clients, c)
	}
	for i, c := range clients {
		poll.Until(t, "watcher subscribed", c.Connected)
		if got := ws[i].calls(0); got != 1 {
			t.Fatalf("watcher %d saw the initial epoch %d times", i, got)
		}
	}
	bumper := dial(t, addr)
	ctx := testCtx(t)
	for round := range 3 {
		start := time.Now()
		e, err := bumper.BumpCatalogEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if e != uint64(round+1) {
			t.Fatalf("epoch %d, want %d", e, round+1)
		}
		for i, w := range ws {
			if got := w.latest.Load(); got != e {
				t.Fatalf("bump to %d returned before watcher %d applied it (it has %d)", e, i, got)
			}
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("bump waited for the timeout instead of the acks")
		}
	}
}

func TestWatcherThatDoesNotAckIsDropped(t *testing.T) {
	const ackTimeout = time.Second
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0", gtm.WithCatalogAckTimeout(ackTimeout))

	good := &watcher{}
	goodClient := dial(t, addr)
	goodClient.WatchCatalog(good.fn)

	stuck := &watcher{}
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	stuckClient := dial(t, addr)
	stuckClient.WatchCatalog(func(e uint64) {
		stuck.fn(e)
		if e == 1 {
			<-release
		}
	})
	poll.Until(t, "both subscribed", func() bool { return goodClient.Connected() && stuckClient.Connected() })

	bumper := dial(t, addr)
	ctx := testCtx(t)
	type result struct {
		e   uint64
		err error
	}
	bumped := make(chan result, 1)
	start := time.Now()
	go func() {
		e, err := bumper.BumpCatalogEpoch(ctx)
		bumped <- result{e, err}
	}()

	// While the bump waits for the stuck watcher, other requests are served.
	poll.Until(t, "stuck watcher called", func() bool { return stuck.latest.Load() == 1 })
	other := dial(t, addr)
	if _, err := other.NextGXID(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bumper.NextGXID(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-bumped:
		if time.Since(start) < ackTimeout {
			t.Fatalf("bump returned %+v while a watcher was still applying it", r)
		}
		bumped <- r
	default:
	}

	r := <-bumped
	if r.err != nil || r.e != 1 {
		t.Fatalf("BumpCatalogEpoch = %d, %v", r.e, r.err)
	}
	if time.Since(start) < ackTimeout {
		t.Fatalf("bump returned after %v, before the ack timeout", time.Since(start))
	}
	if good.latest.Load() != 1 {
		t.Fatal("good watcher did not apply epoch 1 before the bump returned")
	}
	poll.Until(t, "stuck watcher disconnected", func() bool { return !stuckClient.Connected() })

	releaseOnce.Do(func() { close(release) })
	poll.Until(t, "stuck watcher resubscribed", stuckClient.Connected)
	poll.Until(t, "stuck watcher re-read the epoch", func() bool { return stuck.calls(1) >= 2 })

	// A later bump reaches it normally and returns without waiting for the timeout.
	start = time.Now()
	e, err := bumper.BumpCatalogEpoch(ctx)
	if err != nil || e != 2 {
		t.Fatalf("second bump = %d, %v", e, err)
	}
	if stuck.latest.Load() != 2 || good.latest.Load() != 2 {
		t.Fatal("second bump returned before both watchers applied it")
	}
	if time.Since(start) >= ackTimeout {
		t.Fatalf("second bump took %v", time.Since(start))
	}
}

func TestCallHonoursContext(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0", gtm.WithCatalogAckTimeout(5*time.Second))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	w := dial(t, addr)
	w.WatchCatalog(func(e uint64) {
		if e == 1 {
			<-release
		}
	})
	poll.Until(t, "subscribed", w.Connected)
	c := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.BumpCatalogEpoch(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BumpCatalogEpoch = %v, want deadline exceeded", err)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := c.NextGXID(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("NextGXID(canceled) = %v", err)
	}
	if _, err := c.NextGXID(testCtx(t)); err != nil {
		t.Fatalf("client unusable after a canceled call: %v", err)
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv, addr := startGTM(t, dir, "127.0.0.1:0")
	c := dial(t, addr)
	w := &watcher{}
	c.WatchCatalog(w.fn)
	poll.Until(t, "subscribed", c.Connected)
	ctx := testCtx(t)
	id1, err := c.NextGXID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e1, err := c.BumpCatalogEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LogDecision(ctx, "xl_r", []string{"dn1", "dn2"}, true); err != nil {
		t.Fatal(err)
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "client notices the GTM is gone", func() bool { return !c.Connected() })
	// With ids of its range left, NextGXID still says the GTM is down.
	if _, err := c.NextGXID(ctx); !errors.Is(err, gtmclient.ErrUnavailable) {
		t.Fatalf("NextGXID while GTM down = %v, want ErrUnavailable", err)
	}
	if _, err := c.Decision(ctx, "xl_r"); !errors.Is(err, gtmclient.ErrUnavailable) {
		t.Fatalf("Decision while GTM down = %v, want ErrUnavailable", err)
	}

	startGTM(t, dir, addr)
	poll.Until(t, "CatalogEpoch after restart", func() bool {
		_, err = c.CatalogEpoch(ctx)
		return err == nil
	})
	id2, err := c.NextGXID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id2 <= id1 {
		t.Fatalf("GXID %d after restart, before %d", id2, id1)
	}
	poll.Until(t, "resubscribed", c.Connected)
	if got := w.calls(e1); got < 2 {
		t.Fatalf("watcher saw epoch %d %d times; want a re-read after resubscribing", e1, got)
	}
	if st, err := c.Decision(ctx, "xl_r"); err != nil || st != gtmclient.Committed {
		t.Fatalf("Decision after restart = %v, %v", st, err)
	}
}

func TestDialUnavailableAndClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := gtmclient.Dial(testCtx(t), addr); !errors.Is(err, gtmclient.ErrUnavailable) {
		t.Fatalf("Dial to a closed port = %v, want ErrUnavailable", err)
	}

	_, addr = startGTM(t, t.TempDir(), "127.0.0.1:0")
	c := dial(t, addr)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NextGXID(testCtx(t)); !errors.Is(err, gtmclient.ErrClosed) {
		t.Fatalf("NextGXID after Close = %v", err)
	}
	if c.Connected() {
		t.Fatal("Connected after Close")
	}
}
