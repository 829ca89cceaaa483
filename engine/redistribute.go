package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/pooler"
)

// Online redistribution of a hash table: ALTER TABLE t ADD NODE / DELETE
// NODE / TO NODE. The table's node list first grows to every node old and
// new (empty on the new ones), with the target list recorded in pgxc_class
// (pctarget). Then the buckets that change owner move, one source and
// target pair at a time:
//
//  1. capture: statement triggers on the source log the distribution values
//     every write touches (pgxc.pgxc_move_log);
//  2. copy: the source's rows of those buckets go, through the
//     coordinator, into a staging table on the target (COPY both ways);
//  3. catch up: logged values are copied again, until few are left;
//  4. fence: the buckets are frozen in pgxc_class and the catalog epoch is
//     bumped as a fence: every coordinator acknowledges it once no statement
//     it planned before runs. An INSERT routed into a frozen bucket waits;
//     reads and other writes of it go to every node of the table;
//  5. switch, one distributed transaction: the source and the target are
//     locked against writers (EXCLUSIVE: reads go on), the last logged
//     values are caught up, the staging rows enter the table on the target,
//     the same rows leave the source (the counts must agree), the buckets get
//     their new owner and are thawed in pgxc_class on every datanode.
//
// Each switch commits with two-phase commit, so a crash anywhere leaves
// every row on exactly one node; running the statement again (xlctl
// rebalance --resume) clears what a cut-short move left (triggers, staging
// tables, frozen buckets) and goes on. Last, the node list becomes the
// target.

// moveSwitchTries bounds the attempts at a pair's switch (each waits up to
// moveLockTimeout for the writers of the table on the source, then up to
// moveSecondLockTimeout on the target).
const (
	moveSwitchTries       = 30
	moveLockTimeout       = "3s"
	moveSecondLockTimeout = "200ms"
	moveCatchUpLimit      = 200 // logged values left for the switch to catch up
	moveCatchUpBatch      = 5000
)

// movePair is the buckets that go from one node to another.
type movePair struct {
	src, dst string
	buckets  distribution.BucketSet
}

// moveStats is what a move has done, for its progress.
type moveStats struct {
	src, dst    string // the pair moving now
	rows, bytes int64
	buckets     int // switched
	total       int // to switch
	start       time.Time
}

// alterDistribution runs ALTER TABLE ... ADD NODE / DELETE NODE / TO NODE.
func (s *session) alterDistribution(ctx context.Context, x *dialect.AlterTableDistribution) (string, error) {
	if s.tx.active {
		return "", pgerr.New(pgerr.ActiveSqlTransaction, "ALTER TABLE ... redistribution cannot run inside a transaction block")
	}
	// A catalog made by an older xlgo gets the columns a move writes.
	if err := s.ensureCatalog(ctx); err != nil {
		return "", err
	}
	rel, err := s.relations(ctx)
	if err != nil {
		return "", err
	}
	schema, name := "", x.Names[len(x.Names)-1]
	if len(x.Names) > 1 {
		schema = x.Names[len(x.Names)-2]
	}
	t, _ := rel.Resolve(schema, name, s.searchPath)
	if t == nil {
		if x.IfExists {
			if s.noticesOff() {
				return "ALTER TABLE", nil
			}
			s.clientNotice(&pgproto3.NoticeResponse{Severity: "NOTICE", Code: "00000", Message: fmt.Sprintf("relation %q does not exist, skipping", x.Table)})
			return "ALTER TABLE", nil
		}
		return "", pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", x.Table)
	}
	target, err := s.targetNodes(t, x)
	if err != nil {
		return "", err
	}
	if t.RelKind == 'p' {
		return "", planner.Unsupported("ALTER TABLE ... DISTRIBUTE BY / ADD NODE / DELETE NODE / TO NODE of a partitioned table")
	}
	group := t.Group
	if x.Distribute != nil && (x.Distribute.ToGroup != "" || len(x.Distribute.ToNodes) > 0) {
		group = x.Distribute.ToGroup
		if group == "" {
			group = "-"
		}
		if len(x.Distribute.ToNodes) > 0 && sameSet(x.Distribute.ToNodes, s.datanodeNames()) {
			group = ""
		}
	}
	kind, col := t.Locator.Kind, t.Locator.Column
	if d := x.Distribute; d != nil && d.Kind != 0 {
		kind, col = distribution.Kind(d.Kind), d.Column
	}
	if kind == distribution.Hash && t.Locator.Kind == distribution.Hash && col == t.Locator.Column {
		err = s.moveTable(ctx, t, target, group)
	} else {
		err = s.rewriteTable(ctx, t, kind, col, target, group)
	}
	if err != nil {
		return "", err
	}
	return "ALTER TABLE", nil
}

// targetNodes is the node list an ALTER TABLE gives the table.
func (s *session) targetNodes(t *catalog.Table, x *dialect.AlterTableDistribution) ([]string, error) {
	nodes := slices.Clone(t.Locator.Nodes)
	if x.Distribute != nil {
		if x.Distribute.ToGroup != "" || len(x.Distribute.ToNodes) > 0 {
			n, err := s.resolveNodes(x.Distribute)
			if err != nil {
				return nil, err
			}
			nodes = slices.Clone(n)
		}
	}
	for _, n := range x.AddNodes {
		node, ok := s.co.Nodes.Node(n)
		if !ok || !node.IsDatanode() {
			return nil, pgerr.New(pgerr.UndefinedObject, "PGXC Node %s: object not defined", n)
		}
		if slices.Contains(nodes, n) {
			return nil, pgerr.New(pgerr.InvalidObjectDefinition, "Node %s is already in the node list of %s", n, t.QualifiedName())
		}
		nodes = append(nodes, n)
	}
	for _, n := range x.DeleteNodes {
		i := slices.Index(nodes, n)
		if i < 0 {
			return nil, pgerr.New(pgerr.InvalidObjectDefinition, "Node %s is not in the node list of %s", n, t.QualifiedName())
		}
		nodes = slices.Delete(nodes, i, i+1)
	}
	if len(nodes) == 0 {
		return nil, pgerr.New(pgerr.InvalidObjectDefinition, "a table needs at least one node")
	}
	return nodes, nil
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// stagingName is the name, in schema pgxc, of a table's staging table on
// a move's target.
func stagingName(t *catalog.Table) string {
	return fmt.Sprintf("pgxc_move_%016x", xxhash.Sum64String(t.Schema+"."+t.Name))
}

// moveTable moves a hash table's buckets so that it lives on target,
// evenly, and records its group.
func (s *session) moveTable(ctx context.Context, t *catalog.Table, target []string, group string) error {
	s.mover = true
	s.stmtGen.Store(0) // this statement routes nothing; fences must not wait for it
	defer func() {
		s.mover = false
		s.co.moves.Delete(s.moveProgressKey(t)) // done, or failed: its gtm record tells
	}()

	// The node list of the move: the present nodes, then the new ones.
	union := slices.Clone(t.Locator.Nodes)
	for _, n := range target {
		if !slices.Contains(union, n) {
			union = append(union, n)
		}
	}
	cur := slices.Clone(t.Locator.Map.Full(len(t.Locator.Nodes)))
	keep := make([]bool, len(union))
	for i, n := range union {
		keep[i] = slices.Contains(target, n)
	}
	want, err := distribution.EvenMap(cur, keep)
	if err != nil {
		return err
	}
	if err := s.clearMoveLeftovers(ctx, t); err != nil {
		return err
	}
	// The node list grows (the new nodes hold none of its rows yet) and
	// the target is recorded.
	if err := s.setPlacement(ctx, t, union, cur, nil, target, group, false); err != nil {
		return err
	}
	s.recordMove(ctx, t, target, "")
	var pairs []*movePair
	for b := range cur {
		if cur[b] == want[b] {
			continue
		}
		src, dst := union[cur[b]], union[want[b]]
		i := slices.IndexFunc(pairs, func(p *movePair) bool { return p.src == src && p.dst == dst })
		if i < 0 {
			pairs = append(pairs, &movePair{src: src, dst: dst})
			i = len(pairs) - 1
		}
		pairs[i].buckets.Add(b)
	}
	st := &moveStats{start: time.Now()}
	for _, p := range pairs {
		st.total += p.buckets.Len()
	}
	for _, p := range pairs {
		if err := s.movePair(ctx, t, union, cur, p, target, group, st); err != nil {
			return err
		}
		for _, b := range p.buckets.Buckets() {
			cur[b] = uint16(slices.Index(union, p.dst))
		}
	}
	srcs := map[string]bool{}
	for _, p := range pairs {
		if !srcs[p.src] {
			srcs[p.src] = true
			s.stopCapture(ctx, t, p.src)
		}
	}
	// Last, the node list becomes the target (the nodes left hold none of
	// the table's rows).
	final := make(distribution.BucketMap, len(cur))
	for b, i := range cur {
		j := slices.Index(target, union[i])
		if j < 0 {
			return fmt.Errorf("bucket %d of %s is still on %s", b, t.QualifiedName(), union[i])
		}
		final[b] = uint16(j)
	}
	if err := s.setPlacement(ctx, t, target, final, nil, nil, group, false); err != nil {
		return err
	}
	s.recordMove(ctx, t, nil, "")
	s.progress(t, st, "done")
	return nil
}

// setPlacement writes a table's node list, bucket map, frozen buckets and
// move target on every datanode in one transaction; the catalog epoch is
// then bumped (as a fence when fence is set).
func (s *session) setPlacement(ctx context.Context, t *catalog.Table, nodes []string, m distribution.BucketMap, frozen *distribution.BucketSet, target []string, group string, fence bool) error {
	return s.autocommit(ctx, func() error {
		s.tx.ddl = true
		s.tx.fence = fence
		_, err := s.execAll(ctx, placementSQL(t, nodes, m, frozen, target, group), true)
		return err
	})
}

// nodeArrays are the SQL literals of pgxc_class's nodeoids and pcnodenames
// for a node list.
func nodeArrays(nodes []string) (ids, names string) {
	var is, ns []string
	for _, n := range nodes {
		is = append(is, strconv.FormatUint(uint64(uint32(distribution.NodeID(n))), 10))
		ns = append(ns, nameElem(n))
	}
	return quoteLiteral("{" + strings.Join(is, ",") + "}"), quoteLiteral("{" + strings.Join(ns, ",") + "}")
}

func placementSQL(t *catalog.Table, nodes []string, m distribution.BucketMap, frozen *distribution.BucketSet, target []string, group string) string {
	ids, names := nodeArrays(nodes)
	mapText := "NULL"
	if m != nil {
		parts := make([]string, len(m))
		for i, v := range m {
			parts[i] = strconv.Itoa(int(v))
		}
		mapText = quoteLiteral("{" + strings.Join(parts, ",") + "}")
	}
	frozenText := "NULL"
	if frozen != nil {
		var parts []string
		for _, b := range frozen.Buckets() {
			parts = append(parts, strconv.Itoa(b))
		}
		frozenText = quoteLiteral("{" + strings.Join(parts, ",") + "}")
	}
	targetText := "NULL"
	if target != nil {
		var parts []string
		for _, n := range target {
			parts = append(parts, nameElem(n))
		}
		targetText = quoteLiteral("{" + strings.Join(parts, ",") + "}")
	}
	groupText := "NULL"
	if group != "" {
		groupText = quoteLiteral(group)
	}
	return fmt.Sprintf(`UPDATE pgxc.pgxc_class SET nodeoids = %s, pcnodenames = %s, pcbucketmap = %s, pcfrozen = %s, pctarget = %s, pcgroup = %s WHERE pcrelid = %s::regclass`,
		ids, names, mapText, frozenText, targetText, groupText,
		quoteLiteral(t.QualifiedName()))
}

func nameElem(n string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(n, `\`, `\\`), `"`, `\"`) + `"`
}

// captureFunctionSQL is the trigger function that logs the distribution
// values a statement's rows have, while the table is in
// pgxc.pgxc_move_active on this node (else it does nothing: triggers left
// behind cost a lookup, not a log).
const captureFunctionSQL = `CREATE TABLE IF NOT EXISTS pgxc.pgxc_move_active (relid oid PRIMARY KEY);
CREATE OR REPLACE FUNCTION pgxc.pgxc_move_capture() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pgxc.pgxc_move_active WHERE relid = TG_RELID) THEN
		RETURN NULL;
	END IF;
	IF TG_OP <> 'DELETE' THEN
		EXECUTE format('INSERT INTO pgxc.pgxc_move_log (relid, val) SELECT %s, (%I)::text FROM pgxc_move_new', TG_RELID, TG_ARGV[0]);
	END IF;
	IF TG_OP <> 'INSERT' THEN
		EXECUTE format('INSERT INTO pgxc.pgxc_move_log (relid, val) SELECT %s, (%I)::text FROM pgxc_move_old', TG_RELID, TG_ARGV[0]);
	END IF;
	RETURN NULL;
END $f$`

// captureTriggersSQL creates the capture triggers of a table.
func captureTriggersSQL(t *catalog.Table) string {
	q := t.QualifiedName()
	col := quoteLiteral(t.Locator.Column)
	return `CREATE TRIGGER pgxc_move_ins AFTER INSERT ON ` + q + ` REFERENCING NEW TABLE AS pgxc_move_new FOR EACH STATEMENT EXECUTE FUNCTION pgxc.pgxc_move_capture(` + col + `);
CREATE TRIGGER pgxc_move_upd AFTER UPDATE ON ` + q + ` REFERENCING OLD TABLE AS pgxc_move_old NEW TABLE AS pgxc_move_new FOR EACH STATEMENT EXECUTE FUNCTION pgxc.pgxc_move_capture(` + col + `);
CREATE TRIGGER pgxc_move_del AFTER DELETE ON ` + q + ` REFERENCING OLD TABLE AS pgxc_move_old FOR EACH STATEMENT EXECUTE FUNCTION pgxc.pgxc_move_capture(` + col + `)`
}

func dropCaptureSQL(t *catalog.Table) string {
	q := t.QualifiedName()
	return "DROP TRIGGER IF EXISTS pgxc_move_ins ON " + q + "; DROP TRIGGER IF EXISTS pgxc_move_upd ON " + q + "; DROP TRIGGER IF EXISTS pgxc_move_del ON " + q
}

// hasCaptureSQL counts a table's capture triggers.
func hasCaptureSQL(t *catalog.Table) string {
	return "SELECT count(*) FROM pg_trigger WHERE tgrelid = " + quoteLiteral(t.QualifiedName()) + "::regclass AND tgname LIKE 'pgxc\\_move\\_%'"
}

// moveDDLTries bounds the attempts at a capture trigger's creation or drop,
// each waiting up to moveDDLLockTimeout for the table's lock (writers queue
// behind it meanwhile: a short pause).
const (
	moveDDLTries       = 50
	moveDDLLockTimeout = "200ms"
)

// startCapture makes the source log the table's writes from now on: the
// triggers (made once), the table marked active, its log emptied; then it
// waits for the transactions that wrote the table before, whose rows the
// log may lack and the copy that follows must see.
func (s *session) startCapture(ctx context.Context, t *catalog.Table, node string) error {
	q := t.QualifiedName()
	return s.onNode(ctx, node, func(c *pooler.Conn) error {
		n, err := oneInt(ctx, c.PgConn, hasCaptureSQL(t))
		if err != nil {
			return err
		}
		if n < 3 {
			if _, err := c.Exec(ctx, captureFunctionSQL).ReadAll(); err != nil {
				return err
			}
			sql := captureTriggersSQL(t)
			if n > 0 { // a part of them, left by a move cut short
				sql = dropCaptureSQL(t) + "; " + sql
			}
			err := retryDDL(ctx, c, sql, moveDDLTries)
			if err != nil {
				return err
			}
		} else if _, err := c.Exec(ctx, captureFunctionSQL).ReadAll(); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "INSERT INTO pgxc.pgxc_move_active VALUES ("+quoteLiteral(q)+"::regclass) ON CONFLICT DO NOTHING; DELETE FROM pgxc.pgxc_move_log WHERE relid = "+quoteLiteral(q)+"::regclass").ReadAll(); err != nil {
			return err
		}
		return waitWriters(ctx, c, q)
	})
}

// retryDDL runs DDL that needs a table lock with a short lock timeout, again
// and again, so that the table's other users never wait long behind it.
func retryDDL(ctx context.Context, c *pooler.Conn, sql string, tries int) error {
	var err error
	for try := 0; try < tries; try++ {
		_, err = c.Exec(ctx, "BEGIN; SET LOCAL lock_timeout = '"+moveDDLLockTimeout+"'; "+sql+"; COMMIT").ReadAll()
		if err == nil {
			return nil
		}
		c.Exec(ctx, "ROLLBACK").ReadAll()
		if !pgerr.Is(err, pgerr.LockNotAvailable) && !pgerr.Is(err, pgerr.DeadlockDetected) {
			return err
		}
		time.Sleep(time.Duration(20+try*10) * time.Millisecond)
	}
	return err
}

// waitWriters waits until every transaction that holds a write lock on the
// table now (prepared ones too) has ended; later ones do not matter.
func waitWriters(ctx context.Context, c *pooler.Conn, q string) error {
	const cond = `relation = %s::regclass AND mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock') AND granted`
	res, err := c.Exec(ctx, fmt.Sprintf("SELECT DISTINCT virtualtransaction FROM pg_locks WHERE "+cond+" AND virtualtransaction IS NOT NULL AND pid IS DISTINCT FROM pg_backend_pid()", quoteLiteral(q))).ReadAll()
	if err != nil {
		return err
	}
	var vx [][]byte
	for _, r := range res[0].Rows {
		vx = append(vx, r[0])
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(vx) > 0 {
		left, err := oneInt(ctx, c.PgConn, fmt.Sprintf("SELECT count(*) FROM pg_locks WHERE "+cond+" AND virtualtransaction = ANY(%s::text[])", quoteLiteral(q), quoteLiteral(planner.ArrayLiteral(vx))))
		if err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return pgerr.New(pgerr.LockNotAvailable, "transactions writing %s did not end within 2 minutes", q)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// stopCapture drops a table's capture triggers on a node, trying for a
// while with short lock waits; triggers it cannot drop stay, inactive.
func (s *session) stopCapture(ctx context.Context, t *catalog.Table, node string) {
	q := t.QualifiedName()
	err := s.onNode(ctx, node, func(c *pooler.Conn) error {
		n, err := oneInt(ctx, c.PgConn, hasCaptureSQL(t))
		if err != nil || n == 0 {
			return err
		}
		// A reader of the table holds the drop off: a few short tries,
		// else the triggers stay, inactive, until the table's next move.
		return retryDDL(ctx, c, dropCaptureSQL(t), 5)
	})
	if err != nil {
		s.log.Warn("the capture triggers of a moved table stay (inactive)", "table", q, "node", node, "err", err)
	}
}

// clearMoveLeftovers removes what a move cut short left on every node:
// the table's capture marked inactive, its logged values, its staging
// table. Frozen buckets are thawed by the setPlacement that follows;
// triggers left behind stay inactive until the move's end drops them.
func (s *session) clearMoveLeftovers(ctx context.Context, t *catalog.Table) error {
	q := quoteLiteral(t.QualifiedName())
	sql := `DELETE FROM pgxc.pgxc_move_log WHERE relid = ` + q + `::regclass;
DROP TABLE IF EXISTS pgxc.` + stagingName(t) + `;
DO $d$ BEGIN IF to_regclass('pgxc.pgxc_move_active') IS NOT NULL THEN DELETE FROM pgxc.pgxc_move_active WHERE relid = ` + q + `::regclass; END IF; END $d$`
	return s.autocommit(ctx, func() error {
		_, err := s.execAll(ctx, sql, true)
		return err
	})
}

// onNode runs fn with a backend of a node outside the session's
// transaction.
func (s *session) onNode(ctx context.Context, node string, fn func(c *pooler.Conn) error) error {
	c, err := s.acquire(ctx, node)
	if err != nil {
		return err
	}
	if err := fn(c); err != nil {
		s.co.Pool.Discard(c)
		return executor.NodeError(node, err)
	}
	s.co.Pool.Put(c)
	return nil
}

// movePair moves one pair's buckets: capture, copy, catch up, fence, switch.
func (s *session) movePair(ctx context.Context, t *catalog.Table, union []string, cur distribution.BucketMap, p *movePair, target []string, group string, st *moveStats) error {
	staging := "pgxc." + stagingName(t)
	q := t.QualifiedName()
	st.src, st.dst = p.src, p.dst
	s.recordMove(ctx, t, target, p.src+"->"+p.dst)
	s.progress(t, st, fmt.Sprintf("moving %d buckets from %s to %s", p.buckets.Len(), p.src, p.dst))
	// 1. Capture (the writers in flight on the source end first: their
	// writes are in the copy or in the log).
	if err := s.startCapture(ctx, t, p.src); err != nil {
		return err
	}
	err := s.onNode(ctx, p.dst, func(c *pooler.Conn) error {
		_, err := c.Exec(ctx, "DROP TABLE IF EXISTS "+staging+"; CREATE TABLE "+staging+" (LIKE "+q+")").ReadAll()
		return err
	})
	if err != nil {
		return err
	}
	// 2. Copy.
	err = s.onNode(ctx, p.src, func(src *pooler.Conn) error {
		return s.onNode(ctx, p.dst, func(dst *pooler.Conn) error {
			return s.copyBuckets(ctx, t, src.PgConn, dst.PgConn, "SELECT * FROM "+q, &p.buckets, st)
		})
	})
	if err != nil {
		return err
	}
	// 3. Catch up while writes go on.
	if s.co.Failpoint != nil {
		s.co.Failpoint("move-catchup")
	}
	for pass := 0; pass < 20; pass++ {
		var n int
		err = s.onNode(ctx, p.src, func(src *pooler.Conn) error {
			return s.onNode(ctx, p.dst, func(dst *pooler.Conn) error {
				var err error
				n, err = s.catchUp(ctx, t, src.PgConn, dst.PgConn, &p.buckets, st)
				return err
			})
		})
		if err != nil {
			return err
		}
		if n <= moveCatchUpLimit {
			break
		}
	}
	// 4 and 5. Fence, then switch; a switch that cannot lock both nodes
	// soon lets go and tries again (a writer of the table on both nodes may
	// wait for one lock while holding what the other waits for); the
	// buckets are thawed again when the switch does not happen.
	if err := s.setPlacement(ctx, t, union, cur, &p.buckets, target, group, true); err != nil {
		return err
	}
	for try := 0; try < moveSwitchTries; try++ {
		err = s.autocommit(ctx, func() error { return s.switchPair(ctx, t, union, cur, p, target, group, st) })
		if err == nil {
			st.buckets += p.buckets.Len()
			s.progress(t, st, fmt.Sprintf("switched %d buckets from %s to %s", p.buckets.Len(), p.src, p.dst))
			return nil
		}
		if !pgerr.Is(err, pgerr.LockNotAvailable) && !pgerr.Is(err, pgerr.DeadlockDetected) {
			break
		}
		time.Sleep(time.Duration(min(50*(try+1), 500)) * time.Millisecond)
	}
	if terr := s.setPlacement(context.WithoutCancel(ctx), t, union, cur, nil, target, group, false); terr != nil {
		return fmt.Errorf("%w (and thawing the buckets failed: %v)", err, terr)
	}
	return fmt.Errorf("switching buckets of %s from %s to %s: %w", q, p.src, p.dst, err)
}

// switchPair is a pair's switch, inside the session's transaction.
func (s *session) switchPair(ctx context.Context, t *catalog.Table, union []string, cur distribution.BucketMap, p *movePair, target []string, group string, st *moveStats) error {
	s.tx.ddl = true
	q := t.QualifiedName()
	staging := "pgxc." + stagingName(t)
	// The first lock waits while nothing is held; the second, held up, lets
	// the first go soon.
	src, err := s.Conn(ctx, p.src, true)
	if err != nil {
		return err
	}
	if _, err := src.Exec(ctx, "SET LOCAL lock_timeout = '"+moveLockTimeout+"'; LOCK TABLE "+q+" IN EXCLUSIVE MODE").ReadAll(); err != nil {
		return executor.NodeError(p.src, err)
	}
	dst, err := s.Conn(ctx, p.dst, true)
	if err != nil {
		return err
	}
	if _, err := dst.Exec(ctx, "SET LOCAL lock_timeout = '"+moveSecondLockTimeout+"'; LOCK TABLE "+q+" IN EXCLUSIVE MODE").ReadAll(); err != nil {
		return executor.NodeError(p.dst, err)
	}
	for {
		n, err := s.catchUp(ctx, t, src.PgConn, dst.PgConn, &p.buckets, st)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	col := quoteIdent(t.Locator.Column)
	res, err := dst.Exec(ctx, "INSERT INTO "+q+" SELECT * FROM "+staging+"; SELECT DISTINCT "+col+"::text FROM "+staging+"; DROP TABLE "+staging).ReadAll()
	if err != nil {
		return executor.NodeError(p.dst, err)
	}
	inserted := res[0].CommandTag.RowsAffected()
	var vals [][]byte
	hasNull := false
	for _, r := range res[1].Rows {
		if r[0] == nil {
			hasNull = true
			continue
		}
		vals = append(vals, r[0])
	}
	del := "DELETE FROM " + q + " WHERE " + col + " = ANY($1::text[]::" + t.Columns[t.DistCol].BaseType + "[])"
	if hasNull {
		del += " OR " + col + " IS NULL"
	}
	rr := src.ExecParams(ctx, del, [][]byte{[]byte(planner.ArrayLiteral(vals))}, nil, nil, nil)
	tag, err := rr.Close()
	if err != nil {
		return executor.NodeError(p.src, err)
	}
	if tag.RowsAffected() != inserted {
		return fmt.Errorf("moving buckets of %s from %s to %s: %d rows arrived but %d left", q, p.src, p.dst, inserted, tag.RowsAffected())
	}
	if _, err := src.Exec(ctx, "DELETE FROM pgxc.pgxc_move_active WHERE relid = "+quoteLiteral(q)+"::regclass; DELETE FROM pgxc.pgxc_move_log WHERE relid = "+quoteLiteral(q)+"::regclass").ReadAll(); err != nil {
		return executor.NodeError(p.src, err)
	}
	next := slices.Clone(cur)
	for _, b := range p.buckets.Buckets() {
		next[b] = uint16(slices.Index(union, p.dst))
	}
	_, err = s.execAll(ctx, placementSQL(t, union, next, nil, target, group), true)
	return err
}

// catchUp copies again the rows of the logged values that fall in the
// buckets, and forgets those log entries; it returns how many it read.
func (s *session) catchUp(ctx context.Context, t *catalog.Table, src, dst *pgconn.PgConn, buckets *distribution.BucketSet, st *moveStats) (int, error) {
	q := t.QualifiedName()
	res, err := src.Exec(ctx, fmt.Sprintf("SELECT id, val FROM pgxc.pgxc_move_log WHERE relid = %s::regclass ORDER BY id LIMIT %d", quoteLiteral(q), moveCatchUpBatch)).ReadAll()
	if err != nil {
		return 0, err
	}
	rows := res[0].Rows
	if len(rows) == 0 {
		return 0, nil
	}
	var ids, vals [][]byte
	seen := map[string]bool{}
	hasNull := false
	for _, r := range rows {
		ids = append(ids, r[0])
		b, err := s.bucketOfText(t, r[1])
		if err != nil {
			return 0, err
		}
		if !buckets.Has(b) {
			continue
		}
		if r[1] == nil {
			hasNull = true
		} else if !seen[string(r[1])] {
			seen[string(r[1])] = true
			vals = append(vals, r[1])
		}
	}
	if len(vals) > 0 || hasNull {
		col := quoteIdent(t.Locator.Column)
		cond := col + " = ANY(" + quoteLiteral(planner.ArrayLiteral(vals)) + "::text[]::" + t.Columns[t.DistCol].BaseType + "[])"
		if hasNull {
			cond += " OR " + col + " IS NULL"
		}
		if _, err := dst.Exec(ctx, "DELETE FROM pgxc."+stagingName(t)+" WHERE "+cond).ReadAll(); err != nil {
			return 0, err
		}
		if err := s.copyBuckets(ctx, t, src, dst, "SELECT * FROM "+q+" WHERE "+cond, buckets, st); err != nil {
			return 0, err
		}
	}
	rr := src.ExecParams(ctx, "DELETE FROM pgxc.pgxc_move_log WHERE id = ANY($1::bigint[])", [][]byte{[]byte(planner.ArrayLiteral(ids))}, nil, nil, nil)
	if _, err := rr.Close(); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// bucketOfText is the bucket of a distribution value in text (nil: NULL).
func (s *session) bucketOfText(t *catalog.Table, v []byte) (int, error) {
	if v == nil {
		return distribution.NullBucket, nil
	}
	canon, ok := distribution.CanonicalText(t.Locator.TypeName, string(v))
	if !ok {
		return 0, planner.Unsupported("moving rows of %s: the coordinator cannot read the distribution value %q", t.QualifiedName(), v)
	}
	return distribution.Bucket(canon), nil
}

// copyBuckets copies the rows of a query on the source that fall in the
// buckets into the staging table on the target.
func (s *session) copyBuckets(ctx context.Context, t *catalog.Table, src, dst *pgconn.PgConn, query string, buckets *distribution.BucketSet, st *moveStats) error {
	pr, pw := io.Pipe()
	f := &copyFormat{kind: 't', delimiter: '\t', null: `\N`}
	filter := &bucketFilter{s: s, t: t, f: f, buckets: buckets, out: bufio.NewWriterSize(pw, 64<<10), st: st, rate: s.moveRate()}
	errc := make(chan error, 1)
	go func() {
		_, err := dst.CopyFrom(ctx, pr, "COPY pgxc."+stagingName(t)+" FROM STDIN")
		pr.CloseWithError(err)
		errc <- err
	}()
	_, err := src.CopyTo(ctx, &lineSplitter{fn: filter.record}, "COPY ("+query+") TO STDOUT")
	if err == nil {
		err = filter.out.Flush()
	}
	pw.CloseWithError(err)
	if derr := <-errc; err == nil {
		err = derr
	}
	return err
}

// bucketFilter passes on the COPY records (text format) whose distribution
// value falls in the buckets.
type bucketFilter struct {
	s       *session
	t       *catalog.Table
	f       *copyFormat
	buckets *distribution.BucketSet
	out     *bufio.Writer
	st      *moveStats
	rate    float64 // rows per second, 0: as fast as it goes
	last    time.Time
}

func (b *bucketFilter) record(rec []byte) error {
	val, isNull, ok := b.f.field(rec, b.t.DistCol)
	if !ok {
		return errors.New("a COPY record without its distribution column")
	}
	if isNull {
		val = nil
	}
	bk, err := b.s.bucketOfText(b.t, val)
	if err != nil {
		return err
	}
	if !b.buckets.Has(bk) {
		return nil
	}
	if _, err := b.out.Write(rec); err != nil {
		return err
	}
	b.st.rows++
	b.st.bytes += int64(len(rec))
	b.s.co.Metrics.moveRows.Inc()
	if b.st.rows == 500 && b.s.co.Failpoint != nil {
		b.s.co.Failpoint("move-copy")
	}
	if b.rate > 0 && b.st.rows%500 == 0 {
		// Throttled: the rows copied so far take at least rows/rate.
		if ahead := time.Duration(float64(b.st.rows)/b.rate*float64(time.Second)) - time.Since(b.st.start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	if time.Since(b.last) > 2*time.Second {
		b.last = time.Now()
		b.s.progress(b.t, b.st, "copying")
	}
	return nil
}

// progress tells the client how the move goes (a NOTICE) and keeps it for
// pgxc_rebalance_status.
func (s *session) progress(t *catalog.Table, st *moveStats, what string) {
	el := time.Since(st.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(st.rows) / el
	}
	q := t.QualifiedName()
	msg := fmt.Sprintf("%s: %s; %d/%d buckets switched, %d rows (%.1f MB) copied, %.0f rows/s", q, what, st.buckets, st.total, st.rows, float64(st.bytes)/1e6, rate)
	key := s.moveProgressKey(t)
	if what == "done" {
		s.co.moves.Delete(key)
	} else {
		s.co.moves.Store(key, planner.MoveStatus{Coordinator: s.co.Name, Database: s.db, Table: q, Phase: what, Source: st.src, Dest: st.dst, BucketsTotal: st.total,
			BucketsDone: st.buckets, Rows: st.rows, Bytes: st.bytes, RowsPerSec: rate, Started: st.start})
	}
	s.log.Info("redistribution", "table", q, "phase", what, "buckets", st.buckets, "of", st.total, "rows", st.rows, "bytes", st.bytes)
	if !s.noticesOff() {
		s.clientNotice(&pgproto3.NoticeResponse{Severity: "NOTICE", Code: "00000", Message: msg})
	}
}

// moveRate is the session's xlgo.rebalance_rate (rows per second a move
// copies at most; xlctl rebalance --rate sets it), 0 when unset.
func (s *session) moveRate() float64 {
	for i := len(s.sets) - 1; i >= 0; i-- {
		l := strings.ToLower(s.sets[i])
		j := strings.Index(l, "xlgo.rebalance_rate")
		if j < 0 {
			continue
		}
		v := strings.Trim(strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l[j+len("xlgo.rebalance_rate"):]), "=to ")), "';")
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 {
			return 0
		}
		return r
	}
	return 0
}

// noticesOff tells whether the session set client_min_messages above
// NOTICE (the coordinator's own notices follow it as PostgreSQL's do).
func (s *session) noticesOff() bool {
	for i := len(s.sets) - 1; i >= 0; i-- {
		l := strings.ToLower(s.sets[i])
		if !strings.Contains(l, "client_min_messages") {
			continue
		}
		for _, level := range []string{"warning", "error", "log", "fatal", "panic"} {
			if strings.Contains(l, level) {
				return true
			}
		}
		return false
	}
	return false
}

// moveProgressKey keys a move's progress among the coordinator's moves.
func (s *session) moveProgressKey(t *catalog.Table) string { return s.db + "\x00" + t.QualifiedName() }

// moves lists the redistributions of a database running here.
func (c *Coordinator) movesOf(db string) []planner.MoveStatus {
	var out []planner.MoveStatus
	c.moves.Range(func(_, v any) bool {
		if m := v.(planner.MoveStatus); m.Database == db {
			out = append(out, m)
		}
		return true
	})
	return out
}

// abortMove stops a table's move where it is (pgxc_rebalance_abort): what
// the move left on the nodes goes, the buckets switched already stay where
// they are, and the table's node list becomes the nodes that own its
// buckets. The rows are where the catalog says at every step, so nothing
// needs undoing.
func (s *session) abortMove(ctx context.Context, name string) error {
	rel, err := s.relations(ctx)
	if err != nil {
		return err
	}
	schema, table := "", name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		schema, table = strings.Trim(name[:i], `"`), strings.Trim(name[i+1:], `"`)
	}
	t, _ := rel.Resolve(schema, table, s.searchPath)
	if t == nil {
		return pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", name)
	}
	s.mover = true
	s.stmtGen.Store(0)
	defer func() { s.mover = false }()
	if err := s.clearMoveLeftovers(ctx, t); err != nil {
		return err
	}
	if t.Locator.Kind != distribution.Hash {
		err := s.autocommit(ctx, func() error {
			s.tx.ddl = true
			_, err := s.execAll(ctx, "UPDATE pgxc.pgxc_class SET pcfrozen = NULL, pctarget = NULL WHERE pcrelid = "+quoteLiteral(t.QualifiedName())+"::regclass", true)
			return err
		})
		if err == nil {
			s.recordMove(ctx, t, nil, "")
		}
		return err
	}
	cur := t.Locator.Map.Full(len(t.Locator.Nodes))
	var nodes []string
	for _, n := range t.Locator.Nodes {
		if slices.Contains(cur, uint16(slices.Index(t.Locator.Nodes, n))) {
			nodes = append(nodes, n)
		}
	}
	m := make(distribution.BucketMap, len(cur))
	for b, i := range cur {
		m[b] = uint16(slices.Index(nodes, t.Locator.Nodes[i]))
	}
	if err := s.setPlacement(ctx, t, nodes, m, nil, nil, t.Group, false); err != nil {
		return err
	}
	s.recordMove(ctx, t, nil, "")
	return nil
}

// oneInt runs a query of one integer.
func oneInt(ctx context.Context, c *pgconn.PgConn, sql string) (int, error) {
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		return 0, err
	}
	if len(res) == 0 || len(res[len(res)-1].Rows) != 1 {
		return 0, fmt.Errorf("%s: no row", sql)
	}
	return strconv.Atoi(string(res[len(res)-1].Rows[0][0]))
}

// moveKey is the gtm record of a table's move: it names the move's target,
// its coordinator and the pair moving, and outlives both (xlctl status,
// pgxc_rebalance_status on every coordinator).
func (s *session) moveKey(t *catalog.Table) string { return "move/" + s.db + "/" + t.QualifiedName() }

// recordMove writes (or, with target nil, removes) a move's gtm record.
func (s *session) recordMove(ctx context.Context, t *catalog.Table, target []string, pair string) {
	if s.co.GTM == nil {
		return
	}
	value := ""
	if target != nil {
		value = fmt.Sprintf("target=%s;coordinator=%s;pair=%s;started=%s", strings.Join(target, ","), s.co.Name, pair, time.Now().UTC().Format(time.RFC3339))
	}
	if err := s.co.GTM.PutRecord(context.WithoutCancel(ctx), s.moveKey(t), value); err != nil {
		s.log.Warn("the gtm does not record the move", "table", t.QualifiedName(), "err", err)
	}
}

// gtmMoves are the moves of a database the gtm records, by table.
func (c *Coordinator) gtmMoves(ctx context.Context, db string) map[string]planner.MoveStatus {
	out := map[string]planner.MoveStatus{}
	if c.GTM == nil {
		return out
	}
	recs, err := c.GTM.Records(ctx, "move/"+db+"/")
	if err != nil {
		return out
	}
	for k, v := range recs {
		m := planner.MoveStatus{Database: db, Table: strings.TrimPrefix(k, "move/"+db+"/")}
		for _, kv := range strings.Split(v, ";") {
			key, val, _ := strings.Cut(kv, "=")
			switch key {
			case "coordinator":
				m.Coordinator = val
			case "pair":
				m.Source, m.Dest, _ = strings.Cut(val, "->")
			case "started":
				m.Started, _ = time.Parse(time.RFC3339, val)
			case "target":
				m.Target = val
			}
		}
		m.Phase = "running on " + m.Coordinator + ", or cut short"
		out[m.Table] = m
	}
	return out
}
