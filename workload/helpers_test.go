// Package workload runs real benchmark clients (pgbench, sysbench) end to end
// through a coordinator and checks that they succeed and that the data they
// leave is consistent.
package workload

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// runTool runs prog with args and env to completion and returns what it
// printed (stdout and stderr together) and its error.
func runTool(t *testing.T, timeout time.Duration, env []string, prog string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s (%.1fs)", filepath.Base(prog), strings.Join(args, " "), time.Since(start).Seconds())
	return out.String(), err
}

// connect opens a simple-protocol pgx connection and closes it at cleanup.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pgbenchPath is the pgbench of the PostgreSQL the datanodes run.
func pgbenchPath(t *testing.T) string {
	t.Helper()
	bin := clustertest.RequirePostgres(t)
	p := filepath.Join(bin, "pgbench")
	if _, err := exec.LookPath(p); err != nil {
		return clustertest.RequireTool(t, "pgbench", "Debian package postgresql-15")
	}
	return p
}

// pgbenchResult is what a pgbench run reports.
type pgbenchResult struct {
	Processed int64   // number of transactions actually processed
	Failed    int64   // number of failed transactions (-1 when not reported)
	TPS       float64 // without initial connection time
	LatencyMS float64 // latency average
}

var (
	rePgbenchProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)
	rePgbenchFailed    = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
	rePgbenchTPS       = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	rePgbenchLatency   = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

func parsePgbench(out string) pgbenchResult {
	r := pgbenchResult{Failed: -1, Processed: -1}
	if m := rePgbenchProcessed.FindStringSubmatch(out); m != nil {
		r.Processed, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := rePgbenchFailed.FindStringSubmatch(out); m != nil {
		r.Failed, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := rePgbenchTPS.FindStringSubmatch(out); m != nil {
		r.TPS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := rePgbenchLatency.FindStringSubmatch(out); m != nil {
		r.LatencyMS, _ = strconv.ParseFloat(m[1], 64)
	}
	return r
}

// sysbenchResult is what a sysbench run reports.
type sysbenchResult struct {
	Transactions  int64
	IgnoredErrors int64
	Reconnects    int64
	TPS           float64
	Queries       int64
}

var (
	reSysbenchTx      = regexp.MustCompile(`transactions:\s+(\d+)\s+\(([0-9.]+) per sec`)
	reSysbenchQueries = regexp.MustCompile(`queries:\s+(\d+)\s+\(`)
	reSysbenchIgnored = regexp.MustCompile(`ignored errors:\s+(\d+)`)
	reSysbenchReconn  = regexp.MustCompile(`reconnects:\s+(\d+)`)
)

func parseSysbench(out string) (sysbenchResult, bool) {
	r := sysbenchResult{}
	m := reSysbenchTx.FindStringSubmatch(out)
	if m == nil {
		return r, false
	}
	r.Transactions, _ = strconv.ParseInt(m[1], 10, 64)
	r.TPS, _ = strconv.ParseFloat(m[2], 64)
	if m := reSysbenchQueries.FindStringSubmatch(out); m != nil {
		r.Queries, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reSysbenchIgnored.FindStringSubmatch(out); m != nil {
		r.IgnoredErrors, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reSysbenchReconn.FindStringSubmatch(out); m != nil {
		r.Reconnects, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, true
}

// errorLines returns the lines of out that report an error or a FATAL.
func errorLines(out string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		u := strings.ToUpper(l)
		if strings.Contains(u, "FATAL") || strings.Contains(u, "ERROR") || strings.Contains(l, "aborted") {
			ls = append(ls, l)
		}
	}
	return ls
}

func lastLines(ls []string, n int) string {
	if len(ls) > n {
		ls = append([]string{"..."}, ls[len(ls)-n:]...)
	}
	return strings.Join(ls, "\n")
}

func firstLines(ls []string, n int) string {
	if len(ls) > n {
		ls = append(ls[:n:n], "...")
	}
	return strings.Join(ls, "\n")
}

// withoutLines is out's lines but those in drop.
func withoutLines(out string, drop []string) []string {
	skip := map[string]bool{}
	for _, l := range drop {
		skip[l] = true
	}
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !skip[l] {
			keep = append(keep, l)
		}
	}
	return keep
}
