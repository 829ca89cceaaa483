package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/testhosts"
)

// TestClusterOnHosts runs a cluster's processes on three simulated hosts
// through Cluster.Launch, as pgxc_ctl would on three machines: the gtm on
// h1, a coordinator and a datanode on h2 and on h3. A distributed table's
// rows land on both datanodes, a transaction that writes to both commits
// and is seen through the other coordinator, and Stop leaves nothing running.
func TestClusterOnHosts(t *testing.T) {
	pgBin := clustertest.RequirePostgres(t)
	bin := clustertest.Binaries(t)
	nt := testhosts.ForTest(t, 3, testhosts.Options{CPU: 1})
	h1, h2, h3 := nt.Host("h1").Addr().String(), nt.Host("h2").Addr().String(), nt.Host("h3").Addr().String()

	// Distinct ports although the hosts' addresses differ: the Unix sockets
	// of every host share one directory.
	ports, err := cluster.FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cluster.DefaultConfig()
	cfg.PgBin = pgBin
	cfg.GTM = cluster.Node{Name: "gtm", Host: h1, Port: ports[0]}
	cfg.Coordinators = []cluster.Node{{Name: "coord1", Host: h2, Port: ports[1]}, {Name: "coord2", Host: h3, Port: ports[2]}}
	cfg.Datanodes = []cluster.Node{
		{Name: "datanode1", Host: h2, Port: ports[3], Primary: true, Preferred: true},
		{Name: "datanode2", Host: h3, Port: ports[4]},
	}
	// Clients from the hosts' network are trusted, as loopback is by default.
	cfg.Auth.Rules = []cluster.HBARule{
		{Type: "local", Method: "trust"},
		{Type: "host", Address: "127.0.0.1/32", Method: "trust"},
		{Type: "host", Address: nt.Subnet().String(), Method: "trust"},
	}
	home, err := os.MkdirTemp("", "xlgo-hosts-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o755)
	var out bytes.Buffer
	ctl := &cluster.Cluster{Home: home, Config: cfg, BinDir: bin, Out: &out, ReadyTimeout: 90 * time.Second,
		TrustNetworks: []string{nt.Subnet().String()}}
	ctl.Launch = func(ctx context.Context, n cluster.Node, cmd *exec.Cmd) *exec.Cmd { return nt.Launch(ctx, n.Host, cmd) }
	stopped := false
	t.Cleanup(func() { // before the hosts are closed
		if !stopped {
			ctl.Stop(context.Background(), "immediate")
		}
		if !t.Failed() {
			os.RemoveAll(home)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := ctl.Init(ctx); err != nil {
		t.Fatalf("%v\n%s\ngtm: %s\ncoord1: %s\ndatanode1: %s", err, out.String(), ctl.LogTail("gtm", 10), ctl.LogTail("coord1", 10), ctl.LogTail("datanode1", 10))
	}

	// Every process runs in its host's network namespace.
	procs := map[string]int{}
	for _, n := range append(append([]cluster.Node{cfg.GTM}, cfg.Coordinators...), cfg.Datanodes...) {
		pid := pidOf(t, ctl, n)
		procs[n.Name] = pid
		if got, want := inode(t, fmt.Sprintf("/proc/%d/ns/net", pid)), inode(t, "/run/netns/"+nt.HostOf(n.Host).Namespace()); got != want {
			t.Errorf("%s (pid %d) is not in the network namespace of host %s", n.Name, pid, n.Host)
		}
	}

	connect := func(n cluster.Node) *pgx.Conn {
		cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable", n.Host, n.Port, ctl.ClientUser()))
		if err != nil {
			t.Fatal(err)
		}
		cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		conn, err := pgx.ConnectConfig(ctx, cc)
		if err != nil {
			t.Fatalf("connect to %s at %s: %v", n.Name, n.Addr(), err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	c1, c2 := connect(cfg.Coordinators[0]), connect(cfg.Coordinators[1])
	exec := func(conn *pgx.Conn, sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(c1, "CREATE TABLE spread (id int PRIMARY KEY, v int) DISTRIBUTE BY HASH (id)")
	exec(c1, "INSERT INTO spread SELECT g, 0 FROM generate_series(1, 100) g")
	rows, err := c2.Query(ctx, "SELECT xc_node_id, count(*) FROM spread GROUP BY 1 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Node, N int64 }])
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts[0].N+counts[1].N != 100 {
		t.Fatalf("rows per datanode (xc_node_id, count) = %v, want 100 rows over 2 datanodes", counts)
	}

	// One transaction writing on both datanodes, committed through h2's
	// coordinator and seen through h3's.
	exec(c1, "BEGIN")
	exec(c1, "UPDATE spread SET v = 1")
	exec(c1, "INSERT INTO spread VALUES (101, 1), (102, 1), (103, 1), (104, 1)")
	exec(c1, "COMMIT")
	var n, nodes int
	if err := c2.QueryRow(ctx, "SELECT count(*), count(DISTINCT xc_node_id) FROM spread WHERE v = 1").Scan(&n, &nodes); err != nil {
		t.Fatal(err)
	}
	if n != 104 || nodes != 2 {
		t.Fatalf("after the commit: %d rows with v = 1 on %d datanodes, want 104 on 2", n, nodes)
	}

	stopped = true
	if err := ctl.Stop(ctx, "fast"); err != nil {
		t.Fatalf("stop: %v\n%s", err, out.String())
	}
	for name, pid := range procs {
		if syscall.Kill(pid, 0) == nil {
			if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(st), ") Z") {
				t.Errorf("%s (pid %d) still runs after Stop", name, pid)
			}
		}
	}
}

// pidOf reads the pid of a running node from the cluster's files.
func pidOf(t *testing.T, ctl *cluster.Cluster, n cluster.Node) int {
	t.Helper()
	path := ctl.PidPath(n.Name)
	if strings.HasPrefix(n.Name, "datanode") {
		path = filepath.Join(ctl.DataDir(n.Name), "postmaster.pid")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}
