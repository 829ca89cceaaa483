package workload

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestPgbenchGrowAndShrink runs pgbench's TPC-B-like load through both
// coordinators while the cluster gains a third datanode (xlctl add
// datanode), rebalances onto it (xlctl rebalance) and loses its first
// (xlctl remove datanode). No transaction may fail but with an error
// pgbench retries (--max-tries), the books must balance, every row must be on
// exactly one datanode, and the tables must live on the nodes they now have.
func TestPgbenchGrowAndShrink(t *testing.T) {
	pgbench := pgbenchPath(t)
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	env := clustertest.ClientEnv("127.0.0.1", c.CoordPort(0), c.User, "postgres")
	if out, err := runTool(t, 5*time.Minute, env, pgbench, "-i", "-s", "2"); err != nil {
		t.Fatalf("pgbench -i -s 2: %v\n%s", err, out)
	}
	conn := connect(t, c.CoordDSN(0, "postgres"))

	// Two pgbench runs at once: neither may truncate pgbench_history at its
	// start (-n), or the second would empty what the first wrote. A
	// transaction that wrote and then routes a row into a bucket switching
	// nodes gets 40001 at once (its locks could hold the switch up) and
	// pgbench tries it again, as often as it takes (--max-tries 0): the
	// switch lasts longer than a bounded number of immediate tries.
	const seconds = 45
	var wg sync.WaitGroup
	results := make([]pgbenchResult, 2)
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			env := clustertest.ClientEnv("127.0.0.1", c.CoordPort(i), c.User, "postgres")
			outs[i], errs[i] = runTool(t, 3*time.Minute, env, pgbench, "-n", "-c", "3", "-j", "1", "-T", fmt.Sprint(seconds), "--max-tries", "0", "--verbose-errors", "-P", "5")
			results[i] = parsePgbench(outs[i])
		}(i)
	}
	start := time.Now()
	time.Sleep(3 * time.Second)
	ports, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	step := func(what string, fn func() error) {
		s := time.Now()
		if err := fn(); err != nil {
			cancel()
			wg.Wait()
			t.Fatalf("%s: %v\n--- coord1\n%s", what, err, c.LogTail("coord1", 30))
		}
		t.Logf("%s: %v", what, time.Since(s).Round(time.Millisecond))
	}
	var progress []string
	var pmu sync.Mutex
	record := func(table string, p cluster.MoveProgress, done bool) {
		pmu.Lock()
		progress = append(progress, fmt.Sprintf("%s %s %d/%d %d rows", table, p.Phase, p.BucketsDone, p.BucketsTotal, p.Rows))
		pmu.Unlock()
	}
	step("xlctl add datanode datanode3", func() error {
		return c.Ctl.AddDatanode(ctx, cluster.Node{Name: "datanode3", Host: "127.0.0.1", Port: ports[0]}, nil)
	})
	var spread int
	// A new table of the default group uses the new datanode at once.
	mustExec(t, conn, "CREATE TABLE grown (id int PRIMARY KEY)")
	mustExec(t, conn, "INSERT INTO grown SELECT generate_series(1, 300)")
	if err := conn.QueryRow(ctx, "SELECT count(DISTINCT xc_node_id) FROM grown").Scan(&spread); err != nil || spread != 3 {
		t.Fatalf("a table made after xlctl add datanode is on %d datanodes (%v), want 3", spread, err)
	}
	step("xlctl rebalance", func() error { return c.Ctl.Rebalance(ctx, cluster.RebalanceOptions{Progress: record}) })
	if err := conn.QueryRow(ctx, "SELECT count(DISTINCT xc_node_id) FROM pgbench_accounts").Scan(&spread); err != nil || spread != 3 {
		t.Fatalf("after the rebalance pgbench_accounts is on %d datanodes (%v), want 3", spread, err)
	}
	step("xlctl remove datanode datanode1", func() error { return c.Ctl.RemoveDatanode(ctx, "datanode1", record, 0) })
	t.Logf("the steps took %v of the %d s of load", time.Since(start).Round(time.Millisecond), seconds)
	wg.Wait()
	pmu.Lock()
	if len(progress) > 0 {
		t.Logf("%d progress reports, e.g. %q", len(progress), progress[len(progress)/2])
	}
	pmu.Unlock()
	var processed int64
	for i, r := range results {
		t.Logf("pgbench through coord%d: %.0f tps, %d transactions, %d failed", i+1, r.TPS, r.Processed, r.Failed)
		if errs[i] != nil || r.Failed != 0 || r.Processed <= 0 {
			t.Errorf("pgbench through coord%d: %v, %d processed, %d failed\n%s", i+1, errs[i], r.Processed, r.Failed, lastLines(errorLines(outs[i]), 30))
		}
		processed += r.Processed
	}
	for i, out := range outs {
		if errs := errorLines(out); len(errs) > 0 {
			t.Logf("pgbench through coord%d retried after:\n%s", i+1, firstLines(errs, 6))
		}
	}
	t.Logf("pgbench through coord1:\n%s", strings.Join(withoutLines(outs[0], errorLines(outs[0])), "\n"))

	var accounts, tellers, branches, delta, history, naccounts int64
	if err := conn.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts),
		(SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers),
		(SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches),
		(SELECT coalesce(sum(delta), 0) FROM pgbench_history),
		(SELECT count(*) FROM pgbench_history),
		(SELECT count(*) FROM pgbench_accounts)`).Scan(&accounts, &tellers, &branches, &delta, &history, &naccounts); err != nil {
		t.Fatal(err)
	}
	t.Logf("sum(abalance) %d, sum(tbalance) %d, sum(bbalance) %d, sum(delta) %d, %d history rows, %d accounts", accounts, tellers, branches, delta, history, naccounts)
	if accounts != delta || tellers != delta || branches != delta || history != processed || naccounts != 200000 {
		t.Errorf("the books do not balance: sum(abalance) %d, sum(tbalance) %d, sum(bbalance) %d, sum(delta) %d; %d history rows for %d transactions; %d accounts",
			accounts, tellers, branches, delta, history, processed, naccounts)
	}
	// On the datanodes themselves: datanode1 is out of the config; each
	// row is on exactly one of the other two.
	keys := map[string]string{"pgbench_accounts": "aid", "pgbench_tellers": "tid", "pgbench_branches": "bid", "pgbench_history": ""}
	for table, key := range keys {
		seen := map[int64]bool{}
		var total int64
		var per []int64
		for i := range c.Ctl.Config.Datanodes {
			dn, err := pgx.Connect(ctx, c.DatanodeDSN(i, "postgres"))
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			if key == "" {
				if err := dn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
					t.Fatal(err)
				}
			} else {
				rows, err := dn.Query(ctx, "SELECT "+key+" FROM "+table)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var k int64
					rows.Scan(&k)
					if seen[k] {
						t.Errorf("%s %s=%d is on two datanodes", table, key, k)
					}
					seen[k] = true
					n++
				}
				rows.Close()
			}
			dn.Close(ctx)
			per = append(per, n)
			total += n
		}
		var want int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&want); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s per datanode (%s): %v", table, nodeNames(c.Ctl.Config.Datanodes), per)
		if total != want {
			t.Errorf("%s: %d rows on the datanodes, %d through the coordinator", table, total, want)
		}
		if table == "pgbench_accounts" && (per[0] == 0 || per[1] == 0) {
			t.Errorf("pgbench_accounts per datanode %v: want rows on both", per)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT count(DISTINCT xc_node_id) FROM pgbench_accounts").Scan(&spread); err != nil || spread != 2 {
		t.Errorf("pgbench_accounts is on %d datanodes (%v), want 2", spread, err)
	}
	var listed string
	if err := conn.QueryRow(ctx, "SELECT string_agg(node_name, ',' ORDER BY node_name) FROM pgxc_node WHERE node_type = 'D'").Scan(&listed); err != nil || listed != "datanode2,datanode3" {
		t.Errorf("pgxc_node datanodes: %q (%v), want datanode2,datanode3", listed, err)
	}
}

func nodeNames(ns []cluster.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}
