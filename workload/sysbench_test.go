package workload

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

const (
	sysbenchTables    = 4
	sysbenchTableSize = 10000
)

// TestSysbench runs Debian's sysbench oltp_read_write (pgsql driver, its own
// DDL with SERIAL ids and no DISTRIBUTE BY) end to end through a coordinator
// of a cluster of two datanodes: prepare (8 threads, 4 tables, on a fresh
// cluster), 20 s at 8 threads, cleanup, with no
// FATAL error. Deadlocks and unique violations that sysbench retries count as
// "ignored errors"; the same run against one plain PostgreSQL gives the count
// to compare with. After the run every table still has its rows (each
// transaction deletes and re-inserts one row, so nothing partial is left).
func TestSysbench(t *testing.T) {
	sysbench := clustertest.RequireTool(t, "sysbench", "Debian package sysbench")
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	plain := clustertest.StartPlain(t)

	type target struct {
		name    string
		port    int
		user    string
		dsn     func(db string) string
		logTail func() string
	}
	targets := []target{
		{"xlgo", c.CoordPort(0), c.User, func(db string) string { return c.CoordDSN(0, db) },
			func() string { return "--- coord1 log (last lines)\n" + c.LogTail("coord1", 20) }},
		{"plain PostgreSQL", plain.Port, plain.User, plain.DSN,
			func() string { return "--- PostgreSQL log (last lines)\n" + plain.LogTail(20) }},
	}
	results := make([]sysbenchResult, len(targets))
	ok := make([]bool, len(targets))
	for i, tg := range targets {
		admin := connect(t, tg.dsn("postgres"))
		mustExec(t, admin, "CREATE DATABASE sbtest")
		args := []string{
			"--db-driver=pgsql", "--pgsql-host=127.0.0.1", "--pgsql-port=" + strconv.Itoa(tg.port),
			"--pgsql-user=" + tg.user, "--pgsql-db=sbtest",
			"--tables=" + strconv.Itoa(sysbenchTables), "--table-size=" + strconv.Itoa(sysbenchTableSize),
		}
		env := clustertest.ClientEnv("127.0.0.1", tg.port, tg.user, "sbtest")
		step := func(timeout time.Duration, extra ...string) (string, bool) {
			t.Helper()
			a := append(append([]string{}, args...), extra...)
			out, err := runTool(t, timeout, env, sysbench, a...)
			if err != nil || strings.Contains(out, "FATAL") {
				t.Errorf("%s: sysbench %s: %v\n%s\n%s", tg.name, strings.Join(a, " "), err,
					firstLines(errorLines(out), 20), tg.logTail())
				return out, false
			}
			return out, true
		}
		if _, good := step(5*time.Minute, "--threads=8", "oltp_read_write", "prepare"); !good {
			continue
		}
		out, good := step(3*time.Minute, "--threads=8", "--time=20", "--report-interval=0", "oltp_read_write", "run")
		r, parsed := parseSysbench(out)
		if good && !parsed {
			t.Errorf("%s: sysbench run printed no statistics:\n%s", tg.name, out)
		}
		results[i], ok[i] = r, good && parsed
		t.Logf("%s: sysbench oltp_read_write, 8 threads, 20 s: %d transactions (%.1f/s), %d queries, %d ignored errors, %d reconnects",
			tg.name, r.Transactions, r.TPS, r.Queries, r.IgnoredErrors, r.Reconnects)
		if good && r.Transactions == 0 {
			t.Errorf("%s: sysbench committed no transaction", tg.name)
		}

		db := connect(t, tg.dsn("sbtest"))
		for k := 1; k <= sysbenchTables; k++ {
			var n, distinct int64
			q := fmt.Sprintf("SELECT count(*), count(DISTINCT id) FROM sbtest%d", k)
			if err := db.QueryRow(context.Background(), q).Scan(&n, &distinct); err != nil {
				t.Errorf("%s: %s: %v", tg.name, q, err)
				continue
			}
			if n != sysbenchTableSize || distinct != sysbenchTableSize {
				t.Errorf("%s: after the run sbtest%d has %d rows (%d distinct ids), want %d", tg.name, k, n, distinct, sysbenchTableSize)
			}
		}
		db.Close(context.Background())
		step(5*time.Minute, "oltp_read_write", "cleanup")
	}
	if ok[0] && ok[1] {
		x, p := results[0], results[1]
		t.Logf("ignored errors: xlgo %d, plain PostgreSQL %d; transactions/s: xlgo %.1f, plain PostgreSQL %.1f (ratio %.2f)",
			x.IgnoredErrors, p.IgnoredErrors, x.TPS, p.TPS, x.TPS/p.TPS)
		fmt.Printf("sysbench oltp_read_write 8 threads: xlgo %.1f tps, %d ignored errors; plain PostgreSQL %.1f tps, %d ignored errors\n",
			x.TPS, x.IgnoredErrors, p.TPS, p.IgnoredErrors)
	}
}
