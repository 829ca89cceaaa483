package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/xlgo/xlgo/bench/tpcc"
	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/testhosts"
)

// TestHostBench runs the host bench briefly on 2 hosts, PostgreSQL and
// xlgo, so that it keeps working: every system answers every workload
// with transactions and none fails, and after TPC-C (2 warehouses, a small
// population) the consistency conditions hold on every system.
func TestHostBench(t *testing.T) {
	clustertest.RequirePostgres(t)
	bin := clustertest.Binaries(t)
	o := options{cpu: 1, scale: 1, clients: 4, threads: 2, duration: 3 * time.Second, rounds: 1, sizes: []int{2},
		tpcc: true, tpccOpts: tpccOptions{warehouses: 2, terminals: 4, scale: tpcc.Scale{Items: 1000, CustomersPerDistrict: 100}}}
	nt := testhosts.ForTest(t, hostsNeeded(o), testhosts.Options{CPU: o.cpu})
	// t.TempDir is private to root; PostgreSQL runs as its own account.
	work, err := os.MkdirTemp("", "xlgo-hostbench-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := run(ctx, o, nt, work, bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.rows) != len(workloads)*2 {
		t.Fatalf("%d rows, want %d:\n%s", len(res.rows), len(workloads)*2, formatReport(o, res, 0))
	}
	for _, r := range res.rows {
		if r.m.TPS <= 0 || r.m.Failed != 0 {
			t.Errorf("%s on %s: %.0f tps, %d failed", r.workload, r.system.name, r.m.TPS, r.m.Failed)
		}
	}
	if len(res.tpcc) != 2 {
		t.Fatalf("TPC-C: %d rows, want 2:\n%s", len(res.tpcc), formatReport(o, res, 0))
	}
	for _, r := range res.tpcc {
		if r.res.TpmC <= 0 || !r.checked {
			t.Errorf("TPC-C on %s: tpmC %.0f, consistency checked %v", r.system.name, r.res.TpmC, r.checked)
		}
	}
	t.Logf("\n%s", formatReport(o, res, 0))
}
