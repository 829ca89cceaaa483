// Command queries compares plain PostgreSQL with xlgo (one coordinator, two
// datanodes) on the same data for five query shapes: a point select, a range
// scan with ORDER BY ... LIMIT, a GROUP BY over the whole table, a join of
// co-located tables and a join that is not co-located:
//
//	go run ./bench/queries            # prints the table
//	go run ./bench/queries -h         # flags: rows, clients, duration, rounds ...
//
// It starts both systems in a temporary directory on free loopback ports,
// loads orders, order_lines and customers into each, checks that both sides
// return the same rows for one fixed parameter of every query, then runs every
// query from -clients concurrent pgx connections (extended protocol, prepared
// statements, parameters from a fixed seed), the sides alternating
// (A B A B ...) for -rounds rounds, and prints the medians and the ratio
// xlgo / PostgreSQL. Everything it started is stopped at exit, also on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/bench/internal/benchenv"
)

type options struct {
	rows       int
	clients    int
	duration   time.Duration
	queries    int
	warmup     time.Duration
	rounds     int
	seed       uint64
	only       string
	binDir     string
	explainAll bool
	verbose    bool
}

func main() {
	var o options
	flag.IntVar(&o.rows, "rows", 200000, "rows of orders (order_lines gets 2 per order, customers one per 10 orders)")
	flag.IntVar(&o.clients, "clients", 4, "concurrent client connections per side")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "length of one timed run (one workload on one side)")
	flag.IntVar(&o.queries, "queries", 0, "run this many queries per client instead of -duration (0: use -duration)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "untimed run of every workload on every side before the first round")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of alternating runs (A B A B ...); each figure is the median")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the random parameters")
	flag.StringVar(&o.only, "only", "", "comma-separated workloads to run (point-select, range-order-limit, group-by-all, colocated-join, non-colocated-join); empty: all")
	flag.StringVar(&o.binDir, "bin", "", "directory holding prebuilt gtm and coordinator binaries (default: build them into the temporary directory)")
	flag.BoolVar(&o.explainAll, "explain-all", false, "print the coordinator's EXPLAIN of every workload, not only of the two joins")
	flag.BoolVar(&o.verbose, "v", false, "log progress to stderr")
	flag.Parse()

	fmt.Println("command:", benchenv.CommandLine("./bench/queries"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted (everything started was stopped): %w", err)
		}
		fmt.Fprintln(os.Stderr, "bench/queries:", err)
		os.Exit(1)
	}
}

// result is the medians of one workload's rounds on both sides.
type result struct {
	w                   workload
	plainQPS, xlgoQPS   float64
	plainMean, xlgoMean float64
	err                 string
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	if o.rows < 2000 || o.clients < 1 || o.rounds < 1 {
		return fmt.Errorf("want -rows >= 2000, -clients >= 1, -rounds >= 1")
	}
	ws := workloads()
	if o.only != "" {
		names := strings.Split(o.only, ",")
		ws = slices.DeleteFunc(ws, func(w workload) bool { return !slices.Contains(names, w.name) })
		if len(ws) == 0 {
			return fmt.Errorf("-only %q names no workload", o.only)
		}
	}
	loadStart := loadAvg()

	e, err := newEnv(o.verbose)
	if err != nil {
		return err
	}
	defer e.cleanup.Run()

	binDir := o.binDir
	if binDir == "" {
		root, err := benchenv.ModuleRoot()
		if err != nil {
			return err
		}
		if binDir, err = e.mkdir("bin", 0o755); err != nil {
			return err
		}
		e.logf("building gtm and coordinator into %s", binDir)
		if err := buildBinaries(ctx, root, binDir); err != nil {
			return err
		}
	}

	e.logf("starting plain PostgreSQL and xlgo (1 coordinator, 2 datanodes) in %s", e.work)
	plainPort, err := e.startPlain(ctx)
	if err != nil {
		return fmt.Errorf("plain PostgreSQL: %w", err)
	}
	coordPort, err := e.startXlgo(ctx, binDir, 2)
	if err != nil {
		return err
	}
	plain := &side{name: "PostgreSQL", port: plainPort}
	xlgo := &side{name: "xlgo", port: coordPort}
	sides := []*side{plain, xlgo}
	defer plain.close()
	defer xlgo.close()

	for _, s := range sides {
		t0 := time.Now()
		if err := load(ctx, s, e.role, o.rows, s == xlgo); err != nil {
			return fmt.Errorf("load %s: %w", s.name, err)
		}
		e.logf("loaded %s in %v", s.name, time.Since(t0).Round(time.Millisecond))
	}
	for _, s := range sides {
		if err := s.connect(ctx, e.role, "postgres", o.clients); err != nil {
			return err
		}
	}

	// The same rows on both sides, for one fixed parameter of every workload.
	var checks []string
	mismatches := 0
	for _, w := range ws {
		p := w.checkParam(o.rows)
		a, errA := resultRows(ctx, plain.conns[0], w, p)
		b, errB := resultRows(ctx, xlgo.conns[0], w, p)
		switch {
		case errA != nil:
			return fmt.Errorf("check %s on PostgreSQL: %w", w.name, errA)
		case errB != nil:
			mismatches++
			checks = append(checks, fmt.Sprintf("!!! MISMATCH %s ($1 = %d): xlgo failed: %v", w.name, p, errB))
		default:
			if d := compareRows(a, b, plain.name, xlgo.name); d != "" {
				mismatches++
				checks = append(checks, fmt.Sprintf("!!! MISMATCH %s ($1 = %d): %s", w.name, p, d))
			} else {
				checks = append(checks, fmt.Sprintf("same rows: %s ($1 = %d, %d rows)", w.name, p, len(a)))
			}
		}
	}
	for _, c := range checks {
		fmt.Println(c)
	}
	if mismatches > 0 {
		fmt.Fprintf(os.Stderr, "\n!!! %d workload(s) returned different rows on xlgo and PostgreSQL (see above) !!!\n\n", mismatches)
	}

	// Warm up (plans cached, statements prepared on every connection), then
	// alternate the sides round after round.
	failed := map[string]string{}
	if o.warmup > 0 {
		for _, w := range ws {
			for _, s := range sides {
				e.logf("warm-up %s on %s", w.name, s.name)
				if _, err := s.run(ctx, w, o.rows, o.warmup, 0, o.seed, 1<<32); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					failed[w.name] = err.Error()
				}
			}
		}
	}
	runs := map[string][][]measurement{} // workload -> side -> rounds
	for r := 0; r < o.rounds; r++ {
		for _, w := range ws {
			if failed[w.name] != "" {
				continue
			}
			if runs[w.name] == nil {
				runs[w.name] = make([][]measurement, len(sides))
			}
			for i, s := range sides {
				m, err := s.run(ctx, w, o.rows, o.duration, o.queries, o.seed, uint64(r)<<16)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					failed[w.name] = err.Error()
					break
				}
				e.logf("round %d %s %s: %d queries in %v, %.1f q/s, mean %.2f ms", r+1, w.name, s.name,
					m.queries, m.elapsed.Round(time.Millisecond), m.qps(), m.meanMS())
				runs[w.name][i] = append(runs[w.name][i], m)
			}
		}
	}

	var results []result
	for _, w := range ws {
		res := result{w: w, err: failed[w.name]}
		if res.err == "" {
			ms := runs[w.name]
			res.plainQPS, res.plainMean = medians(ms[0])
			res.xlgoQPS, res.xlgoMean = medians(ms[1])
		}
		results = append(results, res)
	}

	explains := map[string]string{}
	for _, w := range ws {
		if !o.explainAll && !strings.Contains(w.name, "join") {
			continue
		}
		text, err := explain(ctx, xlgo.conns[0], w, w.checkParam(o.rows))
		if err != nil {
			text = "EXPLAIN failed: " + err.Error()
		}
		explains[w.name] = text
	}

	fmt.Println()
	fmt.Print(report(o, ws, results, explains, loadStart, loadAvg(), time.Since(started)))
	if mismatches > 0 {
		fmt.Printf("\n!!! %d workload(s) returned different rows on xlgo and PostgreSQL: see the checks above !!!\n", mismatches)
	}
	return nil
}

// medians returns the median queries per second and the median mean latency
// (ms) of a side's rounds.
func medians(ms []measurement) (qps, meanMS float64) {
	var q, l []float64
	for _, m := range ms {
		q = append(q, m.qps())
		l = append(l, m.meanMS())
	}
	return median(q), median(l)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(o options, ws []workload, results []result, explains map[string]string, loadStart, loadEnd string, took time.Duration) string {
	var b strings.Builder
	length := fmt.Sprintf("runs of %v", o.duration)
	if o.queries > 0 {
		length = fmt.Sprintf("runs of %d queries per client", o.queries)
	}
	fmt.Fprintf(&b, "orders %d rows, order_lines %d, customers %d; %d clients per side (pgx, extended protocol, prepared statements, seed %d); "+
		"%d rounds of %s alternating sides (PostgreSQL, xlgo), medians; xlgo: 1 coordinator, 2 datanodes; %s, %d CPUs; "+
		"load average %s at the start, %s at the end\n\n",
		o.rows, 2*o.rows, o.rows/10, o.clients, o.seed, o.rounds, length, benchenv.CPUModel(), runtime.NumCPU(), loadStart, loadEnd)
	fmt.Fprintf(&b, "| workload | PostgreSQL q/s | PostgreSQL mean ms | xlgo q/s | xlgo mean ms | ratio q/s (xlgo / PostgreSQL) |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.err != "" {
			fmt.Fprintf(&b, "| %s | error: %s |  |  |  |  |\n", r.w.name, strings.ReplaceAll(firstLine(r.err), "|", `\|`))
			continue
		}
		ratio := 0.0
		if r.plainQPS > 0 {
			ratio = r.xlgoQPS / r.plainQPS
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.w.name, fmtNum(r.plainQPS), fmtNum(r.plainMean),
			fmtNum(r.xlgoQPS), fmtNum(r.xlgoMean), fmtRatio(ratio))
	}
	fmt.Fprintf(&b, "\nQueries ($1 random in the id range, the same sequence on both sides):\n\n")
	for _, w := range ws {
		fmt.Fprintf(&b, "- %s: `%s`\n", w.name, w.sql)
	}
	for _, w := range ws {
		if text, ok := explains[w.name]; ok {
			fmt.Fprintf(&b, "\nEXPLAIN (COSTS OFF) of %s through the coordinator ($1 = %d):\n\n%s\n", w.name, w.checkParam(o.rows), indent(text))
		}
	}
	fmt.Fprintf(&b, "\n(run took %v)\n", took.Round(time.Second))
	return b.String()
}

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fmtRatio(v float64) string {
	if v >= 0.1 {
		return fmt.Sprintf("%.2f", v)
	}
	// Two significant digits: a ratio of 0.0003 must not print as 0.000.
	return strconv.FormatFloat(v, 'g', 2, 64)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// load creates the three tables on s (distributed on xlgo) and fills them
// with the same rows, computed by generate_series in batches, then analyzes them.
func load(ctx context.Context, s *side, role string, rows int, distributed bool) error {
	c, err := pgx.Connect(ctx, s.dsn(role, "postgres"))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	dist := func(col string) string {
		if distributed {
			return " DISTRIBUTE BY HASH (" + col + ")"
		}
		return ""
	}
	customers := rows / 10
	stmts := []string{
		"DROP TABLE IF EXISTS order_lines, orders, customers",
		"CREATE TABLE customers (id int PRIMARY KEY, name text, region int)" + dist("id"),
		"CREATE TABLE orders (id int PRIMARY KEY, cust_id int, amount numeric, created date, note text)" + dist("id"),
		"CREATE TABLE order_lines (order_id int, line int, qty int, PRIMARY KEY (order_id, line))" + dist("order_id"),
	}
	const batch = 50000
	for lo := 1; lo <= customers; lo += batch {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO customers SELECT g, 'customer ' || g, g %% 10 FROM generate_series(%d, %d) g",
			lo, min(lo+batch-1, customers)))
	}
	// amount is distinct for every id below 1000003 (7919 is prime to it), so
	// ORDER BY amount has no ties; cust_id spreads the orders over all customers.
	for lo := 1; lo <= rows; lo += batch {
		hi := min(lo+batch-1, rows)
		stmts = append(stmts,
			fmt.Sprintf("INSERT INTO orders SELECT g, 1 + (g * 37) %% %d, round(((g::bigint * 7919) %% 1000003) / 100.0, 2), "+
				"date '2020-01-01' + g %% 1000, md5(g::text) FROM generate_series(%d, %d) g", customers, lo, hi),
			fmt.Sprintf("INSERT INTO order_lines SELECT o, l, 1 + (o * 3 + l) %% 9 FROM generate_series(%d, %d) o, generate_series(1, 2) l",
				lo, hi))
	}
	stmts = append(stmts, "ANALYZE customers", "ANALYZE orders", "ANALYZE order_lines")
	for _, q := range stmts {
		if _, err := c.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	for table, want := range map[string]int{"customers": customers, "orders": rows, "order_lines": 2 * rows} {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM "+table, pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
			return fmt.Errorf("count %s: %w", table, err)
		}
		if n != want {
			return fmt.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
	return nil
}
