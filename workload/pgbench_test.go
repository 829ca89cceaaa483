package workload

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestPgbench runs pgbench end to end through a coordinator of a cluster of
// two datanodes: `pgbench -i -s 2` (DROP, CREATE, TRUNCATE, COPY, VACUUM,
// ALTER TABLE ... ADD PRIMARY KEY), 20 s of the TPC-B-like script at 8 clients
// with no failed transaction, the balance check (what the tellers, branches
// and accounts gained is what history recorded), and a select-only run with
// prepared statements.
func TestPgbench(t *testing.T) {
	pgbench := pgbenchPath(t)
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	env := clustertest.ClientEnv("127.0.0.1", c.CoordPort(0), c.User, "postgres")
	logTail := func() string { return "--- coord1 log (last lines)\n" + c.LogTail("coord1", 20) }

	out, err := runTool(t, 5*time.Minute, env, pgbench, "-i", "-s", "2")
	if err != nil {
		t.Fatalf("pgbench -i -s 2: %v\n%s\n%s", err, out, logTail())
	}
	t.Logf("pgbench -i -s 2:\n%s", out)
	conn := connect(t, c.CoordDSN(0, "postgres"))
	for table, want := range map[string]int64{"pgbench_accounts": 200000, "pgbench_tellers": 20, "pgbench_branches": 2, "pgbench_history": 0} {
		var n int64
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n != want {
			t.Errorf("after pgbench -i -s 2: %s has %d rows, want %d", table, n, want)
		}
	}

	// TPC-B-like, the default script: multi-node transactions.
	out, err = runTool(t, 2*time.Minute, env, pgbench, "-c", "8", "-j", "2", "-T", "20")
	r := parsePgbench(out)
	t.Logf("pgbench -c 8 -j 2 -T 20 (TPC-B-like): %.0f tps, %.2f ms mean latency, %d transactions, %d failed",
		r.TPS, r.LatencyMS, r.Processed, r.Failed)
	fmt.Printf("pgbench TPC-B-like through xlgo (2 datanodes), 8 clients: %.0f tps\n", r.TPS)
	if err != nil || r.Failed != 0 || r.Processed <= 0 {
		t.Errorf("pgbench -c 8 -j 2 -T 20: %v, %d processed, %d failed\n%s\n%s", err, r.Processed, r.Failed,
			firstLines(errorLines(out), 20), logTail())
	}

	// The balance check: every transaction added its delta to one account,
	// one teller and one branch and recorded it in history.
	var accounts, tellers, branches, delta, history int64
	err = conn.QueryRow(context.Background(), `SELECT
		(SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts),
		(SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers),
		(SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches),
		(SELECT coalesce(sum(delta), 0) FROM pgbench_history),
		(SELECT count(*) FROM pgbench_history)`).Scan(&accounts, &tellers, &branches, &delta, &history)
	if err != nil {
		t.Fatalf("balance check: %v", err)
	}
	t.Logf("sum(abalance) %d, sum(tbalance) %d, sum(bbalance) %d, sum(delta) %d, %d history rows",
		accounts, tellers, branches, delta, history)
	if accounts != delta || tellers != delta || branches != delta {
		t.Errorf("balances disagree with history: sum(abalance) %d, sum(tbalance) %d, sum(bbalance) %d, sum(delta) %d",
			accounts, tellers, branches, delta)
	}
	if r.Processed > 0 && history != r.Processed {
		t.Errorf("pgbench_history has %d rows, pgbench processed %d transactions", history, r.Processed)
	}

	// Select-only with prepared statements (Parse once, Bind/Execute per transaction).
	out, err = runTool(t, 2*time.Minute, env, pgbench, "-S", "-M", "prepared", "-c", "8", "-j", "2", "-T", "5")
	r = parsePgbench(out)
	t.Logf("pgbench -S -M prepared -c 8 -j 2 -T 5: %.0f tps, %.2f ms mean latency, %d transactions, %d failed",
		r.TPS, r.LatencyMS, r.Processed, r.Failed)
	fmt.Printf("pgbench -S -M prepared through xlgo (2 datanodes), 8 clients: %.0f tps\n", r.TPS)
	if err != nil || r.Failed != 0 || r.Processed <= 0 {
		t.Errorf("pgbench -S -M prepared: %v, %d processed, %d failed\n%s\n%s", err, r.Processed, r.Failed,
			firstLines(errorLines(out), 20), logTail())
	}
}
