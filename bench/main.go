// Command bench compares xlgo with plain PostgreSQL and the poolers users
// would otherwise put in front of it, on one machine, in one run:
//
//	go run ./bench                      # prints the table
//	go run ./bench -o bench/README.md   # and writes it into the README's results section
//
// For pgbench select-only in simple, extended and prepared query modes and for
// the TPC-B-like script, at -clients clients, it measures plain PostgreSQL,
// pgbouncer (transaction pooling) and pgpool-II each in front of that same
// PostgreSQL, and xlgo with one and with two datanodes. The sides alternate
// (A B C D E A B C D E ...) for -rounds rounds and each figure is the median;
// ratios are to plain PostgreSQL. (pgbouncer in transaction pooling mode has
// no prepared statements, so -M prepared runs on PostgreSQL and xlgo only.)
// Then it opens -conns idle connections to a coordinator and to pgbouncer and
// reports the growth of the process's resident memory per connection.
//
// Every server runs in a temporary directory on free loopback ports and is
// stopped at the end. Nothing is written into the repository unless -o is given.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/xlgo/xlgo/bench/internal/benchenv"
	"github.com/xlgo/xlgo/bench/internal/pgbench"
)

// fallbackConns is the connection count measured when -conns connections
// cannot be opened (below the datanodes' max_connections of 200).
const fallbackConns = 150

// baselineSuffix marks the sides run from -baseline's binaries.
const baselineSuffix = " @baseline"

type workload struct {
	name    string
	args    []string // pgbench arguments
	systems []string // target names it runs on; nil: all
}

func main() {
	duration := flag.Duration("duration", 10*time.Second, "length of one pgbench run")
	rounds := flag.Int("rounds", 2, "rounds of alternating runs; each figure is the median")
	clients := flag.Int("clients", 8, "pgbench clients (-c)")
	threads := flag.Int("threads", 2, "pgbench threads (-j)")
	scale := flag.Int("scale", 10, "pgbench scale factor (-i -s)")
	conns := flag.Int("conns", 1000, "idle connections for the memory measurement (0: skip)")
	only := flag.String("only", "", "comma-separated workloads to run (select-simple, select-extended, select-prepared, tpcb); empty: all")
	outFile := flag.String("o", "", "also write the results into this Markdown file, between the bench markers")
	verbose := flag.Bool("v", false, "log progress to stderr")
	baseline := flag.String("baseline", "", "another xlgo checkout (a git worktree of an earlier commit): its gtm and coordinator run as two more sides, \"@baseline\", alternating with this tree's")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, options{*duration, *rounds, *clients, *threads, *scale, *conns, *only, *outFile, *baseline, *verbose}); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	duration         time.Duration
	rounds           int
	clients, threads int
	scale, conns     int
	only, outFile    string
	baseline         string
	verbose          bool
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	root, err := benchenv.ModuleRoot()
	if err != nil {
		return err
	}
	e, err := newEnv(o.verbose)
	if err != nil {
		return err
	}
	defer e.cleanup.Run()
	pgbenchProg, err := benchenv.Pgbench(e.pgBin)
	if err != nil {
		return err
	}
	binDir, err := e.mkdir("bin")
	if err != nil {
		return err
	}
	e.logf("building gtm and coordinator")
	if err := benchenv.BuildBinaries(root, binDir); err != nil {
		return err
	}

	e.logf("starting PostgreSQL, pgbouncer, pgpool-II and two xlgo clusters in %s", e.work)
	plain, err := e.startPlain(ctx)
	if err != nil {
		return err
	}
	targets := []*target{plain}
	var notes []string
	if t, err := e.startPgbouncer(plain.port); err != nil {
		notes = append(notes, "pgbouncer not measured: "+firstLine(err.Error()))
	} else {
		targets = append(targets, t)
	}
	if t, err := e.startPgpool(plain.port, o.clients); err != nil {
		notes = append(notes, "pgpool-II not measured: "+firstLine(err.Error()))
	} else {
		targets = append(targets, t)
	}
	for _, n := range []int{1, 2} {
		t, err := e.startXlgo(ctx, binDir, n, "")
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	xlgo1 := targets[len(targets)-2]
	if o.baseline != "" {
		baseDir, err := e.mkdir("baseline")
		if err != nil {
			return err
		}
		e.logf("building gtm and coordinator of %s", o.baseline)
		if err := benchenv.BuildBinaries(o.baseline, baseDir); err != nil {
			return err
		}
		// Each baseline cluster beside its counterpart, so that the rounds
		// alternate A A' B B' and both see the same moment of the machine.
		for _, n := range []int{2, 1} {
			t, err := e.startXlgo(ctx, baseDir, n, baselineSuffix)
			if err != nil {
				return err
			}
			at := slices.IndexFunc(targets, func(x *target) bool { return x.name+baselineSuffix == t.name })
			targets = slices.Insert(targets, at+1, t)
		}
	}

	pb := &pgbenchRunner{prog: pgbenchProg, role: e.role, work: e.work, verbose: o.verbose}
	for _, t := range targets {
		if t == plain || t.name == "pgbouncer" || t.name == "pgpool-II" {
			continue
		}
		e.logf("pgbench -i -s %d on %s", o.scale, t.name)
		if err := pb.init(ctx, t, o.scale); err != nil {
			return err
		}
	}
	e.logf("pgbench -i -s %d on %s", o.scale, plain.name)
	if err := pb.init(ctx, plain, o.scale); err != nil {
		return err
	}

	workloads := []workload{
		{name: "select-simple", args: []string{"-S", "-M", "simple"}},
		{name: "select-extended", args: []string{"-S", "-M", "extended"}},
		{name: "select-prepared", args: []string{"-S", "-M", "prepared"}, systems: []string{"PostgreSQL", "xlgo 1 datanode", "xlgo 2 datanodes"}},
		{name: "tpcb", args: []string{"-M", "simple"}},
	}
	if o.only != "" {
		want := map[string]bool{}
		for _, w := range strings.Split(o.only, ",") {
			want[strings.TrimSpace(w)] = true
		}
		var ws []workload
		for _, w := range workloads {
			if want[w.name] {
				ws = append(ws, w)
			}
		}
		workloads = ws
	}

	// A short warm-up of every side.
	for _, t := range targets {
		if _, err := pb.measure(ctx, t, []string{"-S", "-M", "simple"}, o.clients, o.threads, 2*time.Second); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}

	var rows []resultRow
	for _, w := range workloads {
		var ts []*target
		for _, t := range targets {
			if w.systems == nil || slices.Contains(w.systems, strings.TrimSuffix(t.name, baselineSuffix)) {
				ts = append(ts, t)
			}
		}
		samples := make([][]measurement, len(ts))
		for r := 0; r < o.rounds; r++ {
			for i, t := range ts {
				e.logf("%s, round %d: %s", w.name, r+1, t.name)
				m, err := pb.measure(ctx, t, w.args, o.clients, o.threads, o.duration)
				if err != nil {
					return err
				}
				samples[i] = append(samples[i], m)
			}
		}
		var base measurement
		for i, t := range ts {
			m := pgbench.Median(samples[i])
			if t == plain {
				base = m
			}
			rows = append(rows, resultRow{workload: w.name, system: t.name, m: m})
		}
		for i := range rows {
			if rows[i].workload == w.name && base.TPS > 0 {
				rows[i].ratio = rows[i].m.TPS / base.TPS
			}
		}
	}

	var mems []memResult
	if o.conns > 0 {
		for _, t := range targets {
			if t.name != "pgbouncer" && t != xlgo1 && t.name != "xlgo 2 datanodes" {
				continue
			}
			for _, query := range []bool{false, true} {
				e.logf("memory: %d idle connections to %s (query %v)", o.conns, t.name, query)
				m, err := idleMemory(ctx, t, e.role, o.conns, query)
				if err != nil {
					notes = append(notes, fmt.Sprintf("memory of %s with %d connections (%s) not measured: %v", t.name, o.conns, m.state(), err))
					// The figure at a count the datanodes' max_connections allows, marked as such.
					if o.conns > fallbackConns {
						m, err = idleMemory(ctx, t, e.role, fallbackConns, query)
					}
					if err != nil {
						continue
					}
				}
				mems = append(mems, m)
			}
		}
	}

	report := formatReport(o, rows, mems, notes, time.Since(started))
	return pgbench.Publish(report, o.outFile, "bench results", benchenv.CommandLine("./bench"))
}

type resultRow struct {
	workload, system string
	m                measurement
	ratio            float64
}

func formatReport(o options, rows []resultRow, mems []memResult, notes []string, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pgbench, %d clients, %d threads, scale %d, %d rounds of %v alternating sides, medians; %s, %d CPUs\n\n",
		o.clients, o.threads, o.scale, o.rounds, o.duration, benchenv.CPUModel(), runtime.NumCPU())
	fmt.Fprintf(&b, "| workload | system | tps | mean latency ms | p99 latency ms | failed | tps / PostgreSQL |\n")
	fmt.Fprintf(&b, "|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.2f | %.2f | %d | %.2f |\n", r.workload, r.system, r.m.TPS, r.m.MeanMS, r.m.P99MS, r.m.Failed, r.ratio)
	}
	if len(mems) > 0 {
		fmt.Fprintf(&b, "\nMemory per idle client connection (RSS of the process before and after opening the connections):\n\n")
		fmt.Fprintf(&b, "| process | idle connections | RSS before MiB | RSS after MiB | KiB per connection | backend connections on the datanodes |\n")
		fmt.Fprintf(&b, "|---|---|---:|---:|---:|---|\n")
		for _, m := range mems {
			backends := "-"
			if m.backends >= 0 {
				backends = fmt.Sprintf("%d before, %d with the connections open", m.backendsBefore, m.backends)
			}
			fmt.Fprintf(&b, "| %s | %d, %s | %.1f | %.1f | %.1f | %s |\n", m.name, m.conns, m.state(), float64(m.before)/1024, float64(m.after)/1024,
				float64(m.after-m.before)/float64(m.conns), backends)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	fmt.Fprintf(&b, "\n(run took %v)\n", took.Round(time.Second))
	return b.String()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
