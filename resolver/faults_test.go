package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/resolver"
)

// The steps of two-phase commit where the coordinator calls its failpoint:
// before any PREPARE; once datanode1's PREPARE succeeded (datanode2's runs
// at the same time: it may be done or not); after the decision; once
// datanode1's COMMIT PREPARED succeeded (datanode2's likewise).
var faultSteps = []string{"before-prepare", "prepared:datanode1", "after-decision", "committed:datanode1"}

// rowsPerTxn is how many rows each transaction of the fault matrix inserts:
// enough for its keys to hash to both datanodes.
const rowsPerTxn = 20

// coordResolveArgs make the coordinator's own resolver quick enough to watch.
var coordResolveArgs = []string{"--resolve-interval", "1s", "--resolve-grace", "2s"}

// cell is one entry of the fault matrix.
type cell struct {
	acked   bool   // the client got COMMIT
	outcome string // committed, rolled back, or HALF
	ok      bool
	note    string
}

func (c cell) String() string {
	client := "client: error"
	if c.acked {
		client = "client: COMMIT"
	}
	verdict := "ok"
	if !c.ok {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s (%s) %s", c.outcome, client, verdict)
}

// TestFaultMatrix kills -9 the coordinator, the gtm or a datanode at each
// step of two-phase commit, restarts it, lets the resolvers run and checks
// that no acknowledged commit is lost, no transaction is half visible and no
// prepared transaction is left. A last column runs a resolver in the middle
// of the commit instead of killing anything.
func TestFaultMatrix(t *testing.T) {
	// Both datanodes: at a per-node step datanode1 has done its part and
	// datanode2's statement runs at the same time (done or not: both must
	// end well). "resolver" kills nothing: a resolver with no grace period runs
	// while the coordinator is paused at the step, racing the commit.
	kinds := []string{"coordinator", "gtm", "datanode1", "datanode2", "resolver"}
	matrix := map[string]map[string]cell{}
	for _, kind := range kinds {
		matrix[kind] = map[string]cell{}
		t.Run(kind, func(t *testing.T) {
			f := newFaultCluster(t)
			for i, step := range faultSteps {
				c := f.runCell(t, kind, step, i+1)
				matrix[kind][step] = c
				if !c.ok {
					t.Errorf("kill -9 %s at %s: %s: %s", kind, step, c, c.note)
				}
			}
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fault matrix: kill -9 at each step of two-phase commit, restart, resolve (resolver: no kill, a resolver runs at the step)\n")
	fmt.Fprintf(&b, "%-18s", "step \\ killed")
	for _, k := range kinds {
		fmt.Fprintf(&b, " | %-31s", k)
	}
	b.WriteString("\n")
	for _, s := range faultSteps {
		fmt.Fprintf(&b, "%-18s", s)
		for _, k := range kinds {
			c, ok := matrix[k][s]
			txt := "not run"
			if ok {
				txt = c.String()
			}
			fmt.Fprintf(&b, " | %-31s", txt)
		}
		b.WriteString("\n")
	}
	t.Log("\n" + b.String())
	fmt.Print(b.String())
}

// faultCluster is one cluster of the fault matrix and the transactions run on it.
type faultCluster struct {
	c      *clustertest.Cluster
	fpDir  string
	acked  []int // transactions whose COMMIT the client got
	others []int // transactions the client did not see commit
}

func newFaultCluster(t *testing.T) *faultCluster {
	t.Helper()
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	f := &faultCluster{c: c, fpDir: t.TempDir()}
	ctx := context.Background()
	conn := f.client(t)
	if _, err := conn.Exec(ctx, "create table fm (k int primary key, txn int) distribute by hash (k)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	return f
}

// client connects to the coordinator with the simple protocol.
func (f *faultCluster) client(t *testing.T) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(f.c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to the coordinator: %v\n%s", err, f.c.LogTail("coord1", 20))
	}
	return conn
}

// runCell runs transaction txn through the coordinator, kills kind at step,
// restarts it, resolves and checks the cluster.
func (f *faultCluster) runCell(t *testing.T, kind, step string, txn int) cell {
	t.Helper()
	ctx := context.Background()
	env := map[string]string{"XLGO_FAILPOINT": step + ":pause", "XLGO_FAILPOINT_DIR": f.fpDir}
	if kind == "coordinator" {
		env = map[string]string{"XLGO_FAILPOINT": step + ":exit"}
	}
	proc := f.c.RestartCoordinator(t, 0, env, coordResolveArgs...)

	conn := f.client(t)
	defer conn.Close(context.Background())
	var vals []string
	for i := 1; i <= rowsPerTxn; i++ {
		vals = append(vals, fmt.Sprintf("(%d, %d)", txn*1000+i, txn))
	}
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO fm VALUES "+strings.Join(vals, ", ")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		_, err := conn.Exec(cctx, "COMMIT")
		done <- err
	}()

	var commitErr error
	if kind == "coordinator" {
		select {
		case commitErr = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("COMMIT did not return after the coordinator's failpoint exit at %s", step)
		}
		select {
		case <-proc.Exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("the coordinator did not exit at %s", step)
		}
		// Restarted plainly; its own resolver (at start and every second) must clean up.
		f.c.RestartCoordinator(t, 0, nil, coordResolveArgs...)
	} else {
		pause := filepath.Join(f.fpDir, "failpoint-"+step)
		waitFile(t, pause, done)
		switch kind {
		case "gtm":
			f.c.KillPid(t, f.c.GTMPid())
		case "datanode1":
			f.c.KillDatanode(t, 0)
		case "datanode2":
			f.c.KillDatanode(t, 1)
		case "resolver":
			for _, a := range f.runOnce(t).Actions {
				t.Logf("resolver during the pause: %s on %s: %s", a.GID, a.Node, a.Outcome)
			}
		}
		// The coordinator goes on facing the dead process.
		if err := os.Remove(pause); err != nil {
			t.Fatal(err)
		}
		select {
		case commitErr = <-done:
		case <-time.After(90 * time.Second):
			t.Fatalf("COMMIT did not return after kill -9 %s at %s\n%s", kind, step, f.c.LogTail("coord1", 20))
		}
		f.c.StartStopped(t)
	}
	acked := commitErr == nil
	if acked {
		f.acked = append(f.acked, txn)
	} else {
		f.others = append(f.others, txn)
	}
	t.Logf("%s at %s: COMMIT returned %v", kind, step, commitErr)

	// Resolve. After a coordinator crash its successor's own resolver does it;
	// otherwise the test resolves at once (grace 0) while the coordinator's
	// periodic resolver may run too.
	if kind != "coordinator" {
		rep := f.runOnce(t)
		for _, a := range rep.Actions {
			t.Logf("resolver: %s on %s: %s", a.GID, a.Node, a.Outcome)
		}
	}
	var note []string
	if left := f.waitNoPrepared(t, 20*time.Second); len(left) > 0 {
		note = append(note, fmt.Sprintf("prepared transactions left: %v", left))
	}
	// A second run has nothing left to do, and no commit decision stays behind.
	if rep := f.runOnce(t); len(rep.Actions) > 0 {
		note = append(note, fmt.Sprintf("a second resolver run still acted: %+v", rep.Actions))
	}
	if left := f.committedDecisions(t); len(left) > 0 {
		note = append(note, fmt.Sprintf("commit decisions not forgotten: %v", left))
	}

	// Visibility of this and every earlier transaction of the cluster, on every node.
	counts := f.counts(t)
	out := cell{acked: acked, ok: true}
	total := counts[0][txn] + counts[1][txn]
	switch total {
	case rowsPerTxn:
		out.outcome = "committed"
	case 0:
		out.outcome = "rolled back"
	default:
		out.outcome = "HALF"
	}
	for _, x := range f.acked {
		if counts[0][x] == 0 || counts[1][x] == 0 || counts[0][x]+counts[1][x] != rowsPerTxn {
			note = append(note, fmt.Sprintf("acknowledged transaction %d: %d rows on datanode1, %d on datanode2, want %d in all on both",
				x, counts[0][x], counts[1][x], rowsPerTxn))
		}
	}
	for _, x := range f.others {
		if n := counts[0][x] + counts[1][x]; n != 0 && (n != rowsPerTxn || counts[0][x] == 0 || counts[1][x] == 0) {
			note = append(note, fmt.Sprintf("unacknowledged transaction %d half visible: %d rows on datanode1, %d on datanode2", x, counts[0][x], counts[1][x]))
		}
	}
	if len(note) > 0 {
		out.ok = false
		out.note = strings.Join(note, "; ")
	}
	return out
}

// waitFile waits until the coordinator pauses at its failpoint.
func waitFile(t *testing.T, path string, done <-chan error) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("COMMIT returned (%v) before the failpoint %s was reached", err, filepath.Base(path))
		case <-deadline:
			t.Fatalf("the failpoint %s was not reached", filepath.Base(path))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// resolverFor returns a resolver of the test cluster with grace 0, connected to its gtm.
func resolverFor(t *testing.T, c *clustertest.Cluster) (*resolver.Resolver, *gtmclient.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := gtmclient.Dial(ctx, c.Config.GTM.Addr())
	if err != nil {
		t.Fatalf("dial gtm: %v", err)
	}
	var dns []resolver.Datanode
	for _, n := range c.Config.Datanodes {
		dns = append(dns, resolver.Datanode{Name: n.Name, Host: n.Host, Port: n.Port})
	}
	r := resolver.New(g, func() []resolver.Datanode { return dns }, c.Config.ClusterName, c.User, nil)
	r.Grace = 0
	return r, g
}

func (f *faultCluster) runOnce(t *testing.T) resolver.Report {
	t.Helper()
	r, g := resolverFor(t, f.c)
	defer g.Close()
	rep, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if len(rep.Problems) > 0 {
		t.Errorf("RunOnce problems: %v", rep.Problems)
	}
	return rep
}

func (f *faultCluster) committedDecisions(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := gtmclient.Dial(ctx, f.c.Config.GTM.Addr())
	if err != nil {
		t.Fatalf("dial gtm: %v", err)
	}
	defer g.Close()
	ds, err := g.ListDecisions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		if d.Commit {
			out = append(out, d.GID)
		}
	}
	return out
}

// prepared lists the cluster's prepared transactions on every datanode.
func prepared(t *testing.T, c *clustertest.Cluster) []string {
	t.Helper()
	var out []string
	for i, n := range c.Config.Datanodes {
		for _, g := range queryStrings(t, c.DatanodeDSN(i, "postgres"),
			`SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'xlgo\_%' ORDER BY gid`) {
			out = append(out, n.Name+":"+g)
		}
	}
	return out
}

func (f *faultCluster) waitNoPrepared(t *testing.T, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := prepared(t, f.c)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// counts returns, per datanode, the rows of each transaction.
func (f *faultCluster) counts(t *testing.T) []map[int]int {
	t.Helper()
	var out []map[int]int
	for i := range f.c.Config.Datanodes {
		m := map[int]int{}
		for _, row := range queryStrings(t, f.c.DatanodeDSN(i, "postgres"), "SELECT txn || ' ' || count(*) FROM fm GROUP BY txn") {
			var x, n int
			fmt.Sscan(row, &x, &n)
			m[x] = n
		}
		out = append(out, m)
	}
	return out
}

// queryStrings runs a one-column query on a fresh connection.
func queryStrings(t *testing.T, dsn, sql string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conn *pgx.Conn
	var err error
	for {
		// A datanode just restarted may still be recovering.
		if conn, err = pgx.Connect(ctx, dsn); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("connect %s: %v", dsn, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}
