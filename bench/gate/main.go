// Command gate measures what two-phase commit and the snapshot gate cost:
// write transactions per second on one datanode (against plain PostgreSQL)
// and on two, and the latency of a multi-node read alone and beside
// concurrent single-node and multi-node commits. It prints a table.
//
//	go run ./bench/gate                    # starts a temporary cluster (2 coordinators, 2 datanodes)
//	go run ./bench/gate -coord 'host=127.0.0.1 port=20004 dbname=postgres' \
//	    -datanode 'host=127.0.0.1 port=20008 dbname=postgres'   # an existing cluster
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/bench/internal/benchenv"
	"github.com/xlgo/xlgo/cluster"
)

type options struct {
	coord, datanode string
	duration        time.Duration
	rounds, clients int
	rows            int
}

func main() {
	var o options
	flag.StringVar(&o.coord, "coord", "", "DSN of a coordinator of an existing cluster ('' starts a temporary cluster)")
	flag.StringVar(&o.datanode, "datanode", "", "DSN (key=value form) of datanode1 of that cluster, for the plain PostgreSQL row")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measurement")
	flag.IntVar(&o.rounds, "rounds", 2, "measurements per workload (alternated; the median is shown)")
	flag.IntVar(&o.clients, "clients", 4, "concurrent writer clients")
	flag.IntVar(&o.rows, "rows", 1000, "rows of the benchmark table")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "gate bench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx := context.Background()
	if o.coord == "" {
		stop, coord, dn, err := startCluster(ctx)
		if err != nil {
			return err
		}
		defer stop()
		o.coord, o.datanode = coord, dn
	}
	b := &bench{o: o}
	if err := b.setup(ctx); err != nil {
		return err
	}
	defer b.teardown(ctx)

	tps := map[string][]float64{}
	lat := map[string][][2]float64{}
	writes := []string{"plain", "single", "multi"}
	reads := []string{"idle", "single", "multi"}
	for r := 0; r < o.rounds; r++ {
		for _, w := range writes {
			v, err := b.writeTPS(ctx, w)
			if err != nil {
				return fmt.Errorf("%s writes: %w", w, err)
			}
			tps[w] = append(tps[w], v)
			fmt.Fprintf(os.Stderr, "round %d: %s writes: %.0f tx/s\n", r+1, w, v)
		}
		for _, bg := range reads {
			p50, p99, err := b.readLatency(ctx, bg)
			if err != nil {
				return fmt.Errorf("reads beside %s commits: %w", bg, err)
			}
			lat[bg] = append(lat[bg], [2]float64{p50, p99})
			fmt.Fprintf(os.Stderr, "round %d: multi-node read beside %s: p50 %.2f ms, p99 %.2f ms\n", r+1, bg, p50, p99)
		}
	}
	plain, single, multi := median(tps["plain"]), median(tps["single"]), median(tps["multi"])
	fmt.Printf("\nwhat two-phase commit and the snapshot gate cost (%d writer clients, %v per run, median of %d runs)\n\n",
		o.clients, o.duration, o.rounds)
	fmt.Printf("%-58s %14s %14s\n", "workload", "value", "ratio")
	fmt.Printf("%-58s %14s %14s\n", strings.Repeat("-", 58), strings.Repeat("-", 14), strings.Repeat("-", 14))
	fmt.Printf("%-58s %10.0f tx/s %14s\n", "write tx, one row, plain PostgreSQL (datanode1 direct)", plain, "1.00")
	fmt.Printf("%-58s %10.0f tx/s %13.2fx\n", "write tx, one datanode, xlgo (no GTM, no gate)", single, single/plain)
	fmt.Printf("%-58s %10.0f tx/s %13.2fx\n", "write tx, two datanodes, xlgo (2PC + gate)", multi, multi/plain)
	fmt.Printf("%-58s %14s %13.2fx\n", "  two datanodes vs one datanode through xlgo", "", multi/single)
	idle := medianPair(lat["idle"])
	for _, bg := range reads {
		m := medianPair(lat[bg])
		name := map[string]string{"idle": "multi-node read, nothing else running",
			"single": "multi-node read beside single-node commits",
			"multi":  "multi-node read beside multi-node (2PC) commits"}[bg]
		fmt.Printf("%-58s %6.2f/%6.2f ms %7.2f/%5.2fx\n", name+" (p50/p99)", m[0], m[1], m[0]/idle[0], m[1]/idle[1])
	}
	fmt.Printf("\n(read ratios are to the idle read; the read is SELECT sum(v) over %d rows on both datanodes)\n", o.rows)
	return nil
}

type bench struct {
	o        options
	keys     [2][]int // keys of the table on datanode1 and datanode2
	plainDSN string
}

func (b *bench) setup(ctx context.Context) error {
	c, err := pgx.Connect(ctx, b.o.coord)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for _, sql := range []string{
		"DROP TABLE IF EXISTS gate_bench",
		"CREATE TABLE gate_bench (id int PRIMARY KEY, v bigint NOT NULL) DISTRIBUTE BY HASH (id)",
		fmt.Sprintf("INSERT INTO gate_bench SELECT i, 0 FROM generate_series(1, %d) i", b.o.rows),
	} {
		if _, err := c.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	ids := map[int32]int{}
	rows, err := c.Query(ctx, "SELECT node_id, row_number() OVER (ORDER BY node_name) - 1 FROM pgxc_node WHERE node_type = 'D'")
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int32
		var i int
		if err := rows.Scan(&id, &i); err != nil {
			return err
		}
		ids[id] = i
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = c.Query(ctx, "SELECT id, xc_node_id FROM gate_bench ORDER BY id")
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int
		var node int32
		if err := rows.Scan(&id, &node); err != nil {
			return err
		}
		if i, ok := ids[node]; ok && i < 2 {
			b.keys[i] = append(b.keys[i], id)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(b.keys[0]) < b.o.clients || len(b.keys[1]) < b.o.clients {
		return fmt.Errorf("want at least %d rows on each of two datanodes, have %d and %d", b.o.clients, len(b.keys[0]), len(b.keys[1]))
	}
	// The plain PostgreSQL side: the same table, whole, in a database of datanode1 of its own.
	if b.o.datanode != "" {
		d, err := pgx.Connect(ctx, b.o.datanode)
		if err != nil {
			return err
		}
		defer d.Close(ctx)
		d.Exec(ctx, "DROP DATABASE IF EXISTS gate_bench_plain")
		if _, err := d.Exec(ctx, "CREATE DATABASE gate_bench_plain"); err != nil {
			return err
		}
		cfg := d.Config().Copy()
		cfg.Database = "gate_bench_plain"
		p, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer p.Close(ctx)
		for _, sql := range []string{
			"CREATE TABLE gate_bench (id int PRIMARY KEY, v bigint NOT NULL)",
			fmt.Sprintf("INSERT INTO gate_bench SELECT i, 0 FROM generate_series(1, %d) i", b.o.rows),
		} {
			if _, err := p.Exec(ctx, sql); err != nil {
				return err
			}
		}
		b.plainDSN = b.o.datanode + " dbname=gate_bench_plain" // the last dbname wins
	}
	return nil
}

func (b *bench) teardown(ctx context.Context) {
	if c, err := pgx.Connect(ctx, b.o.coord); err == nil {
		c.Exec(ctx, "DROP TABLE IF EXISTS gate_bench")
		c.Close(ctx)
	}
	if b.o.datanode != "" {
		if d, err := pgx.Connect(ctx, b.o.datanode); err == nil {
			d.Exec(ctx, "DROP DATABASE IF EXISTS gate_bench_plain")
			d.Close(ctx)
		}
	}
}

// writeTPS runs o.clients writers of kind (plain: one row on plain
// PostgreSQL; single: one row through xlgo; multi: a row on each datanode
// through xlgo) for o.duration and returns committed transactions per second.
func (b *bench) writeTPS(ctx context.Context, kind string) (float64, error) {
	if kind == "plain" && b.plainDSN == "" {
		return 0, errors.New("no plain PostgreSQL DSN (-datanode)")
	}
	var n atomic.Int64
	err := b.writers(ctx, kind, b.o.clients, time.Now().Add(b.o.duration), &n)
	return float64(n.Load()) / b.o.duration.Seconds(), err
}

// writers runs k writer clients of kind until deadline, counting commits in n.
func (b *bench) writers(ctx context.Context, kind string, k int, deadline time.Time, n *atomic.Int64) error {
	dsn := b.o.coord
	if kind == "plain" {
		dsn = b.plainDSN
	}
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for w := 0; w < k; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(ctx)
			// Each writer its own rows: no lock waits between writers.
			k1, k2 := b.keys[0][w], b.keys[1][w]
			for i := 0; time.Now().Before(deadline); i++ {
				sql := fmt.Sprintf("BEGIN; UPDATE gate_bench SET v = v + 1 WHERE id = %d; COMMIT", []int{k1, k2}[i%2])
				if kind == "multi" {
					sql = fmt.Sprintf("BEGIN; UPDATE gate_bench SET v = v + 1 WHERE id = %d; UPDATE gate_bench SET v = v + 1 WHERE id = %d; COMMIT", k1, k2)
				}
				if _, err := c.Exec(ctx, sql); err != nil {
					errs <- err
					return
				}
				n.Add(1)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// readLatency measures a multi-node read for o.duration while o.clients
// writers of kind bg run (idle: none) and returns p50 and p99 in milliseconds.
func (b *bench) readLatency(ctx context.Context, bg string) (float64, float64, error) {
	deadline := time.Now().Add(b.o.duration)
	var werr error
	var wg sync.WaitGroup
	if bg != "idle" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n atomic.Int64
			werr = b.writers(ctx, bg, b.o.clients, deadline, &n)
		}()
	}
	c, err := pgx.Connect(ctx, b.o.coord)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close(ctx)
	var ms []float64
	for time.Now().Before(deadline) {
		start := time.Now()
		var s int64
		if err := c.QueryRow(ctx, "SELECT sum(v) FROM gate_bench").Scan(&s); err != nil {
			return 0, 0, err
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
	}
	wg.Wait()
	if werr != nil {
		return 0, 0, werr
	}
	slices.Sort(ms)
	return ms[len(ms)/2], ms[len(ms)*99/100], nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func medianPair(xs [][2]float64) [2]float64 {
	var a, b []float64
	for _, x := range xs {
		a, b = append(a, x[0]), append(b, x[1])
	}
	return [2]float64{median(a), median(b)}
}

// startCluster builds the binaries and starts a temporary cluster of two
// coordinators and two datanodes on free ports; stop stops and removes it.
func startCluster(ctx context.Context) (stop func(), coordDSN, datanodeDSN string, err error) {
	pgBin, err := cluster.FindPgBin(os.Getenv("XLGO_PG_BIN"))
	if err != nil {
		return nil, "", "", err
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, "", "", err
	}
	home, err := os.MkdirTemp("", "xlgo-bench-")
	if err != nil {
		return nil, "", "", err
	}
	os.Chmod(home, 0o755) // PostgreSQL may run as another OS user
	bin := filepath.Join(home, "bin")
	for _, name := range []string{"gtm", "coordinator"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, name), "./cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(home)
			return nil, "", "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
		}
	}
	os.Chmod(bin, 0o755)
	cfg, err := benchenv.GuideConfig(pgBin)
	if err != nil {
		return nil, "", "", err
	}
	var out strings.Builder
	ctl := &cluster.Cluster{Home: home, Config: cfg, BinDir: bin, Out: &out, ReadyTimeout: 90 * time.Second}
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := ctl.Stop(sctx, "immediate"); err != nil {
			fmt.Fprintf(os.Stderr, "gate bench: stop the cluster in %s: %v\n", home, err)
			return
		}
		os.RemoveAll(home)
	}
	fmt.Fprintf(os.Stderr, "starting a cluster in %s ...\n", home)
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := ctl.Init(ictx); err != nil {
		stop()
		return nil, "", "", fmt.Errorf("init: %v\n%s", err, out.String())
	}
	user := ctl.ClientUser()
	dsn := func(port int) string {
		return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=disable", port, user)
	}
	return stop, dsn(cfg.Coordinators[0].Port), dsn(cfg.Datanodes[0].Port), nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/xlgo/xlgo\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the xlgo module")
		}
		dir = parent
	}
}
