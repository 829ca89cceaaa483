package opstest

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/metrics"
)

// TestCoordinatorMetrics sends a known mix of statements through a
// coordinator and checks that its /metrics moved by exactly that: statements
// by kind and route, errors by SQLSTATE, commits by kind (two-phase ones
// with their durations and gate waits), client connections and bytes, and
// the pool's backends per datanode.
func TestCoordinatorMetrics(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Datanodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := c.Config.MetricsAddr(c.Config.Coordinators[0])
	conn := connect(t, c.CoordDSN(0, "postgres"))
	exec(t, conn, "CREATE TABLE m (id int PRIMARY KEY, v text) DISTRIBUTE BY HASH (id)")

	before := scrape(t, ctx, addr)
	// 10 single-node inserts, one read of every datanode, one refused
	// statement, one division by zero, one two-phase transaction, one
	// transaction block on one datanode.
	for i := 1; i <= 10; i++ {
		exec(t, conn, "INSERT INTO m VALUES ("+strconv.Itoa(i)+", 'x')")
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM m").Scan(&n); err != nil || n != 10 {
		t.Fatalf("count: %d, %v", n, err)
	}
	wantCode(t, conn, "COPY m FROM '/nonexistent'", "0A000")
	wantCode(t, conn, "SELECT 1/0", "22012")
	exec(t, conn, "BEGIN")
	exec(t, conn, "UPDATE m SET v = 'y'") // every datanode writes
	exec(t, conn, "COMMIT")
	exec(t, conn, "BEGIN")
	exec(t, conn, "INSERT INTO m VALUES (11, 'z')")
	exec(t, conn, "COMMIT")
	after := scrape(t, ctx, addr)

	delta := func(name string, labels ...string) float64 {
		return after.Value(name, labels...) - before.Value(name, labels...)
	}
	checks := []struct {
		what string
		got  float64
		want float64
	}{
		{"single-node inserts", delta("xlgo_statements_total", "kind", "insert", "route", "single"), 11},
		{"multi-node selects", delta("xlgo_statements_total", "kind", "select", "route", "multi"), 1},
		{"refused statements", delta("xlgo_statements_total", "route", "refused"), 1},
		{"insert latencies observed", delta("xlgo_statement_duration_seconds", "kind", "insert"), 11},
		{"0A000 errors", delta("xlgo_client_errors_total", "sqlstate", "0A000"), 1},
		{"22012 errors", delta("xlgo_client_errors_total", "sqlstate", "22012"), 1},
		{"two-phase commits", delta("xlgo_commits_total", "kind", "two_phase", "outcome", "committed"), 1},
		{"two-phase durations", delta("xlgo_two_phase_commit_duration_seconds"), 1},
		{"commit gate waits", delta("xlgo_snapshot_gate_wait_seconds", "gate", "commit"), 1},
		{"one-node commits", delta("xlgo_commits_total", "kind", "one_node", "outcome", "committed"), 1},
		{"transaction statements", delta("xlgo_statements_total", "kind", "transaction"), 4},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: moved by %v, want %v", ch.what, ch.got, ch.want)
		}
	}
	if got := delta("xlgo_client_bytes_total", "direction", "in"); got < 300 {
		t.Errorf("bytes from the client: %v, want at least the statements' text", got)
	}
	if got := delta("xlgo_client_bytes_total", "direction", "out"); got <= 0 {
		t.Errorf("bytes to the client: %v", got)
	}
	if got := after.Value("xlgo_client_connections"); got != 1 {
		t.Errorf("client connections: %v, want 1", got)
	}
	// A second client shows; the backends of both datanodes are in the pool.
	conn2 := connect(t, c.CoordDSN(0, "postgres"))
	if err := conn2.QueryRow(ctx, "SELECT count(*) FROM m").Scan(&n); err != nil {
		t.Fatal(err)
	}
	now := scrape(t, ctx, addr)
	if got := now.Value("xlgo_client_connections"); got != 2 {
		t.Errorf("client connections with a second client: %v, want 2", got)
	}
	for _, dn := range []string{"datanode1", "datanode2"} {
		if got := now.Value("xlgo_backends", "datanode", dn); got < 1 {
			t.Errorf("backends of %s in the pool: %v, want some", dn, got)
		}
		if got := now.Value("xlgo_backend_lendings_total", "datanode", dn); got < 2 {
			t.Errorf("backend lendings of %s: %v", dn, got)
		}
	}
	if now["go_goroutines"] == nil || now["process_resident_memory_bytes"] == nil {
		t.Errorf("the Go runtime's and the process's metrics are missing")
	}
	conn2.Close(ctx)
}

func scrape(t *testing.T, ctx context.Context, addr string) metrics.Families {
	t.Helper()
	f, err := metrics.Scrape(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func connectErr(dsn string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgx.Connect(ctx, dsn)
}

func exec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func wantCode(t *testing.T, conn *pgx.Conn, sql, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := conn.Exec(ctx, sql)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("%s: %v, want SQLSTATE %s", sql, err, code)
	}
}
