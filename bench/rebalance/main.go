// Command rebalance measures an online rebalance: the TPC-B-like throughput
// of pgbench before it and while it runs (as a ratio of before), and the
// rows it moves per second. It starts a temporary cluster (two
// coordinators, two datanodes), loads pgbench -i, adds a third datanode
// (xlctl add datanode) and, under pgbench through both coordinators, runs
// xlctl rebalance onto it.
//
//	go run ./bench/rebalance [-scale 10] [-clients 8] [-before 20s] [-after 10s] [-o bench/README.md]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xlgo/xlgo/bench/internal/benchenv"
	"github.com/xlgo/xlgo/bench/internal/pgbench"
	"github.com/xlgo/xlgo/cluster"
)

func main() {
	scale := flag.Int("scale", 10, "pgbench scale factor (-i -s)")
	clients := flag.Int("clients", 8, "pgbench clients in all (half through each coordinator)")
	before := flag.Duration("before", 20*time.Second, "load before the rebalance")
	after := flag.Duration("after", 10*time.Second, "load after the rebalance")
	outFile := flag.String("o", "", "also write the results into this Markdown file, between the rebalance markers")
	rate := flag.String("rate", "0", "comma-separated xlctl rebalance --rate values (rows/s, 0: no bound), one run each")
	flag.Parse()
	var b strings.Builder
	fmt.Fprintf(&b, "pgbench TPC-B-like, scale %d, %d clients (half through each coordinator), `--max-tries 100`; "+
		"xlctl rebalance from 2 to 3 datanodes after `xlctl add datanode`, a new cluster for each rate; %s, %d CPUs\n\n", *scale, *clients, benchenv.CPUModel(), runtime.NumCPU())
	b.WriteString("| `--rate` (rows/s) | tps before | tps during | during / before | tps after | after / before | rebalance s | rows copied | rows copied / s |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range strings.Split(*rate, ",") {
		rt, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil {
			fmt.Fprintln(os.Stderr, "rebalance bench: -rate:", err)
			os.Exit(2)
		}
		res, err := run(*scale, *clients, *before, *after, rt)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rebalance bench:", err)
			os.Exit(1)
		}
		label := strconv.Itoa(rt)
		if rt == 0 {
			label = "no bound"
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.1f | %d | %.0f |\n", label, res.before, res.during, ratio(res.during, res.before),
			res.after, ratio(res.after, res.before), res.secs, res.rows, float64(res.rows)/res.secs)
	}
	if err := pgbench.Publish(b.String(), *outFile, "rebalance results", benchenv.CommandLine("./bench/rebalance")); err != nil {
		fmt.Fprintln(os.Stderr, "rebalance bench:", err)
		os.Exit(1)
	}
}

// result is one rebalance's figures.
type result struct {
	before, during, after, secs float64
	rows                        int64
}

var reProgress = regexp.MustCompile(`progress: ([0-9.]+) s, ([0-9.]+) tps`)

// sample is one pgbench progress line: seconds since its start, tps.
type sample struct {
	at  float64
	tps float64
}

func run(scale, clients int, before, after time.Duration, rate int) (result, error) {
	ctx := context.Background()
	root, err := benchenv.ModuleRoot()
	if err != nil {
		return result{}, err
	}
	pgBin, err := cluster.FindPgBin(os.Getenv("XLGO_PG_BIN"))
	if err != nil {
		return result{}, err
	}
	pgb, err := benchenv.Pgbench(pgBin)
	if err != nil {
		return result{}, err
	}
	home, err := os.MkdirTemp("", "xlgo-rebalance-")
	if err != nil {
		return result{}, err
	}
	os.Chmod(home, 0o755)
	bin := filepath.Join(home, "bin")
	if err := benchenv.BuildBinaries(root, bin); err != nil {
		return result{}, err
	}
	cfg, err := benchenv.GuideConfig(pgBin)
	if err != nil {
		return result{}, err
	}
	var out strings.Builder
	ctl := &cluster.Cluster{Home: home, Config: cfg, BinDir: bin, Out: &out, ReadyTimeout: 90 * time.Second}
	var stops benchenv.Stops
	defer stops.Run()
	stops.Add(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := ctl.Stop(sctx, "immediate"); err == nil {
			os.RemoveAll(home)
		}
	})
	fmt.Fprintf(os.Stderr, "starting a cluster in %s ...\n", home)
	if err := ctl.Init(ctx); err != nil {
		return result{}, fmt.Errorf("init: %v\n%s", err, out.String())
	}
	env := func(port int) []string {
		return append(cluster.CleanEnv(), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(port), "PGUSER="+ctl.ClientUser(), "PGDATABASE=postgres")
	}
	fmt.Fprintf(os.Stderr, "pgbench -i -s %d ...\n", scale)
	init := exec.Command(pgb, "-i", "-s", strconv.Itoa(scale), "-q")
	init.Env = env(cfg.Coordinators[0].Port)
	if o, err := init.CombinedOutput(); err != nil {
		return result{}, fmt.Errorf("pgbench -i: %v\n%s", err, o)
	}
	fmt.Fprintln(os.Stderr, "xlctl add datanode datanode3 ...")
	port3, err := cluster.FreePorts(1)
	if err != nil {
		return result{}, err
	}
	if err := ctl.AddDatanode(ctx, cluster.Node{Name: "datanode3", Host: "127.0.0.1", Port: port3[0]}, nil); err != nil {
		return result{}, fmt.Errorf("add datanode: %v\n%s", err, out.String())
	}

	// pgbench through both coordinators, progress every second.
	var mu sync.Mutex
	var samples [2][]sample
	var wg sync.WaitGroup
	var cmds []*exec.Cmd
	start := time.Now()
	for i := 0; i < 2; i++ {
		cmd := exec.Command(pgb, "-n", "-c", strconv.Itoa(max(clients/2, 1)), "-j", "1", "-T", "3600", "-P", "1", "--max-tries", "100")
		cmd.Env = env(cfg.Coordinators[i].Port)
		cmd.Dir = home
		pipe, err := cmd.StderrPipe()
		if err != nil {
			return result{}, err
		}
		cmd.Stdout = io.Discard
		if err := cmd.Start(); err != nil {
			return result{}, err
		}
		cmds = append(cmds, cmd)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				if m := reProgress.FindStringSubmatch(sc.Text()); m != nil {
					at, _ := strconv.ParseFloat(m[1], 64)
					tps, _ := strconv.ParseFloat(m[2], 64)
					mu.Lock()
					samples[i] = append(samples[i], sample{at, tps})
					mu.Unlock()
				}
			}
		}(i)
	}
	stopLoad := func() {
		for _, c := range cmds {
			c.Process.Signal(syscall.SIGINT)
		}
		wg.Wait()
		for _, c := range cmds {
			c.Wait()
		}
	}
	fmt.Fprintf(os.Stderr, "load %v, then xlctl rebalance ...\n", before)
	time.Sleep(before)
	rbStart := time.Since(start).Seconds()
	var rows int64
	err = ctl.Rebalance(ctx, cluster.RebalanceOptions{Rate: rate, Progress: func(table string, p cluster.MoveProgress, done bool) {
		if done {
			rows += p.Rows
			fmt.Fprintf(os.Stderr, "  %s: %d rows copied\n", table, p.Rows)
		}
	}})
	rbEnd := time.Since(start).Seconds()
	if err != nil {
		stopLoad()
		return result{}, fmt.Errorf("rebalance: %v\n%s", err, out.String())
	}
	time.Sleep(after)
	stopLoad()

	// Throughput per window: the sum over both pgbench of the per-second
	// samples whose second lies in it, averaged.
	window := func(from, to float64) (float64, int) {
		var sum float64
		n := 0
		for _, s := range samples {
			per := map[int]float64{}
			for _, x := range s {
				if x.at > from && x.at <= to+0.5 {
					per[int(x.at)] = x.tps
				}
			}
			keys := make([]int, 0, len(per))
			for k := range per {
				keys = append(keys, k)
			}
			sort.Ints(keys)
			if len(keys) > n {
				n = len(keys)
			}
			for _, k := range keys {
				sum += per[k]
			}
		}
		if n == 0 {
			return 0, 0
		}
		return sum / float64(n), n
	}
	warm := 5.0
	tBefore, _ := window(warm, rbStart)
	tDuring, _ := window(rbStart, rbEnd)
	tAfter, _ := window(rbEnd, rbEnd+after.Seconds())
	return result{before: tBefore, during: tDuring, after: tAfter, secs: rbEnd - rbStart, rows: rows}, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
