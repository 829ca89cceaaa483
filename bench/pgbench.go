package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/bench/internal/pgbench"
)

type pgbenchRunner struct {
	prog    string
	role    string
	work    string
	verbose bool
	n       int
}

type measurement = pgbench.Measurement

func (p *pgbenchRunner) env(t *target) []string {
	return append(withoutPG(os.Environ()), "PGHOST=127.0.0.1", fmt.Sprintf("PGPORT=%d", t.port),
		"PGUSER="+p.role, "PGDATABASE=postgres", "PGSSLMODE=disable")
}

func (p *pgbenchRunner) init(ctx context.Context, t *target, scale int) error {
	cmd := exec.CommandContext(ctx, p.prog, "-i", "-q", "-s", strconv.Itoa(scale))
	cmd.Env = p.env(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i -s %d on %s: %w\n%s", scale, t.name, err, out)
	}
	return nil
}

// measure runs pgbench for d and reads TPS from its report and the latency
// of every transaction from its per-transaction log.
func (p *pgbenchRunner) measure(ctx context.Context, t *target, args []string, clients, threads int, d time.Duration) (measurement, error) {
	p.n++
	dir := filepath.Join(p.work, fmt.Sprintf("pgbench-%d", p.n))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return measurement{}, err
	}
	defer os.RemoveAll(dir)
	tps, failed, err := pgbench.Run(ctx, p.prog, p.env(t), pgbench.Args(args, clients, threads, d), dir)
	if err != nil {
		return measurement{}, fmt.Errorf("on %s: %w", t.name, err)
	}
	lat, err := pgbench.Latencies(dir)
	if err != nil {
		return measurement{}, err
	}
	m := pgbench.Summarize(tps, failed, lat)
	if p.verbose {
		fmt.Fprintf(os.Stderr, "  %s %s: %.0f tps, mean %.2f ms, p99 %.2f ms, %d failed\n", t.name, strings.Join(args, " "), m.TPS, m.MeanMS, m.P99MS, m.Failed)
	}
	return m, nil
}

type memResult struct {
	name                     string
	query                    bool // each connection ran SELECT 1
	conns                    int
	before, after            int64 // KiB
	backendsBefore, backends int   // -1: not measured
}

// idleMemory opens n idle connections to t (logged in only, or each having
// run SELECT 1 when query is set) and reports the RSS of t's process before
// and after.
func idleMemory(ctx context.Context, t *target, role string, n int, query bool) (memResult, error) {
	r := memResult{name: t.name, query: query, conns: n, backends: -1, backendsBefore: -1}
	if t.pid == nil || t.pid() == 0 {
		return r, fmt.Errorf("no process id")
	}
	pid := t.pid()
	if t.backendCount != nil {
		b, err := t.backendCount()
		if err != nil {
			return r, err
		}
		r.backendsBefore = b
	}
	before, err := rssKiB(pid)
	if err != nil {
		return r, err
	}
	r.before = before
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=disable", t.port, role)
	conns := make([]*pgx.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.Background())
			}
		}
	}()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     int
	)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				cfg, err := pgx.ParseConfig(dsn)
				if err == nil {
					cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
					cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					var c *pgx.Conn
					c, err = pgx.ConnectConfig(cctx, cfg)
					if err == nil {
						conns[i] = c
					}
					if err == nil && query {
						var one int
						err = c.QueryRow(cctx, "SELECT 1").Scan(&one)
					}
					cancel()
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", i+1, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return r, firstErr
	}
	// Let the server settle (background work after the logins).
	time.Sleep(2 * time.Second)
	after, err := rssKiB(pid)
	if err != nil {
		return r, err
	}
	r.after = after
	if t.backendCount != nil {
		b, err := t.backendCount()
		if err != nil {
			return r, fmt.Errorf("counting the datanodes' backends with the connections open: %w", err)
		}
		r.backends = b
	}
	return r, nil
}

func rssKiB(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			fs := strings.Fields(l)
			if len(fs) >= 2 {
				return strconv.ParseInt(fs[1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// countBackends counts the client backends of a PostgreSQL other than the
// counting one.
func countBackends(port int, role string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=disable", port, role))
	if err != nil {
		return 0, err
	}
	defer c.Close(context.Background())
	var n int
	err = c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()").Scan(&n)
	return n, err
}

func (m memResult) state() string {
	if m.query {
		return "each after SELECT 1"
	}
	return "logged in only"
}
