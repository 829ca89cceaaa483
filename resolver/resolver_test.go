package resolver_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/resolver"
)

// prepareOn leaves a prepared transaction gid on datanode i that inserted one row tagged gid.
func prepareOn(t *testing.T, c *clustertest.Cluster, i int, db, gid string, key int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DatanodeDSN(i, db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{"BEGIN", fmt.Sprintf("INSERT INTO rt VALUES (%d, '%s')", key, gid), "PREPARE TRANSACTION '" + gid + "'"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("datanode %d: %s: %v", i, sql, err)
		}
	}
}

// rowsOf counts the rows tagged gid on datanode i.
func rowsOf(t *testing.T, c *clustertest.Cluster, i int, db, gid string) int {
	t.Helper()
	got := queryStrings(t, c.DatanodeDSN(i, db), "SELECT count(*)::text FROM rt WHERE tag = '"+gid+"'")
	var n int
	fmt.Sscan(got[0], &n)
	return n
}

func outcomes(rep resolver.Report) map[string]string {
	m := map[string]string{}
	for _, a := range rep.Actions {
		m[a.GID+"@"+a.Node] = string(a.Outcome)
	}
	return m
}

// listHook is a GTM that runs a function right after ListDecisions, to log a
// decision between the resolver's listing and its scan.
type listHook struct {
	resolver.GTM
	after func()
}

func (h listHook) ListDecisions(ctx context.Context) ([]gtmclient.Decision, error) {
	d, err := h.GTM.ListDecisions(ctx)
	if h.after != nil {
		h.after()
	}
	return d, err
}

func TestResolver(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	// The coordinator resolves only at its start here: the test drives the resolver.
	c.RestartCoordinator(t, 0, nil, "--resolve-interval", "0")
	ctx := context.Background()
	for _, step := range [][2]string{
		{"postgres", "create database rdb"},
		{"postgres", "create table rt (k int primary key, tag text) distribute by hash (k)"},
		{"rdb", "create table rt (k int primary key, tag text) distribute by hash (k)"},
	} {
		conn := connectCoord(t, c, step[0])
		if _, err := conn.Exec(ctx, step[1]); err != nil {
			t.Fatalf("%s: %v", step[1], err)
		}
		conn.Close(ctx)
	}
	r, g := resolverFor(t, c)
	defer g.Close()
	r.Grace = time.Hour
	logDecision := func(gid string, nodes []string, commit bool) {
		t.Helper()
		if err := g.LogDecision(ctx, gid, nodes, commit); err != nil {
			t.Fatal(err)
		}
	}
	decision := func(gid string) gtmclient.DecisionState {
		t.Helper()
		st, err := g.Decision(ctx, gid)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	dn := []string{"datanode1", "datanode2"}

	// Committed on both nodes, aborted in another database, undecided, another cluster's,
	// a decision with nothing prepared and one whose participant is not a datanode we know.
	prepareOn(t, c, 0, "postgres", "xlgo_xlgo_900001", 1)
	prepareOn(t, c, 1, "postgres", "xlgo_xlgo_900001", 2)
	logDecision("xlgo_xlgo_900001", dn, true)
	prepareOn(t, c, 0, "rdb", "xlgo_xlgo_900002", 3)
	logDecision("xlgo_xlgo_900002", dn[:1], false)
	prepareOn(t, c, 1, "postgres", "xlgo_xlgo_900003", 4)
	prepareOn(t, c, 0, "postgres", "xlgo_other_900004", 5)
	logDecision("xlgo_xlgo_900005", dn, true)
	logDecision("xlgo_xlgo_900006", []string{"datanode1", "datanode9"}, true)

	rep, err := r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := outcomes(rep)
	want := map[string]string{
		"xlgo_xlgo_900001@datanode1": "committed", "xlgo_xlgo_900001@datanode2": "committed",
		"xlgo_xlgo_900002@datanode1": "rolled back", "xlgo_xlgo_900003@datanode2": "waiting",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("first run: %v, want %v", got, want)
	}
	if rowsOf(t, c, 0, "postgres", "xlgo_xlgo_900001") != 1 || rowsOf(t, c, 1, "postgres", "xlgo_xlgo_900001") != 1 {
		t.Error("committed transaction not visible on both nodes")
	}
	if rowsOf(t, c, 0, "rdb", "xlgo_xlgo_900002") != 0 {
		t.Error("aborted transaction visible")
	}
	if fmt.Sprint(rep.Forgotten) != "[xlgo_xlgo_900001 xlgo_xlgo_900005]" {
		t.Errorf("forgotten %v, want 900001 and 900005 (the abort decision is kept, 900006 has a participant not scanned)", rep.Forgotten)
	}
	if st := decision("xlgo_xlgo_900002"); st != gtmclient.Aborted {
		t.Errorf("abort decision of 900002 = %v, want kept until the retention passed", st)
	}

	// Undecided and past the grace period: aborted through the GTM; the kept abort goes after its retention.
	r.Grace = 0
	r.AbortRetention = 0
	rep, err = r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep); fmt.Sprint(got) != "map[xlgo_xlgo_900003@datanode2:rolled back]" || !rep.Actions[0].LoggedAbort {
		t.Errorf("second run: %v (%+v)", got, rep.Actions)
	}
	if fmt.Sprint(rep.Forgotten) != "[xlgo_xlgo_900002]" {
		t.Errorf("second run forgot %v, want 900002 only (900003's abort was logged in this run)", rep.Forgotten)
	}
	if st := decision("xlgo_xlgo_900003"); st != gtmclient.Aborted {
		t.Errorf("decision of 900003 = %v, want aborted", st)
	}
	if left := prepared(t, c); fmt.Sprint(left) != "[datanode1:xlgo_other_900004]" {
		t.Errorf("prepared left: %v, want only the other cluster's", left)
	}

	// A commit logged between the listing and the abort attempt wins.
	prepareOn(t, c, 0, "postgres", "xlgo_xlgo_900007", 7)
	hooked := resolver.New(listHook{GTM: g, after: func() { logDecision("xlgo_xlgo_900007", dn[:1], true) }},
		r.Datanodes, "xlgo", c.User, nil)
	hooked.Grace = 0
	rep, err = hooked.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep); got["xlgo_xlgo_900007@datanode1"] != "committed" || rowsOf(t, c, 0, "postgres", "xlgo_xlgo_900007") != 1 {
		t.Errorf("commit logged during the run: %v", got)
	}

	// By hand.
	prepareOn(t, c, 0, "postgres", "xlgo_xlgo_900008", 8)
	prepareOn(t, c, 1, "postgres", "xlgo_xlgo_900008", 9)
	logDecision("xlgo_xlgo_900008", dn, true)
	if _, err := r.Resolve(ctx, "xlgo_xlgo_900008", false, false); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("abort of a committed gid: %v", err)
	}
	if rep, err := r.Resolve(ctx, "xlgo_xlgo_900008", true, false); err != nil || len(rep.Actions) != 2 {
		t.Errorf("commit of a committed gid: %v, %+v", err, rep.Actions)
	}
	prepareOn(t, c, 0, "postgres", "xlgo_xlgo_900009", 10)
	if rep, err := r.Resolve(ctx, "xlgo_xlgo_900009", false, false); err != nil || !rep.Actions[0].LoggedAbort {
		t.Errorf("abort of an undecided gid: %v, %+v", err, rep.Actions)
	}
	if st := decision("xlgo_xlgo_900009"); st != gtmclient.Aborted {
		t.Errorf("decision of 900009 after a manual abort = %v", st)
	}
	prepareOn(t, c, 1, "rdb", "xlgo_xlgo_900010", 11)
	logDecision("xlgo_xlgo_900010", dn[1:], false)
	if _, err := r.Resolve(ctx, "xlgo_xlgo_900010", true, false); err == nil {
		t.Error("commit of an aborted gid was not refused")
	}
	if rep, err := r.Resolve(ctx, "xlgo_xlgo_900010", true, true); err != nil || rep.Actions[0].Outcome != resolver.DidCommit {
		t.Errorf("forced commit: %v, %+v", err, rep.Actions)
	}
	if rowsOf(t, c, 1, "rdb", "xlgo_xlgo_900010") != 1 {
		t.Error("forced commit not visible")
	}
	if _, err := r.Resolve(ctx, "xlgo_other_900004", false, false); err == nil {
		t.Error("another cluster's gid was resolved")
	}

	// A coordinator finishing its own commit (txn.Manager.Apply): every
	// database, then nothing left to do.
	prepareOn(t, c, 0, "postgres", "xlgo_xlgo_900013", 15)
	prepareOn(t, c, 1, "rdb", "xlgo_xlgo_900013", 16)
	logDecision("xlgo_xlgo_900013", dn, true)
	for i := 0; i < 2; i++ {
		if err := r.CommitPrepared(ctx, "xlgo_xlgo_900013", dn); err != nil {
			t.Fatalf("CommitPrepared (%d): %v", i+1, err)
		}
	}
	if rowsOf(t, c, 0, "postgres", "xlgo_xlgo_900013") != 1 || rowsOf(t, c, 1, "rdb", "xlgo_xlgo_900013") != 1 {
		t.Error("CommitPrepared: not committed on both nodes")
	}

	// A participant the scan cannot reach may hold the commit prepared
	// still: applied on the others, it would be seen half applied. It waits
	// for a run that reaches every participant.
	prepareOn(t, c, 1, "postgres", "xlgo_xlgo_900014", 17)
	logDecision("xlgo_xlgo_900014", dn, true)
	free, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	gc := &gateCounter{Client: g}
	blind := resolver.New(gc, func() []resolver.Datanode {
		ds := slices.Clone(r.Datanodes())
		ds[0].Port = free[0]
		return ds
	}, "xlgo", c.User, nil)
	blind.Grace = time.Hour
	rep, err = blind.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep); fmt.Sprint(got) != "map[xlgo_xlgo_900014@datanode2:deferred]" || len(rep.Problems) != 1 || rowsOf(t, c, 1, "postgres", "xlgo_xlgo_900014") != 0 {
		t.Errorf("datanode1 unreachable: %v, problems %v", got, rep.Problems)
	}
	// Every participant reached: applied under the gate.
	gc.Client = g
	rep, err = resolver.New(gc, r.Datanodes, "xlgo", c.User, nil).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep); got["xlgo_xlgo_900014@datanode2"] != "committed" || gc.entered() != 1 || rowsOf(t, c, 1, "postgres", "xlgo_xlgo_900014") != 1 {
		t.Errorf("datanode1 reachable again: %v, gate entered %d times, want once", got, gc.entered())
	}

	// xlctl status's listing.
	prepareOn(t, c, 0, "postgres", "xlgo_xlgo_900011", 12)
	prepareOn(t, c, 1, "rdb", "xlgo_xlgo_900011", 13)
	logDecision("xlgo_xlgo_900011", dn, true)
	prepareOn(t, c, 1, "postgres", "xlgo_xlgo_900012", 14)
	list, problems := c.Ctl.InDoubt(ctx)
	var lines []string
	for _, d := range list {
		lines = append(lines, fmt.Sprintf("%s %s %s %s", d.GID, d.Node, d.Database, d.Decision))
	}
	wantList := "[xlgo_xlgo_900011 datanode1 postgres committed xlgo_xlgo_900011 datanode2 rdb committed xlgo_xlgo_900012 datanode2 postgres unknown]"
	if fmt.Sprint(lines) != wantList || len(problems) > 0 {
		t.Errorf("in-doubt list %v (problems %v), want %s", lines, problems, wantList)
	}

	// The coordinator's own periodic resolver finishes them.
	c.RestartCoordinator(t, 0, nil, "--resolve-interval", "300ms", "--resolve-grace", "1s")
	deadline := time.Now().Add(20 * time.Second)
	for {
		left := prepared(t, c)
		if fmt.Sprint(left) == "[datanode1:xlgo_other_900004]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the coordinator's resolver left %v\n%s", left, c.LogTail("coord1", 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rowsOf(t, c, 0, "postgres", "xlgo_xlgo_900011") != 1 || rowsOf(t, c, 1, "rdb", "xlgo_xlgo_900011") != 1 || rowsOf(t, c, 1, "postgres", "xlgo_xlgo_900012") != 0 {
		t.Error("the coordinator's resolver did not follow the decisions")
	}
	if st := decision("xlgo_xlgo_900011"); st != gtmclient.Unknown {
		t.Errorf("decision of 900011 = %v, want forgotten", st)
	}
	if _, err := queryConn(t, c, 0).Exec(ctx, "ROLLBACK PREPARED 'xlgo_other_900004'"); err != nil {
		t.Fatal(err)
	}
}

// gateCounter is the gtm client, counting the resolver's entries at the gate.
type gateCounter struct {
	*gtmclient.Client
	mu sync.Mutex
	n  int
}

func (g *gateCounter) GateEnter(ctx context.Context, kind gtmclient.GateKind) (func(), error) {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
	return g.Client.GateEnter(ctx, kind)
}

func (g *gateCounter) entered() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

func connectCoord(t *testing.T, c *clustertest.Cluster, db string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(c.CoordDSN(0, db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect to the coordinator: %v", err)
	}
	return conn
}

func queryConn(t *testing.T, c *clustertest.Cluster, i int) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.DatanodeDSN(i, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
