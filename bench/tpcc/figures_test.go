package tpcc

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestTPCCFigures measures a plain PostgreSQL and xlgo (one coordinator, two
// datanodes) at the specification's population: both loaded, then runs of
// the two alternating (A B A B) for XLGO_TPCC_ROUNDS rounds, the median of
// each side reported as a Markdown table, then the consistency check on both.
// It runs only when XLGO_TPCC_FIGURES is set (make tpcc); XLGO_TPCC_WAREHOUSES
// (1), XLGO_TPCC_TERMINALS (10 per warehouse), XLGO_TPCC_DURATION (20s) and
// XLGO_TPCC_ROUNDS (2) shape it.
func TestTPCCFigures(t *testing.T) {
	if os.Getenv("XLGO_TPCC_FIGURES") == "" {
		t.Skip("a measurement, not a test: set XLGO_TPCC_FIGURES=1 (make tpcc) to run it")
	}
	warehouses := envInt("XLGO_TPCC_WAREHOUSES", 1)
	terminals := envInt("XLGO_TPCC_TERMINALS", 10*warehouses)
	rounds := envInt("XLGO_TPCC_ROUNDS", 2)
	dur := 20 * time.Second
	if d, err := time.ParseDuration(os.Getenv("XLGO_TPCC_DURATION")); err == nil {
		dur = d
	}
	plain := clustertest.StartPlain(t)
	xl := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	sides := []side{
		{"PostgreSQL", []string{plain.DSN("postgres")}},
		{"xlgo 2 datanodes", []string{xl.CoordDSN(0, "postgres")}},
	}
	ctx := context.Background()
	loads := make([]time.Duration, len(sides))
	for i, s := range sides {
		st, err := Load(ctx, LoadOptions{DSN: s.dsns[0], Warehouses: warehouses, Seed: 1, Modulo: os.Getenv("XLGO_TPCC_MODULO") != ""})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		loads[i] = st.Duration
		t.Logf("%s: loaded %d warehouses in %v", s.name, warehouses, st.Duration.Round(time.Millisecond))
	}
	spread := warehouseSpread(t, ctx, sides[1].dsns[0])
	t.Logf("xlgo: warehouses per datanode: %s", spread)
	results := make([][]*Result, len(sides))
	for r := range rounds {
		for i, s := range sides {
			res, err := Run(ctx, RunOptions{DSNs: s.dsns, Terminals: terminals, Duration: dur, Seed: uint64(r + 1)})
			if err != nil {
				t.Fatalf("%s: run: %v", s.name, err)
			}
			t.Logf("round %d, %s: tpmC %.0f", r+1, s.name, res.TpmC)
			t.Log(res.Summary(s.name))
			results[i] = append(results[i], res)
		}
	}
	for _, s := range sides {
		conn, err := pgx.Connect(ctx, s.dsns[0])
		if err != nil {
			t.Fatal(err)
		}
		err = Check(ctx, conn)
		conn.Close(ctx)
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "TPC-C, %d warehouse(s) (on xlgo's datanodes: %s), %d terminals, %d rounds of %v alternating sides, medians; %d CPUs\n\n",
		warehouses, spread, terminals, rounds, dur, runtime.NumCPU())
	fmt.Fprintln(&out, "| system | load s | tpmC | total tpm | New-Order mean ms | New-Order p90 ms | Payment p90 ms | retries | tpmC / PostgreSQL |")
	fmt.Fprintln(&out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	var base float64
	for i, s := range sides {
		res := results[i]
		slices.SortFunc(res, func(a, b *Result) int { return cmp.Compare(a.TpmC, b.TpmC) })
		m := res[len(res)/2]
		if i == 0 {
			base = m.TpmC
		}
		fmt.Fprintf(&out, "| %s | %.1f | %.0f | %.0f | %.1f | %.1f | %.1f | %d | %.2f |\n", s.name, loads[i].Seconds(), m.TpmC, m.Tpm,
			ms(m.Txns[NewOrder].Mean), ms(m.Txns[NewOrder].P90), ms(m.Txns[Payment].P90), m.Retries(), m.TpmC/base)
	}
	fmt.Print(out.String())
	t.Log("\n" + out.String())
}
