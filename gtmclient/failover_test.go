package gtmclient_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtm"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/faultproxy"
	"github.com/xlgo/xlgo/internal/poll"
)

// serveOn serves s on addr; the caller closes s.
func serveOn(t *testing.T, s *gtm.Server, addr string) (string, <-chan error) {
	t.Helper()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	return ln.Addr().String(), done
}

func waitStreaming(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	poll.Until(t, "standby streaming from "+addr, func() bool {
		ni, err := c.NodeInfo(context.Background())
		return err == nil && ni.Standby && ni.PeerConnected
	})
}

func TestStandbyFollowsAndIsPromoted(t *testing.T) {
	ctx := testCtx(t)
	primary, err := gtm.Open(t.TempDir(), nil, gtm.WithGXIDBlock(10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Close() })
	paddr, pdone := serveOn(t, primary, "127.0.0.1:0")

	// State from before the standby attaches arrives in its snapshot.
	pc := dial(t, paddr)
	if err := pc.SeqCreate(ctx, gtmclient.NewSeqDef("s")); err != nil {
		t.Fatal(err)
	}
	if err := pc.LogDecision(ctx, "before", []string{"dn1"}, true); err != nil {
		t.Fatal(err)
	}

	sdir := t.TempDir()
	_, saddr := startGTM(t, sdir, "127.0.0.1:0", gtm.WithStandbyOf(paddr))
	waitStreaming(t, saddr)

	// The standby refuses ordinary requests, clearly.
	only := dial(t, saddr)
	_, err = only.NextGXID(ctx)
	if !errors.Is(err, gtmclient.ErrUnavailable) || !strings.Contains(err.Error(), "gtm is a standby") {
		t.Fatalf("NextGXID on a standby: %v", err)
	}

	// A client of both takes ranges, ids and decisions from the primary.
	c := dial(t, paddr+","+saddr)
	seen := map[int64]bool{}
	take := func() {
		t.Helper()
		first, n, incr, err := c.SeqNextRange(ctx, "s", 5)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			v := first + i*incr
			if seen[v] {
				t.Fatalf("value %d twice", v)
			}
			seen[v] = true
		}
	}
	var lastGXID uint64
	for i := range 25 {
		take()
		if lastGXID, err = c.NextGXID(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.LogDecision(ctx, fmt.Sprintf("gid%d", i), []string{"dn1", "dn2"}, i%3 != 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Forget(ctx, "gid0"); err != nil {
		t.Fatal(err)
	}
	epoch, err := c.BumpCatalogEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The primary dies; the standby is promoted and the client finds it.
	primary.Close()
	<-pdone
	gen, was, err := only.Promote(ctx)
	if err != nil || gen != 2 {
		t.Fatalf("Promote = %d, %v, %v", gen, was, err)
	}
	if id, err := c.NextGXID(ctx); err != nil || id <= lastGXID {
		t.Fatalf("NextGXID after failover = %d, %v (before: %d)", id, err, lastGXID)
	}
	take()
	for i := 1; i < 25; i++ {
		want := gtmclient.Committed
		if i%3 == 0 {
			want = gtmclient.Aborted
		}
		if st, err := c.Decision(ctx, fmt.Sprintf("gid%d", i)); err != nil || st != want {
			t.Fatalf("decision gid%d after failover = %v, %v", i, st, err)
		}
	}
	if st, _ := c.Decision(ctx, "gid0"); st != gtmclient.Unknown {
		t.Fatalf("forgotten gid0 is %v after failover", st)
	}
	if st, _ := c.Decision(ctx, "before"); st != gtmclient.Committed {
		t.Fatalf("decision from the snapshot is %v", st)
	}
	if e, err := c.CatalogEpoch(ctx); err != nil || e != epoch {
		t.Fatalf("catalog epoch after failover = %d, %v; want %d", e, err, epoch)
	}
	// Promoting again does nothing.
	if g, _, err := only.Promote(ctx); err != nil || g != gen {
		t.Fatalf("second Promote = %d, %v", g, err)
	}
}

func TestPrimaryGoesOnAloneWithoutStandby(t *testing.T) {
	ctx := testCtx(t)
	_, paddr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	standby, err := gtm.Open(t.TempDir(), nil, gtm.WithStandbyOf(paddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Close() })
	saddr, sdone := serveOn(t, standby, "127.0.0.1:0")
	waitStreaming(t, saddr)
	c := dial(t, paddr)
	if err := c.LogDecision(ctx, "g1", []string{"dn1"}, true); err != nil {
		t.Fatal(err)
	}
	standby.Close()
	<-sdone
	start := time.Now()
	if err := c.LogDecision(ctx, "g2", []string{"dn1"}, true); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the primary waited %s for a standby that is gone", d)
	}
}

func TestStandbyNeverSyncedRefusesPromotion(t *testing.T) {
	ctx := testCtx(t)
	// The primary's address is closed: nothing ever streams.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	_, saddr := startGTM(t, t.TempDir(), "127.0.0.1:0", gtm.WithStandbyOf(dead))
	c := dial(t, saddr)
	if _, _, err := c.Promote(ctx); err == nil || !strings.Contains(err.Error(), "never received") {
		t.Fatalf("Promote of a standby that never synced: %v", err)
	}
}

// The old primary, restarted as a standby of the promoted one, takes the new
// primary's state.
func TestOldPrimaryRejoinsAsStandby(t *testing.T) {
	ctx := testCtx(t)
	pdir, sdir := t.TempDir(), t.TempDir()
	p, err := gtm.Open(pdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	paddr, pdone := serveOn(t, p, "127.0.0.1:0")
	s, err := gtm.Open(sdir, nil, gtm.WithStandbyOf(paddr))
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	saddr, _ := serveOn(t, s, "127.0.0.1:0")
	waitStreaming(t, saddr)
	if _, _, err := dial(t, saddr).Promote(ctx); err != nil {
		t.Fatal(err)
	}
	p.Close()
	<-pdone
	c := dial(t, saddr)
	if err := c.LogDecision(ctx, "after-failover", []string{"dn1"}, true); err != nil {
		t.Fatal(err)
	}
	// Old primary as a standby of the new one: accepted, follows.
	_, oaddr := startGTM(t, pdir, "127.0.0.1:0", gtm.WithStandbyOf(saddr))
	waitStreaming(t, oaddr)
	if _, _, err := dial(t, oaddr).Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := dial(t, oaddr).Decision(ctx, "after-failover"); err != nil || st != gtmclient.Committed {
		t.Fatalf("rejoined old primary lacks the new primary's decision: %v, %v", st, err)
	}

}

// A primary cut off by the network leaves the client's connection open:
// no reset comes back, and every request on it waits for its bound. Once
// the lease's votes have promoted the standby, the client uses it.
func TestLeaseFollowsThePromotedStandbyPastACutOffPrimary(t *testing.T) {
	ctx := testCtx(t)
	const after = time.Second
	primary, err := gtm.Open(t.TempDir(), nil, gtm.WithFailover(after))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Close() })
	paddr, _ := serveOn(t, primary, "127.0.0.1:0")
	// The client and the standby reach the primary through proxies that
	// can lose every packet.
	var proxies []*faultproxy.Proxy
	for range 2 {
		p, err := faultproxy.Start(paddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		proxies = append(proxies, p)
	}
	standby, err := gtm.Open(t.TempDir(), nil, gtm.WithFailover(after), gtm.WithStandbyOf(proxies[1].Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Close() })
	saddr, _ := serveOn(t, standby, "127.0.0.1:0")
	waitStreaming(t, saddr)

	c, err := gtmclient.Dial(ctx, proxies[0].Addr()+","+saddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	lctx, stop := context.WithCancel(ctx)
	leaseDone := make(chan struct{})
	go func() {
		defer close(leaseDone)
		c.KeepLease(lctx, "coord1", func() int { return 1 }, after, nil, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { stop(); <-leaseDone })
	generation := func() uint64 {
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		ni, err := c.NodeInfo(cctx)
		if err != nil || ni.Standby {
			return 0
		}
		return ni.Generation
	}
	poll.Within(t, 5*time.Second, "the primary serving the client", func() bool { return generation() == 1 })

	for _, p := range proxies {
		p.Stall(faultproxy.Both)
	}
	poll.Within(t, 20*time.Second, "the client served by the promoted standby", func() bool { return generation() == 2 })
}
