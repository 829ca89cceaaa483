package regress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// connect opens a simple-protocol connection to coordinator i.
func connect(t *testing.T, c *clustertest.Cluster, i int, db string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(c.CoordDSN(i, db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to coordinator %d: %v\n%s", i+1, err, c.LogTail(c.Config.Coordinators[i].Name, 20))
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

func queryInt(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// pidOf is the pid of a running process of the cluster.
func pidOf(t *testing.T, c *clustertest.Cluster, name string) int {
	t.Helper()
	st, err := c.Ctl.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st {
		if p.Name == name && p.Running {
			return p.Pid
		}
	}
	t.Fatalf("%s is not running", name)
	return 0
}

// waitGone waits until a pid has exited.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pid %d did not exit", pid)
}

// The Postgres-XL guide's own verification, through both coordinators.
func TestGuideVerification(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	c1 := connect(t, c, 0, "postgres")
	rows, err := c1.Query(context.Background(), "select * from pgxc_node")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		typ := fmt.Sprint(v[1])
		if b, ok := v[1].(int32); ok { // "char" arrives as its byte
			typ = string(rune(b))
		}
		names = append(names, fmt.Sprintf("%v %s %v", v[0], typ, v[4]))
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	want := []string{"coord1 C false", "coord2 C false", "datanode1 D true", "datanode2 D false"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("pgxc_node = %v, want %v", names, want)
	}
	if fd := rows.FieldDescriptions(); len(fd) != 7 || fd[0].Name != "node_name" || fd[6].Name != "node_id" {
		t.Fatalf("pgxc_node columns: %v", fd)
	}
	mustExec(t, c1, "create database peiybdb")
	p1 := connect(t, c, 0, "peiybdb")
	mustExec(t, p1, "create table tmp_t0(c0 varchar(100),c1 varchar(100))")
	tag, err := p1.Exec(context.Background(), "insert into tmp_t0(c0,c1) SELECT id::varchar,md5(id::varchar) FROM generate_series(1,10000) as id")
	if err != nil || tag.String() != "INSERT 0 10000" {
		t.Fatalf("insert: %v %v", tag, err)
	}
	p2 := connect(t, c, 1, "peiybdb")
	rows, err = p2.Query(context.Background(), "select xc_node_id,count(1) from tmp_t0 group by xc_node_id")
	if err != nil {
		t.Fatal(err)
	}
	var counts []int64
	var total int64
	for rows.Next() {
		var id int32
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		counts = append(counts, n)
		total += n
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(counts) != 2 || total != 10000 {
		t.Fatalf("spread %v, total %d", counts, total)
	}
	for _, n := range counts {
		if n < 4500 || n > 5500 {
			t.Fatalf("uneven spread %v", counts)
		}
	}
}

// A table created through one coordinator is routed at once by the other.
func TestCatalogSharedAcrossCoordinators(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	c1 := connect(t, c, 0, "postgres")
	c2 := connect(t, c, 1, "postgres")
	for i := 0; i < 10; i++ {
		tbl := fmt.Sprintf("shared_%d", i)
		mustExec(t, c1, fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, v text) DISTRIBUTE BY HASH (id)", tbl))
		// Without the catalog, coord2 would send every row to one node.
		mustExec(t, c2, fmt.Sprintf("INSERT INTO %s SELECT g, 'x' FROM generate_series(1, 100) g", tbl))
		if n := queryInt(t, c1, fmt.Sprintf("SELECT count(DISTINCT xc_node_id) FROM %s", tbl)); n != 2 {
			t.Fatalf("%s: rows on %d nodes", tbl, n)
		}
		if n := queryInt(t, c1, fmt.Sprintf("SELECT count(*) FROM %s WHERE id = 42", tbl)); n != 1 {
			t.Fatalf("%s: point lookup found %d rows", tbl, n)
		}
		mustExec(t, c2, "DROP TABLE "+tbl)
		if _, err := c1.Exec(context.Background(), "INSERT INTO "+tbl+" VALUES (1, 'y')"); sqlState(err) != "42P01" {
			t.Fatalf("insert into dropped table through coord1: %v", err)
		}
	}
}

// A stopped datanode gives a clear error that names it; the coordinator
// keeps serving what does not need that node, and everyone else.
func TestDatanodeDown(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	conn := connect(t, c, 0, "postgres")
	mustExec(t, conn, "CREATE TABLE down_t (id int PRIMARY KEY, v text) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn, "INSERT INTO down_t SELECT g, 'x' FROM generate_series(1, 100) g")
	// Find a key on each node.
	var onFirst, onSecond int
	rows, err := conn.Query(context.Background(), "SELECT id, xc_node_id FROM down_t")
	if err != nil {
		t.Fatal(err)
	}
	first := queryIntArgsFree(t, c)
	for rows.Next() {
		var id, node int32
		rows.Scan(&id, &node)
		if node == first {
			onFirst = int(id)
		} else {
			onSecond = int(id)
		}
	}
	if onFirst == 0 || onSecond == 0 {
		t.Fatal("keys not found on both nodes")
	}
	pid := pidOf(t, c, "datanode2")
	syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown
	waitGone(t, pid)

	fresh := connect(t, c, 0, "postgres")
	_, err = fresh.Exec(context.Background(), "SELECT count(*) FROM down_t")
	if err == nil || !strings.Contains(err.Error(), "datanode2") {
		t.Fatalf("query over all nodes with datanode2 down: %v", err)
	}
	if code := sqlState(err); code != "08001" && code != "08006" {
		t.Fatalf("SQLSTATE %q, want a connection error: %v", code, err)
	}
	if n := queryInt(t, fresh, fmt.Sprintf("SELECT count(*) FROM down_t WHERE id = %d", onFirst)); n != 1 {
		t.Fatalf("point read on datanode1 found %d rows", n)
	}
	_, err = fresh.Exec(context.Background(), fmt.Sprintf("UPDATE down_t SET v = 'y' WHERE id IN (%d, %d)", onFirst, onSecond))
	if err == nil {
		t.Fatal("a write over both nodes succeeded with datanode2 down")
	}
	// Nothing of that failed write is visible once datanode2 is back.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Ctl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	again := connect(t, c, 0, "postgres")
	if n := queryInt(t, again, "SELECT count(*) FROM down_t WHERE v = 'y'"); n != 0 {
		t.Fatalf("%d rows of a failed write are visible", n)
	}
	if n := queryInt(t, again, "SELECT count(*) FROM down_t"); n != 100 {
		t.Fatalf("count after restart = %d", n)
	}
}

func queryIntArgsFree(t *testing.T, c *clustertest.Cluster) int32 {
	t.Helper()
	conn := connect(t, c, 0, "postgres")
	var id int32
	if err := conn.QueryRow(context.Background(), "SELECT node_id FROM pgxc_node WHERE node_name = 'datanode1'").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// Malformed startup packets get an error or a close; the coordinator goes on.
func TestMalformedStartup(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 1})
	addr := fmt.Sprintf("127.0.0.1:%d", c.CoordPort(0))
	for _, pkt := range [][]byte{
		{0, 0, 0, 3},
		{0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0},
		{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2e},
		{0, 0, 0, 16, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'x', 0, 0},
		[]byte("GET / HTTP/1.0\r\n\r\n"),
	} {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		nc.Write(pkt)
		buf := make([]byte, 512)
		n, _ := nc.Read(buf)
		if n > 0 && buf[0] != 'E' && buf[0] != 'R' {
			t.Errorf("packet %q: answer starts with %q", pkt, buf[0])
		}
		nc.Close()
	}
	conn := connect(t, c, 0, "postgres")
	if n := queryInt(t, conn, "SELECT 1"); n != 1 {
		t.Fatal("coordinator stopped serving")
	}
}

// With the GTM down, multi-node writes are refused whole; single-node work
// goes on; the coordinator reconnects once the GTM is back.
func TestGTMDown(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	conn := connect(t, c, 0, "postgres")
	mustExec(t, conn, "CREATE TABLE gtm_t (id int PRIMARY KEY, v int) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn, "INSERT INTO gtm_t SELECT g, 0 FROM generate_series(1, 20) g")
	pid := pidOf(t, c, "gtm")
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(t, pid)
	_, err := conn.Exec(context.Background(), "UPDATE gtm_t SET v = 1")
	if err == nil {
		t.Fatal("a multi-node write committed without the GTM")
	}
	// A consistent read of several nodes needs the GTM's snapshot gate: it is
	// refused with a clear error; each node can still be read alone.
	if _, err := conn.Exec(context.Background(), "SELECT count(*) FROM gtm_t"); sqlState(err) != "08006" {
		t.Fatalf("multi-node read without the GTM: %v", err)
	}
	for i := 1; i <= 2; i++ {
		if n := queryInt(t, conn, fmt.Sprintf("EXECUTE DIRECT ON (datanode%d) 'SELECT count(*) FROM gtm_t WHERE v = 1'", i)); n != 0 {
			t.Fatalf("%d rows of a refused write are visible on datanode%d", n, i)
		}
	}
	mustExec(t, conn, "UPDATE gtm_t SET v = 2 WHERE id = 1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Ctl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := conn.Exec(context.Background(), "UPDATE gtm_t SET v = 3")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("multi-node write after the GTM came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM gtm_t WHERE v = 3"); n != 20 {
		t.Fatalf("%d rows updated", n)
	}
	for i := 0; i < 2; i++ {
		if n := queryInt(t, conn, fmt.Sprintf("EXECUTE DIRECT ON (datanode%d) 'SELECT count(*) FROM pg_prepared_xacts'", i+1)); n != 0 {
			t.Fatalf("datanode%d holds %d prepared transactions", i+1, n)
		}
	}
}
