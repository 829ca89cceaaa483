package txn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/poll"
	"github.com/xlgo/xlgo/pgerr"
)

// fakeNodes is a set of datanodes in memory: each statement is recorded,
// and fail or hang make the statements that match fail or never answer.
type fakeNodes struct {
	mu    sync.Mutex
	log   []string                     // "node: sql", in the order the nodes answered
	fail  map[string]error             // "node: sql prefix" -> error
	hang  map[string]bool              // "node: sql prefix" -> wait for ctx
	noTx  map[string]bool              // node -> its backend has no transaction open
	state map[string]map[string]bool   // node -> gid -> prepared
	done  map[string]map[string]string // node -> gid -> committed / rolled back
}

func newFakeNodes() *fakeNodes {
	return &fakeNodes{fail: map[string]error{}, hang: map[string]bool{}, noTx: map[string]bool{}, state: map[string]map[string]bool{}, done: map[string]map[string]string{}}
}

func (f *fakeNodes) match(m map[string]bool, node, sql string) bool {
	for k := range m {
		if n, prefix, _ := strings.Cut(k, ": "); n == node && strings.HasPrefix(sql, prefix) {
			return true
		}
	}
	return false
}

// Exec answers as PostgreSQL does, tag included: a backend with no
// transaction open answers PREPARE TRANSACTION with ROLLBACK (and a
// warning), and COMMIT with COMMIT.
func (f *fakeNodes) Exec(ctx context.Context, node, sql string) (string, error) {
	f.mu.Lock()
	var fail error
	for k, err := range f.fail {
		if n, prefix, _ := strings.Cut(k, ": "); n == node && strings.HasPrefix(sql, prefix) {
			fail = err
		}
	}
	hang := f.match(f.hang, node, sql)
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return "", ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, node+": "+sql)
	if fail != nil {
		return "", fail
	}
	if f.state[node] == nil {
		f.state[node], f.done[node] = map[string]bool{}, map[string]string{}
	}
	gid := func() string { return sql[strings.Index(sql, "'")+1 : len(sql)-1] }
	switch {
	case strings.HasPrefix(sql, "PREPARE TRANSACTION") && f.noTx[node]:
		return "ROLLBACK", nil
	case strings.HasPrefix(sql, "PREPARE TRANSACTION"):
		f.state[node][gid()] = true
	case strings.HasPrefix(sql, "COMMIT PREPARED"):
		if !f.state[node][gid()] {
			return "", pgerr.New(pgerr.UndefinedObject, "prepared transaction with identifier %q does not exist", gid())
		}
		delete(f.state[node], gid())
		f.done[node][gid()] = "committed"
	case strings.HasPrefix(sql, "ROLLBACK PREPARED"):
		delete(f.state[node], gid())
		f.done[node][gid()] = "rolled back"
	}
	tag, _, _ := strings.Cut(sql, " '") // "COMMIT PREPARED 'gid'" -> "COMMIT PREPARED"
	return tag, nil
}

// sent lists the statements node received, in order.
func (f *fakeNodes) sent(node string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.log {
		if n, sql, _ := strings.Cut(l, ": "); n == node {
			out = append(out, sql)
		}
	}
	return out
}

func (f *fakeNodes) preparedLeft() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.state {
		n += len(m)
	}
	return n
}

// fakeGTM records decisions; its errors are set per call.
type fakeGTM struct {
	mu         sync.Mutex
	gxid       uint64
	gxidErr    error
	decisions  map[string]bool // gid -> commit
	logErr     []error         // errors of the next LogDecision calls, in order
	logsCommit bool            // a failing LogDecision logged the commit all the same (reply lost)
	gateErr    error
	gateHang   bool
	gateHeld   bool
	released   int
	forgotten  []string
}

func newFakeGTM() *fakeGTM { return &fakeGTM{decisions: map[string]bool{}} }

func (g *fakeGTM) NextGXID(ctx context.Context) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gxidErr != nil {
		return 0, g.gxidErr
	}
	g.gxid++
	return g.gxid, nil
}

func (g *fakeGTM) LogDecision(ctx context.Context, gid string, nodes []string, commit bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d, ok := g.decisions[gid]; ok && d != commit {
		return gtmclient.ErrDecisionConflict
	}
	if len(g.logErr) > 0 {
		err := g.logErr[0]
		g.logErr = g.logErr[1:]
		if err != nil {
			if g.logsCommit && commit {
				g.decisions[gid] = true
			}
			return err
		}
	}
	g.decisions[gid] = commit
	return nil
}

func (g *fakeGTM) GateEnter(ctx context.Context, kind gtmclient.GateKind) (func(), error) {
	g.mu.Lock()
	hang, err := g.gateHang, g.gateErr
	g.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.gateHeld = true
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.gateHeld = false
		g.released++
		g.mu.Unlock()
	}, nil
}

// CommitAndEnter is LogDecision then GateEnter, as the gtm serves the two
// requests of gtmclient's CommitAndEnter.
func (g *fakeGTM) CommitAndEnter(ctx context.Context, gateWait time.Duration, gid string, nodes []string) (func(), bool, error) {
	if err := g.LogDecision(ctx, gid, nodes, true); err != nil {
		return nil, false, err
	}
	gateCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), gateWait)
	defer cancel()
	release, err := g.GateEnter(gateCtx, gtmclient.GateCommitter)
	return release, true, err
}

func (g *fakeGTM) ForgetLater(gid string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.forgotten = append(g.forgotten, gid)
	delete(g.decisions, gid)
}

// steps records the failpoint steps a commit reached.
type steps struct {
	mu   sync.Mutex
	seen []string
}

func (s *steps) hook(step string) {
	s.mu.Lock()
	s.seen = append(s.seen, step)
	s.mu.Unlock()
}

func manager(g *fakeGTM, st *steps) *Manager {
	m := &Manager{ClusterName: "t", GateWait: 200 * time.Millisecond, CommitWait: 200 * time.Millisecond,
		AbortWait: 200 * time.Millisecond, GTMWait: 200 * time.Millisecond}
	if g != nil {
		m.GTM = g
	}
	if st != nil {
		m.Failpoint = st.hook
	}
	return m
}

var two = []string{"dn1", "dn2"}

func TestOneWriterCommitsPlainly(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	res, err := manager(g, nil).Commit(context.Background(), nodes, []string{"dn2", "dn3"}, []string{"dn1"})
	if err != nil || res.GID != "" || res.Warning != "" {
		t.Fatalf("%+v %v", res, err)
	}
	for _, n := range []string{"dn1", "dn2", "dn3"} {
		if got := nodes.sent(n); !slices.Equal(got, []string{"COMMIT"}) {
			t.Errorf("%s got %v, want one COMMIT", n, got)
		}
	}
	if g.gxid != 0 {
		t.Error("a one-node commit asked the gtm for a gxid")
	}
}

func TestTwoPhaseCommit(t *testing.T) {
	nodes, g, st := newFakeNodes(), newFakeGTM(), &steps{}
	res, err := manager(g, st).Commit(context.Background(), nodes, []string{"dn3"}, []string{"dn2", "dn1"})
	if err != nil || res.GID != "xlgo_t_1" || res.Warning != "" {
		t.Fatalf("%+v %v", res, err)
	}
	for _, n := range two {
		want := []string{"PREPARE TRANSACTION 'xlgo_t_1'", "COMMIT PREPARED 'xlgo_t_1'"}
		if got := nodes.sent(n); !slices.Equal(got, want) {
			t.Errorf("%s got %v, want %v", n, got, want)
		}
	}
	if !slices.Equal(nodes.sent("dn3"), []string{"COMMIT"}) {
		t.Errorf("the reader got %v", nodes.sent("dn3"))
	}
	if g.released != 1 || g.gateHeld || !slices.Equal(g.forgotten, []string{"xlgo_t_1"}) || len(g.decisions) != 0 {
		t.Errorf("gate released %d times (held %v), forgotten %v, decisions left %v", g.released, g.gateHeld, g.forgotten, g.decisions)
	}
	// Every step, the per-node ones of both nodes, in protocol order.
	order := map[string]int{}
	for i, s := range st.seen {
		order[s] = i + 1
	}
	for _, s := range []string{"before-prepare", "prepare:dn1", "prepare:dn2", "prepared:dn1", "prepared:dn2", "after-decision",
		"commit-prepared:dn1", "commit-prepared:dn2", "committed:dn1", "committed:dn2"} {
		if order[s] == 0 {
			t.Errorf("failpoint step %s not reached (reached %v)", s, st.seen)
		}
	}
	if !(order["before-prepare"] < order["prepare:dn1"] && order["prepared:dn2"] < order["after-decision"] && order["after-decision"] < order["commit-prepared:dn1"]) {
		t.Errorf("steps out of order: %v", st.seen)
	}
}

// The same parallel algorithm runs with a failpoint and without one.
func TestFailpointDoesNotChangeTheAlgorithm(t *testing.T) {
	var concurrent sync.WaitGroup
	concurrent.Add(2)
	// The hook before each node's PREPARE waits for the other node's: it
	// returns only because both PREPAREs are sent at once.
	hook := func(step string) {
		if strings.HasPrefix(step, StepPrepare) {
			concurrent.Done()
			done := make(chan struct{})
			go func() { concurrent.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				panic("the PREPAREs were sent one after the other")
			}
		}
	}
	m := manager(newFakeGTM(), nil)
	m.Failpoint = hook
	if _, err := m.Commit(context.Background(), newFakeNodes(), nil, two); err != nil {
		t.Fatal(err)
	}
}

func TestPrepareFailsOnOneNode(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	nodes.fail["dn2: PREPARE"] = pgerr.New(pgerr.SerializationFailure, "could not serialize access")
	_, err := manager(g, nil).Commit(context.Background(), nodes, nil, two)
	if !pgerr.Is(err, pgerr.SerializationFailure) {
		t.Fatalf("got %v, want the node's error", err)
	}
	if got := nodes.sent("dn1"); !slices.Contains(got, "ROLLBACK PREPARED 'xlgo_t_1'") {
		t.Errorf("the prepared node got %v, want its ROLLBACK PREPARED", got)
	}
	if got := nodes.sent("dn2"); !slices.Contains(got, "ROLLBACK") {
		t.Errorf("the failed node got %v, want a ROLLBACK", got)
	}
	if len(g.decisions) != 0 || nodes.preparedLeft() != 0 {
		t.Errorf("decisions %v, %d prepared left", g.decisions, nodes.preparedLeft())
	}
}

// A participant whose backend holds no transaction (its work gone with a
// backend that broke, or rolled back) has nothing to prepare: committing
// the others would apply the transaction in part.
func TestPrepareFindsNoTransaction(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	nodes.noTx["dn2"] = true
	_, err := manager(g, nil).Commit(context.Background(), nodes, nil, two)
	if !pgerr.Is(err, pgerr.TransactionRollback) || !strings.Contains(err.Error(), "dn2") {
		t.Fatalf("got %v, want 40000 naming dn2", err)
	}
	if got := nodes.sent("dn1"); !slices.Contains(got, "ROLLBACK PREPARED 'xlgo_t_1'") || slices.Contains(got, "COMMIT PREPARED 'xlgo_t_1'") {
		t.Errorf("the prepared node got %v, want its ROLLBACK PREPARED", got)
	}
	if len(g.decisions) != 0 || nodes.preparedLeft() != 0 {
		t.Errorf("decisions %v, %d prepared left", g.decisions, nodes.preparedLeft())
	}
	// One writer: PostgreSQL answers ROLLBACK to the COMMIT of a failed
	// transaction, which is no commit.
	nodes = newFakeNodes()
	_, err = manager(g, nil).Commit(context.Background(), rollbackCommit{nodes}, nil, []string{"dn1"})
	if !pgerr.Is(err, pgerr.TransactionRollback) {
		t.Fatalf("one writer answering ROLLBACK: got %v, want 40000", err)
	}
}

// rollbackCommit answers COMMIT with ROLLBACK, as a failed transaction's
// backend does.
type rollbackCommit struct{ *fakeNodes }

func (r rollbackCommit) Exec(ctx context.Context, node, sql string) (string, error) {
	tag, err := r.fakeNodes.Exec(ctx, node, sql)
	if err == nil && sql == "COMMIT" {
		return "ROLLBACK", nil
	}
	return tag, err
}

func TestGTMUnreachableBeforeDecision(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	g.gxidErr = gtmclient.ErrUnavailable
	_, err := manager(g, nil).Commit(context.Background(), nodes, nil, two)
	if !pgerr.Is(err, pgerr.ConnectionFailure) {
		t.Fatalf("got %v, want 08006", err)
	}
	for _, n := range two {
		if got := nodes.sent(n); !slices.Equal(got, []string{"ROLLBACK"}) {
			t.Errorf("%s got %v, want a ROLLBACK", n, got)
		}
	}
}

func TestNoGTM(t *testing.T) {
	nodes := newFakeNodes()
	_, err := manager(nil, nil).Commit(context.Background(), nodes, nil, two)
	if !pgerr.Is(err, pgerr.ObjectNotInPrerequisiteState) || nodes.preparedLeft() != 0 {
		t.Fatalf("got %v", err)
	}
}

func TestDecisionNotLoggedAbortLogged(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	g.logErr = []error{gtmclient.ErrUnavailable} // the commit's record fails, the abort's succeeds
	_, err := manager(g, nil).Commit(context.Background(), nodes, nil, two)
	if !pgerr.Is(err, pgerr.StatementCompletionUnknown) || nodes.preparedLeft() != 0 {
		t.Fatalf("got %v, %d prepared left", err, nodes.preparedLeft())
	}
	if d, ok := g.decisions["xlgo_t_1"]; !ok || d {
		t.Errorf("decision %v %v, want a logged abort", d, ok)
	}
}

// The commit's record got through but its reply was lost: the abort then
// conflicts, and the commit is finished.
func TestDecisionReplyLost(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	g.logErr = []error{gtmclient.ErrUnavailable}
	g.logsCommit = true
	res, err := manager(g, nil).Commit(context.Background(), nodes, nil, two)
	if err != nil || res.Warning != "" {
		t.Fatalf("%+v %v", res, err)
	}
	for _, n := range two {
		if nodes.done[n]["xlgo_t_1"] != "committed" {
			t.Errorf("%s: %q", n, nodes.done[n]["xlgo_t_1"])
		}
	}
}

// Neither the commit nor the abort can be recorded: the transaction stays
// prepared for the gtm's decision log to settle, and the client is told so.
func TestGTMUnreachableAtDecision(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	g.logErr = []error{gtmclient.ErrUnavailable, gtmclient.ErrUnavailable}
	_, err := manager(g, nil).Commit(context.Background(), nodes, nil, two)
	if !pgerr.Is(err, pgerr.TransactionResolutionUnknown) {
		t.Fatalf("got %v, want 08007", err)
	}
	if nodes.preparedLeft() != 2 {
		t.Errorf("%d prepared, want both left for the resolver", nodes.preparedLeft())
	}
}

func TestCommitPreparedFailsOnOneNode(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	nodes.fail["dn2: COMMIT PREPARED"] = errors.New("connection reset")
	kicked := 0
	m := manager(g, nil)
	m.ResolveSoon = func() { kicked++ }
	res, err := m.Commit(context.Background(), nodes, nil, two)
	if err != nil || res.Warning == "" || kicked != 1 {
		t.Fatalf("%+v %v, resolver kicked %d times: want COMMIT with a warning and a resolver pass", res, err, kicked)
	}
	if len(g.forgotten) != 0 || !g.decisions["xlgo_t_1"] {
		t.Errorf("the decision must stay for the resolver: forgotten %v, decisions %v", g.forgotten, g.decisions)
	}
	if g.gateHeld {
		t.Error("the gate is still held")
	}
}

func TestCommitPreparedAlreadyResolved(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	nodes.fail["dn2: COMMIT PREPARED"] = pgerr.New(pgerr.UndefinedObject, "prepared transaction does not exist")
	res, err := manager(g, nil).Commit(context.Background(), nodes, nil, two)
	if err != nil || res.Warning != "" || len(g.forgotten) != 1 {
		t.Fatalf("%+v %v forgotten %v", res, err, g.forgotten)
	}
}

// A datanode that never answers its COMMIT PREPARED: the client gets its
// COMMIT within the bound, with a warning; the gate is given back.
func TestCommitPreparedHangs(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	nodes.hang["dn2: COMMIT PREPARED"] = true
	start := time.Now()
	res, err := manager(g, nil).Commit(context.Background(), nodes, nil, two)
	if err != nil || res.Warning == "" || time.Since(start) > 2*time.Second || g.gateHeld {
		t.Fatalf("%+v %v after %v (gate held %v)", res, err, time.Since(start), g.gateHeld)
	}
}

// A COMMIT PREPARED that fails on one datanode after another applied it:
// the commit keeps holding the snapshot gate until Apply has finished it
// there, so that no reader sees it on one datanode only.
func TestCommitHalfAppliedHoldsTheGate(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	nodes.fail["dn2: COMMIT PREPARED"] = pgerr.New(pgerr.ConnectionFailure, "lost connection to datanode dn2")
	var mu sync.Mutex
	calls := 0
	proceed := make(chan struct{})
	m := manager(g, nil)
	m.Apply = func(ctx context.Context, gid string, ns []string) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if !slices.Equal(ns, []string{"dn2"}) {
			t.Errorf("Apply on %v, want [dn2]", ns)
		}
		if n == 1 {
			return errors.New("dn2 unreachable")
		}
		<-proceed
		nodes.mu.Lock()
		delete(nodes.state["dn2"], gid)
		nodes.done["dn2"][gid] = "committed"
		nodes.mu.Unlock()
		return nil
	}
	res, err := m.Commit(context.Background(), nodes, nil, two)
	if err != nil || res.Warning == "" {
		t.Fatalf("%+v %v", res, err)
	}
	if nodes.done["dn1"]["xlgo_t_1"] != "committed" {
		t.Fatalf("dn1: %q", nodes.done["dn1"]["xlgo_t_1"])
	}
	g.mu.Lock()
	held := g.gateHeld
	g.mu.Unlock()
	if !held {
		t.Fatal("the gate was released while dn2 has not applied the commit")
	}
	close(proceed)
	poll.Within(t, 5*time.Second, "the gate released and the decision forgotten", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return !g.gateHeld && len(g.forgotten) == 1
	})
	if nodes.preparedLeft() != 0 {
		t.Errorf("%d prepared left", nodes.preparedLeft())
	}
}

func TestGateNotFreeInTime(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	g.gateHang = true
	kicked := 0
	m := manager(g, nil)
	m.ResolveSoon = func() { kicked++ }
	res, err := m.Commit(context.Background(), nodes, nil, two)
	if err != nil || res.Warning == "" || kicked != 1 {
		t.Fatalf("%+v %v kicked %d", res, err, kicked)
	}
	if nodes.preparedLeft() != 2 || !g.decisions["xlgo_t_1"] {
		t.Errorf("the decided commit is the resolver's: %d prepared, decisions %v", nodes.preparedLeft(), g.decisions)
	}
}

// The gtm cannot be reached once the commit is decided: applied without the
// gate, it could be seen half applied through another coordinator, so it is
// the resolver's (which applies it under the gate when the gtm is back); the
// client has its COMMIT within the gate's bound.
func TestGateUnavailableLeavesTheCommitToTheResolver(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	g.gateErr = fmt.Errorf("%w: connection lost", gtmclient.ErrUnavailable)
	kicked := 0
	m := manager(g, nil)
	m.ResolveSoon = func() { kicked++ }
	start := time.Now()
	res, err := m.Commit(context.Background(), nodes, nil, two)
	if err != nil || res.Warning == "" || kicked != 1 || time.Since(start) > 2*time.Second {
		t.Fatalf("%+v %v kicked %d after %v", res, err, kicked, time.Since(start))
	}
	if nodes.preparedLeft() != 2 || !g.decisions["xlgo_t_1"] {
		t.Errorf("the decided commit is the resolver's: %d prepared, decisions %v", nodes.preparedLeft(), g.decisions)
	}
}

// A gtm connection that comes back within the gate's bound: the commit
// takes the gate and applies itself.
func TestGateReachedAgain(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	g.gateErr = fmt.Errorf("%w: connection lost", gtmclient.ErrUnavailable)
	m := manager(g, nil)
	m.GateWait = 2 * time.Second
	time.AfterFunc(100*time.Millisecond, func() {
		g.mu.Lock()
		g.gateErr = nil
		g.mu.Unlock()
	})
	res, err := m.Commit(context.Background(), nodes, nil, two)
	if err != nil || res.Warning != "" || nodes.preparedLeft() != 0 || g.released != 1 {
		t.Fatalf("%+v %v, %d prepared, released %d", res, err, nodes.preparedLeft(), g.released)
	}
}

// The client goes away (its context ends) during the commit: the commit is
// finished all the same.
func TestClientGoesAway(t *testing.T) {
	nodes, g := newFakeNodes(), newFakeGTM()
	ctx, cancel := context.WithCancel(context.Background())
	m := manager(g, nil)
	m.Failpoint = func(step string) {
		if step == StepAfterDecision {
			cancel()
		}
	}
	if _, err := m.Commit(ctx, nodes, nil, two); err != nil {
		t.Fatal(err)
	}
	for _, n := range two {
		if nodes.done[n]["xlgo_t_1"] != "committed" {
			t.Errorf("%s: %q", n, nodes.done[n]["xlgo_t_1"])
		}
	}
}

// A one-node COMMIT that never answers: 08007 within the bound.
func TestOneNodeCommitHangs(t *testing.T) {
	nodes := newFakeNodes()
	nodes.hang["dn1: COMMIT"] = true
	start := time.Now()
	_, err := manager(nil, nil).Commit(context.Background(), nodes, nil, []string{"dn1"})
	if !pgerr.Is(err, pgerr.TransactionResolutionUnknown) || time.Since(start) > 2*time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
}

// A one-node COMMIT whose answer was lost with its connection may have
// committed: 08007, not the connection's error, which says it did not.
func TestOneNodeCommitAnswerLost(t *testing.T) {
	nodes := newFakeNodes()
	nodes.fail["dn1: COMMIT"] = fmt.Errorf("%w: %w", pgerr.New(pgerr.ConnectionFailure, "lost connection to datanode dn1"), ErrNoAnswer)
	_, err := manager(nil, nil).Commit(context.Background(), nodes, nil, []string{"dn1"})
	if !pgerr.Is(err, pgerr.TransactionResolutionUnknown) {
		t.Fatalf("%v, want 08007", err)
	}
	// An answer that says no is the datanode's word: the COMMIT did not commit.
	nodes = newFakeNodes()
	nodes.fail["dn1: COMMIT"] = pgerr.New(pgerr.SerializationFailure, "could not serialize access")
	if _, err := manager(nil, nil).Commit(context.Background(), nodes, nil, []string{"dn1"}); !pgerr.Is(err, pgerr.SerializationFailure) {
		t.Fatalf("%v, want 40001", err)
	}
}

// A read-only participant whose COMMIT fails after the writer committed:
// the transaction committed, and the client is told so.
func TestReaderCommitFailsWriterCommits(t *testing.T) {
	nodes := newFakeNodes()
	nodes.fail["dn2: COMMIT"] = pgerr.New(pgerr.ConnectionFailure, "lost connection to datanode dn2")
	for _, writers := range [][]string{{"dn1"}, {"dn1", "dn3"}} {
		if _, err := manager(newFakeGTM(), nil).Commit(context.Background(), nodes, []string{"dn2"}, writers); err != nil {
			t.Errorf("writers %v: %v, want nil (they committed)", writers, err)
		}
	}
	// Nothing written: the error is the COMMIT's.
	if _, err := manager(nil, nil).Commit(context.Background(), nodes, []string{"dn2"}, nil); !pgerr.Is(err, pgerr.ConnectionFailure) {
		t.Errorf("read-only: %v, want 08006", err)
	}
}

// Read-only participants and rollbacks end with the caller's context (a
// statement's bound), the writers' commit does not.
func TestReadersAndAbortWithinContext(t *testing.T) {
	nodes := newFakeNodes()
	nodes.hang["dn2: COMMIT"] = true
	nodes.hang["dn2: ROLLBACK"] = true
	m := manager(newFakeGTM(), nil)
	m.CommitWait, m.AbortWait = 10*time.Second, 10*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := m.Commit(ctx, nodes, []string{"dn2"}, nil); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("read-only commit: %v after %v", err, time.Since(start))
	}
	start = time.Now()
	m.Abort(ctx, nodes, two)
	if time.Since(start) > 2*time.Second || !slices.Contains(nodes.sent("dn1"), "ROLLBACK") {
		t.Fatalf("abort took %v, dn1 got %v", time.Since(start), nodes.sent("dn1"))
	}
}

func TestAbortIsBounded(t *testing.T) {
	nodes := newFakeNodes()
	nodes.hang["dn2: ROLLBACK"] = true
	start := time.Now()
	manager(nil, nil).Abort(context.Background(), nodes, two)
	if time.Since(start) > 2*time.Second || !slices.Equal(nodes.sent("dn1"), []string{"ROLLBACK"}) {
		t.Fatalf("abort took %v, dn1 got %v", time.Since(start), nodes.sent("dn1"))
	}
}

func TestGIDsAreUnique(t *testing.T) {
	g := newFakeGTM()
	m := manager(g, nil)
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		res, err := m.Commit(context.Background(), newFakeNodes(), nil, two)
		if err != nil || seen[res.GID] {
			t.Fatalf("%v %v", res, err)
		}
		seen[res.GID] = true
	}
	if !seen[fmt.Sprintf("xlgo_t_%d", 5)] {
		t.Errorf("%v", seen)
	}
}
