package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/bench/tpcc"
)

// tpccOptions say how TPC-C runs: the same warehouses loaded into every
// system, the same terminals spread over its entry points.
type tpccOptions struct {
	warehouses int
	terminals  int        // 0: 10 per warehouse, as the specification has
	scale      tpcc.Scale // zero: the specification's population
}

// terminalCount is the number of terminals a run has.
func (o tpccOptions) terminalCount() int {
	if o.terminals > 0 {
		return o.terminals
	}
	return 10 * o.warehouses
}

// tpccRow is one system's TPC-C figures: the round with the median tpmC.
type tpccRow struct {
	system  *system
	res     *tpcc.Result
	ratio   float64   // tpmC over plain PostgreSQL's
	cores   []float64 // CPU used per host, in cores, mean over rounds
	checked bool      // the consistency conditions held after the last round
}

func (p *runner) dsn(endpoint string) string {
	host, port, _ := strings.Cut(endpoint, ":")
	return fmt.Sprintf("host=%s port=%s user=%s dbname=postgres sslmode=disable", host, port, p.role)
}

// loadTPCC loads the TPC-C population into s through its first entry
// point; on xlgo DISTRIBUTE BY MODULO (warehouse), so that a few
// warehouses spread evenly over the datanodes, and item replicated.
func (p *runner) loadTPCC(ctx context.Context, s *system, o tpccOptions, seed uint64) error {
	st, err := tpcc.Load(ctx, tpcc.LoadOptions{DSN: p.dsn(s.endpoints[0]), Warehouses: o.warehouses, Scale: o.scale, Seed: seed, Modulo: true})
	if err != nil {
		return fmt.Errorf("TPC-C load on %s: %w", s.name, err)
	}
	if p.verbose {
		fmt.Fprintf(os.Stderr, "  %s: %d warehouses loaded in %.1fs (distributed: %v)\n", s.name, o.warehouses, st.Duration.Seconds(), st.Distributed)
	}
	return nil
}

// runTPCC runs the transaction mix on s for d, its terminals spread over
// s's entry points, and returns the result and the CPU each host used.
func (p *runner) runTPCC(ctx context.Context, s *system, o tpccOptions, d time.Duration, seed uint64) (*tpcc.Result, []float64, error) {
	dsns := make([]string, len(s.endpoints))
	for i, ep := range s.endpoints {
		dsns[i] = p.dsn(ep)
	}
	terminals := o.terminalCount()
	before, err := cpuUsage(s)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	start := time.Now()
	res, err := tpcc.Run(ctx, tpcc.RunOptions{DSNs: dsns, Terminals: terminals, Duration: d, Warehouses: o.warehouses,
		Scale: o.scale, Seed: seed})
	if err != nil {
		return nil, nil, fmt.Errorf("TPC-C on %s: %w", s.name, err)
	}
	elapsed := time.Since(start)
	after, err := cpuUsage(s)
	if err != nil {
		return nil, nil, err
	}
	cores := make([]float64, len(after))
	for i := range after {
		cores[i] = float64(after[i]-before[i]) / float64(elapsed)
	}
	if p.verbose {
		no := res.Txns[tpcc.NewOrder]
		fmt.Fprintf(os.Stderr, "  %s TPC-C: tpmC %.0f, New-Order p50 %.2f ms, p99 %.2f ms, %d retries, cores %s\n", s.name, res.TpmC,
			ms(no.P50), ms(no.P99), res.Retries(), formatCores(s, cores))
	}
	return res, cores, nil
}

// checkTPCC checks the specification's consistency conditions on s.
func (p *runner) checkTPCC(ctx context.Context, s *system) error {
	conn, err := pgx.Connect(ctx, p.dsn(s.endpoints[0]))
	if err != nil {
		return fmt.Errorf("TPC-C check on %s: %w", s.name, err)
	}
	defer conn.Close(context.Background())
	if err := tpcc.Check(ctx, conn); err != nil {
		return fmt.Errorf("TPC-C check on %s: %w", s.name, err)
	}
	return nil
}

// measureTPCC loads every system, runs TPC-C on each in turn for o.rounds
// rounds, checks the consistency conditions on each, and returns a row per
// system (the round with the median tpmC).
func (p *runner) measureTPCC(ctx context.Context, l *lab, systems []*system, o options) ([]tpccRow, error) {
	seed := uint64(time.Now().UnixNano())
	for _, s := range systems {
		l.logf("TPC-C: loading %d warehouses into %s", o.tpccOpts.warehouses, s.name)
		if err := p.loadTPCC(ctx, s, o.tpccOpts, seed); err != nil {
			return nil, err
		}
	}
	results := make([][]*tpcc.Result, len(systems))
	cores := make([][]float64, len(systems))
	for r := 0; r < o.rounds; r++ {
		for i, s := range systems {
			l.logf("TPC-C, round %d: %s", r+1, s.name)
			res, used, err := p.runTPCC(ctx, s, o.tpccOpts, o.duration, seed+uint64(r*len(systems)+i))
			if err != nil {
				return nil, err
			}
			results[i] = append(results[i], res)
			cores[i] = addMean(cores[i], used, o.rounds)
		}
	}
	rows := make([]tpccRow, len(systems))
	for i, s := range systems {
		l.logf("TPC-C: checking the consistency conditions on %s", s.name)
		if err := p.checkTPCC(ctx, s); err != nil {
			return nil, err
		}
		rs := slices.Clone(results[i])
		slices.SortFunc(rs, func(a, b *tpcc.Result) int { return cmp.Compare(a.TpmC, b.TpmC) })
		rows[i] = tpccRow{system: s, res: rs[len(rs)/2], cores: cores[i], checked: true}
	}
	for i := range rows {
		if base := rows[0].res.TpmC; base > 0 {
			rows[i].ratio = rows[i].res.TpmC / base
		}
	}
	return rows, nil
}

func formatTPCC(b *strings.Builder, o options, rows []tpccRow) {
	terminals := o.tpccOpts.terminalCount()
	pop := "the specification's population"
	if o.tpccOpts.scale != (tpcc.Scale{}) {
		pop = fmt.Sprintf("a reduced population (%d items, %d customers per district: not TPC-C)", o.tpccOpts.scale.Items, o.tpccOpts.scale.CustomersPerDistrict)
	}
	fmt.Fprintf(b, "\nTPC-C (bench/tpcc): %d warehouses (on xlgo DISTRIBUTE BY MODULO (warehouse), item replicated), %s, %d terminals without think times spread over a system's entry points, %d rounds of %v, the round with the median tpmC; the consistency conditions checked on every system after the last round\n\n",
		o.tpccOpts.warehouses, pop, terminals, o.rounds, o.duration)
	fmt.Fprintf(b, "| system | tpmC | %% of PostgreSQL | New-Order p50 ms | New-Order p99 ms | retries | consistent | CPU per host, cores |\n")
	fmt.Fprintf(b, "|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		no := r.res.Txns[tpcc.NewOrder]
		ok := "no"
		if r.checked {
			ok = "yes"
		}
		fmt.Fprintf(b, "| %s | %.0f | %.0f%% | %.2f | %.2f | %d | %s | %s |\n", r.system.name, r.res.TpmC, 100*r.ratio,
			ms(no.P50), ms(no.P99), r.res.Retries(), ok, formatCores(r.system, r.cores))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
