package gtmclient_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/xlgo/xlgo/gtmclient"
)

// wantSQLState checks that err is a GTM refusal with that SQLSTATE.
func wantSQLState(t *testing.T, err error, state string) {
	t.Helper()
	var se *gtmclient.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a ServerError (want SQLSTATE %s)", err, state)
	}
	if se.SQLState() != state {
		t.Fatalf("error %q has SQLSTATE %s, want %s", se.Message, se.SQLState(), state)
	}
}

func TestSequenceAPI(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	c := dial(t, addr)
	ctx := testCtx(t)

	def := gtmclient.NewSeqDef("db.public.s")
	if err := c.SeqCreate(ctx, def); err != nil {
		t.Fatal(err)
	}
	wantSQLState(t, c.SeqCreate(ctx, def), "42P07")
	def.IfNotExists = true
	if err := c.SeqCreate(ctx, def); err != nil {
		t.Fatal(err)
	}
	first, n, incr, err := c.SeqNextRange(ctx, "db.public.s", 50)
	if err != nil || first != 1 || n != 50 || incr != 1 {
		t.Fatalf("SeqNextRange = %d %d %d %v", first, n, incr, err)
	}
	_, _, _, err = c.SeqNextRange(ctx, "db.public.nosuch", 1)
	wantSQLState(t, err, "42P01")

	st, err := c.SeqCurrent(ctx, "db.public.s")
	if err != nil || st.Last != 50 || !st.IsCalled || st.Increment != 1 || st.Name != "db.public.s" {
		t.Fatalf("SeqCurrent = %+v, %v", st, err)
	}

	// ALTER ... MAXVALUE 52 (Fields names what changes), then the limit.
	if err := c.SeqAlter(ctx, gtmclient.SeqDef{Name: "db.public.s", MaxValue: 52, Fields: gtmclient.SeqMaxValue}); err != nil {
		t.Fatal(err)
	}
	first, n, _, err = c.SeqNextRange(ctx, "db.public.s", 50)
	if err != nil || first != 51 || n != 2 {
		t.Fatalf("range up to MAXVALUE = %d %d %v", first, n, err)
	}
	_, _, _, err = c.SeqNextRange(ctx, "db.public.s", 1)
	wantSQLState(t, err, "2200H")
	if want := `gtm: nextval: reached maximum value of sequence "db.public.s" (52)`; err.Error() != want {
		t.Fatalf("limit error %q, want %q", err, want)
	}
	wantSQLState(t, c.SeqAlter(ctx, gtmclient.SeqDef{Name: "db.public.s", Increment: 0, Fields: gtmclient.SeqIncrement}), "22023")
	if err := c.SeqAlter(ctx, gtmclient.SeqDef{Name: "db.public.s", Fields: gtmclient.SeqRestart}); err != nil {
		t.Fatal(err)
	}
	if first, _, _, err = c.SeqNextRange(ctx, "db.public.s", 1); err != nil || first != 1 {
		t.Fatalf("after RESTART: %d %v", first, err)
	}
	wantSQLState(t, c.SeqSetval(ctx, "db.public.s", 53, true), "22003")
	if err := c.SeqSetval(ctx, "db.public.s", 40, true); err != nil {
		t.Fatal(err)
	}
	if first, _, _, err = c.SeqNextRange(ctx, "db.public.s", 1); err != nil || first != 41 {
		t.Fatalf("after setval(40): %d %v", first, err)
	}
	if err := c.SeqRename(ctx, "db.public.s", "db.public.t"); err != nil {
		t.Fatal(err)
	}
	wantSQLState(t, c.SeqRename(ctx, "db.public.s", "db.public.u"), "42P01")
	wantSQLState(t, c.SeqDrop(ctx, "db.public.s", false), "42P01")
	if err := c.SeqDrop(ctx, "db.public.s", true); err != nil {
		t.Fatal(err)
	}
	if err := c.SeqDrop(ctx, "db.public.t", false); err != nil {
		t.Fatal(err)
	}
}

func TestSeqCacheConcurrent(t *testing.T) {
	_, addr := startGTM(t, t.TempDir(), "127.0.0.1:0")
	ctx := testCtx(t)
	admin := dial(t, addr)
	for i := range 2 {
		if err := admin.SeqCreate(ctx, gtmclient.NewSeqDef(fmt.Sprintf("s%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Two coordinators, each with its own cache, four sessions each.
	var mu sync.Mutex
	seen := map[string]map[int64]bool{"s0": {}, "s1": {}}
	var wg sync.WaitGroup
	for co := range 2 {
		cache := gtmclient.NewSeqCache(dial(t, addr), 7)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					name := fmt.Sprintf("s%d", i%2)
					v, err := cache.Next(ctx, name)
					if err != nil {
						t.Error(err)
						return
					}
					if i == 100 && co == 0 {
						cache.Forget(name)
					}
					mu.Lock()
					if seen[name][v] {
						t.Errorf("%s: value %d twice", name, v)
					}
					seen[name][v] = true
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for name, vals := range seen {
		if len(vals) != 800 {
			t.Errorf("%s: %d distinct values, want 800", name, len(vals))
		}
	}
	if gtmclient.NewSeqCache(admin, 0).Size() != gtmclient.DefaultSeqCacheSize {
		t.Error("default cache size")
	}
}
