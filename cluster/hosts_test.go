package cluster_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	osexec "os/exec"
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

// TestClusterOverSSH builds the guide's cluster on three simulated hosts,
// each a network namespace running its own sshd, with xlctl run from outside
// them as pgxc_ctl is: the gtm, a coordinator and a datanode on h1; the gtm
// standby, a coordinator and a datanode on h2; both datanodes' synchronous
// standbys on h3. xlctl deploys its binaries over ssh, init starts every
// process in its host's namespace, status asks every host (the standbys
// streaming, synchronous), the guide's verification runs through both
// coordinators, a host that cannot be reached is named, and stop and clean
// leave nothing behind.
func TestClusterOverSSH(t *testing.T) {
	nt := testhosts.ForTest(t, 3, testhosts.Options{CPU: 1, SSH: true})
	h1, h2, h3 := nt.Host("h1").Addr().String(), nt.Host("h2").Addr().String(), nt.Host("h3").Addr().String()
	sc := newSSHCluster(t, nt, 8)
	cfg, ports, work, home, bin := sc.cfg, sc.ports, sc.work, sc.home, sc.bin
	// The guide's topology: pgxl-node1 and pgxl-node2 hold the gtm and its
	// standby, a coordinator and a datanode each; pgxl-node3 the datanodes'
	// synchronous standbys.
	cfg.GTM = cluster.Node{Name: "gtm", Host: h1, Port: ports[0]}
	cfg.GTMStandby = cluster.Node{Name: "gtm_standby", Host: h2, Port: ports[5]}
	cfg.Coordinators = []cluster.Node{{Name: "coord1", Host: h1, Port: ports[1]}, {Name: "coord2", Host: h2, Port: ports[2]}}
	cfg.Datanodes = []cluster.Node{
		{Name: "datanode1", Host: h1, Port: ports[3], Primary: true, Preferred: true, Dir: filepath.Join(work, "dn1-data")},
		{Name: "datanode2", Host: h2, Port: ports[4]},
	}
	cfg.DatanodeStandbys = []cluster.Node{
		{Name: "datanode1_standby", Of: "datanode1", Host: h3, Port: ports[6]},
		{Name: "datanode2_standby", Of: "datanode2", Host: h3, Port: ports[7]},
	}
	sc.write()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	xlctl := func(args ...string) (string, error) { return sc.xlctl(ctx, args...) }

	out, err := xlctl("deploy")
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	for _, b := range []string{"xlctl", "gtm", "coordinator"} {
		if st, err := os.Stat(filepath.Join(cfg.BinDir, b)); err != nil || st.Mode()&0o111 == 0 {
			t.Fatalf("after deploy, %s/%s: %v\n%s", cfg.BinDir, b, err, out)
		}
	}
	if out, err = xlctl("deploy"); err != nil || strings.Contains(out, "Deploy ") {
		t.Fatalf("a second deploy copied again or failed: %v\n%s", err, out)
	}
	if out, err = xlctl("init"); err != nil {
		logs := ""
		for _, n := range []string{"gtm", "coord1", "coord2", "datanode1", "datanode2"} {
			b, _ := os.ReadFile(filepath.Join(home, "log", n+".log"))
			logs += fmt.Sprintf("--- %s\n%s\n", n, b)
		}
		t.Fatalf("init: %v\n%s\n%s", err, out, logs)
	}
	t.Logf("xlctl init:\n%s", out)
	ctl := cluster.New(home, cfg)

	// Every process runs in its host's network namespace.
	procs := map[string]int{}
	for _, n := range append(append(append([]cluster.Node{cfg.GTM, cfg.GTMStandby}, cfg.Coordinators...), cfg.Datanodes...), cfg.DatanodeStandbys...) {
		pid := pidOf(t, ctl, n)
		procs[n.Name] = pid
		if got, want := inode(t, fmt.Sprintf("/proc/%d/ns/net", pid)), inode(t, "/run/netns/"+nt.HostOf(n.Host).Namespace()); got != want {
			t.Errorf("%s (pid %d) is not in the network namespace of host %s", n.Name, pid, n.Host)
		}
	}
	if out, err = xlctl("status"); err != nil || strings.Count(out, " running ") != 8 || strings.Count(out, "streaming") != 2 ||
		strings.Count(out, " sync ") != 2 || !strings.Contains(out, "No in-doubt transactions.") || strings.Contains(out, "Problem") {
		t.Fatalf("status: %v\n%s", err, out)
	}

	connect := func(n cluster.Node, db string) *pgx.Conn {
		cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", n.Host, n.Port, ctl.ClientUser(), db))
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
	execSQL := func(conn *pgx.Conn, sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// The guide's verification: the nodes, a database, tmp_t0 spread over
	// both datanodes, through either coordinator.
	c1 := connect(cfg.Coordinators[0], ctl.ClientUser())
	var nodes []string
	rows, _ := c1.Query(ctx, "SELECT node_name || ' ' || node_type::text || ' ' || node_host || ':' || node_port FROM pgxc_node ORDER BY node_name")
	if nodes, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	want := []string{"coord1 C " + h1 + ":" + strconv.Itoa(ports[1]), "coord2 C " + h2 + ":" + strconv.Itoa(ports[2]),
		"datanode1 D " + h1 + ":" + strconv.Itoa(ports[3]), "datanode2 D " + h2 + ":" + strconv.Itoa(ports[4])}
	if strings.Join(nodes, "; ") != strings.Join(want, "; ") {
		t.Fatalf("pgxc_node = %q, want %q", nodes, want)
	}
	execSQL(c1, "CREATE DATABASE peiybdb")
	p1, p2 := connect(cfg.Coordinators[0], "peiybdb"), connect(cfg.Coordinators[1], "peiybdb")
	execSQL(p1, "create table tmp_t0(c0 varchar(100),c1 varchar(100))")
	execSQL(p1, "insert into tmp_t0(c0,c1) SELECT id::varchar,md5(id::varchar) FROM generate_series(1,10000) as id")
	rows, _ = p2.Query(ctx, "select xc_node_id,count(1) from tmp_t0 group by xc_node_id")
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Node, N int64 }])
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts[0].N+counts[1].N != 10000 || counts[0].N < 4000 || counts[1].N < 4000 {
		t.Fatalf("tmp_t0 rows per datanode (xc_node_id, count) = %v, want 10000 spread over 2 datanodes", counts)
	}
	// One transaction writing on both datanodes, committed through h2's
	// coordinator and seen through h3's.
	execSQL(p1, "BEGIN")
	execSQL(p1, "UPDATE tmp_t0 SET c1 = 'x' WHERE c0::int <= 100")
	execSQL(p1, "INSERT INTO tmp_t0 VALUES ('10001', 'x'), ('10002', 'x'), ('10003', 'x'), ('10004', 'x')")
	execSQL(p1, "COMMIT")
	var n, spread int
	if err := p2.QueryRow(ctx, "SELECT count(*), count(DISTINCT xc_node_id) FROM tmp_t0 WHERE c1 = 'x'").Scan(&n, &spread); err != nil {
		t.Fatal(err)
	}
	if n != 104 || spread != 2 {
		t.Fatalf("after the commit: %d rows with c1 = 'x' on %d datanodes, want 104 on 2", n, spread)
	}

	// A host nobody answers on is named, and the others still report.
	bad := *cfg
	bad.Datanodes = append([]cluster.Node{}, cfg.Datanodes...)
	lost := netip.AddrFrom4(nt.Subnet().Addr().As4())
	lost = netip.AddrFrom4([4]byte{lost.As4()[0], lost.As4()[1], lost.As4()[2], 250})
	bad.Datanodes[1].Host = lost.String()
	badPath := filepath.Join(work, "bad.yaml")
	if err := os.WriteFile(badPath, bad.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := osexec.CommandContext(ctx, filepath.Join(bin, "xlctl"), "--home", home, "--config", badPath, "--bin", bin, "status")
	cmd.Env = cluster.CleanEnv()
	b, err := cmd.CombinedOutput()
	if out = string(b); err != nil || !strings.Contains(out, "datanode2: host "+lost.String()+": cannot reach it over ssh") || strings.Count(out, " running ") != 7 {
		t.Fatalf("status with an unreachable host: %v\n%s", err, out)
	}
	t.Logf("xlctl status with an unreachable host:\n%s", out)

	sc.stopped = true
	if out, err = xlctl("stop"); err != nil {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	for name, pid := range procs {
		if syscall.Kill(pid, 0) == nil {
			if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(st), ") Z") {
				t.Errorf("%s (pid %d) still runs after stop", name, pid)
			}
		}
	}
	if out, err = xlctl("clean", "--yes"); err != nil {
		t.Fatalf("clean: %v\n%s", err, out)
	}
	for _, d := range []string{cfg.Datanodes[0].Dir, ctl.DataDir("datanode2"), ctl.DataDir("coord1"), ctl.DataDir("gtm")} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s is still there after clean", d)
		}
	}
}

// sshCluster is a cluster on simulated hosts that the xlctl binary works
// on from outside them, over each host's sshd, as a user's xlctl does.
type sshCluster struct {
	cfg                      *cluster.Config
	ports                    []int
	metricsPorts             []int // for the gtms and coordinators, whose port + 1000 may be another node's
	work, home, cfgPath, bin string
	stopped                  bool // the test stopped it itself
}

// newSSHCluster makes the work directory and a config for nt's hosts with
// nports free ports; the test fills in the nodes and calls write. The
// cluster is stopped (immediate) when the test ends.
func newSSHCluster(t *testing.T, nt *testhosts.Net, nports int) *sshCluster {
	t.Helper()
	sc := &sshCluster{bin: clustertest.Binaries(t)}
	pgBin := clustertest.RequirePostgres(t)
	// Distinct ports although the hosts' addresses differ: the Unix sockets
	// of every host share one directory.
	var err error
	if sc.ports, err = cluster.FreePorts(nports); err != nil {
		t.Fatal(err)
	}
	if sc.metricsPorts, err = cluster.FreePorts(8); err != nil {
		t.Fatal(err)
	}
	if sc.work, err = os.MkdirTemp("", "xlgo-ssh-test-"); err != nil { // PostgreSQL's account enters it
		t.Fatal(err)
	}
	os.Chmod(sc.work, 0o755)
	sc.home, sc.cfgPath = filepath.Join(sc.work, "home"), filepath.Join(sc.work, "xlgo.yaml")
	sc.cfg = cluster.DefaultConfig()
	sc.cfg.PgBin = pgBin
	sc.cfg.SSH = "ssh -F " + nt.SSHConfig()
	sc.cfg.BinDir = filepath.Join(sc.work, "remote-bin")
	// Clients from the hosts' network are trusted, as loopback is by default.
	sc.cfg.Auth.Rules = []cluster.HBARule{
		{Type: "local", Method: "trust"},
		{Type: "host", Address: "127.0.0.1/32", Method: "trust"},
		{Type: "host", Address: nt.Subnet().String(), Method: "trust"},
	}
	t.Cleanup(func() { // before the hosts are closed
		if !sc.stopped {
			sc.xlctl(context.Background(), "stop", "-m", "immediate")
		}
		if !t.Failed() {
			os.RemoveAll(sc.work)
		}
	})
	return sc
}

// reload takes the config back from its file (xlctl rewrites it on failovers).
func (sc *sshCluster) reload() error {
	cfg, err := cluster.LoadConfig(sc.cfgPath)
	if err != nil {
		return err
	}
	*sc.cfg = *cfg
	return nil
}

func (sc *sshCluster) write() {
	next := 0
	metrics := func(n *cluster.Node) {
		if n.Name != "" && n.MetricsPort == 0 {
			n.MetricsPort = sc.metricsPorts[next]
			next++
		}
	}
	metrics(&sc.cfg.GTM)
	metrics(&sc.cfg.GTMStandby)
	for i := range sc.cfg.Coordinators {
		metrics(&sc.cfg.Coordinators[i])
	}
	if err := os.WriteFile(sc.cfgPath, sc.cfg.YAML(), 0o644); err != nil {
		panic(err)
	}
}

// xlctl runs the xlctl binary on the cluster.
func (sc *sshCluster) xlctl(ctx context.Context, args ...string) (string, error) {
	cmd := osexec.CommandContext(ctx, filepath.Join(sc.bin, "xlctl"), append([]string{"--home", sc.home, "--config", sc.cfgPath, "--bin", sc.bin}, args...)...)
	cmd.Env = cluster.CleanEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
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
