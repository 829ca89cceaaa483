package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/poll"
)

// Every datanode has a synchronous standby: a commit is on it when the
// client hears of it. Under a writer whose transactions each insert two rows
// (mostly on both datanodes), datanode1's host is lost (kill -9 of all its
// processes) and xlctl failover datanode promotes its standby and repoints
// both coordinators: every acknowledged transaction is there, every
// transaction is there whole or not at all, nothing stays in doubt, and
// writes go on through both coordinators.
func TestDatanodeStandbyFailover(t *testing.T) { failoverUnderLoad(t, true) }

// The same loss with nobody acting: the coordinators see datanode1 gone for
// --failover-after (5 s), one of them wins the failover at the gtm and
// promotes the standby, both repoint, and xlctl status then finds the config
// out of date and follows the gtm's record.
func TestAutomaticDatanodeFailover(t *testing.T) { failoverUnderLoad(t, false) }

func failoverUnderLoad(t *testing.T, manual bool) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2, DatanodeStandbys: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, s := range c.Ctl.Standbys(ctx) {
		if s.Err != nil || s.State != "streaming" || s.SyncState != "sync" {
			t.Fatalf("standby %s of %s: %+v; want streaming, sync", s.Name, s.Of, s)
		}
	}
	st, err := c.Ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 7 {
		t.Fatalf("status lists %d processes, want 7 (gtm, 2 coordinators, 2 datanodes, 2 standbys): %+v", len(st), st)
	}
	for _, p := range st {
		if !p.Running {
			t.Fatalf("%s (%s) does not run after init", p.Name, p.Role)
		}
	}

	connect := func(i int) *pgx.Conn {
		conn, err := pgx.Connect(ctx, c.CoordDSN(i, "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	c1, c2 := connect(0), connect(1)
	if _, err := c1.Exec(ctx, "CREATE TABLE pairs (id int PRIMARY KEY, tx int) DISTRIBUTE BY HASH (id)"); err != nil {
		t.Fatal(err)
	}
	var xcBefore int64
	if err := c1.QueryRow(ctx, "SELECT node_id FROM pgxc_node WHERE node_name = 'datanode1'").Scan(&xcBefore); err != nil {
		t.Fatal(err)
	}

	// The writer: transaction k inserts ids 2k and 2k+1; acked holds the
	// ones whose COMMIT succeeded.
	var mu sync.Mutex
	acked := map[int]bool{}
	failed := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writer := func(conn *pgx.Conn, from int) {
		defer wg.Done()
		for k := from; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			tx, err := conn.Begin(ctx)
			if err == nil {
				if _, err = tx.Exec(ctx, "INSERT INTO pairs VALUES ($1, $3), ($2, $3)", 2*k, 2*k+1, k); err == nil {
					err = tx.Commit(ctx)
				} else {
					tx.Rollback(ctx)
				}
			}
			mu.Lock()
			if err == nil {
				acked[k] = true
			} else {
				failed++
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	wg.Add(2)
	go writer(c1, 0)
	go writer(c2, 1_000_000)
	poll.Until(t, "100 transactions committed", func() bool { return ackedCount() >= 100 })

	sb := c.Config.DatanodeStandbys[0]
	c.KillDatanode(t, 0)
	lost := time.Now()
	if manual {
		if err := c.Ctl.FailoverDatanode(ctx, "datanode1"); err != nil {
			t.Fatalf("failover: %v", err)
		}
	} else {
		for i, conn := range []*pgx.Conn{connect(0), connect(1)} { // the writers use c1 and c2
			deadline := time.Now().Add(15 * time.Second)
			for {
				var port int
				err := conn.QueryRow(ctx, "SELECT node_port FROM pgxc_node WHERE node_name = 'datanode1'").Scan(&port)
				if err == nil && port == sb.Port {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("coordinator %d has not failed datanode1 over 15 s after its loss (port %d, %v)\n%s", i+1, port, err, c.LogTail(c.Config.Coordinators[i].Name, 20))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		if _, err := c.Ctl.Status(ctx); err != nil { // follows the gtm's record
			t.Fatal(err)
		}
	}
	took := time.Since(lost)
	at := ackedCount()
	poll.Until(t, "100 more transactions committed after the failover", func() bool { return ackedCount() >= at+100 })
	close(stop)
	wg.Wait()
	t.Logf("failover (manual %t) took %v; %d transactions acknowledged, %d failed while it ran", manual, took.Round(time.Millisecond), ackedCount(), failed)

	for i, conn := range []*pgx.Conn{c1, c2} {
		var host string
		var port int
		var id int64
		if err := conn.QueryRow(ctx, "SELECT node_host, node_port, node_id FROM pgxc_node WHERE node_name = 'datanode1'").Scan(&host, &port, &id); err != nil {
			t.Fatal(err)
		}
		if host != sb.Host || port != sb.Port || id != xcBefore {
			t.Fatalf("coordinator %d: datanode1 is %s:%d (node_id %d), want the standby %s:%d under the same node_id %d", i+1, host, port, id, sb.Host, sb.Port, xcBefore)
		}
	}
	var doubt []string
	poll.Until(t, "no transaction in doubt", func() bool {
		list, problems := c.Ctl.InDoubt(ctx)
		doubt = doubt[:0]
		for _, d := range list {
			doubt = append(doubt, fmt.Sprintf("%s on %s (%s, %v)", d.GID, d.Node, d.Decision, d.Age))
		}
		for _, p := range problems {
			doubt = append(doubt, p.Error())
		}
		if len(doubt) > 0 {
			t.Logf("in doubt: %s", strings.Join(doubt, "; "))
		}
		return len(doubt) == 0
	})

	rows, err := c2.Query(ctx, "SELECT tx, count(*), count(DISTINCT xc_node_id) FROM pairs GROUP BY tx")
	if err != nil {
		t.Fatal(err)
	}
	type txRows struct{ Tx, N, Nodes int }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[txRows])
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	both := 0
	for _, r := range got {
		seen[r.Tx] = true
		if r.N != 2 {
			t.Errorf("transaction %d: %d of its 2 rows", r.Tx, r.N)
		}
		if r.Nodes == 2 {
			both++
		}
	}
	var missing []string
	for k := range acked {
		if !seen[k] {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged transactions lost: %s", len(missing), strings.Join(missing, " "))
	}
	if both == 0 {
		t.Fatalf("no transaction wrote on both datanodes")
	}
	t.Logf("%d transactions there (%d acknowledged, %d over both datanodes), 0 lost, 0 partial", len(got), len(acked), both)

	// The config now names the standby as datanode1, without a standby,
	// and keeps the old datanode1, fenced.
	reread, err := cluster.LoadConfig(c.Ctl.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	fenced, ok := reread.FencedOf("datanode1")
	if _, has := reread.StandbyOf("datanode1"); reread.Datanodes[0].Port != sb.Port || has || !ok || fenced.Port != c.Config.Datanodes[0].Port {
		t.Fatalf("config after failover: datanodes %+v, standbys %+v", reread.Datanodes, reread.DatanodeStandbys)
	}

	// The old datanode1 comes back as the standby of the new one.
	var out bytes.Buffer
	c.Ctl.Out = &out
	if err := c.Ctl.RejoinDatanode(ctx, "datanode1"); err != nil {
		t.Fatalf("rejoin: %v\n%s", err, out.String())
	}
	how := "pg_rewind"
	if strings.Contains(out.String(), "anew") {
		how = "a new base backup (" + strings.TrimSpace(strings.SplitAfter(out.String(), "pg_rewind cannot")[1]) + ")"
		how = how[:strings.IndexByte(how, '\n')]
	}
	for _, s := range c.Ctl.Standbys(ctx) {
		if s.Of == "datanode1" && (s.Name != "datanode1_standby" || s.State != "streaming" || s.SyncState != "sync") {
			t.Fatalf("after rejoin, standby of datanode1: %+v", s)
		}
	}
	rejoined, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=disable", fenced.Port, c.User))
	if err != nil {
		t.Fatal(err)
	}
	defer rejoined.Close(context.Background())
	var onStandby, onDatanode int
	if _, err := c1.Exec(ctx, "INSERT INTO pairs VALUES (-1, -1), (-2, -1)"); err != nil { // acknowledged once on the standby too
		t.Fatal(err)
	}
	if err := rejoined.QueryRow(ctx, "SELECT count(*) FROM pairs").Scan(&onStandby); err != nil {
		t.Fatal(err)
	}
	if err := c1.QueryRow(ctx, "EXECUTE DIRECT ON (datanode1) 'SELECT count(*) FROM pairs'").Scan(&onDatanode); err != nil {
		t.Fatal(err)
	}
	if onStandby != onDatanode {
		t.Fatalf("the rejoined standby has %d rows of pairs, datanode1 %d", onStandby, onDatanode)
	}
	t.Logf("rejoined by %s: %d rows on datanode1 and on its standby", how, onDatanode)
}

// A lost synchronous standby does not hold its datanode's commits: after
// --failover-after the coordinators record at the gtm that the datanode goes
// on without it and make it do so; when the standby is back and has caught
// up it is synchronous again. While it is not, the datanode is not failed
// over when it is lost, since its standby may lack acknowledged commits.
func TestSyncStandbyLoss(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2, DatanodeStandbys: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE w (id int PRIMARY KEY) DISTRIBUTE BY HASH (id)"); err != nil {
		t.Fatal(err)
	}
	next := 0
	write := func(within time.Duration) time.Duration { // 20 rows: some on each datanode
		t.Helper()
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		if _, err := conn.Exec(wctx, "INSERT INTO w SELECT generate_series($1::int, $1::int + 19)", next); err != nil {
			t.Fatalf("a write with datanode1's standby gone did not finish within %s: %v", within, err)
		}
		next += 20
		return time.Since(start)
	}
	syncOf := func() string {
		for _, s := range c.Ctl.Standbys(ctx) {
			if s.Of == "datanode1" {
				return s.State + " " + s.SyncState
			}
		}
		return ""
	}
	write(10 * time.Second)

	c.KillPostgres(t, "datanode1_standby")
	took := write(30 * time.Second)
	t.Logf("a write with the synchronous standby gone took %v", took.Round(100*time.Millisecond))

	c.StartStopped(t)
	poll.Until(t, "the standby synchronous again", func() bool { return syncOf() == "streaming sync" })
	write(10 * time.Second)

	c.KillPostgres(t, "datanode1_standby")
	write(30 * time.Second)
	c.KillDatanode(t, 0)
	time.Sleep(12 * time.Second) // more than --failover-after and a probe
	// pgxc_node is read through a datanode that answers: the preferred one
	// is lost.
	var port int
	if err := conn.QueryRow(ctx, "SELECT node_port FROM pgxc_node WHERE node_name = 'datanode1'").Scan(&port); err != nil || port != c.Config.Datanodes[0].Port {
		t.Fatalf("pgxc_node with the preferred datanode lost: datanode1 at port %d (%v), want %d, not failed over", port, err, c.Config.Datanodes[0].Port)
	}
	for _, co := range c.Config.Coordinators {
		data, err := os.ReadFile(filepath.Join(c.Ctl.DataDir(co.Name), "pgxc_node.json"))
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Nodes []struct {
				Name string
				Port int
			}
		}
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatal(err)
		}
		for _, n := range file.Nodes {
			if n.Name == "datanode1" && n.Port != c.Config.Datanodes[0].Port {
				t.Fatalf("%s: datanode1 was failed over to a standby that was not synchronous (port %d)", co.Name, n.Port)
			}
		}
	}
	if log := c.LogTail("coord1", 200) + c.LogTail("coord2", 200); !strings.Contains(log, "not failing over") {
		t.Fatalf("no coordinator says why it does not fail datanode1 over:\n%s", c.LogTail("coord1", 20))
	}
	if err := c.Ctl.FailoverDatanode(ctx, "datanode1"); err == nil || !strings.Contains(err.Error(), "not synchronous") {
		t.Fatalf("xlctl failover datanode with a standby that is not synchronous: %v", err)
	}
}

// xlctl add standby gives a running datanode a synchronous standby that the
// coordinators know; xlctl add coordinator starts a coordinator that routes
// the tables made before it at once and that the others know.
func TestAddStandbyAndCoordinator(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c1, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close(context.Background())
	for _, sql := range []string{"CREATE TABLE before (id int PRIMARY KEY) DISTRIBUTE BY HASH (id)", "INSERT INTO before SELECT generate_series(1, 1000)"} {
		if _, err := c1.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	ports, err := cluster.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ctl.AddStandby(ctx, cluster.Node{Name: "datanode1_standby", Of: "datanode1", Host: "127.0.0.1", Port: ports[0]}); err != nil {
		t.Fatal(err)
	}
	if s := c.Ctl.Standbys(ctx); len(s) != 1 || s[0].State != "streaming" || s[0].SyncState != "sync" {
		t.Fatalf("after add standby: %+v", s)
	}
	if err := c1.QueryRow(ctx, "SELECT count(*) FROM before").Scan(new(int)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(c.Ctl.DataDir("coord1"), "pgxc_node.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), fmt.Sprint(ports[0])) {
		t.Fatalf("coord1 does not know the standby:\n%s", data)
	}

	if err := c.Ctl.AddCoordinator(ctx, cluster.Node{Name: "coord2", Host: "127.0.0.1", Port: ports[1]}); err != nil {
		t.Fatal(err)
	}
	c2, err := pgx.Connect(ctx, c.CoordDSN(1, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(context.Background())
	var n, nodes int
	// Before the fix that came with this test, the new coordinator had
	// cached the catalog it read before any node was registered, and took
	// the table for one it did not know: 492 rows of datanode1 alone.
	if err := c2.QueryRow(ctx, "SELECT count(*), count(DISTINCT xc_node_id) FROM before").Scan(&n, &nodes); err != nil || n != 1000 || nodes != 2 {
		t.Fatalf("through the new coordinator: %d rows on %d datanodes, %v; want 1000 on 2", n, nodes, err)
	}
	if _, err := c2.Exec(ctx, "INSERT INTO before SELECT generate_series(1001, 1100)"); err != nil {
		t.Fatal(err)
	}
	for i, conn := range []*pgx.Conn{c1, c2} {
		var coords int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pgxc_node WHERE node_type = 'C'").Scan(&coords); err != nil || coords != 2 {
			t.Fatalf("coordinator %d knows %d coordinators (%v), want 2", i+1, coords, err)
		}
	}
	if err := c1.QueryRow(ctx, "SELECT count(*) FROM before").Scan(&n); err != nil || n != 1100 {
		t.Fatalf("through the first coordinator after writes through the new one: %d, %v", n, err)
	}
}

// The gtm fails over by itself: its primary is killed -9 under a bank load
// through both coordinators; the coordinators, whose leases the primary held
// and whose votes the standby collects, have the standby promote itself
// within the failover time (8 s) and a few seconds more; transfers go on, none
// acknowledged is lost, the books balance, nothing stays in doubt; xlctl
// status makes the standby the config's gtm, and xlctl start brings the old
// one back as its standby.
func TestGTMAutoFailover(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2, GTMStandby: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	oldGTM, standby := c.Config.GTM, c.Config.GTMStandby
	nodeInfo := func(addr string) (gtmclient.NodeInfo, error) {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		g, err := gtmclient.Dial(dctx, addr)
		if err != nil {
			return gtmclient.NodeInfo{}, err
		}
		defer g.Close()
		return g.NodeInfo(dctx)
	}
	poll.Until(t, "the gtm standby streaming", func() bool {
		info, err := nodeInfo(standby.Addr())
		return err == nil && info.Standby && info.PeerConnected
	})
	b := newBank(t, ctx, c.Config)
	b.run(2)
	poll.Until(t, "100 transfers", func() bool { return b.acked.Load() >= 100 })
	c.KillPid(t, c.GTMPid())
	lost := time.Now()
	before := b.acked.Load()
	deadline := time.Now().Add(40 * time.Second)
	for b.acked.Load() < before+50 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(lost)
	failed := b.stop()
	if b.acked.Load() < before+50 || took > 20*time.Second {
		t.Fatalf("transfers did not resume within 20 s of the gtm's loss (%v)\n%s\n%s", took, c.LogTail("gtm_standby", 20), c.LogTail("coord1", 30))
	}
	b.check(t)
	poll.Until(t, "no transaction in doubt", func() bool {
		list, problems := c.Ctl.InDoubt(ctx)
		return len(list) == 0 && len(problems) == 0
	})
	t.Logf("gtm failover: transfers resumed %v after the kill; %d acknowledged, %d failed meanwhile, 0 lost, books balance",
		took.Round(100*time.Millisecond), b.acked.Load(), failed)

	if _, err := c.Ctl.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Ctl.Config.GTM != standby || c.Ctl.Config.GTMStandby != oldGTM {
		t.Fatalf("config after the gtm's failover: gtm %+v, gtm_standby %+v", c.Ctl.Config.GTM, c.Ctl.Config.GTMStandby)
	}
	if err := c.Ctl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the old gtm back as the standby", func() bool {
		info, err := nodeInfo(oldGTM.Addr())
		return err == nil && info.Standby && info.PeerConnected
	})
}
