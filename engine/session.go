package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/pooler"
	"github.com/xlgo/xlgo/server"
	"github.com/xlgo/xlgo/txn"
)

// session is one client's connection to the cluster: its backends on the
// datanodes, its settings, and its transaction.
type session struct {
	id uint64
	co *Coordinator
	// deadlockVictim: the running statement was cancelled to break a
	// distributed deadlock; its error becomes 40P01.
	deadlockVictim atomic.Bool
	// fenceVictim: the running statement was cancelled because it held up
	// a catalog fence (drainCatalog) too long.
	fenceVictim atomic.Bool
	// deadlockCancels counts the CancelRequests sent to break a deadlock
	// that have not reached their datanode yet: one may still stop the
	// next statement instead, whose error is then 40P01 too.
	deadlockCancels atomic.Int32
	user, db        string
	log             *slog.Logger
	// home is the datanode the session started on (the preferred one, or
	// the next that answered): where its search path is read.
	home string

	mu    sync.Mutex // guards conns, stmtConns, stopWork and stopWait against Cancel
	conns map[string]*pooler.Conn
	// stmtConns are the backends the running statement was given: a cancel
	// reaches those of them that run something.
	stmtConns []*pooler.Conn
	// stopWork ends the coordinator's own work on the running statement
	// (its primitives' sorting, joining, aggregating): a cancel or the
	// statement timeout.
	stopWork context.CancelCauseFunc
	// stopWait ends the wait of the running statement at the coordinator
	// (for the snapshot gate, for a free backend): a cancel.
	stopWait context.CancelCauseFunc
	// guard ends the running statement's datanode work when they do not
	// answer in time (guard.go).
	guard *stmtGuard
	// idleGuard is the guard the next statement takes when its context
	// has not ended.
	idleGuard *stmtGuard
	// stmtStart is when the client's running statement started (its
	// statement_timeout counts from there).
	stmtStart time.Time
	// stmtNodes counts the backends the running statement used (metrics).
	stmtNodes atomic.Int32
	// appName is the client's application_name at startup; appSQL names
	// the session on its backends (beginStatements).
	appName, appSQL string
	// gate is the session's hold on the snapshot gate, nil when it holds
	// none. Only the session's goroutine touches it: while it holds the
	// gate, the session waits neither for the gate again nor for a backend.
	gate *gateHold
	// noticeMu makes the notices of backends that run at once (the
	// PREPAREs and COMMIT PREPAREDs of a commit) reach the client one by one.
	noticeMu sync.Mutex
	// A CancelRequest that comes while the client's statement runs also
	// stops the datanode statements it has yet to send (the cancel would be
	// lost when it came before any was busy): stmtSeq counts the client's
	// statements (0 between them), cancelledSeq is the one cancelled.
	stmtSeq, cancelledSeq, nextSeq atomic.Uint64
	// timeout is the session's statement_timeout as the datanodes have it,
	// when timeoutKnown (a SET or a transaction's end forgets it).
	timeout      time.Duration
	timeoutKnown bool
	// readCommitted: the session's default_transaction_isolation is READ
	// COMMITTED (known with timeoutKnown).
	readCommitted bool
	// Backends are held for a transaction and returned to the pool after
	// it (transaction pooling), unless the session is pinned to them by
	// state that lives in the backend (advisory locks, set_config).
	pinned      bool
	sets        []string // SET statements every backend of the session gets
	startupSets []string // the ones from the startup packet (what RESET ALL returns to)

	searchPath []string
	scope      string // routeScope, made once per search path
	// routed is the plan of the statement routeByText runs.
	routed     planner.RemoteQuery
	routedNode [1]string
	tx         txState
	w          server.ResultWriter // the writer of the message being run, for notices

	// Global sequences: the GTM names of sequences, the session's last values.
	seqNames   map[string]string
	lastSeq    map[string]int64
	lastVal    int64
	hasLastVal bool
	defaultRR  bool // default_transaction_isolation is repeatable read
	idleInTx   time.Duration

	// Extended query protocol.
	stmts   map[string]*preparedStmt
	portals map[string]*portal
	inBatch bool // between the first extended-protocol message and Sync

	// stmtGen is 1 + the catalog generation the running statement began
	// under, 0 when none runs (see drainCatalog).
	stmtGen atomic.Uint64
	// mover: the session moves rows between nodes; its statements do not
	// hold up catalog changes (it waits for them itself).
	mover bool
}

// txState is the state of the session's transaction.
type txState struct {
	active    bool // a transaction is open on the datanodes the session touches
	explicit  bool // opened by BEGIN (else one statement or one Query message)
	failed    bool // an error happened in an explicit block: only ROLLBACK now
	beginSQL  string
	begun     map[string]bool // nodes with BEGIN sent
	writes    map[string]bool // nodes written
	localSets []string        // SET LOCAL / SET TRANSACTION replayed on nodes joined later
	sets      []string        // session SETs made in the transaction: the session's once it commits
	ddl       bool            // the catalog changed: bump the epoch after commit
	fence     bool            // ... as a fence (see drainCatalog)
	// rr: REPEATABLE READ. Its snapshots are taken on every datanode at
	// once, inside the read gate, before its first statement.
	rr            bool
	snapshotTaken bool
	// savepoints open, oldest first: a node joining later gets them too, so
	// ROLLBACK TO undoes its work as well.
	savepoints []string
	// rel is a REPEATABLE READ transaction's catalog (of generation
	// relGen); moved: a later catalog places rows elsewhere.
	rel    *catalog.Relations
	relGen uint64
	moved  bool
}

// ID is the session's id, in its log lines, the admin console and
// pgxc_stat_activity.
func (s *session) ID() uint64 { return s.id }

func (s *session) TxStatus() byte {
	switch {
	case s.tx.explicit && s.tx.failed:
		return 'E'
	case s.tx.explicit:
		return 'T'
	}
	return 'I'
}

// Cancel is a client's CancelRequest (or the statement timeout): the
// running statement stops, at the datanodes and at the coordinator, and
// sends nothing more.
func (s *session) Cancel() {
	if seq := s.stmtSeq.Load(); seq != 0 {
		s.cancelledSeq.Store(seq)
	}
	s.mu.Lock()
	if s.stopWork != nil {
		s.stopWork(errUserCancel)
	}
	if s.stopWait != nil {
		s.stopWait(errUserCancel)
	}
	s.cancelGuardLocked()
	s.mu.Unlock()
	s.cancelBusy(false)
}

// cancelBusy cancels the statements that the running statement's backends
// run (the deadlock detector's cancel: the victim waits on one of them). It
// runs on another goroutine than the session's, so it reads no state of the
// backends: a backend the statement has finished with forgets the cancel
// (PostgreSQL ignores one that finds it idle). The cancels are on their way
// before mu is released: a backend the session gives back after that is
// kept out of the pool by Put until its cancel has been delivered, and one
// given back before is not the session's to cancel.
func (s *session) cancelBusy(deadlock bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.stmtConns {
		if !deadlock {
			c.CancelAsync(nil)
			continue
		}
		s.deadlockCancels.Add(1)
		c.CancelAsync(func() { s.deadlockCancels.Add(-1) })
	}
}

// forgetStmtConnLocked drops a backend the session gives up from the
// running statement's (mu held).
func (s *session) forgetStmtConnLocked(c *pooler.Conn) {
	if i := slices.Index(s.stmtConns, c); i >= 0 {
		s.stmtConns = slices.Delete(s.stmtConns, i, i+1)
	}
}

// newStatement forgets a deadlock cancel of an earlier statement, unless
// one is still on its way.
func (s *session) newStatement() {
	if s.deadlockCancels.Load() == 0 {
		s.deadlockVictim.Store(false)
		s.fenceVictim.Store(false)
	}
}

func (s *session) Close() {
	defer s.releaseGuard()
	s.co.registry.Delete(s.id)
	s.leaveGate("session closed")
	if s.tx.active {
		s.rollback(context.Background())
	}
	s.mu.Lock()
	conns := s.conns
	s.conns = map[string]*pooler.Conn{}
	clear(s.stmtConns)
	s.stmtConns = s.stmtConns[:0]
	s.mu.Unlock()
	for _, c := range conns {
		if s.pinned {
			s.co.Pool.Discard(c)
		} else {
			s.co.Pool.Put(c)
		}
	}
}

// releaseConns gives the backends back to the pool between transactions.
func (s *session) releaseConns() {
	if s.tx.active || s.pinned {
		return
	}
	var buf [4]*pooler.Conn
	conns := buf[:0]
	s.mu.Lock()
	for _, c := range s.conns {
		conns = append(conns, c)
		s.forgetStmtConnLocked(c)
	}
	clear(s.conns)
	s.mu.Unlock()
	for _, c := range conns {
		s.co.Pool.Put(c)
	}
}

// settingsKey names the session's settings, to find backends that have them
// (an FNV-1a hash of the SET statements).
func (s *session) settingsKey() string {
	if len(s.sets) == 0 {
		return ""
	}
	h := uint64(14695981039346656037)
	for _, set := range s.sets {
		for i := 0; i < len(set); i++ {
			h = (h ^ uint64(set[i])) * 1099511628211
		}
		h *= 1099511628211 // the separator, a zero byte
	}
	return strconv.FormatUint(h, 16)
}

// acquire borrows a backend on a datanode with the session's settings.
func (s *session) acquire(ctx context.Context, node string) (*pooler.Conn, error) {
	key := pooler.Key{Node: node, Database: s.db, User: s.user}
	// An idle backend set as the session needs: no wait to bound.
	c := s.co.Pool.TryIdle(key, s.settingsKey())
	var err error
	switch {
	case c != nil:
	case s.gate != nil:
		// Whoever would give a backend back may wait for the gate.
		c, err = s.co.Pool.GetNoWait(ctx, key, s.settingsKey())
	default:
		wctx, done := s.waitContext(ctx, 0)
		c, err = s.co.Pool.Get(wctx, key, s.settingsKey())
		if err != nil && wctx.Err() != nil {
			err = waitError(ctx, wctx, err, "")
		}
		done()
	}
	if err != nil {
		return nil, err
	}
	if want := s.settingsKey(); c.Settings != want {
		var sqls []string
		if c.Settings != "" {
			sqls = append(sqls, "DISCARD ALL")
		}
		sqls = append(sqls, s.sets...)
		for _, sql := range sqls {
			if _, err := c.Exec(ctx, sql).ReadAll(); err != nil {
				s.co.Pool.Discard(c)
				return nil, executor.NodeError(node, err)
			}
		}
		if c.Settings != "" {
			c.ForgetPrepared() // DISCARD ALL dropped them
		}
		c.Settings = want
	}
	// Statements prepared before a catalog change may no longer fit it.
	if gen := s.co.Cache.Generation(); c.PreparedGen != gen {
		if c.HasPrepared() {
			if _, err := c.Exec(ctx, "DEALLOCATE ALL").ReadAll(); err != nil {
				s.co.Pool.Discard(c)
				return nil, executor.NodeError(node, err)
			}
		}
		c.ForgetPrepared()
		c.PreparedGen = gen
	}
	return c, nil
}

// conn is the session's backend on a datanode, borrowed when first needed.
func (s *session) conn(ctx context.Context, node string) (*pooler.Conn, error) {
	s.mu.Lock()
	c := s.conns[node]
	s.mu.Unlock()
	if c != nil && !c.IsClosed() {
		s.inUse(c)
		return c, nil
	}
	if s.tx.active && s.tx.begun[node] {
		// The transaction's work on the node went with its backend: a new
		// backend would run what follows outside it (in autocommit, or
		// in a transaction of its own), and the commit would apply it
		// without what was lost.
		return nil, pgerr.New(pgerr.ConnectionFailure, "lost connection to datanode %s during the transaction; it can only be rolled back", node)
	}
	if n, ok := s.co.Nodes.Node(node); !ok || !n.IsDatanode() {
		return nil, pgerr.New(pgerr.UndefinedObject, "PGXC Node %s: object not defined", node)
	}
	c, err := s.acquire(ctx, node)
	if err != nil {
		return nil, err
	}
	c.SetNoticeHandler(s.notice)
	s.mu.Lock()
	s.conns[node] = c
	s.mu.Unlock()
	s.inUse(c)
	return c, nil
}

// inUse notes a backend the running statement uses, for Cancel.
func (s *session) inUse(c *pooler.Conn) {
	if s.stmtSeq.Load() == 0 {
		return
	}
	s.mu.Lock()
	if !slices.Contains(s.stmtConns, c) {
		s.stmtConns = append(s.stmtConns, c)
		s.stmtNodes.Add(1)
	}
	s.mu.Unlock()
}

// notice passes a backend's notice to the client. The backends of a commit
// run at once, each on its own goroutine: their notices take turns.
func (s *session) notice(n *pgconn.Notice) {
	s.noticeMu.Lock()
	defer s.noticeMu.Unlock()
	if s.w == nil {
		return
	}
	s.w.Notice(&pgproto3.NoticeResponse{Severity: n.Severity, SeverityUnlocalized: n.SeverityUnlocalized, Code: n.Code,
		Message: n.Message, Detail: n.Detail, Hint: n.Hint, Where: n.Where})
}

// dropConn forgets a backend that broke.
func (s *session) dropConn(node string) {
	s.mu.Lock()
	c := s.conns[node]
	delete(s.conns, node)
	if c != nil {
		s.forgetStmtConnLocked(c)
	}
	s.mu.Unlock()
	if c != nil {
		s.co.Pool.Discard(c)
	}
}

// Conn implements executor.Backends: the backend joined to the open
// transaction, if any.
func (s *session) Conn(ctx context.Context, node string, write bool) (*pooler.Conn, error) {
	c, _, err := s.join(ctx, node, write, false)
	return c, err
}

// ConnBegin implements executor.Backends: a node that joins the open
// transaction with a statement gets its BEGIN in the statement's round trip.
func (s *session) ConnBegin(ctx context.Context, node string, write bool) (*pooler.Conn, string, error) {
	return s.join(ctx, node, write, true)
}

// join gives the session's backend on node, joined to the open transaction:
// a node that has not started it starts it now, or, when deferBegin allows
// and the node needs only its BEGIN, gives that BEGIN to send with the next
// statement.
func (s *session) join(ctx context.Context, node string, write, deferBegin bool) (*pooler.Conn, string, error) {
	if err := s.cancelErr(); err != nil {
		return nil, "", err
	}
	if s.tx.active && s.tx.rr && !s.tx.snapshotTaken {
		if err := s.takeSnapshots(ctx); err != nil {
			return nil, "", err
		}
	}
	c, err := s.conn(ctx, node)
	if err != nil {
		return nil, "", err
	}
	begin := ""
	if s.tx.active && !s.tx.begun[node] {
		s.tx.begun[node] = true
		if deferBegin && !s.tx.hasJoinStatements() {
			begin = s.beginStatements()
		} else {
			if _, err := c.Exec(ctx, s.beginStatements()).ReadAll(); err != nil {
				delete(s.tx.begun, node)
				s.dropConn(node)
				return nil, "", executor.NodeError(node, err)
			}
			for _, set := range s.tx.joinStatements() {
				if _, err := c.Exec(ctx, set).ReadAll(); err != nil {
					return nil, "", executor.NodeError(node, err)
				}
			}
		}
	}
	if write && s.tx.active {
		s.tx.writes[node] = true
	}
	return c, begin, nil
}

// beginStatements start the transaction on a datanode: its BEGIN, then
// the session's name in the backend's application_name for the rest of
// the transaction ("xlgo COORD sID CLIENT-APPLICATION", PostgreSQL keeps 63
// bytes), so that pg_stat_activity on the datanodes and pgxc_stat_activity
// tell whose work a backend does, with the session id of the coordinator's
// log lines. Both go in one round trip, as one simple query or, separated
// by executor.BeginSep, in one pipeline.
func (s *session) beginStatements() string {
	if s.appSQL == "" {
		name := fmt.Sprintf("xlgo %s s%d %s", s.co.Name, s.id, s.appName)
		s.appSQL = "SET LOCAL application_name = " + quoteLiteral(strings.TrimSpace(name))
	}
	return s.tx.beginSQL + executor.BeginSep + s.appSQL
}

// hasJoinStatements tells whether joinStatements has any.
func (t *txState) hasJoinStatements() bool {
	return len(t.sets) > 0 || len(t.localSets) > 0 || len(t.savepoints) > 0
}

// joinStatements bring a node that joins the transaction late to its state:
// settings made in it, then its savepoints.
func (t *txState) joinStatements() []string {
	out := append(append([]string(nil), t.sets...), t.localSets...)
	for _, sp := range t.savepoints {
		out = append(out, "SAVEPOINT "+quoteIdent(sp))
	}
	return out
}

func (s *session) begin(explicit bool, beginSQL string) {
	s.tx = txState{active: true, explicit: explicit, beginSQL: beginSQL, begun: map[string]bool{}, writes: map[string]bool{}, rr: s.defaultRR}
	if s.tx.beginSQL == "" {
		s.tx.beginSQL = "BEGIN"
	}
}

// Sent implements executor.Backends: a cancel of the running statement
// that came before c was busy is sent to c's datanode now.
func (s *session) Sent(c *pooler.Conn) {
	if s.cancelErr() != nil {
		c.CancelAsync(nil)
	}
}

// cancelErr is the error of a statement cancelled before it sent what it
// is about to send.
func (s *session) cancelErr() error {
	if seq := s.stmtSeq.Load(); seq != 0 && s.cancelledSeq.Load() == seq {
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
	return nil
}

// relations is the session database's distribution catalog.
func (s *session) relations(ctx context.Context) (*catalog.Relations, error) {
	load := func(ctx context.Context) (*catalog.Relations, error) {
		node, ok := s.co.preferredDatanode()
		if !ok {
			return &catalog.Relations{Tables: map[string]*catalog.Table{}, DistViews: map[string]bool{}}, nil
		}
		// Read through the session's backend so that a transaction's own
		// DDL is seen by its later statements.
		c, err := s.Conn(ctx, node.Name, false)
		if err != nil {
			return nil, err
		}
		return catalog.Load(ctx, c.PgConn)
	}
	if s.tx.ddl {
		// This transaction's own catalog changes are not for other sessions.
		return load(ctx)
	}
	gen := s.co.Cache.Generation()
	if s.tx.rr && s.tx.active && s.tx.rel != nil && s.tx.relGen == gen {
		return s.tx.rel, nil
	}
	rel, err := s.co.Cache.Get(ctx, s.db, !s.co.catalogFresh(), load)
	if err != nil || !s.tx.rr || !s.tx.active {
		return rel, err
	}
	// A REPEATABLE READ transaction reads with the snapshots it took at its
	// start: rows that switched nodes since are, in those snapshots, where
	// the catalog of its start says. It keeps that placement for its reads;
	// a write where the placement changed is a serialization failure.
	if s.tx.rel != nil && !samePlacement(s.tx.rel, rel) {
		s.tx.moved = true
		return s.tx.rel, nil
	}
	s.tx.rel, s.tx.relGen = rel, gen
	return rel, nil
}

// samePlacement tells whether two catalogs place the rows of every table
// both have alike (a table made or dropped since is no move).
func samePlacement(a, b *catalog.Relations) bool {
	for k, t := range a.Tables {
		u, ok := b.Tables[k]
		if !ok {
			continue
		}
		if t.Locator.Kind != u.Locator.Kind || t.Locator.Column != u.Locator.Column ||
			!slices.Equal(t.Locator.Nodes, u.Locator.Nodes) ||
			!slices.Equal(t.Locator.Map.Full(len(t.Locator.Nodes)), u.Locator.Map.Full(len(u.Locator.Nodes))) {
			return false
		}
	}
	return true
}

// placementMoved refuses a write of a REPEATABLE READ transaction whose
// tables' rows switched nodes since it began.
func (s *session) placementMoved() error {
	if s.tx.moved {
		return pgerr.New(pgerr.SerializationFailure, "could not serialize access due to a concurrent redistribution")
	}
	return nil
}

// movesHere are the moves of the session's database for
// pgxc_rebalance_status: those this coordinator runs, with their progress,
// then those the gtm records that run elsewhere or were cut short.
func (s *session) movesHere() []planner.MoveStatus {
	out := s.co.movesOf(s.db)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recorded := s.co.gtmMoves(ctx, s.db)
	for _, m := range out {
		delete(recorded, m.Table)
	}
	for _, k := range slices.Sorted(maps.Keys(recorded)) {
		out = append(out, recorded[k])
	}
	return out
}

func (s *session) env(ctx context.Context) (*planner.Env, error) {
	rel, err := s.relations(ctx)
	if err != nil {
		return nil, err
	}
	return &planner.Env{Rel: rel, Nodes: s.co.planNodes(), Groups: s.co.Nodes.Groups(), SearchPath: s.searchPath, User: s.user, Moves: s.movesHere,
		StatActivity: func() ([]planner.BackendActivity, error) { return s.statActivity(ctx) }}, nil
}

// refreshSearchPath reads the schemas names resolve in, from a datanode.
func (s *session) refreshSearchPath(ctx context.Context) error {
	node, ok := s.co.preferredDatanode()
	if s.home != "" {
		node, ok = s.co.Nodes.Node(s.home)
	}
	if !ok {
		return nil
	}
	c, err := s.Conn(ctx, node.Name, false)
	if err != nil {
		return err
	}
	// The statement_timeout comes with it, for the statement guard.
	res, err := c.Exec(ctx, "SELECT array_to_string(current_schemas(true), ','), current_setting('statement_timeout'), current_setting('default_transaction_isolation')").ReadAll()
	if err != nil {
		return executor.NodeError(node.Name, err)
	}
	if len(res) == 1 && len(res[0].Rows) == 1 {
		s.searchPath = strings.Split(string(res[0].Rows[0][0]), ",")
		s.scope = ""
		s.timeout = parseGUCDuration(string(res[0].Rows[0][1]))
		s.readCommitted = string(res[0].Rows[0][2]) == "read committed"
		s.timeoutKnown = true
	}
	return nil
}

// SimpleQuery implements Session.
func (s *session) SimpleQuery(ctx context.Context, sql string, w server.ResultWriter) error {
	s.w = w
	defer func() { s.w = nil }()
	stmts, err := dialect.SplitStatements(sql)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return w.EmptyQuery()
	}
	implicit := false
	if len(stmts) > 1 && !s.tx.active {
		// A Query message of several statements is one transaction, as in PostgreSQL.
		s.begin(false, "")
		implicit = true
	}
	for _, text := range stmts {
		if err := s.statement(ctx, text, w, implicit); err != nil {
			if s.tx.active {
				if s.tx.explicit {
					s.failTx(ctx)
				} else {
					s.rollback(ctx)
				}
			}
			s.releaseConns()
			return err
		}
	}
	if implicit && s.tx.active && !s.tx.explicit {
		err = s.commit(ctx)
	}
	s.releaseConns()
	return err
}

// statement runs one statement of a Query message.
func (s *session) statement(ctx context.Context, text string, w server.ResultWriter, inMulti bool) error {
	s.newStatement()
	ctx, guard, done := s.statementRuns(ctx)
	defer done()
	err := s.deadlockError(guard.clientError(s.whileMoving(ctx, func() error { return s.runStatement(ctx, text, w, inMulti) })))
	s.statementEnded(text, err)
	return err
}

// statementEnded counts a client statement in the metrics and logs it when
// it ran at least log-min-duration-statement.
func (s *session) statementEnded(text string, err error) {
	s.co.Metrics.statement(text, s.stmtStart, int(s.stmtNodes.Load()), err)
	if min := time.Duration(s.co.logMinDuration.Load()); min >= 0 {
		if d := time.Since(s.stmtStart); d >= min {
			attrs := []any{"duration_ms", float64(d.Microseconds()) / 1000, "statement", text, "datanodes", s.stmtNodes.Load()}
			if err != nil {
				attrs = append(attrs, "err", err)
			}
			s.log.Info("slow statement", attrs...)
		}
	}
}

// deadlockError turns the cancel that broke a distributed deadlock into
// PostgreSQL's deadlock error.
func (s *session) deadlockError(err error) error {
	if s.fenceVictim.Swap(false) && err != nil && pgerr.Is(err, pgerr.QueryCanceled) {
		return &pgconn.PgError{Severity: "ERROR", Code: pgerr.SerializationFailure, Message: "could not serialize access due to a concurrent redistribution",
			Detail: "The statement began before rows switched nodes and still ran when the switch was due; it was cancelled."}
	}
	if s.deadlockVictim.Swap(false) && err != nil && pgerr.Is(err, pgerr.QueryCanceled) {
		return &pgconn.PgError{Severity: "ERROR", Code: pgerr.DeadlockDetected, Message: "deadlock detected",
			Detail: "The transaction waited for locks on several datanodes in a cycle with other transactions; it was chosen to break the cycle."}
	}
	return err
}

// failTx aborts an explicit transaction block after an error, as
// PostgreSQL does: every datanode rolls back at once, releasing its locks;
// the block then refuses statements until ROLLBACK.
func (s *session) failTx(ctx context.Context) {
	s.tx.failed = true
	if len(s.tx.savepoints) > 0 {
		// ROLLBACK TO a savepoint may still rescue the transaction.
		return
	}
	var nodes []string
	for n := range s.tx.begun {
		nodes = append(nodes, n)
	}
	s.abortNodes(ctx, nodes)
	s.tx.begun = map[string]bool{}
	s.tx.writes = map[string]bool{}
}

func (s *session) runStatement(ctx context.Context, text string, w server.ResultWriter, inMulti bool) error {
	st, err := dialect.Parse(text)
	if err != nil {
		return err
	}
	if s.tx.failed {
		if p, ok := st.(*dialect.Passthrough); ok && isTxEnd(p.SQL) {
			return s.passthrough(ctx, p, w, inMulti)
		}
		return pgerr.New(pgerr.InFailedSqlTransaction, "current transaction is aborted, commands ignored until end of transaction block")
	}
	if p, ok := st.(*dialect.Passthrough); ok {
		return s.passthrough(ctx, p, w, inMulti)
	}
	tag, err := s.xlStatement(ctx, st, w)
	if err != nil {
		return err
	}
	return w.CommandComplete(tag)
}

func isTxEnd(sql string) bool {
	res, err := pg_query.Parse(sql)
	if err != nil || len(res.Stmts) != 1 {
		return false
	}
	ts := res.Stmts[0].Stmt.GetTransactionStmt()
	if ts == nil {
		return false
	}
	switch ts.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT, pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK,
		pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return true
	}
	return false
}

// txStmtCache keeps the parse trees of transaction control statements
// (BEGIN, COMMIT, END ...), which come with every transaction, by text.
// The trees are only read.
var txStmtCache struct {
	sync.Map
	n atomic.Int32
}

// parseSQL parses one statement with PostgreSQL's parser.
func parseSQL(sql string) (*pg_query.Node, error) {
	if n, ok := txStmtCache.Load(sql); ok {
		return n.(*pg_query.Node), nil
	}
	node, err := parseOneStatement(sql)
	if err == nil && node.GetTransactionStmt() != nil && len(sql) <= 64 {
		if txStmtCache.n.Add(1) > 1000 {
			txStmtCache.Clear()
			txStmtCache.n.Store(0)
		}
		txStmtCache.Store(sql, node)
	}
	return node, err
}

func parseOneStatement(sql string) (*pg_query.Node, error) {
	res, err := pg_query.Parse(sql)
	if err != nil {
		var pe *pgparser.Error
		if errors.As(err, &pe) {
			return nil, &pgconn.PgError{Severity: "ERROR", Code: pgerr.SyntaxError, Message: pe.Message, Position: int32(pe.Cursorpos)}
		}
		return nil, pgerr.New(pgerr.SyntaxError, "%v", err)
	}
	if len(res.Stmts) != 1 {
		return nil, pgerr.New(pgerr.SyntaxError, "expected one statement")
	}
	return res.Stmts[0].Stmt, nil
}

// autocommit runs fn as its own transaction when none is open: the
// statement's writes on several nodes then commit with two-phase commit.
func (s *session) autocommit(ctx context.Context, fn func() error) error {
	if s.tx.active {
		return fn()
	}
	if s.inBatch {
		// An extended-protocol batch is one transaction, committed at Sync.
		s.begin(false, "")
		return fn()
	}
	s.begin(false, "")
	if err := fn(); err != nil {
		s.rollback(ctx)
		return err
	}
	return s.commit(ctx)
}

// run executes a plan and completes the command.
func (s *session) run(ctx context.Context, p planner.Plan, w server.ResultWriter) error {
	if rq, ok := p.(*planner.RemoteQuery); ok && rq.Copies != nil && s.tx.active {
		p = s.onJoinedCopy(rq)
	}
	if rq, ok := p.(*planner.RemoteQuery); ok && !s.tx.active && s.alone(rq) {
		tag, err := executor.Run(ctx, p, s, w)
		if err != nil {
			s.checkConns()
			return err
		}
		return w.CommandComplete(tag)
	}
	var tag string
	run := func() error {
		var err error
		tag, err = s.runWorking(ctx, p, w)
		return err
	}
	var err error
	if !s.tx.active && !s.inBatch && planner.ReadsANodeTwice(p) {
		// Several statements on one datanode answer this one: they share
		// one snapshot (taken on every datanode inside the read gate), as
		// PostgreSQL's single statement would.
		s.begin(false, "BEGIN ISOLATION LEVEL REPEATABLE READ")
		s.tx.rr = true
		if err = run(); err != nil {
			s.rollback(ctx)
		} else {
			err = s.commit(ctx)
		}
	} else {
		err = s.autocommit(ctx, run)
	}
	if err != nil {
		s.checkConns()
		return err
	}
	return w.CommandComplete(tag)
}

// onJoinedCopy sends a read of replicated tables to a copy on a node the
// transaction is on already, rather than adding a node to it (which would
// make it a transaction of several nodes).
func (s *session) onJoinedCopy(rq *planner.RemoteQuery) planner.Plan {
	if len(rq.Nodes) != 1 || s.tx.begun[rq.Nodes[0]] {
		return rq
	}
	for _, n := range rq.Copies {
		if s.tx.begun[n] {
			c := *rq
			c.Nodes = []string{n}
			c.SQL = map[string]string{n: rq.SQL[rq.Nodes[0]]}
			return &c
		}
	}
	return rq
}

// alone tells whether a statement outside a transaction needs none of
// ours: a statement on one node (but a write inside an extended-protocol
// batch, which commits at Sync), or a read of several nodes (it passes the
// read gate, which makes its snapshots agree, and has nothing to commit
// together) outside a batch or in a batch of READ COMMITTED, where no
// statement shares its snapshot with another.
func (s *session) alone(rq *planner.RemoteQuery) bool {
	if len(rq.Nodes) == 1 {
		return !(s.inBatch && rq.Write)
	}
	return !rq.Write && (!s.inBatch || s.timeoutKnown && s.readCommitted)
}

var (
	errUserCancel       = errors.New("canceling statement due to user request")
	errStatementTimeout = errors.New("canceling statement due to statement timeout")
)

// runWorking runs a plan; when the coordinator itself works on its rows
// (primitives over remote scans, the inputs of a Coordinator Evaluate), a
// cancel and the session's statement_timeout stop that work too, not only
// the datanodes' part.
func (s *session) runWorking(ctx context.Context, p planner.Plan, w server.ResultWriter) (string, error) {
	switch p.(type) {
	case *planner.SubPlan, *planner.GatherEval:
	default:
		if !planner.IsTree(p) {
			return executor.Run(ctx, p, s, w)
		}
	}
	timeout, err := s.statementTimeout(ctx)
	if err != nil {
		return "", err
	}
	work, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s.mu.Lock()
	s.stopWork = stop
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stopWork = nil
		s.mu.Unlock()
	}()
	if timeout > 0 {
		t := time.AfterFunc(timeout, func() {
			stop(errStatementTimeout)
			s.Cancel() // and what runs on the datanodes
		})
		defer t.Stop()
	}
	tag, err := executor.Run(work, p, s, w)
	if err != nil {
		switch context.Cause(work) {
		case errStatementTimeout:
			return "", pgerr.New(pgerr.QueryCanceled, "canceling statement due to statement timeout")
		case errUserCancel:
			return "", pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
		}
	}
	return tag, err
}

// statementTimeout is the session's statement_timeout, read from a
// datanode once after each change.
func (s *session) statementTimeout(ctx context.Context) (time.Duration, error) {
	if s.timeoutKnown {
		return s.timeout, nil
	}
	dn, ok := s.co.preferredDatanode()
	if !ok {
		return 0, nil
	}
	var c *pooler.Conn
	var err error
	if s.tx.active && !s.tx.begun[dn.Name] && !s.tx.hasJoinStatements() {
		// Outside the transaction the node has not joined (nothing of it
		// would change the answer): a REPEATABLE READ transaction takes
		// its snapshots with its first read, not before.
		c, err = s.conn(ctx, dn.Name)
	} else {
		c, err = s.Conn(ctx, dn.Name, false)
	}
	if err != nil {
		return 0, err
	}
	// SHOW takes no snapshot: a REPEATABLE READ transaction's are taken
	// by its reads, inside the read gate.
	res, err := c.Exec(ctx, "SHOW statement_timeout; SHOW default_transaction_isolation").ReadAll()
	if err != nil {
		return 0, executor.NodeError(dn.Name, err)
	}
	s.timeout = 0
	if len(res) == 2 && len(res[0].Rows) == 1 && len(res[1].Rows) == 1 {
		s.timeout = parseGUCDuration(string(res[0].Rows[0][0]))
		s.readCommitted = string(res[1].Rows[0][0]) == "read committed"
	}
	s.timeoutKnown = true
	s.mu.Lock()
	g := s.guard
	s.mu.Unlock()
	s.armGuard(g)
	return s.timeout, nil
}

// forgetTxSettings forgets what the transaction's SETs may have changed
// (a SET LOCAL ends with it, a rolled-back SET too).
func (s *session) forgetTxSettings() {
	if len(s.tx.localSets) > 0 || len(s.tx.sets) > 0 {
		s.timeoutKnown = false
	}
}

// parseGUCDuration reads a time setting as SHOW prints it ("0", "250ms",
// "30s", "5min", "1h", "1d"); 0 for anything else.
func parseGUCDuration(v string) time.Duration {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0
	}
	unit := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[strings.TrimSpace(v[i:])]
	return time.Duration(n) * unit
}

// statementRuns marks a client statement running until the returned func,
// and returns the context of its work, which its guard ends when its
// datanodes do not answer in time.
func (s *session) statementRuns(ctx context.Context) (context.Context, *stmtGuard, func()) {
	s.stmtStart = time.Now()
	s.stmtNodes.Store(0)
	s.stmtSeq.Store(s.nextSeq.Add(1))
	ctx, guard, unguard := s.guardStatement(ctx)
	gen := s.enterCatalog()
	if !s.timeoutKnown && !s.tx.active {
		// Learnt again after a transaction that set it (a new session
		// and a SET outside a transaction learn it at once); an error
		// comes again with the statement.
		s.statementTimeout(ctx)
	}
	return ctx, guard, func() {
		s.stmtGen.Store(gen)
		unguard()
		s.stmtSeq.Store(0)
		s.mu.Lock()
		clear(s.stmtConns)
		s.stmtConns = s.stmtConns[:0]
		s.mu.Unlock()
		s.leaveGate("statement ended")
	}
}

// checkConns drops backends that broke.
func (s *session) checkConns() {
	s.mu.Lock()
	var broken []string
	for n, c := range s.conns {
		if c.IsClosed() {
			broken = append(broken, n)
		}
	}
	s.mu.Unlock()
	for _, n := range broken {
		s.dropConn(n)
	}
}

// execAll runs a statement on every datanode in the current transaction.
func (s *session) execAll(ctx context.Context, sql string, write bool) (string, error) {
	var tag string
	for i, n := range s.co.Nodes.Datanodes() {
		c, err := s.Conn(ctx, n.Name, write)
		if err != nil {
			return "", err
		}
		if i > 0 {
			// Every node says the same: the client hears it once.
			c.SetNoticeHandler(nil)
		}
		res, err := c.Exec(ctx, sql).ReadAll()
		c.SetNoticeHandler(s.notice)
		if err != nil {
			return "", executor.NodeError(n.Name, err)
		}
		if len(res) > 0 {
			tag = res[len(res)-1].CommandTag.String()
		}
	}
	return tag, nil
}

func (s *session) datanodeNames() []string {
	var out []string
	for _, n := range s.co.Nodes.Datanodes() {
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out
}

// commit ends the transaction: one writer commits plainly; several commit
// with two-phase commit, the decision made durable at the GTM in between.
func (s *session) commit(ctx context.Context) error {
	s.forgetTxSettings()
	tx := s.tx
	s.tx = txState{}
	defer s.afterTx(ctx, tx)
	if len(tx.sets) > 0 {
		// Session SETs made in the transaction stay once it commits.
		defer func() {
			s.sets = s.normalizeSets(append(s.sets, tx.sets...))
			key := s.settingsKey()
			s.mu.Lock()
			for _, c := range s.conns {
				c.Settings = key
			}
			s.mu.Unlock()
		}()
	}
	var writers, readers []string
	for n := range tx.begun {
		if tx.writes[n] {
			writers = append(writers, n)
		} else {
			readers = append(readers, n)
		}
	}
	if len(writers) > 0 {
		// The transaction manager bounds a commit of writes; the
		// statement's guard goes on bounding a read-only one.
		s.guardOff()
	}
	start := time.Now()
	res, err := s.co.txnManager().Commit(ctx, sessionBackends{s}, readers, writers)
	s.co.Metrics.commit(len(writers), start, res.Warning != "", err)
	if res.Warning != "" {
		s.clientNotice(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: pgerr.Warning, Message: res.Warning})
	}
	return err
}

// sessionBackends are the session's backends as the transaction manager
// runs statements on them.
type sessionBackends struct{ s *session }

func (b sessionBackends) Exec(ctx context.Context, node, sql string) (string, error) {
	tag, err := b.s.simple(ctx, node, sql)
	if err == nil {
		err = b.s.fenced(node)
	}
	return tag, err
}

// fenced fails a statement of a commit that its backend answered from a
// datanode's old address, failed over meanwhile: the old primary is fenced,
// and its answer says nothing of the promoted standby. (A PREPARE or COMMIT
// sent before a partition reaches the old primary when it heals; a cancel
// of its wait for the lost synchronous standby then makes it answer OK,
// "committed locally, but might not have been replicated".) The statement's
// fate on the node that counts is unknown: a PREPARE is rolled back by the
// gtm's logged abort, a COMMIT PREPARED applied on the promoted standby.
func (s *session) fenced(node string) error {
	s.mu.Lock()
	c := s.conns[node]
	s.mu.Unlock()
	n, ok := s.co.Nodes.Node(node)
	if c == nil || !ok || c.Host == "" || (c.Host == n.Host && c.Port == n.Port) {
		return nil
	}
	return fmt.Errorf("%w (%w)", &pgconn.PgError{Severity: "ERROR", Code: pgerr.ConnectionFailure,
		Message: fmt.Sprintf("datanode %s failed over to %s:%d while its backend at %s:%d answered; the answer does not count", node, n.Host, n.Port, c.Host, c.Port)},
		txn.ErrNoAnswer)
}

// clientNotice sends the client a notice of the coordinator's own.
func (s *session) clientNotice(n *pgproto3.NoticeResponse) {
	s.noticeMu.Lock()
	defer s.noticeMu.Unlock()
	if s.w != nil {
		s.w.Notice(n)
	}
}

func (s *session) rollback(ctx context.Context) {
	s.forgetTxSettings()
	tx := s.tx
	s.tx = txState{}
	defer s.afterTx(ctx, tx)
	var nodes []string
	for n := range tx.begun {
		nodes = append(nodes, n)
	}
	s.abortNodes(ctx, nodes)
}

// afterTx tells every coordinator about catalog changes a transaction made.
func (s *session) afterTx(ctx context.Context, tx txState) {
	if !tx.ddl {
		return
	}
	s.co.Cache.Invalidate()
	if s.co.GTM != nil {
		s.stmtGen.Store(0) // a fence must not wait for the statement that raised it
		bump := s.co.GTM.BumpCatalogEpoch
		if tx.fence {
			bump = s.co.GTM.BumpCatalogFence
		}
		if _, err := bump(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("catalog epoch bump failed", "err", err)
		}
	}
	s.refreshSearchPath(ctx)
}

// simple runs one statement on a node's backend and returns its command tag.
func (s *session) simple(ctx context.Context, node, sql string) (string, error) {
	s.mu.Lock()
	c := s.conns[node]
	s.mu.Unlock()
	if c == nil {
		return "", pgerr.New(pgerr.ConnectionDoesNotExist, "no connection to datanode %s", node)
	}
	s.inUse(c)
	open := !c.IsClosed()
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		if c.IsClosed() {
			s.dropConn(node)
		}
		var pe *pgconn.PgError
		if open && !errors.As(err, &pe) {
			// The connection broke while the statement was on its way or
			// run: it may have run. (pgconn reports a read that failed
			// after the statement was sent as "conn closed", which it
			// deems safe to retry, so that cannot tell.)
			return "", fmt.Errorf("%w (%w)", executor.NodeError(node, err), txn.ErrNoAnswer)
		}
		return "", executor.NodeError(node, err)
	}
	if len(res) == 0 {
		return "", nil
	}
	return res[len(res)-1].CommandTag.String(), nil
}

// IdleInTransactionTimeout implements IdleLimiter.
func (s *session) IdleInTransactionTimeout() time.Duration { return s.idleInTx }
