package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/server"
)

// ensureCatalog creates the distribution catalog in the session's database
// on every datanode when it is missing (idempotent, outside any transaction).
func (s *session) ensureCatalog(ctx context.Context) error {
	rel, err := s.relations(ctx)
	if err != nil {
		return err
	}
	if rel.Ready && rel.Current {
		return nil
	}
	// The preferred datanode last: a session sees the catalog ready by
	// reading that one, so it must not have it before every other.
	nodes := s.datanodeNames()
	if pref, ok := s.co.preferredDatanode(); ok {
		if i := slices.Index(nodes, pref.Name); i >= 0 {
			nodes = append(slices.Delete(slices.Clone(nodes), i, i+1), pref.Name)
		}
	}
	for _, n := range nodes {
		c, err := s.acquire(ctx, n)
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, catalog.BootstrapSQL).ReadAll()
		if err != nil {
			s.co.Pool.Discard(c)
			return executor.NodeError(n, err)
		}
		s.co.Pool.Put(c)
	}
	s.co.Cache.Invalidate()
	return nil
}

// ddl runs a DDL statement on every datanode in one transaction and then
// fixes the distribution catalog up in the same transaction.
func (s *session) ddl(ctx context.Context, sql string, after func() error) (string, error) {
	var tag string
	err := s.autocommit(ctx, func() error {
		s.tx.ddl = true
		var err error
		tag, err = s.execAll(ctx, sql, true)
		if err != nil {
			return err
		}
		if after != nil {
			return after()
		}
		return nil
	})
	return tag, err
}

// cleanCatalogSQL removes the catalog rows of tables that are gone.
const cleanCatalogSQL = `DELETE FROM pgxc.pgxc_class p WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = p.pcrelid)`

// tableInfo is what a datanode says of a table just created or altered.
type tableInfo struct {
	qualified string
	cols      []colInfo
	uniques   [][]int // attnums of each unique index, primary key first
}

type colInfo struct {
	attnum  int
	name    string
	typName string
}

func (s *session) describeTable(ctx context.Context, regclass string) (*tableInfo, error) {
	node := s.datanodeNames()[0]
	c, err := s.Conn(ctx, node, true)
	if err != nil {
		return nil, err
	}
	lit := quoteLiteral(regclass)
	sql := fmt.Sprintf(`SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s::regclass;
SELECT a.attnum, a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
 WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;
SELECT array_to_string(indkey, ',') FROM pg_index WHERE indrelid = %s::regclass AND indisunique ORDER BY indisprimary DESC, indexrelid`, lit, lit, lit)
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, executor.NodeError(node, err)
	}
	info := &tableInfo{qualified: string(res[0].Rows[0][0])}
	for _, r := range res[1].Rows {
		n, _ := strconv.Atoi(string(r[0]))
		info.cols = append(info.cols, colInfo{attnum: n, name: string(r[1]), typName: string(r[2])})
	}
	for _, r := range res[2].Rows {
		var keys []int
		for _, k := range strings.Split(string(r[0]), ",") {
			n, _ := strconv.Atoi(k)
			keys = append(keys, n)
		}
		info.uniques = append(info.uniques, keys)
	}
	return info, nil
}

func (t *tableInfo) col(name string) (colInfo, bool) {
	for _, c := range t.cols {
		if c.name == name {
			return c, true
		}
	}
	return colInfo{}, false
}

func (t *tableInfo) colByNum(n int) (colInfo, bool) {
	for _, c := range t.cols {
		if c.attnum == n {
			return c, true
		}
	}
	return colInfo{}, false
}

// defaultDistribution is Postgres-XL's choice when none is given: hash on
// the first hashable column of the primary key, else of the first unique
// index, else the first hashable column, else round robin.
func defaultDistribution(info *tableInfo) (distribution.Kind, string) {
	for _, u := range info.uniques {
		for _, k := range u {
			if c, ok := info.colByNum(k); ok && distribution.Hashable(c.typName) {
				return distribution.Hash, c.name
			}
		}
	}
	for _, c := range info.cols {
		if distribution.Hashable(c.typName) {
			return distribution.Hash, c.name
		}
	}
	return distribution.RoundRobin, ""
}

// checkUniques enforces that a unique index of a hash or modulo table
// contains the distribution column: uniqueness cannot be checked across nodes.
func checkUniques(info *tableInfo, kind distribution.Kind, col string) error {
	if kind == distribution.Replication || len(info.uniques) == 0 {
		return nil
	}
	if kind == distribution.RoundRobin {
		return planner.Unsupported("Cannot create unique index on a ROUNDROBIN table: uniqueness cannot be enforced across datanodes")
	}
	c, _ := info.col(col)
	for _, u := range info.uniques {
		found := false
		for _, k := range u {
			if k == c.attnum {
				found = true
			}
		}
		if !found {
			return planner.Unsupported("Unique index of partitioned table must contain the hash/modulo distribution column.")
		}
	}
	return nil
}

// distColumn checks the distribution column a method needs (hash and
// modulo; the zero colInfo for the others) and the table's unique indexes.
func distColumn(info *tableInfo, kind distribution.Kind, col string) (colInfo, error) {
	var c colInfo
	if kind == distribution.Hash || kind == distribution.Modulo {
		var ok bool
		if c, ok = info.col(col); !ok {
			return c, pgerr.New(pgerr.UndefinedColumn, "Invalid distribution column specified: column %q does not exist", col)
		}
		if kind == distribution.Hash && !distribution.Hashable(c.typName) {
			return c, planner.Unsupported("Column %s is not a hash distributable data type", col)
		}
		if kind == distribution.Modulo && !distribution.ModuloAllowed(c.typName) {
			return c, planner.Unsupported("Column %s is not modulo distributable data type", col)
		}
	}
	return c, checkUniques(info, kind, col)
}

// resolveNodes is the node list of a new table: TO NODE, TO GROUP, or every datanode.
func (s *session) resolveNodes(dc *dialect.DistributeClause) ([]string, error) {
	all := s.datanodeNames()
	if len(all) == 0 {
		return nil, pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
	}
	if dc == nil {
		return all, nil
	}
	if dc.ToGroup != "" {
		g, ok := s.co.Nodes.Group(dc.ToGroup)
		if !ok {
			return nil, pgerr.New(pgerr.UndefinedObject, "PGXC Group %s: group not defined", dc.ToGroup)
		}
		return g.Members, nil
	}
	if len(dc.ToNodes) > 0 {
		seen := map[string]bool{}
		for _, n := range dc.ToNodes {
			node, ok := s.co.Nodes.Node(n)
			if !ok {
				return nil, pgerr.New(pgerr.UndefinedObject, "PGXC Node %s: object not defined", n)
			}
			if !node.IsDatanode() {
				return nil, pgerr.New(pgerr.WrongObjectType, "PGXC node %s is not a datanode", n)
			}
			if seen[n] {
				return nil, pgerr.New(pgerr.DuplicateObject, "PGXC node %s is listed twice", n)
			}
			seen[n] = true
		}
		return dc.ToNodes, nil
	}
	return all, nil
}

// registerTable decides and validates a new table's distribution and writes
// its catalog row on every datanode (inside the DDL's transaction).
func (s *session) registerTable(ctx context.Context, regclass string, dc *dialect.DistributeClause, parent *catalog.Table) error {
	info, err := s.describeTable(ctx, regclass)
	if err != nil {
		return err
	}
	nodes, err := s.resolveNodes(dc)
	if err != nil {
		return err
	}
	var kind distribution.Kind
	var col string
	switch {
	case parent != nil:
		kind, col, nodes = parent.Locator.Kind, parent.Locator.Column, parent.Locator.Nodes
		if dc != nil && dc.Kind != 0 {
			return planner.Unsupported("a partition is distributed as its parent; DISTRIBUTE BY on a partition")
		}
	case dc != nil && dc.Kind != 0:
		kind, col = distribution.Kind(dc.Kind), dc.Column
	default:
		kind, col = defaultDistribution(info)
	}
	c, err := distColumn(info, kind, col)
	if err != nil {
		return err
	}
	attnum := c.attnum
	ids, names := nodeArrays(nodes)
	group := "NULL" // the default group: every datanode
	switch {
	case parent != nil && parent.Group != "":
		group = quoteLiteral(parent.Group)
	case parent == nil && dc != nil && dc.ToGroup != "":
		group = quoteLiteral(dc.ToGroup)
	case parent == nil && dc != nil && len(dc.ToNodes) > 0 && !sameSet(dc.ToNodes, s.datanodeNames()):
		group = "'-'" // a node list of its own
	}
	sql := fmt.Sprintf(`DELETE FROM pgxc.pgxc_class WHERE pcrelid = %[1]s::regclass;
%[2]s;
INSERT INTO pgxc.pgxc_class (pcrelid, pclocatortype, pcattnum, nodeoids, pcnodenames, pcgroup) VALUES (%[1]s::regclass, %[3]s, %[4]d, %[5]s, %[6]s, %[7]s)`,
		quoteLiteral(info.qualified), cleanCatalogSQL, quoteLiteral(string(kind)), attnum,
		ids, names, group)
	_, err = s.execAll(ctx, sql, true)
	return err
}

func (s *session) createTable(ctx context.Context, node *pg_query.Node, p *dialect.Passthrough, w server.ResultWriter) error {
	cs := node.GetCreateStmt()
	if cs.Relation.Relpersistence == "t" {
		return planner.Unsupported("temporary tables are not supported yet")
	}
	if err := s.ensureCatalog(ctx); err != nil {
		return err
	}
	var parent *catalog.Table
	if cs.Partbound != nil && len(cs.InhRelations) == 1 {
		rel, err := s.relations(ctx)
		if err != nil {
			return err
		}
		prv := cs.InhRelations[0].GetRangeVar()
		parent, _ = rel.Resolve(prv.Schemaname, prv.Relname, s.searchPath)
	}
	regclass := rangeVarText(cs.Relation)
	tag, err := s.ddl(ctx, p.SQL, func() error {
		return s.registerTable(ctx, regclass, p.Distribute, parent)
	})
	if err != nil {
		return err
	}
	return w.CommandComplete(tag)
}

func rangeVarText(rv *pg_query.RangeVar) string {
	if rv.Schemaname != "" {
		return dialect.QuoteIdent(rv.Schemaname) + "." + dialect.QuoteIdent(rv.Relname)
	}
	return dialect.QuoteIdent(rv.Relname)
}

// createTableAs makes the table on every datanode without data, registers
// its distribution, then fills it through the distributed INSERT path.
func (s *session) createTableAs(ctx context.Context, node *pg_query.Node, p *dialect.Passthrough, w server.ResultWriter) error {
	ctas := node.GetCreateTableAsStmt()
	if ctas.Objtype != pg_query.ObjectType_OBJECT_TABLE {
		return planner.Unsupported("CREATE MATERIALIZED VIEW")
	}
	if ctas.Into.Rel.Relpersistence == "t" {
		return planner.Unsupported("temporary tables are not supported yet")
	}
	if ctas.Query.GetExecuteStmt() != nil {
		return planner.Unsupported("CREATE TABLE AS EXECUTE")
	}
	if err := s.ensureCatalog(ctx); err != nil {
		return err
	}
	skip := ctas.Into.SkipData
	ctas.Into.SkipData = true
	structure, err := planner.DeparseNode(node)
	if err != nil {
		return err
	}
	regclass := rangeVarText(ctas.Into.Rel)
	count := "0"
	err = s.autocommit(ctx, func() error {
		if _, err := s.ddl(ctx, structure, func() error {
			return s.registerTable(ctx, regclass, p.Distribute, nil)
		}); err != nil {
			return err
		}
		if skip {
			return nil
		}
		// The new table must be routable inside this transaction.
		s.co.Cache.Invalidate()
		ins := &pg_query.InsertStmt{Relation: ctas.Into.Rel, SelectStmt: ctas.Query, Override: pg_query.OverridingKind_OVERRIDING_NOT_SET}
		for _, c := range ctas.Into.ColNames {
			ins.Cols = append(ins.Cols, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: c.GetString_().GetSval()}}})
		}
		env, err := s.env(ctx)
		if err != nil {
			return err
		}
		plan, err := planner.PlanStatement(env, &pg_query.Node{Node: &pg_query.Node_InsertStmt{InsertStmt: ins}})
		if err != nil {
			return err
		}
		tag, err := executor.Run(ctx, plan, s, nil)
		if err != nil {
			return err
		}
		f := strings.Fields(tag)
		count = f[len(f)-1]
		return nil
	})
	if err != nil {
		return err
	}
	return w.CommandComplete("SELECT " + count)
}

// database runs CREATE/DROP DATABASE on every datanode; it cannot be part
// of a transaction, so a failure undoes the nodes already done.
func (s *session) database(ctx context.Context, node *pg_query.Node, sql string, w server.ResultWriter, inMulti bool) error {
	create := node.GetCreatedbStmt() != nil
	verb := "DROP DATABASE"
	if create {
		verb = "CREATE DATABASE"
	}
	if s.tx.active {
		return pgerr.New(pgerr.ActiveSqlTransaction, "%s cannot run inside a transaction block", verb)
	}
	var dbname string
	if create {
		dbname = node.GetCreatedbStmt().Dbname
	} else {
		dbname = node.GetDropdbStmt().Dbname
		if dbname == s.db {
			return pgerr.New(pgerr.ObjectInUse, "cannot drop the currently open database")
		}
		done := s.co.Pool.Dropping(dbname)
		defer done()
	}
	var done []string
	for _, n := range s.datanodeNames() {
		if err := s.outsideTx(ctx, n, sql); err != nil {
			if create {
				for _, d := range done {
					s.outsideTx(context.WithoutCancel(ctx), d, "DROP DATABASE IF EXISTS "+dialect.QuoteIdent(dbname))
				}
			}
			return err
		}
		done = append(done, n)
	}
	return w.CommandComplete(verb)
}

// outsideTx runs a statement that cannot run in a transaction block on one node.
func (s *session) outsideTx(ctx context.Context, node, sql string) error {
	c, err := s.conn(ctx, node)
	if err != nil {
		return err
	}
	if _, err := c.Exec(ctx, sql).ReadAll(); err != nil {
		return executor.NodeError(node, err)
	}
	return nil
}

// utility runs every other statement: DDL on all datanodes in one
// transaction; statements that cannot run in a transaction on each node;
// the rest refused by name.
func (s *session) utility(ctx context.Context, node *pg_query.Node, sql string, w server.ResultWriter, inMulti bool) error {
	name := statementName(node)
	switch {
	case node.GetDeclareCursorStmt() != nil, node.GetFetchStmt() != nil, node.GetClosePortalStmt() != nil:
		return planner.Unsupported("cursors are not supported yet")
	case node.GetListenStmt() != nil, node.GetNotifyStmt() != nil, node.GetUnlistenStmt() != nil:
		return planner.Unsupported("LISTEN/NOTIFY are not supported yet")
	case node.GetDoStmt() != nil:
		return planner.Unsupported("DO blocks are not supported: they would run on every datanode")
	case node.GetCallStmt() != nil:
		return planner.Unsupported("CALL is not supported yet")
	case node.GetRefreshMatViewStmt() != nil:
		return planner.Unsupported("materialized views are not supported yet")
	case node.GetLoadStmt() != nil, node.GetCreateSubscriptionStmt() != nil, node.GetCreatePublicationStmt() != nil,
		node.GetAlterSubscriptionStmt() != nil, node.GetAlterPublicationStmt() != nil:
		return planner.Unsupported("%s is not supported", name)
	case node.GetAlterSeqStmt() != nil:
		for _, o := range node.GetAlterSeqStmt().Options {
			if d := o.GetDefElem(); d != nil && d.Defname != "owned_by" {
				return planner.Unsupported("ALTER SEQUENCE of a global sequence (use setval, or DROP and CREATE it)")
			}
		}
	case node.GetLockStmt() != nil:
		if !s.tx.explicit {
			return pgerr.New(pgerr.NoActiveSqlTransaction, "LOCK TABLE can only be used in transaction blocks")
		}
	case node.GetIndexStmt() != nil && node.GetIndexStmt().Unique:
		return s.uniqueIndex(ctx, node, sql, w, name)
	case node.GetAlterTableStmt() != nil:
		return s.alterTable(ctx, node, sql, w)
	}
	if nonTransactional(node) {
		if s.tx.active {
			return pgerr.New(pgerr.ActiveSqlTransaction, "%s cannot run inside a transaction block", name)
		}
		var tag string
		for _, n := range s.datanodeNames() {
			c, err := s.conn(ctx, n)
			if err != nil {
				return err
			}
			res, err := c.Exec(ctx, sql).ReadAll()
			if err != nil {
				return executor.NodeError(n, err)
			}
			if len(res) > 0 {
				tag = res[len(res)-1].CommandTag.String()
			}
		}
		return w.CommandComplete(tag)
	}
	rel, err := s.relations(ctx)
	if err != nil {
		return err
	}
	tag, err := s.ddl(ctx, sql, func() error {
		if rel.Ready {
			_, err := s.execAll(ctx, cleanCatalogSQL, true)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.forgetSequences(ctx, node)
	return w.CommandComplete(tag)
}

// uniqueIndex creates a unique index and checks the distribution rule.
func (s *session) uniqueIndex(ctx context.Context, node *pg_query.Node, sql string, w server.ResultWriter, name string) error {
	is := node.GetIndexStmt()
	if is.Concurrent {
		return planner.Unsupported("CREATE UNIQUE INDEX CONCURRENTLY")
	}
	regclass := rangeVarText(is.Relation)
	tag, err := s.ddl(ctx, sql, func() error { return s.recheck(ctx, regclass) })
	if err != nil {
		return err
	}
	return w.CommandComplete(tag)
}

// recheck validates a distributed table's unique indexes after a change.
func (s *session) recheck(ctx context.Context, regclass string) error {
	rel, err := s.relations(ctx)
	if err != nil {
		return err
	}
	parts := strings.SplitN(regclass, ".", 2)
	var t *catalog.Table
	if len(parts) == 2 {
		t, _ = rel.Resolve(strings.Trim(parts[0], `"`), strings.Trim(parts[1], `"`), s.searchPath)
	} else {
		t, _ = rel.Resolve("", strings.Trim(parts[0], `"`), s.searchPath)
	}
	if t == nil {
		return nil
	}
	info, err := s.describeTable(ctx, regclass)
	if err != nil {
		return err
	}
	if t.Locator.Kind == distribution.Hash || t.Locator.Kind == distribution.Modulo {
		if _, ok := info.col(t.Locator.Column); !ok {
			return planner.Unsupported("the distribution column %s of %s cannot be dropped or renamed away", t.Locator.Column, t.Name)
		}
	}
	return checkUniques(info, t.Locator.Kind, t.Locator.Column)
}

// alterTable runs ALTER TABLE on every datanode, refusing changes to the
// distribution column's type and checking the unique-index rule.
func (s *session) alterTable(ctx context.Context, node *pg_query.Node, sql string, w server.ResultWriter) error {
	at := node.GetAlterTableStmt()
	if at.Objtype == pg_query.ObjectType_OBJECT_TABLE && at.Relation != nil {
		rel, err := s.relations(ctx)
		if err != nil {
			return err
		}
		if t, _ := rel.Resolve(at.Relation.Schemaname, at.Relation.Relname, s.searchPath); t != nil && t.DistCol >= 0 &&
			t.Locator.Kind != distribution.Replication {
			for _, c := range at.Cmds {
				cmd := c.GetAlterTableCmd()
				if cmd == nil || cmd.Name != t.Locator.Column {
					continue
				}
				switch cmd.Subtype {
				case pg_query.AlterTableType_AT_DropColumn:
					return planner.Unsupported("Distribution column cannot be dropped")
				case pg_query.AlterTableType_AT_AlterColumnType:
					return planner.Unsupported("Distribution column cannot be altered")
				}
			}
		}
		regclass := rangeVarText(at.Relation)
		tag, err := s.ddl(ctx, sql, func() error {
			if rel.Ready {
				if _, err := s.execAll(ctx, cleanCatalogSQL, true); err != nil {
					return err
				}
			}
			if at.MissingOk {
				return nil
			}
			return s.recheck(ctx, regclass)
		})
		if err != nil {
			return err
		}
		return w.CommandComplete(tag)
	}
	tag, err := s.ddl(ctx, sql, nil)
	if err != nil {
		return err
	}
	return w.CommandComplete(tag)
}

// nonTransactional tells whether PostgreSQL refuses to run a statement
// inside a transaction block.
func nonTransactional(node *pg_query.Node) bool {
	switch {
	case node.GetVacuumStmt() != nil:
		return node.GetVacuumStmt().IsVacuumcmd
	case node.GetIndexStmt() != nil:
		return node.GetIndexStmt().Concurrent
	case node.GetReindexStmt() != nil:
		for _, p := range node.GetReindexStmt().Params {
			if d := p.GetDefElem(); d != nil && d.Defname == "concurrently" {
				return true
			}
		}
		return node.GetReindexStmt().Kind == pg_query.ReindexObjectType_REINDEX_OBJECT_DATABASE ||
			node.GetReindexStmt().Kind == pg_query.ReindexObjectType_REINDEX_OBJECT_SYSTEM
	case node.GetClusterStmt() != nil:
		return node.GetClusterStmt().Relation == nil
	case node.GetCreateTableSpaceStmt() != nil, node.GetDropTableSpaceStmt() != nil, node.GetAlterSystemStmt() != nil,
		node.GetCheckPointStmt() != nil:
		return true
	}
	return false
}

// statementName is a statement's name for messages ("CREATE INDEX").
func statementName(node *pg_query.Node) string {
	name := fmt.Sprintf("%T", node.Node)
	name = strings.TrimPrefix(name, "*pg_query.Node_")
	name = strings.TrimSuffix(name, "Stmt")
	return name
}
