package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

type pgbenchRunner struct {
	prog    string
	role    string
	work    string
	verbose bool
	n       int
}

type measurement struct {
	tps    float64
	meanMS float64
	p99MS  float64
	failed int64
}

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

var (
	reTPS    = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	reFailed = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
)

// measure runs pgbench for d and reads TPS from its report and the latency
// of every transaction from its per-transaction log.
func (p *pgbenchRunner) measure(ctx context.Context, t *target, args []string, clients, threads int, d time.Duration) (measurement, error) {
	p.n++
	dir := filepath.Join(p.work, fmt.Sprintf("pgbench-%d", p.n))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return measurement{}, err
	}
	defer os.RemoveAll(dir)
	all := append(append([]string{}, args...), "-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads),
		"-T", strconv.Itoa(int(d.Round(time.Second)/time.Second)), "-l", "--log-prefix="+filepath.Join(dir, "tx"))
	cmd := exec.CommandContext(ctx, p.prog, all...)
	cmd.Env = p.env(t)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("pgbench %s on %s: %w\n%s", strings.Join(all, " "), t.name, err, lastLines(out.String(), 15))
	}
	var m measurement
	if mm := reTPS.FindStringSubmatch(out.String()); mm != nil {
		m.tps, _ = strconv.ParseFloat(mm[1], 64)
	} else {
		return m, fmt.Errorf("pgbench on %s printed no tps:\n%s", t.name, out.String())
	}
	if mm := reFailed.FindStringSubmatch(out.String()); mm != nil {
		m.failed, _ = strconv.ParseInt(mm[1], 10, 64)
	}
	lat, err := readLatencies(dir)
	if err != nil {
		return m, err
	}
	if len(lat) > 0 {
		var sum float64
		for _, l := range lat {
			sum += l
		}
		m.meanMS = sum / float64(len(lat)) / 1000
		sort.Float64s(lat)
		m.p99MS = lat[min(len(lat)-1, int(float64(len(lat))*0.99))] / 1000
	}
	if p.verbose {
		fmt.Fprintf(os.Stderr, "  %s %s: %.0f tps, mean %.2f ms, p99 %.2f ms, %d failed\n", t.name, strings.Join(args, " "), m.tps, m.meanMS, m.p99MS, m.failed)
	}
	return m, nil
}

// readLatencies reads the third field (latency in microseconds) of every
// line of pgbench's per-transaction logs in dir.
func readLatencies(dir string) ([]float64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx.*"))
	if err != nil {
		return nil, err
	}
	var lat []float64
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 3 {
				continue
			}
			if v, err := strconv.ParseFloat(fs[2], 64); err == nil {
				lat = append(lat, v)
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return lat, nil
}

// medianOf takes the median of each figure separately.
func medianOf(ms []measurement) measurement {
	med := func(f func(measurement) float64) float64 {
		vs := make([]float64, len(ms))
		for i, m := range ms {
			vs[i] = f(m)
		}
		sort.Float64s(vs)
		n := len(vs)
		if n == 0 {
			return 0
		}
		if n%2 == 1 {
			return vs[n/2]
		}
		return (vs[n/2-1] + vs[n/2]) / 2
	}
	var failed int64
	for _, m := range ms {
		failed += m.failed
	}
	return measurement{
		tps:    med(func(m measurement) float64 { return m.tps }),
		meanMS: med(func(m measurement) float64 { return m.meanMS }),
		p99MS:  med(func(m measurement) float64 { return m.p99MS }),
		failed: failed,
	}
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

const (
	beginMarker = "<!-- bench results: begin -->"
	endMarker   = "<!-- bench results: end -->"
)

// writeSection puts the report, with the command that produced it, between
// the markers of path (appending them when missing).
func writeSection(path, report, command string) error {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	section := fmt.Sprintf("%s\nMeasured %s with:\n\n```sh\n%s\n```\n\n%s%s", beginMarker, time.Now().UTC().Format("2006-01-02"), command, report, endMarker)
	text := string(data)
	i, j := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	if i >= 0 && j > i {
		text = text[:i] + section + text[j+len(endMarker):]
	} else {
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		text += "\n" + section + "\n"
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

func (m memResult) state() string {
	if m.query {
		return "each after SELECT 1"
	}
	return "logged in only"
}
