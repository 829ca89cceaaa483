package txtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/engine"
	"github.com/xlgo/xlgo/internal/faultproxy"
)

// The chaos matrix puts a fault proxy (internal/faultproxy: this kernel has
// no netem, so the faults are made in user space) between coord1 and
// datanode1 and between coord1 and the gtm, and for each fault × link ×
// workload runs a few clients on coord1, and an auditor on coord2 (whose
// links are not faulted), while the fault is injected and lifted. Every
// client call must return within its bound, the bank's money must be kept,
// no read may see a transfer half applied, no transfer may be half applied
// (each account's balance is its initial balance plus the ledger's rows,
// which every transfer writes with its updates), every transfer the client
// saw commit must be there and every one it saw fail must not, and after
// the coordinator's resolver's next pass no prepared transaction may be
// left. coord1's resolver reaches datanode1 and the gtm through the proxies
// too: they are its links.

// The coordinator's bounds in the matrix (its flags) and the clients'.
const (
	chaosStatementTimeout = 500 * time.Millisecond // every client session's statement_timeout
	chaosReadGateWait     = time.Second            // --read-gate-wait
	chaosCommitGateWait   = time.Second            // --commit-gate-wait
	chaosCommitWait       = 1500 * time.Millisecond
	chaosGTMWait          = time.Second     // --gtm-wait
	chaosResolveInterval  = time.Second     // --resolve-interval
	chaosResolveGrace     = 2 * time.Second // --resolve-grace
	// guardGrace is how long past its statement_timeout the coordinator
	// waits for a statement's datanodes (engine's timeoutGrace).
	guardGrace = 500 * time.Millisecond
	// cancelDelay is how long a datanode statement whose context ended may
	// still take: its CancelRequest, then a second before the connection's
	// deadline (pooler).
	cancelDelay = 1100 * time.Millisecond
	// abortGrace bounds the rollback of a transaction after an error
	// (engine's abortGrace).
	abortGrace = 500 * time.Millisecond
	// chaosSlack is what a call may take beyond the sum of its bounds
	// (scheduling on a loaded two-core machine, the loopback round trips).
	chaosSlack = time.Second
	// hangAfter: a call still running this long after its bound has hung; the
	// client gives up on it (its context ends) and the cell fails.
	hangAfter = 10 * time.Second
)

// The bound of each kind of client call.
var (
	// A statement: its statement_timeout, then the coordinator's own end of
	// a datanode that does not answer in time, then (after an error in a
	// transaction) the rollback of the others.
	stmtBound = chaosStatementTimeout + guardGrace + cancelDelay + abortGrace + chaosSlack
	// A COMMIT of several datanodes: a gxid, the PREPAREs, the decision
	// (and an abort decision when the commit's was not answered), the gate,
	// the COMMIT PREPAREDs; every step within its bound.
	commitBound = 3*chaosGTMWait + 2*(chaosCommitWait+cancelDelay) + chaosCommitGateWait + chaosSlack
	// A ROLLBACK: every datanode at once.
	rollbackBound = abortGrace + chaosSlack
	// A connection: the coordinator reads its settings from the preferred
	// datanode (datanode1), within engine.StartupWait.
	connectBound = engine.StartupWait + chaosSlack
)

// chaosCoordinatorArgs are the coordinator's flags in the matrix.
func chaosCoordinatorArgs(gtm string) []string {
	return []string{"--gtm", gtm,
		"--read-gate-wait", chaosReadGateWait.String(), "--commit-gate-wait", chaosCommitGateWait.String(),
		"--commit-prepared-wait", chaosCommitWait.String(), "--gtm-wait", chaosGTMWait.String(),
		"--resolve-interval", chaosResolveInterval.String(), "--resolve-grace", chaosResolveGrace.String()}
}

// chaosWindow is how long the loss lasts in the matrix, the other faults a
// part of it ($XLGO_CHAOS_DURATION, default 4.5s: longer than the bound of a
// statement, so that a statement the coordinator does not end by its bound
// is seen).
func chaosWindow(t *testing.T) time.Duration {
	if s := os.Getenv("XLGO_CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("XLGO_CHAOS_DURATION: %v", err)
		}
		return d
	}
	return 4500 * time.Millisecond
}

// chaosFault is one kind of fault: inject starts it on a proxy, lift ends it.
type chaosFault struct {
	name, what string
	// window is the part of chaosWindow the fault lasts.
	window       float64
	inject, lift func(p *faultproxy.Proxy)
}

var chaosFaults = []chaosFault{
	{"delay", "50ms added each way", 0.33,
		func(p *faultproxy.Proxy) { p.SetDelay(faultproxy.Both, 50*time.Millisecond) },
		func(p *faultproxy.Proxy) { p.SetDelay(faultproxy.Both, 0) }},
	{"loss", "every byte held both ways, then delivered", 1,
		func(p *faultproxy.Proxy) { p.Stall(faultproxy.Both) },
		func(p *faultproxy.Proxy) { p.Release(faultproxy.Both) }},
	{"cut", "every connection reset, new ones refused", 0.45,
		func(p *faultproxy.Proxy) { p.Refuse(true); p.Cut() },
		func(p *faultproxy.Proxy) { p.Refuse(false) }},
	// Shorter than --commit-prepared-wait in the short matrix: a COMMIT
	// whose answer is held is cut before the coordinator gives up on it
	// (longer runs reach that bound instead).
	{"oneway", "answers held (requests pass), then every connection reset", 0.2,
		func(p *faultproxy.Proxy) { p.Stall(faultproxy.Down) },
		func(p *faultproxy.Proxy) { p.Cut(); p.Release(faultproxy.Down) }},
}

var (
	chaosLinks     = []string{"datanode1", "gtm"}
	chaosWorkloads = []string{"reads", "1node", "2pc"}
)

const (
	chaosAccounts = 40
	chaosInitial  = 1000
	chaosTotal    = chaosAccounts * chaosInitial
	chaosClients  = 3 // per workload, besides one companion
)

// TestChaosMatrix: see the top of the file. Each cell's clients on coord1:
// reads — three clients reading the total (READ COMMITTED, and REPEATABLE
// READ across two statements) while a fourth transfers across the
// datanodes; 1node — three clients transferring between two accounts of one
// datanode (one-node commits; those on datanode2 read an account of
// datanode1 first, a read-only participant) and an auditor; 2pc — three
// clients transferring across both datanodes (two-phase commits) and an
// auditor. Run one cell with -run 'TestChaosMatrix/loss/gtm/2pc'; make the
// faults longer with XLGO_CHAOS_DURATION.
func TestChaosMatrix(t *testing.T) {
	window := chaosWindow(t)
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	gtmProxy := c.ProxyGTM(t)
	pprofArgs, pprofAddr := c.PprofArgs(0)
	c.RestartCoordinator(t, 0, nil, append(pprofArgs, chaosCoordinatorArgs(gtmProxy.Addr())...)...)
	dnProxy := c.ProxyDatanode(t, 0, 0)
	proxies := map[string]*faultproxy.Proxy{"datanode1": dnProxy, "gtm": gtmProxy}

	b := newChaosBank(t, c)
	var results []chaosResult
	for _, f := range chaosFaults {
		for _, link := range chaosLinks {
			for _, w := range chaosWorkloads {
				name := f.name + "/" + link + "/" + w
				t.Run(name, func(t *testing.T) {
					r := b.runCell(t, f, proxies[link], link, w, time.Duration(float64(window)*f.window), pprofAddr)
					results = append(results, r)
					for _, p := range r.problems {
						t.Error(p)
					}
				})
			}
		}
	}
	table := chaosTable(results, window)
	t.Log("\n" + table)
	fmt.Print(table)
	st := dnProxy.Stats()
	gs := gtmProxy.Stats()
	report(t, "proxies: datanode1 %d connections (%d reset by cuts, %d refused), gtm %d connections (%d reset, %d refused)",
		st.Accepted, st.Reset, st.Refused, gs.Accepted, gs.Reset, gs.Refused)
}

// chaosBank is the matrix's cluster and tables: accounts, hash distributed
// by id, and the ledger of transfers, distributed by the paying account
// (so that a ledger row lives with its payer's row).
type chaosBank struct {
	c      *clustertest.Cluster
	byNode map[string][]int
	seq    atomic.Int64
}

func newChaosBank(t *testing.T, c *clustertest.Cluster) *chaosBank {
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	exec(t, admin,
		"CREATE TABLE chaos_accounts (id int PRIMARY KEY, balance int NOT NULL) DISTRIBUTE BY HASH (id)",
		fmt.Sprintf("INSERT INTO chaos_accounts SELECT i, %d FROM generate_series(1, %d) i", chaosInitial, chaosAccounts),
		"CREATE TABLE chaos_ledger (src int NOT NULL, dst int NOT NULL, amount int NOT NULL, tag text NOT NULL) DISTRIBUTE BY HASH (src)",
		"INSERT INTO chaos_ledger SELECT id, id, 0, 'probe' FROM chaos_accounts")
	byNode := keysByNode(t, admin, "chaos_accounts")
	if len(byNode["datanode1"]) < 2 || len(byNode["datanode2"]) < 2 {
		t.Fatalf("accounts by node: %v: want two on each datanode", byNode)
	}
	// A ledger row must live on its payer's datanode, or a one-node transfer
	// would not be one.
	var misplaced int
	if err := admin.QueryRow(context.Background(), `SELECT count(*) FROM chaos_ledger l JOIN chaos_accounts a ON a.id = l.src
		WHERE l.xc_node_id <> a.xc_node_id`).Scan(&misplaced); err != nil {
		t.Fatal(err)
	}
	if misplaced != 0 {
		t.Fatalf("%d ledger rows are not on their payer's datanode", misplaced)
	}
	exec(t, admin, "DELETE FROM chaos_ledger")
	admin.Close(context.Background())
	return &chaosBank{c: c, byNode: byNode}
}

// chaosResult is one cell of the matrix.
type chaosResult struct {
	fault, link, workload string
	calls, answers        int64
	errs                  map[string]int64 // by SQLSTATE ("hang": the client gave up; "-": no SQLSTATE)
	over                  int64            // calls past their bound (hangs included)
	maxLatency            time.Duration
	committed, ambiguous  int64
	failed                int64
	prepared              int // prepared transactions left after the resolver's pass
	settle                time.Duration
	invariant             bool
	problems              []string
}

// chaosCell gathers the figures of a cell's clients.
type chaosCell struct {
	mu       sync.Mutex
	res      *chaosResult
	hangs    []string
	outcomes map[string]string // transfer tag: committed, failed, ambiguous
	errOf    map[string]string // transfer tag: the error the client got
	// pprofAddr serves the coordinator's goroutines; stacks holds them as
	// they were when the first call went past its bound.
	pprofAddr string
	dumped    bool
	stacks    string
	views     []string // the first totals a read saw that were wrong
	wrong     int      // reads that saw a wrong total
}

// dumpOnce keeps the coordinator's goroutines at the first call of the cell
// that runs past its bound (through its pprof endpoint: nothing is stopped).
func (cc *chaosCell) dumpOnce(what string) {
	cc.mu.Lock()
	if cc.dumped {
		cc.mu.Unlock()
		return
	}
	cc.dumped = true
	cc.mu.Unlock()
	stacks, err := clustertest.Goroutines(cc.pprofAddr, "xlgo/")
	if err != nil {
		stacks = err.Error()
	}
	cc.mu.Lock()
	cc.stacks = fmt.Sprintf("coord1 goroutines when %s passed its bound:\n%s", what, stacks)
	cc.mu.Unlock()
}

// record notes one call.
func (cc *chaosCell) record(what string, lat, bound time.Duration, err error, hung bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	r := cc.res
	r.calls++
	r.maxLatency = max(r.maxLatency, lat)
	if lat > bound || hung {
		r.over++
		if len(r.problems) < 10 {
			r.problems = append(r.problems, fmt.Sprintf("%s took %v, past its bound %v: %v", what, lat.Round(time.Millisecond), bound, err))
		}
	}
	switch {
	case hung:
		r.errs["hang"]++
		cc.hangs = append(cc.hangs, what)
	case err == nil:
		r.answers++
	default:
		code := sqlState(err)
		if code == "" {
			code = "-"
			if len(r.problems) < 10 {
				r.problems = append(r.problems, fmt.Sprintf("%s: an error without SQLSTATE: %v", what, err))
			}
		}
		r.errs[code]++
	}
}

// chaosClient is one client connection of a cell.
type chaosClient struct {
	cell   *chaosCell
	dsn    string
	simple bool
	conn   *pgx.Conn
	name   string
}

// call runs fn within bound (plus hangAfter before giving up on it). The
// first call of a cell still running at its bound has the coordinator's
// goroutines logged.
func (cl *chaosClient) call(what string, bound time.Duration, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), bound+hangAfter)
	defer cancel()
	start := time.Now()
	late := time.AfterFunc(bound, func() { cl.cell.dumpOnce(cl.name + ": " + what) })
	err := fn(ctx)
	late.Stop()
	lat := time.Since(start)
	hung := err != nil && ctx.Err() != nil
	cl.cell.record(cl.name+": "+what, lat, bound, err, hung)
	return err
}

// ready makes sure the client is connected; false when connecting failed
// (the failure is a call of its own).
func (cl *chaosClient) ready() bool {
	if cl.conn != nil && !cl.conn.IsClosed() {
		return true
	}
	if cl.conn != nil {
		cl.conn.Close(context.Background())
		cl.conn = nil
	}
	cfg, err := pgx.ParseConfig(cl.dsn)
	if err != nil {
		panic(err)
	}
	if cl.simple {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	cfg.RuntimeParams["statement_timeout"] = fmt.Sprint(chaosStatementTimeout.Milliseconds())
	err = cl.call("connect", connectBound, func(ctx context.Context) error {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		cl.conn = conn
		return err
	})
	return err == nil
}

func (cl *chaosClient) close() {
	if cl.conn != nil {
		cl.conn.Close(context.Background())
	}
}

func (cl *chaosClient) exec(what string, bound time.Duration, sql string, args ...any) error {
	return cl.call(what, bound, func(ctx context.Context) error {
		_, err := cl.conn.Exec(ctx, sql, args...)
		return err
	})
}

// transfer moves amount from a to b in one transaction that also writes its
// ledger row, and notes its outcome under tag. peek, when not 0, is an
// account the transaction reads first (a read-only participant when it lives
// on another datanode).
func (cl *chaosClient) transfer(tag string, a, b, amount, peek int) {
	if !cl.ready() {
		return
	}
	outcome := "failed"
	var lastErr error
	defer func() {
		cl.cell.mu.Lock()
		cl.cell.outcomes[tag] = outcome
		if lastErr != nil {
			cl.cell.errOf[tag] = lastErr.Error()
		}
		if outcome == "committed" {
			cl.cell.res.committed++
		} else if outcome == "ambiguous" {
			cl.cell.res.ambiguous++
		} else {
			cl.cell.res.failed++
		}
		cl.cell.mu.Unlock()
	}()
	first, second := min(a, b), max(a, b) // rows locked in one order: no deadlocks
	deltaFirst, deltaSecond := -amount, amount
	if first != a {
		deltaFirst, deltaSecond = amount, -amount
	}
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"BEGIN", "BEGIN", nil},
		{"UPDATE", "UPDATE chaos_accounts SET balance = balance + $1 WHERE id = $2", []any{deltaFirst, first}},
		{"UPDATE", "UPDATE chaos_accounts SET balance = balance + $1 WHERE id = $2", []any{deltaSecond, second}},
		{"INSERT", "INSERT INTO chaos_ledger VALUES ($1, $2, $3, $4)", []any{a, b, amount, tag}},
	}
	if peek != 0 {
		steps = slices.Insert(steps, 1, struct {
			what string
			sql  string
			args []any
		}{"SELECT", "SELECT balance FROM chaos_accounts WHERE id = $1", []any{peek}})
	}
	for _, s := range steps {
		if err := cl.exec(s.what, stmtBound, s.sql, s.args...); err != nil {
			lastErr = fmt.Errorf("%s: %w", s.what, err)
			cl.rollback()
			return
		}
	}
	err := cl.exec("COMMIT", commitBound, "COMMIT")
	if err != nil {
		lastErr = fmt.Errorf("COMMIT: %w", err)
	}
	switch code := sqlState(err); {
	case err == nil:
		outcome = "committed"
	case code == "08007" || code == "40003" || code == "":
		// Its outcome is not known to the client (08007 and 40003 say so;
		// without SQLSTATE the client lost its own connection).
		outcome = "ambiguous"
	}
}

func (cl *chaosClient) rollback() {
	if cl.conn == nil || cl.conn.IsClosed() {
		return
	}
	cl.exec("ROLLBACK", rollbackBound, "ROLLBACK")
}

// read reads the total in READ COMMITTED or, across two statements, in
// REPEATABLE READ, and notes a wrong one.
func (cl *chaosClient) read(rr bool) {
	if !cl.ready() {
		return
	}
	check := func(what string, sum int64) {
		if sum != chaosTotal {
			cl.cell.mu.Lock()
			cl.cell.wrong++
			if len(cl.cell.views) < 5 {
				cl.cell.views = append(cl.cell.views, fmt.Sprintf("%s: %s saw %d, want %d (a transfer half visible)", cl.name, what, sum, chaosTotal))
			}
			cl.cell.mu.Unlock()
		}
	}
	sumOf := func(what, sql string) (int64, error) {
		var sum int64
		err := cl.call(what, stmtBound, func(ctx context.Context) error {
			return cl.conn.QueryRow(ctx, sql).Scan(&sum)
		})
		return sum, err
	}
	if !rr {
		if sum, err := sumOf("SELECT sum", "SELECT sum(balance) FROM chaos_accounts"); err == nil {
			check("SELECT sum(balance)", sum)
		}
		return
	}
	if err := cl.exec("BEGIN RR", stmtBound, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
		cl.rollback()
		return
	}
	for _, q := range []string{"SELECT sum(balance) FROM chaos_accounts",
		"SELECT sum(s)::bigint FROM (SELECT xc_node_id, sum(balance) s FROM chaos_accounts GROUP BY 1) n"} {
		sum, err := sumOf("SELECT sum (RR)", q)
		if err != nil {
			cl.rollback()
			return
		}
		check("REPEATABLE READ "+q, sum)
	}
	if err := cl.exec("COMMIT RR", commitBound, "COMMIT"); err != nil {
		cl.rollback()
	}
}

// runCell runs one cell: the workload's clients for the fault's window and
// a little before and after, then checks the bank once the coordinator's
// resolver has had its pass.
func (b *chaosBank) runCell(t *testing.T, f chaosFault, p *faultproxy.Proxy, link, workload string, window time.Duration, pprofAddr string) chaosResult {
	res := chaosResult{fault: f.name, link: link, workload: workload, errs: map[string]int64{}}
	cell := &chaosCell{res: &res, outcomes: map[string]string{}, errOf: map[string]string{}, pprofAddr: pprofAddr}
	const before, after = 300 * time.Millisecond, time.Second
	stop := time.Now().Add(before + window + after)
	cellNo := b.seq.Add(1)

	var wg sync.WaitGroup
	client := func(k int, role string, loop func(cl *chaosClient, rng *rand.Rand, n int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			coord := 0
			if role == "coord2 auditor" {
				coord = 1
			}
			cl := &chaosClient{cell: cell, dsn: b.c.CoordDSN(coord, "postgres"), simple: k%2 == 0, name: fmt.Sprintf("%s %d", role, k)}
			defer cl.close()
			rng := rand.New(rand.NewPCG(uint64(cellNo), uint64(k)))
			for n := 0; time.Now().Before(stop); n++ {
				loop(cl, rng, n)
			}
		}()
	}
	tag := func(k, n int) string { return fmt.Sprintf("c%d-%d-%d", cellNo, k, n) }
	crossNode := func(k int) func(cl *chaosClient, rng *rand.Rand, n int) {
		return func(cl *chaosClient, rng *rand.Rand, n int) {
			a := b.byNode["datanode1"][rng.IntN(len(b.byNode["datanode1"]))]
			z := b.byNode["datanode2"][rng.IntN(len(b.byNode["datanode2"]))]
			if rng.IntN(2) == 0 {
				a, z = z, a
			}
			cl.transfer(tag(k, n), a, z, rng.IntN(50)+1, 0)
		}
	}
	oneNode := func(k int) func(cl *chaosClient, rng *rand.Rand, n int) {
		ids := b.byNode[[]string{"datanode1", "datanode2"}[k%2]]
		return func(cl *chaosClient, rng *rand.Rand, n int) {
			i := rng.IntN(len(ids))
			j := (i + 1 + rng.IntN(len(ids)-1)) % len(ids)
			peek := 0
			if k%2 == 1 {
				// Writes on datanode2 after a read on datanode1: a
				// one-node commit with a read-only participant.
				peek = b.byNode["datanode1"][rng.IntN(len(b.byNode["datanode1"]))]
			}
			cl.transfer(tag(k, n), ids[i], ids[j], rng.IntN(50)+1, peek)
		}
	}
	reader := func(cl *chaosClient, rng *rand.Rand, n int) { cl.read(n%2 == 1) }
	switch workload {
	case "reads":
		for k := 0; k < chaosClients; k++ {
			client(k, "reader", reader)
		}
		client(chaosClients, "transfer", crossNode(chaosClients))
	case "1node":
		for k := 0; k < chaosClients; k++ {
			client(k, "transfer", oneNode(k))
		}
		client(chaosClients, "auditor", reader)
	case "2pc":
		for k := 0; k < chaosClients; k++ {
			client(k, "transfer", crossNode(k))
		}
		client(chaosClients, "auditor", reader)
	}
	// The rest of the cluster reads on: coord2's links are not faulted.
	client(chaosClients+1, "coord2 auditor", reader)

	time.Sleep(before)
	f.inject(p)
	time.Sleep(window)
	f.lift(p)
	p.Heal()

	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Until(stop) + commitBound + hangAfter + 5*time.Second):
		res.problems = append(res.problems, "clients still running long after their last call's bound")
		<-finished // every call ends by its own context
	}
	if len(cell.hangs) > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d calls hung: %v", len(cell.hangs), cell.hangs))
	}
	if cell.stacks != "" {
		t.Log(cell.stacks)
	}

	// The coordinator's resolver (every second, grace 2s) finishes what was
	// left prepared.
	settleStart := time.Now()
	left := b.waitNoPrepared(t, chaosResolveInterval+chaosResolveGrace+5*time.Second)
	res.settle = time.Since(settleStart)
	res.prepared = len(left)
	if len(left) > 0 {
		res.problems = append(res.problems, fmt.Sprintf("prepared transactions left after the resolver's pass: %v", left))
	}
	broken := b.check(t, cell.outcomes, cell.errOf)
	if cell.wrong > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d reads saw a wrong total; the first:", cell.wrong))
	}
	res.problems = append(append(res.problems, cell.views...), broken...)
	res.invariant = len(cell.views) == 0 && res.prepared == 0 && len(broken) == 0
	if res.calls == 0 || res.answers == 0 {
		res.problems = append(res.problems, fmt.Sprintf("no work done: %d calls, %d answers", res.calls, res.answers))
	}
	return res
}

// waitNoPrepared waits until no datanode holds a prepared transaction and
// returns those left at the deadline.
func (b *chaosBank) waitNoPrepared(t *testing.T, within time.Duration) []string {
	var left []string
	deadline := time.Now().Add(within)
	for {
		left = left[:0]
		for i, n := range b.c.Config.Datanodes {
			for _, g := range directStrings(t, b.c.DatanodeDSN(i, "postgres"), "SELECT gid FROM pg_prepared_xacts ORDER BY gid") {
				left = append(left, n.Name+":"+g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check reads the datanodes directly: the total, each account against the
// ledger (a half-applied transfer breaks its payer's or payee's balance) and,
// when outcomes is given, the ledger rows against what the clients were told.
func (b *chaosBank) check(t *testing.T, outcomes, errOf map[string]string) []string {
	balance := map[int]int64{}
	ledger := map[int]int64{}
	tags := map[string]int{}
	for i := range b.c.Config.Datanodes {
		dsn := b.c.DatanodeDSN(i, "postgres")
		for _, row := range directStrings(t, dsn, "SELECT id || ' ' || balance FROM chaos_accounts") {
			var id int
			var bal int64
			fmt.Sscan(row, &id, &bal)
			balance[id] += bal
		}
		for _, row := range directStrings(t, dsn, "SELECT src || ' ' || dst || ' ' || amount || ' ' || tag FROM chaos_ledger") {
			var src, dst, amount int
			var tag string
			fmt.Sscan(row, &src, &dst, &amount, &tag)
			ledger[src] -= int64(amount)
			ledger[dst] += int64(amount)
			tags[tag]++
		}
	}
	var out []string
	var total int64
	for id := 1; id <= chaosAccounts; id++ {
		total += balance[id]
		if balance[id] != chaosInitial+ledger[id] {
			out = append(out, fmt.Sprintf("account %d: balance %d, but the ledger says %d: a transfer is half applied",
				id, balance[id], chaosInitial+ledger[id]))
		}
	}
	if total != chaosTotal {
		out = append(out, fmt.Sprintf("total %d on the datanodes, want %d", total, chaosTotal))
	}
	for tag, o := range outcomes {
		switch n := tags[tag]; {
		case n > 1:
			out = append(out, fmt.Sprintf("transfer %s is in the ledger %d times", tag, n))
		case o == "committed" && n == 0:
			out = append(out, fmt.Sprintf("transfer %s: the client got COMMIT, but it is not there (a lost commit)", tag))
		case o == "failed" && n == 1:
			out = append(out, fmt.Sprintf("transfer %s: the client got an error that says it did not commit, but it did: %s", tag, errOf[tag]))
		}
	}
	sort.Strings(out)
	return out
}

// directStrings runs a one-column query on a datanode, bypassing the proxies.
func directStrings(t *testing.T, dsn, sql string) []string {
	t.Helper()
	conn := connect(t, dsn, true)
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// chaosTable prints the matrix.
func chaosTable(results []chaosResult, window time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos matrix: faults between coord1 and datanode1 or the gtm, %v window (XLGO_CHAOS_DURATION); bounds: statement %v, COMMIT %v, ROLLBACK %v, connect %v\n",
		window, stmtBound, commitBound, rollbackBound, connectBound)
	for _, f := range chaosFaults {
		fmt.Fprintf(&b, "  %-7s %s, for %.0f%% of the window\n", f.name, f.what, f.window*100)
	}
	fmt.Fprintf(&b, "%-7s %-9s %-5s %6s %7s %-44s %5s %8s %-13s %7s %5s %s\n",
		"fault", "link", "load", "calls", "answers", "errors by SQLSTATE", "over", "max", "transfers", "settle", "prep", "invariant")
	for _, r := range results {
		var codes []string
		for code := range r.errs {
			codes = append(codes, code)
		}
		sort.Strings(codes)
		var errs []string
		for _, code := range codes {
			errs = append(errs, fmt.Sprintf("%s:%d", code, r.errs[code]))
		}
		inv := "ok"
		if !r.invariant || len(r.problems) > 0 {
			inv = "FAIL"
		}
		fmt.Fprintf(&b, "%-7s %-9s %-5s %6d %7d %-44s %5d %8v %-13s %7v %5d %s\n",
			r.fault, r.link, r.workload, r.calls, r.answers, strings.Join(errs, " "), r.over, r.maxLatency.Round(time.Millisecond),
			fmt.Sprintf("%d/%d/%d", r.committed, r.failed, r.ambiguous), r.settle.Round(100*time.Millisecond), r.prepared, inv)
	}
	b.WriteString("transfers: committed/failed/outcome unknown to the client (08007, 40003); over: calls past their bound; settle: the wait for no prepared transaction\n")
	return b.String()
}
