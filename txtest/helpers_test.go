package txtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// report prints a test's figures on stdout and in the test log.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	fmt.Printf("%s: %s\n", t.Name(), msg)
	t.Log(msg)
}

// connect opens a connection, retrying until a deadline (a restarted process
// may not answer at once). simple selects the simple query protocol.
func connect(t *testing.T, dsn string, simple bool) *pgx.Conn {
	t.Helper()
	conn, err := tryConnect(dsn, simple, 30*time.Second)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func tryConnect(dsn string, simple bool, within time.Duration) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if simple {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		cancel()
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exec runs statements in order on conn and fails the test on an error.
func exec(t *testing.T, conn *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		_, err := conn.Exec(ctx, sql)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// sqlState is the SQLSTATE of err, or "" when it carries none.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// nodeIDs maps datanode names to their xc_node_id values.
func nodeIDs(t *testing.T, conn *pgx.Conn) map[string]int32 {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT node_name, node_id FROM pgxc_node WHERE node_type = 'D'")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int32{}
	for rows.Next() {
		var name string
		var id int32
		if err := rows.Scan(&name, &id); err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// keysByNode returns, for each datanode name, the keys of table's int column
// id that live on it.
func keysByNode(t *testing.T, conn *pgx.Conn, table string) map[string][]int {
	t.Helper()
	names := map[int32]string{}
	for n, id := range nodeIDs(t, conn) {
		names[id] = n
	}
	rows, err := conn.Query(context.Background(), "SELECT id, xc_node_id FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for rows.Next() {
		var id int
		var node int32
		if err := rows.Scan(&id, &node); err != nil {
			t.Fatal(err)
		}
		out[names[node]] = append(out[names[node]], id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// twoNodeTable creates table (id int PRIMARY KEY, v int NOT NULL), hash
// distributed by id, with ids 1 to 20 and v 0, and returns its keys by
// datanode; it fails the test unless both datanodes hold some.
func twoNodeTable(t *testing.T, conn *pgx.Conn, table string) map[string][]int {
	t.Helper()
	exec(t, conn,
		"CREATE TABLE "+table+" (id int PRIMARY KEY, v int NOT NULL) DISTRIBUTE BY HASH (id)",
		"INSERT INTO "+table+" SELECT i, 0 FROM generate_series(1, 20) i")
	keys := keysByNode(t, conn, table)
	if len(keys["datanode1"]) == 0 || len(keys["datanode2"]) == 0 {
		t.Fatalf("keys by node: %v: want rows on both datanodes", keys)
	}
	return keys
}

// waitLockWaiters waits until n backends of datanode i wait for a lock.
func waitLockWaiters(t *testing.T, c *clustertest.Cluster, i, n int) {
	t.Helper()
	conn := connect(t, c.DatanodeDSN(i, "postgres"), true)
	defer conn.Close(context.Background())
	poll.Within(t, 20*time.Second, fmt.Sprintf("%d backends of datanode%d to wait for a lock", n, i+1), func() bool {
		var k int
		if err := conn.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k >= n
	})
}

// preparedLeft counts prepared transactions left on every datanode.
func preparedLeft(t *testing.T, c *clustertest.Cluster) int {
	t.Helper()
	total := 0
	for i := range c.Config.Datanodes {
		conn := connect(t, c.DatanodeDSN(i, "postgres"), true)
		var k int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_prepared_xacts").Scan(&k); err != nil {
			t.Fatal(err)
		}
		conn.Close(context.Background())
		total += k
	}
	return total
}

// logLines returns the lines of a process's log that contain s.
func logLines(c *clustertest.Cluster, name, s string) []string {
	var out []string
	for _, l := range strings.Split(c.LogTail(name, 2000), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}
