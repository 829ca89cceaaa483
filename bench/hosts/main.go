// Command hosts runs the scale-out experiment of the Postgres-XL guide on
// simulated hosts (internal/testhosts: network namespaces with a CPU cap
// each), in one run:
//
//	go run ./bench/hosts                              # prints the table
//	go run ./bench/hosts -o bench/README.md           # and writes it into the README
//
// Side by side: plain PostgreSQL on one host; xlgo on 2 and on 4 hosts (a
// coordinator and a datanode on each, the gtm on one more host with the same
// cap), pgbench's clients spread over the coordinators as a load balancer in
// front of them would; Pgpool-II in front of a streaming primary and its
// standby on two hosts, reads balanced. pgbench runs in the root namespace.
// For TPC-B and -S it reports TPS, the ratio to one host's PostgreSQL, p50
// and p99 latency, and the CPU each host used; for TPC-C (bench/tpcc, the
// same warehouses loaded into every system) tpmC, its ratio, New-Order's
// p50 and p99, and whether the consistency conditions held after the run. It needs root (namespaces and
// cgroups); -delay needs netem. Everything started is stopped at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xlgo/xlgo/bench/internal/benchenv"
	"github.com/xlgo/xlgo/bench/internal/pgbench"
	"github.com/xlgo/xlgo/internal/testhosts"
)

type options struct {
	cpu      float64
	delay    time.Duration
	scale    int
	clients  int
	threads  int
	duration time.Duration
	rounds   int
	sizes    []int // host counts of the xlgo clusters
	standbys []int // host counts of the xlgo clusters with synchronous datanode standbys
	pgpool   bool
	tpcc     bool
	tpccOpts tpccOptions
	outFile  string
	verbose  bool
}

// workload is one pgbench script.
type workload struct {
	name string
	args []string
}

var workloads = []workload{
	{name: "TPC-B", args: []string{"-M", "simple"}},
	{name: "select-only (-S)", args: []string{"-S", "-M", "simple"}},
}

func main() {
	o := options{}
	flag.Float64Var(&o.cpu, "cpu", 0.5, "CPU cap of every host, in cores (0: none)")
	flag.DurationVar(&o.delay, "delay", 0, "one-way network delay between hosts (needs netem)")
	flag.IntVar(&o.scale, "scale", 10, "pgbench scale factor (-i -s)")
	flag.IntVar(&o.clients, "clients", 30, "pgbench clients in all (-c), divided among a system's entry points")
	flag.IntVar(&o.threads, "threads", 2, "pgbench threads in all (-j)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of one pgbench run")
	flag.IntVar(&o.rounds, "rounds", 2, "rounds of alternating runs; each figure is the median")
	sizes := flag.String("xlgo-hosts", "2,4", "host counts of the xlgo clusters")
	withStandbys := flag.String("standbys", "", "host counts of more xlgo clusters whose datanodes have a synchronous standby on the next host (e.g. 2)")
	flag.BoolVar(&o.pgpool, "pgpool", true, "also measure Pgpool-II on two hosts")
	flag.BoolVar(&o.tpcc, "tpcc", true, "also run TPC-C (bench/tpcc) on every system")
	flag.IntVar(&o.tpccOpts.warehouses, "warehouses", 4, "TPC-C warehouses (spread evenly over the datanodes)")
	flag.IntVar(&o.tpccOpts.terminals, "terminals", 0, "TPC-C terminals in all (default: 10 per warehouse)")
	flag.IntVar(&o.tpccOpts.scale.Items, "small-items", 0, "load fewer TPC-C items than the specification's 100,000 (not TPC-C: for quick trials)")
	flag.IntVar(&o.tpccOpts.scale.CustomersPerDistrict, "small-customers", 0, "load fewer TPC-C customers per district than the specification's 3,000 (not TPC-C: for quick trials)")
	flag.StringVar(&o.outFile, "o", "", "also write the results into this Markdown file, between the hosts bench markers")
	flag.BoolVar(&o.verbose, "v", false, "log progress to stderr")
	flag.Parse()
	for _, l := range []struct {
		flag, text string
		dst        *[]int
	}{{"xlgo-hosts", *sizes, &o.sizes}, {"standbys", *withStandbys, &o.standbys}} {
		for _, s := range strings.Split(l.text, ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 2 && l.dst == &o.standbys || n < 1 {
				fmt.Fprintf(os.Stderr, "bench/hosts: -%s %q: want host counts like 2,4 (2 at least with standbys)\n", l.flag, l.text)
				os.Exit(2)
			}
			*l.dst = append(*l.dst, n)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runMain(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/hosts:", err)
		os.Exit(1)
	}
}

// runMain builds the binaries, makes the hosts, runs and reports.
func runMain(ctx context.Context, o options) error {
	started := time.Now()
	root, err := benchenv.ModuleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "xlgo-hostbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	binDir := filepath.Join(work, "bin")
	if err := benchenv.BuildBinaries(root, binDir); err != nil {
		return err
	}
	nt, err := testhosts.New(ctx, hostsNeeded(o), testhosts.Options{CPU: o.cpu, Delay: o.delay})
	if errors.Is(err, testhosts.ErrNoNetem) {
		return fmt.Errorf("-delay %v cannot be applied: %w (this kernel has no sch_netem; run without -delay)", o.delay, err)
	}
	if err != nil {
		return err
	}
	defer nt.Close()
	res, err := run(ctx, o, nt, work, binDir)
	if err != nil {
		return err
	}
	return pgbench.Publish(formatReport(o, res, time.Since(started)), o.outFile, "hosts bench results", benchenv.CommandLine("./bench/hosts"))
}

// hostsNeeded counts the hosts of every system: PostgreSQL's one, n+1 per
// xlgo cluster (the gtm's), Pgpool-II's two.
func hostsNeeded(o options) int {
	n := 1
	for _, s := range append(slices.Clone(o.sizes), o.standbys...) {
		n += s + 1
	}
	if o.pgpool {
		n += 2
	}
	return n
}

// result is what a run measured.
type result struct {
	systems []*system
	rows    []row
	tpcc    []tpccRow
	notes   []string
}

// row is one system's figures for one workload.
type row struct {
	workload string
	system   *system
	m        pgbench.Measurement
	ratio    float64   // TPS over plain PostgreSQL's
	cores    []float64 // CPU used per host of the system, in cores, mean over rounds
}

// run starts the systems on nt's hosts, loads them, measures every
// workload with the sides alternating, and stops them.
func run(ctx context.Context, o options, nt *testhosts.Net, work, binDir string) (*result, error) {
	l, err := newLab(nt, work, binDir, o.verbose)
	if err != nil {
		return nil, err
	}
	defer l.stops.Run()
	prog, err := benchenv.Pgbench(l.pgBin)
	if err != nil {
		return nil, err
	}
	res := &result{}
	l.logf("starting PostgreSQL on one host")
	plain, err := l.startPlain(ctx)
	if err != nil {
		return nil, err
	}
	res.systems = append(res.systems, plain)
	for _, n := range o.sizes {
		l.logf("starting xlgo on %d hosts", n)
		s, err := l.startXlgo(ctx, n, false)
		if err != nil {
			return nil, err
		}
		res.systems = append(res.systems, s)
	}
	for _, n := range o.standbys {
		l.logf("starting xlgo on %d hosts with synchronous standbys", n)
		s, err := l.startXlgo(ctx, n, true)
		if err != nil {
			return nil, err
		}
		res.systems = append(res.systems, s)
	}
	if o.pgpool {
		l.logf("starting Pgpool-II on two hosts")
		conns := o.clients
		if o.tpcc {
			conns = max(conns, o.tpccOpts.terminalCount())
		}
		s, err := l.startPgpool(ctx, conns)
		if err != nil {
			res.notes = append(res.notes, "Pgpool-II not measured: "+firstLine(err.Error()))
		} else {
			res.systems = append(res.systems, s)
		}
	}
	pb := &runner{prog: prog, role: l.role, work: work, verbose: o.verbose}
	for _, s := range res.systems {
		l.logf("pgbench -i -s %d on %s", o.scale, s.name)
		if err := pb.init(ctx, s, o.scale); err != nil {
			return nil, err
		}
	}
	for _, s := range res.systems { // a short warm-up of every side
		if _, _, err := pb.measure(ctx, s, workloads[1].args, o.clients, o.threads, 2*time.Second); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	for _, w := range workloads {
		samples := make([][]pgbench.Measurement, len(res.systems))
		cores := make([][]float64, len(res.systems))
		for r := 0; r < o.rounds; r++ {
			for i, s := range res.systems {
				l.logf("%s, round %d: %s", w.name, r+1, s.name)
				m, used, err := pb.measure(ctx, s, w.args, o.clients, o.threads, o.duration)
				if err != nil {
					return nil, err
				}
				samples[i] = append(samples[i], m)
				cores[i] = addMean(cores[i], used, o.rounds)
			}
		}
		base := pgbench.Median(samples[0])
		for i, s := range res.systems {
			m := pgbench.Median(samples[i])
			r := row{workload: w.name, system: s, m: m, cores: cores[i]}
			if base.TPS > 0 {
				r.ratio = m.TPS / base.TPS
			}
			res.rows = append(res.rows, r)
		}
	}
	if o.tpcc {
		if res.tpcc, err = pb.measureTPCC(ctx, l, res.systems, o); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// addMean adds one of n rounds' CPU use per host to the mean acc.
func addMean(acc, used []float64, n int) []float64 {
	if acc == nil {
		acc = make([]float64, len(used))
	}
	for j, u := range used {
		acc[j] += u / float64(n)
	}
	return acc
}

// runner runs pgbench against a system.
type runner struct {
	prog    string
	role    string
	work    string
	verbose bool
	n       int
}

func (p *runner) env(endpoint string) []string {
	host, port, _ := strings.Cut(endpoint, ":")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "PGHOST="+host, "PGPORT="+port, "PGUSER="+p.role, "PGDATABASE=postgres", "PGSSLMODE=disable")
}

// init loads pgbench's tables through the system's first entry point.
func (p *runner) init(ctx context.Context, s *system, scale int) error {
	cmd := exec.CommandContext(ctx, p.prog, "-i", "-q", "-s", strconv.Itoa(scale))
	cmd.Env = p.env(s.endpoints[0])
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i -s %d on %s: %w\n%s", scale, s.name, err, pgbench.LastLines(string(out), 15))
	}
	return nil
}

// measure runs one pgbench per entry point of s at the same time, the
// clients and threads divided among them, and sums their TPS; latencies
// come from all their per-transaction logs. It also returns the CPU each
// host of s used meanwhile, in cores.
func (p *runner) measure(ctx context.Context, s *system, args []string, clients, threads int, d time.Duration) (pgbench.Measurement, []float64, error) {
	p.n++
	dir := filepath.Join(p.work, fmt.Sprintf("pgbench-%d", p.n))
	defer os.RemoveAll(dir)
	k := len(s.endpoints)
	before, err := cpuUsage(s)
	if err != nil {
		return pgbench.Measurement{}, nil, err
	}
	// A run that outlasts its duration by a minute is stuck: end it.
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	start := time.Now()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		tps    float64
		failed int64
		errs   []error
	)
	for i, ep := range s.endpoints {
		sub := filepath.Join(dir, strconv.Itoa(i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return pgbench.Measurement{}, nil, err
		}
		c := clients / k
		if i < clients%k {
			c++
		}
		j := max(1, threads/k)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t, f, err := pgbench.Run(ctx, p.prog, p.env(ep), pgbench.Args(args, c, min(j, c), d), sub)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("on %s (%s): %w", s.name, ep, err))
			}
			tps += t
			failed += f
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return pgbench.Measurement{}, nil, err
	}
	after, err := cpuUsage(s)
	if err != nil {
		return pgbench.Measurement{}, nil, err
	}
	cores := make([]float64, len(after))
	for i := range after {
		cores[i] = float64(after[i]-before[i]) / float64(elapsed)
	}
	var lat []float64
	for i := range s.endpoints {
		l, err := pgbench.Latencies(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			return pgbench.Measurement{}, nil, err
		}
		lat = append(lat, l...)
	}
	m := pgbench.Summarize(tps, failed, lat)
	if p.verbose {
		fmt.Fprintf(os.Stderr, "  %s %s: %.0f tps, p50 %.2f ms, p99 %.2f ms, %d failed, cores %s\n", s.name,
			strings.Join(args, " "), m.TPS, m.P50MS, m.P99MS, m.Failed, formatCores(s, cores))
	}
	return m, cores, nil
}

func cpuUsage(s *system) ([]time.Duration, error) {
	out := make([]time.Duration, len(s.hosts))
	for i, h := range s.hosts {
		u, err := h.CPUUsage()
		if err != nil {
			return nil, fmt.Errorf("CPU use of host %s: %w", h.Name(), err)
		}
		out[i] = u
	}
	return out, nil
}

func formatCores(s *system, cores []float64) string {
	parts := make([]string, len(cores))
	for i, c := range cores {
		parts[i] = fmt.Sprintf("%s %.2f", s.roles[i], c)
	}
	return strings.Join(parts, "; ")
}

func formatReport(o options, res *result, took time.Duration) string {
	var b strings.Builder
	capText := "no CPU cap"
	if o.cpu > 0 {
		capText = fmt.Sprintf("%g core per host (the gtm's host too)", o.cpu)
	}
	fmt.Fprintf(&b, "pgbench -i -s %d, then %d clients, %d threads (both divided among a system's entry points), %d rounds of %v alternating sides, medians; simulated hosts with %s; %s, %d CPUs\n\n",
		o.scale, o.clients, o.threads, o.rounds, o.duration, capText, benchenv.CPUModel(), runtime.NumCPU())
	fmt.Fprintf(&b, "| workload | system | tps | %% of PostgreSQL | p50 ms | p99 ms | failed | CPU per host, cores |\n")
	fmt.Fprintf(&b, "|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range res.rows {
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f%% | %.2f | %.2f | %d | %s |\n", r.workload, r.system.name, r.m.TPS, 100*r.ratio,
			r.m.P50MS, r.m.P99MS, r.m.Failed, formatCores(r.system, r.cores))
	}
	if len(res.tpcc) > 0 {
		formatTPCC(&b, o, res.tpcc)
	}
	if o.delay == 0 {
		res.notes = append(res.notes, "no network delay between the hosts (-delay needs netem)")
	}
	for _, n := range res.notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	fmt.Fprintf(&b, "\n(run took %v)\n", took.Round(time.Second))
	return b.String()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
