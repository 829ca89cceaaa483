package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/testhosts"
)

// TestFailoverOnHosts loses hosts under a bank load on five simulated hosts
// worked on over ssh: h1 holds coord1 and datanode2; h2 coord2 and
// datanode2's standby and the gtm's; h3 datanode1; h4 its standby; h5 the
// gtm. First h3 crashes (kill -9 of everything on it but its sshd), then,
// once it has rejoined as datanode1's standby, h4 (datanode1 by then) is cut
// off the network with its processes running. Each time the coordinators fail
// datanode1 over by themselves within 15 s, transfers go on through both
// coordinators, every acknowledged transfer is there (0 lost), the books
// balance, nothing stays in doubt, and the lost host rejoins as the standby.
// Last the gtm's host h5 crashes: the gtm standby on h4 takes over, with the
// same checks, and xlctl start brings the old gtm back as its standby.
func TestFailoverOnHosts(t *testing.T) {
	nt := testhosts.ForTest(t, 5, testhosts.Options{SSH: true})
	addr := func(h string) string { return nt.Host(h).Addr().String() }
	sc := newSSHCluster(t, nt, 8)
	psql := clustertest.RequireTool(t, "psql", "Debian package postgresql-client-15")
	cfg, p := sc.cfg, sc.ports
	cfg.GTM = cluster.Node{Name: "gtm", Host: addr("h5"), Port: p[0]}
	cfg.GTMStandby = cluster.Node{Name: "gtm_standby", Host: addr("h2"), Port: p[7]}
	cfg.Coordinators = []cluster.Node{{Name: "coord1", Host: addr("h1"), Port: p[1]}, {Name: "coord2", Host: addr("h2"), Port: p[2]}}
	cfg.Datanodes = []cluster.Node{
		{Name: "datanode1", Host: addr("h3"), Port: p[3], Primary: true, Preferred: true},
		{Name: "datanode2", Host: addr("h1"), Port: p[4]},
	}
	cfg.DatanodeStandbys = []cluster.Node{
		{Name: "datanode1_standby", Of: "datanode1", Host: addr("h4"), Port: p[5]},
		{Name: "datanode2_standby", Of: "datanode2", Host: addr("h2"), Port: p[6]},
	}
	sc.write()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if out, err := sc.xlctl(ctx, "init"); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	b := newBank(t, ctx, cfg)

	for _, fault := range []struct {
		name, host string
		do         func(h *testhosts.Host) error
		heal       func(h *testhosts.Host) error
	}{
		{"crash", "h3", func(h *testhosts.Host) error { return h.Crash() }, nil},
		{"partition", "h4", func(h *testhosts.Host) error { return h.Isolate(ctx, true) }, func(h *testhosts.Host) error { return h.Isolate(ctx, false) }},
	} {
		h := nt.Host(fault.host)
		var standby int // datanode1's standby's port, where it goes
		for _, n := range []int{p[3], p[5]} {
			if fault.host == "h3" && n == p[5] || fault.host == "h4" && n == p[3] {
				standby = n
			}
		}
		b.run(2)
		time.Sleep(2 * time.Second)
		if err := fault.do(h); err != nil {
			t.Fatal(err)
		}
		lost := time.Now()
		b.waitPort(t, sc, "datanode1", standby, 15*time.Second)
		took := time.Since(lost)
		failedOver := b.nextID.Load() // transfers after this one came after the failover
		before := b.acked.Load()
		deadline := time.Now().Add(30 * time.Second)
		for b.acked.Load() < before+50 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		failed := b.stop()
		if b.acked.Load() < before+50 {
			t.Fatalf("%s: fewer than 50 transfers after the failover (%d)", fault.name, b.acked.Load()-before)
		}
		if fault.heal != nil {
			if err := fault.heal(h); err != nil {
				t.Fatal(err)
			}
			// The old datanode1 ran on, cut off: it took no transfer made
			// after the failover. Asked on its own host, which it trusts.
			old := fmt.Sprint(p[3] + p[5] - standby)
			out, err := h.Command(ctx, psql, "-h", h.Addr().String(), "-p", old, "-U", cfg.OSUser, "-d", "postgres", "-Atc",
				fmt.Sprintf("SELECT count(*) FROM transfers WHERE id > %d", failedOver)).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "0" {
				t.Fatalf("%s: the old datanode1 after the failover: %v %s; want 0 transfers made after it", fault.name, err, out)
			}
		}
		b.check(t)
		waitNoDoubt(t, ctx, sc)
		t.Logf("%s of %s: failover in %v; %d transfers acknowledged, %d failed while it ran, 0 lost, books balance",
			fault.name, fault.host, took.Round(100*time.Millisecond), b.acked.Load(), failed)
		if out, err := sc.xlctl(ctx, "rejoin", "datanode", "datanode1"); err != nil {
			t.Fatalf("%s: rejoin: %v\n%s", fault.name, err, out)
		}
		out, err := sc.xlctl(ctx, "status")
		if err != nil || !strings.Contains(out, "datanode1_standby") || !strings.Contains(out, "streaming") {
			t.Fatalf("%s: status after rejoin: %v\n%s", fault.name, err, out)
		}
		// The coordinators probe the datanode with its standby again for a
		// few rounds: none goes back to the standby by an older failover's
		// record (after the second fault, datanode1 is where it was first).
		time.Sleep(3 * time.Second)
		for _, co := range cfg.Coordinators {
			if got, err := nodePort(cluster.New(sc.home, sc.cfg).DataDir(co.Name), "datanode1"); err != nil || got != standby {
				t.Fatalf("%s: coordinator %s has datanode1 at port %d after the rejoin (%v), want %d", fault.name, co.Name, got, err, standby)
			}
		}
	}

	// The gtm's host h5: cut off first (the old gtm runs on, and stops
	// serving: it has neither its standby nor a majority of leases), then,
	// after xlctl failover gtm has made h5's gtm the primary again, crashed.
	gtmFault := func(name string, do func(h *testhosts.Host) error, heal func(h *testhosts.Host) error) {
		standby := cfg.GTMStandby
		b.run(2)
		time.Sleep(2 * time.Second)
		if err := do(nt.Host("h5")); err != nil {
			t.Fatal(err)
		}
		lost := time.Now()
		// Transfers on one datanode need no gtm: the standby's promotion tells.
		for {
			info, err := gtmNodeInfo(ctx, standby.Addr())
			if err == nil && !info.Standby {
				break
			}
			if time.Since(lost) > 30*time.Second {
				t.Fatalf("gtm host %s: the standby is not the primary 30 s later (%+v, %v)", name, info, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(lost)
		before := b.acked.Load()
		for b.acked.Load() < before+100 && time.Since(lost) < 60*time.Second {
			time.Sleep(100 * time.Millisecond)
		}
		failed := b.stop()
		if b.acked.Load() < before+100 {
			t.Fatalf("gtm host %s: transfers did not go on after the gtm's failover", name)
		}
		if heal != nil {
			if err := heal(nt.Host("h5")); err != nil {
				t.Fatal(err)
			}
		}
		b.check(t)
		waitNoDoubt(t, ctx, sc)
		t.Logf("%s of the gtm's host h5: its standby the primary %v after it; %d transfers acknowledged, %d failed while it ran, 0 lost, books balance",
			name, took.Round(100*time.Millisecond), b.acked.Load(), failed)
		// xlctl follows: the standby is the gtm, and the old one comes back
		// (stopped first when it ran on, cut off) as its standby.
		if out, err := sc.xlctl(ctx, "start"); err != nil {
			t.Fatalf("start after the gtm's failover: %v\n%s", err, out)
		}
		reread, err := cluster.LoadConfig(sc.cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		if reread.GTM.Host != addr("h2") || reread.GTMStandby.Host != addr("h5") {
			t.Fatalf("config after the gtm's failover: gtm %+v, standby %+v", reread.GTM, reread.GTMStandby)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			info, err := gtmNodeInfo(ctx, reread.GTMStandby.Addr())
			if err == nil && info.Standby && info.PeerConnected {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the old gtm on h5 is not the new one's standby: %+v, %v", info, err)
			}
		}
	}
	gtmFault("partition", func(h *testhosts.Host) error { return h.Isolate(ctx, true) }, func(h *testhosts.Host) error { return h.Isolate(ctx, false) })
	if out, err := sc.xlctl(ctx, "failover", "gtm"); err != nil { // back to h5: a switchover
		t.Fatalf("failover gtm: %v\n%s", err, out)
	}
	if out, err := sc.xlctl(ctx, "start"); err != nil {
		t.Fatalf("start after the switchover: %v\n%s", err, out)
	}
	if err := sc.reload(); err != nil {
		t.Fatal(err)
	}
	gtmFault("crash", func(h *testhosts.Host) error { return h.Crash() }, nil)
	b.run(1)
	time.Sleep(time.Second)
	b.stop()
	b.check(t)
}

// gtmNodeInfo asks the gtm at addr what it is.
func gtmNodeInfo(ctx context.Context, addr string) (gtmclient.NodeInfo, error) {
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	g, err := gtmclient.Dial(dctx, addr)
	if err != nil {
		return gtmclient.NodeInfo{}, err
	}
	defer g.Close()
	return g.NodeInfo(dctx)
}

// waitNoDoubt waits (30 s) for xlctl status to find no in-doubt transaction.
func waitNoDoubt(t *testing.T, ctx context.Context, sc *sshCluster) {
	t.Helper()
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		var err error
		if out, err = sc.xlctl(ctx, "status"); err == nil && strings.Contains(out, "No in-doubt transactions.") && !strings.Contains(out, "Problem") {
			return
		}
	}
	t.Fatalf("in-doubt transactions remain:\n%s", out)
}

// bank moves money between 100 accounts through every coordinator; every
// transfer also records itself, so that the books can be checked against
// what the clients were told.
type bank struct {
	ctx      context.Context
	dsns     []string
	acked    atomic.Int64
	mu       sync.Mutex
	ackedIDs map[int64]bool
	failed   atomic.Int64
	nextID   atomic.Int64
	quit     chan struct{}
	wg       sync.WaitGroup
}

const bankAccounts, bankStart = 100, 1000

func newBank(t *testing.T, ctx context.Context, cfg *cluster.Config) *bank {
	b := &bank{ctx: ctx, ackedIDs: map[int64]bool{}}
	for _, co := range cfg.Coordinators {
		b.dsns = append(b.dsns, fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable connect_timeout=5",
			co.Host, co.Port, cluster.New("", cfg).ClientUser()))
	}
	conn := b.connect(t, 0)
	defer conn.Close(context.Background())
	for _, sql := range []string{
		"CREATE TABLE accounts (id int PRIMARY KEY, balance int) DISTRIBUTE BY HASH (id)",
		"CREATE TABLE transfers (id int8 PRIMARY KEY, a int, b int, amount int) DISTRIBUTE BY HASH (id)",
		fmt.Sprintf("INSERT INTO accounts SELECT g, %d FROM generate_series(1, %d) g", bankStart, bankAccounts),
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return b
}

func (b *bank) connect(t *testing.T, i int) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(b.ctx, b.dsns[i])
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// run starts per clients on every coordinator.
func (b *bank) run(per int) {
	b.quit = make(chan struct{})
	for i := range b.dsns {
		for range per {
			b.wg.Add(1)
			go b.client(i)
		}
	}
}

// stop ends the clients and returns how many transfers failed.
func (b *bank) stop() int64 {
	close(b.quit)
	b.wg.Wait()
	return b.failed.Swap(0)
}

func (b *bank) client(i int) {
	defer b.wg.Done()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for {
		select {
		case <-b.quit:
			return
		default:
		}
		if conn == nil {
			c, err := pgx.Connect(b.ctx, b.dsns[i])
			if err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			conn = c
		}
		id := b.nextID.Add(1)
		from, to := 1+rand.IntN(bankAccounts), 1+rand.IntN(bankAccounts)
		err := b.transfer(conn, id, from, to, 1+rand.IntN(10))
		if err == nil {
			b.mu.Lock()
			b.ackedIDs[id] = true
			b.mu.Unlock()
			b.acked.Add(1)
			continue
		}
		b.failed.Add(1)
		if conn.IsClosed() || errors.Is(err, context.DeadlineExceeded) {
			conn.Close(context.Background())
			conn = nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bank) transfer(conn *pgx.Conn, id int64, from, to, amount int) error {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	for _, s := range []struct {
		sql  string
		args []any
	}{
		{"UPDATE accounts SET balance = balance - $1 WHERE id = $2", []any{amount, from}},
		{"UPDATE accounts SET balance = balance + $1 WHERE id = $2", []any{amount, to}},
		{"INSERT INTO transfers VALUES ($1, $2, $3, $4)", []any{id, from, to, amount}},
	} {
		if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// waitPort waits until every coordinator has node at port in its pgxc_node
// (read from its file: the hosts share this machine's files).
func (b *bank) waitPort(t *testing.T, sc *sshCluster, node string, port int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	ctl := cluster.New(sc.home, sc.cfg)
	for _, co := range sc.cfg.Coordinators {
		for {
			got, err := nodePort(ctl.DataDir(co.Name), node)
			if err == nil && got == port {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("coordinator %s: %s not failed over within %s (port %d, %v)", co.Name, node, within, got, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// nodePort reads node's port in the pgxc_node of the coordinator whose data
// directory is dir.
func nodePort(dir, node string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "pgxc_node.json"))
	if err != nil {
		return 0, err
	}
	var file struct {
		Nodes []struct {
			Name string
			Port int
		}
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return 0, err
	}
	for _, n := range file.Nodes {
		if n.Name == node {
			return n.Port, nil
		}
	}
	return 0, fmt.Errorf("no node %s", node)
}

// check: every acknowledged transfer is there, the money is all there, and
// every account's balance is what the recorded transfers make it (so no
// transfer is there in part).
func (b *bank) check(t *testing.T) {
	t.Helper()
	conn := b.connect(t, 0)
	defer conn.Close(context.Background())
	// A read of several datanodes may be refused (55P03) while commits that
	// wait for a failed-over datanode still hold the snapshot gate: the
	// audit asks again, for a minute.
	read := func(what string, fn func() error) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
			err := fn()
			var pe *pgconn.PgError
			if err == nil {
				return
			}
			if !errors.As(err, &pe) || pe.Code != "55P03" || time.Now().After(deadline) {
				t.Fatalf("audit, %s: %v", what, err)
			}
			t.Logf("audit, %s: %v; asking again", what, err)
		}
	}
	var ids []int64
	read("transfers", func() error {
		rows, err := conn.Query(b.ctx, "SELECT id FROM transfers")
		if err == nil {
			ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		return err
	})
	there := map[int64]bool{}
	for _, id := range ids {
		there[id] = true
	}
	b.mu.Lock()
	lost := 0
	for id := range b.ackedIDs {
		if !there[id] {
			lost++
		}
	}
	b.mu.Unlock()
	if lost > 0 {
		t.Fatalf("%d acknowledged transfers lost", lost)
	}
	books := func() (total, wrong int) {
		read("the total", func() error { return conn.QueryRow(b.ctx, "SELECT sum(balance) FROM accounts").Scan(&total) })
		read("the accounts", func() error {
			return conn.QueryRow(b.ctx, fmt.Sprintf(`SELECT count(*) FROM accounts a WHERE balance <> %d
			- coalesce((SELECT sum(amount) FROM transfers WHERE transfers.a = a.id), 0)
			+ coalesce((SELECT sum(amount) FROM transfers WHERE transfers.b = a.id), 0)`, bankStart)).Scan(&wrong)
		})
		return total, wrong
	}
	if total, wrong := books(); total != bankAccounts*bankStart || wrong != 0 {
		// Say whether what was seen was a moment (a commit seen in part)
		// or is lasting (a part lost).
		time.Sleep(10 * time.Second)
		total2, wrong2 := books()
		t.Fatalf("books: total %d (want %d), %d accounts disagree with the transfers; 10 s later: total %d, %d disagree",
			total, bankAccounts*bankStart, wrong, total2, wrong2)
	}
}
