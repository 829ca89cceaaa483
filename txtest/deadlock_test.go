package txtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestDistributedDeadlock runs two transactions that lock a row on datanode1
// and a row on datanode2 in opposite orders. Neither datanode sees a cycle;
// the coordinators' deadlock detector must abort exactly one of them with
// 40P01 within a few seconds, and the other must commit.
func TestDistributedDeadlock(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2,
		DatanodeSettings: map[string]string{"deadlock_timeout": "1s"}})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	keys := twoNodeTable(t, admin, "dl")
	rounds := []struct {
		name   string
		coords [2]int
		// holdRollback: the victim sends ROLLBACK only after the survivor's
		// statement returned, which PostgreSQL allows: a failed transaction
		// releases its locks at the error, not at ROLLBACK.
		holdRollback bool
		extended     bool // the extended query protocol, else the simple one
		params       bool // the second UPDATEs take their values as parameters
	}{
		{"two coordinators", [2]int{0, 1}, false, false, false},
		{"one coordinator", [2]int{0, 0}, false, false, false},
		{"extended protocol", [2]int{0, 1}, false, true, false},
		{"extended protocol with parameters", [2]int{0, 1}, false, true, true},
		{"victim's locks released at the error", [2]int{0, 1}, true, false, false},
	}
	for _, round := range rounds {
		a, b := keys["datanode1"][0], keys["datanode2"][0]
		exec(t, admin, "UPDATE dl SET v = 0")
		conns := [2]*pgx.Conn{
			connect(t, c.CoordDSN(round.coords[0], "postgres"), !round.extended),
			connect(t, c.CoordDSN(round.coords[1], "postgres"), !round.extended),
		}
		ctx := context.Background()
		exec(t, conns[0], "BEGIN", fmt.Sprintf("UPDATE dl SET v = v + 1 WHERE id = %d", a))
		exec(t, conns[1], "BEGIN", fmt.Sprintf("UPDATE dl SET v = v + 10 WHERE id = %d", b))

		type result struct {
			tx  int
			err error
			end time.Time
		}
		results := make(chan result, 2)
		run := func(tx, add, id int) {
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			var err error
			if round.params {
				_, err = conns[tx].Exec(cctx, "UPDATE dl SET v = v + $1 WHERE id = $2", add, id)
			} else {
				_, err = conns[tx].Exec(cctx, fmt.Sprintf("UPDATE dl SET v = v + %d WHERE id = %d", add, id))
			}
			results <- result{tx, err, time.Now()}
		}
		go run(0, 1, b)
		waitLockWaiters(t, c, 1, 1) // tx1 waits for tx2 on datanode2
		start := time.Now()         // the cycle closes with tx2's second update
		go run(1, 10, a)

		// The victim fails and its locks go at once (as in PostgreSQL), so
		// the survivor may finish first: take both, then tell them apart.
		first := <-results
		var second result
		select {
		case second = <-results:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: tx%d returned (%v) but the other transaction still waits 10s later; "+
				"in PostgreSQL a failed transaction's locks are released at the error", round.name, first.tx+1, first.err)
		}
		if first.err == nil {
			first, second = second, first
		}
		took := first.end.Sub(start)
		if code := sqlState(first.err); code == "57014" {
			// Cancelled, so the detector chose it, but with the wrong SQLSTATE.
			t.Errorf("%s: tx%d got %v, want SQLSTATE 40P01 (deadlock detected)", round.name, first.tx+1, first.err)
		} else if code != "40P01" {
			t.Fatalf("%s: tx%d failed with %v after %v, want 40P01\n%s",
				round.name, first.tx+1, first.err, took, c.LogTail("coord1", 10))
		}
		if took > 10*time.Second {
			t.Errorf("%s: the deadlock took %v to break, want a few seconds", round.name, took)
		}
		victim, survivor := first.tx, 1-first.tx
		if !round.holdRollback {
			if _, err := conns[victim].Exec(ctx, "ROLLBACK"); err != nil {
				t.Fatalf("victim ROLLBACK: %v", err)
			}
		}
		if second.err != nil {
			t.Fatalf("%s: the survivor tx%d: %v", round.name, survivor+1, second.err)
		}
		if round.holdRollback {
			if _, err := conns[victim].Exec(ctx, "ROLLBACK"); err != nil {
				t.Fatalf("victim ROLLBACK: %v", err)
			}
		}
		if _, err := conns[survivor].Exec(ctx, "COMMIT"); err != nil {
			t.Fatalf("survivor COMMIT: %v", err)
		}
		var va, vb int
		if err := admin.QueryRow(ctx, fmt.Sprintf("SELECT (SELECT v FROM dl WHERE id = %d), (SELECT v FROM dl WHERE id = %d)", a, b)).Scan(&va, &vb); err != nil {
			t.Fatal(err)
		}
		want := []int{1, 10}[survivor]
		if va != want || vb != want {
			t.Errorf("%s: after the survivor's commit v(a)=%d v(b)=%d, want %d and %d", round.name, va, vb, want, want)
		}
		report(t, "%s: tx%d got %s %v after the cycle closed, tx%d committed %v after it (v = %d on both rows)",
			round.name, victim+1, sqlState(first.err), took.Round(time.Millisecond), survivor+1, second.end.Sub(start).Round(time.Millisecond), va)
		conns[0].Close(ctx)
		conns[1].Close(ctx)
	}
	for _, coord := range []string{"coord1", "coord2"} {
		for _, l := range logLines(c, coord, "distributed deadlock detected") {
			t.Logf("%s log: %s", coord, l)
		}
	}
	if n := preparedLeft(t, c); n != 0 {
		t.Errorf("%d prepared transactions left", n)
	}
}
