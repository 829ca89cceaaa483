package planner

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/pgerr"
)

// builtinAggregates are PostgreSQL's aggregate functions; a statement that
// calls one over several nodes must be completed at the coordinator.
var builtinAggregates = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true, "bool_and": true, "bool_or": true,
	"every": true, "string_agg": true, "array_agg": true, "json_agg": true, "jsonb_agg": true,
	"json_object_agg": true, "jsonb_object_agg": true, "xmlagg": true, "bit_and": true, "bit_or": true,
	"bit_xor": true, "stddev": true, "stddev_pop": true, "stddev_samp": true, "variance": true,
	"var_pop": true, "var_samp": true, "corr": true, "covar_pop": true, "covar_samp": true,
	"regr_avgx": true, "regr_avgy": true, "regr_count": true, "regr_intercept": true, "regr_r2": true,
	"regr_slope": true, "regr_sxx": true, "regr_sxy": true, "regr_syy": true, "percentile_cont": true,
	"percentile_disc": true, "mode": true, "rank": true, "dense_rank": true, "percent_rank": true,
	"cume_dist": true, "range_agg": true, "range_intersect_agg": true, "any_value": true,
	"json_agg_strict": true, "json_objectagg": true, "json_arrayagg": true,
}

// needsMerge tells whether a query level combines rows (aggregates,
// grouping, DISTINCT, ordering, limits, set operations, windows), so that
// concatenating per-node results would be wrong.
func needsMerge(env *Env, s *pg_query.SelectStmt) bool {
	if s.Op != pg_query.SetOperation_SETOP_NONE || len(s.DistinctClause) > 0 || len(s.GroupClause) > 0 ||
		s.HavingClause != nil || len(s.WindowClause) > 0 || len(s.SortClause) > 0 || s.LimitCount != nil ||
		s.LimitOffset != nil {
		return true
	}
	agg := false
	for _, t := range s.TargetList {
		walk(t, func(m proto.Message) bool {
			switch x := m.(type) {
			case *pg_query.SubLink, *pg_query.RangeSubselect:
				return false
			case *pg_query.FuncCall:
				_, name := funcName(x)
				if x.Over != nil || x.AggStar || x.AggDistinct || len(x.AggOrder) > 0 || x.AggFilter != nil ||
					builtinAggregates[name] || env.Rel.Aggregates[name] {
					agg = true
				}
			case *pg_query.GroupingFunc:
				agg = true
			}
			return !agg
		})
	}
	return agg
}

// PlanSelect plans a SELECT (stmt holds a SelectStmt).
func PlanSelect(env *Env, stmt *pg_query.Node) (Plan, error) {
	if stmt.GetSelectStmt().IntoClause != nil {
		return nil, pgerr.Unsupported("SELECT INTO is not supported yet; use CREATE TABLE AS")
	}
	// One look at the tree says which rewrites it needs; the caller's tree
	// is copied before the first change.
	f := scanFacts(env, stmt)
	if f.special || f.views {
		env = env.withoutSQL()
	}
	owned := false
	if f.special || f.views {
		stmt = proto.Clone(stmt).(*pg_query.Node)
		owned = true
		if err := injectCatalogViews(env, stmt); err != nil {
			return nil, err
		}
		if err := expandViews(env, stmt); err != nil {
			return nil, err
		}
		f = scanFacts(env, stmt)
	}
	if f.nestedWrite {
		if err := checkNestedWrites(env, stmt, nil); err != nil {
			return nil, err
		}
	}
	refs, err := collectRefs(env, stmt)
	if err != nil {
		return nil, err
	}
	return planRead(env, stmt, refs, f.locking, owned)
}

// facts are what one walk of a statement tells the planner.
type facts struct {
	special     bool // mentions pgxc_node, pgxc_group or pgxc_class
	views       bool // mentions a view over distributed tables
	nestedWrite bool // holds an INSERT, UPDATE, DELETE or MERGE below its top
	locking     bool // FOR UPDATE / FOR SHARE
}

func scanFacts(env *Env, stmt *pg_query.Node) facts {
	var f facts
	if env.SQL != "" && !textMayNeed(env, strings.ToLower(env.SQL)) {
		return f
	}
	top := proto.Message(nil)
	switch {
	case stmt.GetSelectStmt() != nil:
		top = stmt.GetSelectStmt()
	case stmt.GetInsertStmt() != nil:
		top = stmt.GetInsertStmt()
	case stmt.GetUpdateStmt() != nil:
		top = stmt.GetUpdateStmt()
	case stmt.GetDeleteStmt() != nil:
		top = stmt.GetDeleteStmt()
	}
	walk(stmt, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.RangeVar:
			if isSpecial(x) {
				f.special = true
			}
			if env.Rel != nil && len(env.Rel.ViewDefs) > 0 {
				if _, ok := env.Rel.ViewDef(x.Schemaname, x.Relname, env.SearchPath); ok {
					f.views = true
				}
			}
		case *pg_query.SelectStmt:
			if len(x.LockingClause) > 0 {
				f.locking = true
			}
		case *pg_query.InsertStmt, *pg_query.UpdateStmt, *pg_query.DeleteStmt, *pg_query.MergeStmt:
			if m != top {
				f.nestedWrite = true
			}
		}
		return true
	})
	return f
}

// planRead plans a statement that reads (a SELECT, or a write confined to
// one node) given its relation references. A locking read (FOR UPDATE,
// FOR SHARE) is a write: it holds its row locks to the end of the
// transaction, an extended-protocol batch's too, and prepares with it.
func planRead(env *Env, stmt *pg_query.Node, refs []*relRef, locking, owned bool) (Plan, error) {
	ids := env.NodeIDs()
	var dist, repl []*relRef
	for _, r := range refs {
		switch {
		case r.distributed():
			dist = append(dist, r)
		case r.replicated():
			repl = append(repl, r)
		}
	}
	replNodes := intersectNodes(env.Datanodes(), repl)
	if len(env.Datanodes()) == 0 {
		return nil, pgerr.New(pgerr.UndefinedObject, "no datanode is defined: CREATE NODE ... WITH (TYPE = 'datanode', ...) first")
	}
	if len(dist) == 0 {
		if len(replNodes) == 0 {
			return nil, pgerr.Unsupported("a query over replicated tables that share no node")
		}
		node := env.Preferred(replNodes)
		sqls, err := perNodeSQL(stmt, []string{node}, ids, env.SQL)
		if err != nil {
			return nil, err
		}
		rq := &RemoteQuery{Nodes: []string{node}, SQL: sqls, Write: locking}
		if !locking && !mentionsXCNodeID(stmt) {
			rq.Copies = slices.Clone(replNodes)
		}
		return rq, nil
	}
	// Every distributed reference pinned to the same single node: the whole
	// statement runs there.
	if node, ok := sameSingleNode(dist); ok && slices.Contains(replNodes, node) {
		sqls, err := perNodeSQL(stmt, []string{node}, ids, env.SQL)
		if err != nil {
			return nil, err
		}
		rq := &RemoteQuery{Nodes: []string{node}, SQL: sqls, Write: locking}
		if len(refs) == 1 && dist[0].pinnedBy != nil && (env.SQL != "" && !strings.Contains(strings.ToLower(env.SQL), "xc_node_id") ||
			deferredParam(env, dist[0].pinnedBy)) {
			// The same statement with another value goes where that value says.
			rq.Route = routeBy(dist[0].table, dist[0].pinnedBy)
		}
		return rq, nil
	}
	sel := stmt.GetSelectStmt()
	// Tables co-located and joined on their distribution columns: each node
	// joins its own rows; the results are concatenated.
	if sel != nil && len(dist) > 1 && !needsMergeAcrossNodes(env, sel, dist) && sel.WithClause == nil {
		if nodes, ok := colocated(dist, sel); ok && coversAll(replNodes, nodes) {
			sqls, err := perNodeSQL(stmt, nodes, ids, env.SQL)
			if err != nil {
				return nil, err
			}
			return &RemoteQuery{Nodes: nodes, SQL: sqls, Write: locking}, nil
		}
	}
	// ... and when the rows must be merged (ordered, limited, made
	// DISTINCT), each node sends its joined rows ordered and the
	// coordinator merges them.
	if sel != nil && len(dist) > 1 && sel.WithClause == nil && len(refs) == len(dist)+len(repl) {
		if nodes, ok := colocated(dist, sel); ok && coversAll(replNodes, nodes) {
			if plan, ok, err := planColocatedMerge(env, stmt, refs, nodes); err != nil || ok {
				return plan, err
			}
		}
	}
	if len(dist) == 1 && dist[0].top && !dist[0].nullable && sel != nil && !needsMergeAcrossNodes(env, sel, dist) && sel.WithClause == nil &&
		coversAll(replNodes, dist[0].nodes()) {
		nodes := dist[0].nodes()
		sqls, err := perNodeSQL(stmt, nodes, ids, env.SQL)
		if err != nil {
			return nil, err
		}
		return &RemoteQuery{Nodes: nodes, SQL: sqls, Write: locking}, nil
	}
	if locking && sel != nil && len(dist) == 1 && len(pushableTerms(dist[0])) == len(conjuncts(dist[0].where)) {
		// Each node locks and sends its rows in order; the coordinator
		// merges them and drops none.
		if plan, ok, err := planMerge(env, stmt, dist[0]); err != nil || ok {
			return plan, err
		}
	}
	if locking {
		if sel != nil && (sel.LimitCount != nil || sel.LimitOffset != nil) {
			return nil, pgerr.Unsupported("SELECT ... FOR UPDATE/SHARE with LIMIT or OFFSET over rows of several datanodes: each datanode would lock rows the limit leaves out")
		}
		return nil, pgerr.Unsupported("SELECT ... FOR UPDATE/SHARE over rows of several datanodes that the coordinator must combine (a join, aggregate or DISTINCT across datanodes): only the rows of each datanode's own statement can be locked")
	}
	if sel == nil {
		return nil, pgerr.Unsupported("this statement reads distributed tables on several datanodes")
	}
	if !owned {
		// Gathering rewrites the tree: work on a copy.
		stmt = proto.Clone(stmt).(*pg_query.Node)
		refs, err := collectRefs(env, stmt)
		if err != nil {
			return nil, err
		}
		dist = dist[:0]
		for _, r := range refs {
			if r.distributed() {
				dist = append(dist, r)
			}
		}
	}
	if plan, ok, err := planSubPlan(env, stmt); err != nil || ok {
		return plan, err
	}
	return planGather(env, stmt, dist, replNodes)
}

// deferredParam tells whether a node is a parameter whose value is known
// at run time only.
func deferredParam(env *Env, n *pg_query.Node) bool {
	pr := n.GetParamRef()
	return pr != nil && int(pr.Number) >= 1 && int(pr.Number) <= len(env.Params) && env.Params[pr.Number-1].Deferred
}

func sameSingleNode(refs []*relRef) (string, bool) {
	node := ""
	for _, r := range refs {
		ns := r.nodes()
		if len(ns) != 1 || (node != "" && ns[0] != node) {
			return "", false
		}
		node = ns[0]
	}
	return node, node != ""
}

func coversAll(have, need []string) bool {
	for _, n := range need {
		if !slices.Contains(have, n) {
			return false
		}
	}
	return true
}

// intersectNodes is the datanodes that hold every replicated reference.
func intersectNodes(all []string, repl []*relRef) []string {
	out := append([]string(nil), all...)
	for _, r := range repl {
		var keep []string
		for _, n := range out {
			if slices.Contains(r.table.Locator.Nodes, n) {
				keep = append(keep, n)
			}
		}
		out = keep
	}
	return out
}

// planGather pulls each distributed reference's rows (with the WHERE terms
// that concern it alone) and evaluates the statement over them.
func planGather(env *Env, stmt *pg_query.Node, dist []*relRef, replNodes []string) (Plan, error) {
	ids := env.NodeIDs()
	withXC := env.mentionsXC(stmt)
	if withXC && hasStar(stmt) {
		return nil, pgerr.Unsupported("xc_node_id together with * in a query that combines rows of several datanodes")
	}
	if len(replNodes) == 0 {
		return nil, pgerr.Unsupported("a query joining replicated tables that share no node with distributed tables")
	}
	if len(dist) == 2 {
		if plan, ok, err := planJoin(env, stmt, dist); err != nil || ok {
			return plan, err
		}
	}
	if len(dist) == 1 {
		r := dist[0]
		if pushed := pushableTerms(r); len(pushed) == len(conjuncts(r.where)) {
			if plan, ok, err := planFinalAgg(env, stmt, r); err != nil || ok {
				return plan, err
			}
			plan, ok, err := planPartialAgg(env, stmt, r, replNodes, pushed)
			if err != nil || ok {
				return plan, err
			}
			if plan, ok, err := planMerge(env, stmt, r); err != nil || ok {
				return plan, err
			}
			if plan, ok, err := planWindow(env, stmt, r); err != nil || ok {
				return plan, err
			}
		} else if env.Params != nil && len(pushableTermsP(r, true)) == len(conjuncts(r.where)) {
			// Terms that read the statement's parameters: the primitives'
			// remote scans are sent with the values.
			for _, try := range []func(*Env, *pg_query.Node, *relRef) (Plan, bool, error){planFinalAgg, planMerge, planWindow} {
				if plan, ok, err := try(env, stmt, r); err != nil || ok {
					return plan, err
				}
			}
		}
	}
	g := &GatherEval{Node: env.Preferred(replNodes), ParamBase: len(env.Params)}
	param := len(env.Params)
	var ctes []*pg_query.Node
	rescanned := nodesInSubLinks(stmt)
	used := usedColumns(stmt)
	for _, r := range dist {
		in := GatherInput{Table: r.table.QualifiedName(), Nodes: r.nodes(), SQL: map[string]string{}}
		var cols []string
		for _, c := range r.table.Columns {
			if used != nil && !used[c.Name] && !used["\x00"+r.alias] {
				continue // the statement never reads it
			}
			in.Columns = append(in.Columns, c.Name)
			in.Types = append(in.Types, c.Type)
			in.Collations = append(in.Collations, c.Collation)
			cols = append(cols, quoteIdent(r.alias)+"."+quoteIdent(c.Name))
		}
		for _, sc := range systemColumns {
			if mentionsColumnOf(stmt, r.alias, sc.name) {
				// Each row's own, as on its datanode (as in Postgres-XL).
				in.Columns = append(in.Columns, sc.name)
				in.Types = append(in.Types, sc.typ)
				in.Collations = append(in.Collations, "")
				cols = append(cols, quoteIdent(r.alias)+"."+sc.name)
			}
		}
		if withXC {
			in.Columns = append(in.Columns, "xc_node_id")
			in.Types = append(in.Types, "integer")
			cols = append(cols, "xc_node_id")
		}
		if len(in.Columns) == 0 {
			// No column is read (count(*)): the rows still count.
			in.Columns = append(in.Columns, "__xlgo_row")
			in.Types = append(in.Types, "integer")
			cols = append(cols, "1")
		}
		only := ""
		if !r.rv.Inh {
			only = "ONLY "
		}
		remote := parseOne(fmt.Sprintf("SELECT %s FROM %s%s AS %s", strings.Join(cols, ", "), only,
			r.table.QualifiedName(), quoteIdent(r.alias)))
		holder := r.holder
		if r.sample != nil {
			withSample(r, remote.GetSelectStmt())
			holder = r.sample
		}
		pushed := pushableTerms(r)
		allPushed := len(pushed) == len(conjuncts(r.where))
		derived := derivedTerms(r, dist)
		if len(pushed)+len(derived) > 0 {
			var cl []*pg_query.Node
			for _, p := range pushed {
				cl = append(cl, proto.Clone(p).(*pg_query.Node))
			}
			cl = append(cl, derived...)
			remote.GetSelectStmt().WhereClause = andOf(cl)
			removeTerms(stmt, r, pushed)
		}
		if len(dist) == 1 && allPushed {
			if sortBy, limit, ok := topN(env, stmt.GetSelectStmt(), r); ok {
				// Each node sends only its first rows in the query's order;
				// the final query orders and limits again.
				rs := remote.GetSelectStmt()
				rs.SortClause = sortBy
				rs.LimitCount = &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{
					Val: &pg_query.A_Const_Ival{Ival: &pg_query.Integer{Ival: int32(limit)}}}}}
				rs.LimitOption = pg_query.LimitOption_LIMIT_OPTION_COUNT
			}
		}
		sqls, err := perNodeSQL(remote, in.Nodes, ids)
		if err != nil {
			return nil, err
		}
		in.SQL = sqls
		// The reference becomes a subquery over the pulled rows.
		var args, outs, names []string
		for i := range in.Columns {
			param++
			args = append(args, fmt.Sprintf("$%d::text[]", param))
			names = append(names, fmt.Sprintf("c%d", i+1))
			coll := ""
			if i < len(in.Collations) && in.Collations[i] != "" {
				coll = " COLLATE " + in.Collations[i]
			}
			outs = append(outs, fmt.Sprintf("u.c%d::%s%s AS %s", i+1, in.Types[i], coll, quoteIdent(in.Columns[i])))
		}
		if len(in.Columns) == 0 {
			return nil, pgerr.Unsupported("a table without columns in a multi-node query")
		}
		sub := parseOne(fmt.Sprintf("SELECT * FROM (SELECT %s FROM unnest(%s) AS u(%s)) AS x",
			strings.Join(outs, ", "), strings.Join(args, ", "), strings.Join(names, ", ")))
		rs := sub.GetSelectStmt().FromClause[0].GetRangeSubselect()
		alias := r.rv.Alias
		if alias == nil {
			alias = &pg_query.Alias{Aliasname: r.rv.Relname}
		}
		if !rescanned[holder] || stmt.GetSelectStmt() == nil {
			rs.Alias = alias
			holder.Node = &pg_query.Node_RangeSubselect{RangeSubselect: rs}
		} else {
			// Read in a subquery, which may run once per row: the rows are
			// cast from text once, into a materialized CTE, not at every
			// scan of the subquery.
			name := fmt.Sprintf("xlgo_rows%d", len(g.Inputs)+1)
			ctes = append(ctes, &pg_query.Node{Node: &pg_query.Node_CommonTableExpr{CommonTableExpr: &pg_query.CommonTableExpr{
				Ctename: name, Ctematerialized: pg_query.CTEMaterialize_CTEMaterializeAlways, Ctequery: rs.Subquery}}})
			ref := parseOne("SELECT * FROM " + name).GetSelectStmt().FromClause[0]
			ref.GetRangeVar().Alias = alias
			holder.Node = ref.Node
		}
		g.Inputs = append(g.Inputs, in)
	}
	if len(ctes) > 0 {
		sel := stmt.GetSelectStmt()
		if sel.WithClause == nil {
			sel.WithClause = &pg_query.WithClause{}
		}
		// First: a query of the statement's own WITH may read them.
		sel.WithClause.Ctes = append(ctes, sel.WithClause.Ctes...)
	}
	sql, err := deparse(stmt)
	if err != nil {
		return nil, err
	}
	g.SQL = sql
	walk(stmt, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.CommonTableExpr:
			if strings.HasPrefix(x.Ctename, "xlgo_rows") {
				return false
			}
		case *pg_query.RangeVar:
			if !strings.HasPrefix(x.Relname, "xlgo_rows") || x.Schemaname != "" {
				g.ReadsTables = true
			}
		}
		return !g.ReadsTables
	})
	return g, nil
}

func hasStar(stmt *pg_query.Node) bool {
	found := false
	walk(stmt, func(m proto.Message) bool {
		if cr, ok := m.(*pg_query.ColumnRef); ok {
			for _, f := range cr.Fields {
				if f.GetAStar() != nil {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// pushableTerms are the WHERE terms of r's query level that read r alone:
// they can be evaluated on the datanodes instead.
func pushableTerms(r *relRef) []*pg_query.Node { return pushableTermsP(r, false) }

// pushableTermsP is pushableTerms, with terms that read parameters when
// params is set (the remote query is sent with the statement's values).
func pushableTermsP(r *relRef, params bool) []*pg_query.Node {
	// A table joined with others: terms naming its columns with its alias
	// only, unless an outer join may NULL-extend its rows.
	if r.where == nil || !r.sole && (r.nullable || !r.top) {
		return nil
	}
	var out []*pg_query.Node
	for _, c := range conjuncts(r.where) {
		ok := true
		walk(c, func(m proto.Message) bool {
			switch x := m.(type) {
			case *pg_query.SubLink, *pg_query.FuncCall:
				ok = false
			case *pg_query.ParamRef:
				ok = params
			case *pg_query.ColumnRef:
				names := columnRefNames(x)
				col := names[len(names)-1]
				_, isCol := r.table.Column(col)
				isCol = isCol || col == "xc_node_id" && r.sole
				if !isCol || !r.refersTo(x, col) || !r.sole && (len(names) != 2 || names[0] != r.alias) {
					ok = false
				}
			}
			return ok
		})
		if ok {
			out = append(out, c)
		}
	}
	return out
}

// removeTerms takes pushed terms out of the WHERE clause of r's level.
func removeTerms(stmt *pg_query.Node, r *relRef, pushed []*pg_query.Node) {
	drop := map[*pg_query.Node]bool{}
	for _, p := range pushed {
		drop[p] = true
	}
	fix := func(where **pg_query.Node) {
		if *where != r.where {
			return
		}
		var keep []*pg_query.Node
		for _, c := range conjuncts(*where) {
			if !drop[c] {
				keep = append(keep, c)
			}
		}
		*where = andOf(keep)
	}
	walk(stmt, func(m proto.Message) bool {
		if s, ok := m.(*pg_query.SelectStmt); ok {
			fix(&s.WhereClause)
		}
		return true
	})
}

// injectCatalogViews replaces pgxc_node and pgxc_group by the coordinator's
// own rows, pgxc_rebalance_status and pgxc_stat_activity by what it knows
// and gathers, and pgxc_class by the catalog table on the datanodes.
func injectCatalogViews(env *Env, stmt *pg_query.Node) error {
	var err error
	walk(stmt, func(m proto.Message) bool {
		n, ok := m.(*pg_query.Node)
		if !ok || err != nil {
			return err == nil
		}
		rv := n.GetRangeVar()
		if rv == nil || !isSpecial(rv) {
			return true
		}
		var sub string
		switch rv.Relname {
		case "pgxc_node":
			sub = pgxcNodeSQL(env.Nodes)
		case "pgxc_group":
			sub = pgxcGroupSQL(env.Groups)
		case "pgxc_rebalance_status":
			sub = rebalanceStatusSQL(env)
		case "pgxc_stat_activity":
			if sub, err = statActivitySQL(env); err != nil {
				return false
			}
		case "pgxc_class":
			if env.Rel.Ready {
				rv.Schemaname = catalog.Schema
				return false
			}
			sub = `SELECT NULL::oid AS pcrelid, NULL::"char" AS pclocatortype, NULL::int2 AS pcattnum,
				NULL::int2 AS pchashalgorithm, NULL::int2 AS pchashbuckets, NULL::oid[] AS nodeoids,
				NULL::name[] AS pcnodenames, NULL::int2[] AS pcbucketmap WHERE false`
		}
		rs := parseOne("SELECT * FROM (" + sub + ") AS x").GetSelectStmt().FromClause[0].GetRangeSubselect()
		if rv.Alias != nil {
			rs.Alias = rv.Alias
		} else {
			rs.Alias = &pg_query.Alias{Aliasname: rv.Relname}
		}
		n.Node = &pg_query.Node_RangeSubselect{RangeSubselect: rs}
		return false
	})
	return err
}

func pgxcNodeSQL(nodes []catalog.Node) string {
	const cols = "node_name, node_type, node_port, node_host, nodeis_primary, nodeis_preferred, node_id"
	if len(nodes) == 0 {
		return `SELECT NULL::name AS node_name, NULL::"char" AS node_type, NULL::int4 AS node_port,
			NULL::name AS node_host, NULL::bool AS nodeis_primary, NULL::bool AS nodeis_preferred,
			NULL::int4 AS node_id WHERE false`
	}
	sorted := append([]catalog.Node(nil), nodes...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Type != sorted[j].Type {
			return sorted[i].Type < sorted[j].Type
		}
		return sorted[i].Name < sorted[j].Name
	})
	var rows []string
	for _, n := range sorted {
		rows = append(rows, fmt.Sprintf(`(%s::name, %s::"char", %d, %s::name, %t, %t, %d)`,
			quoteLiteral(n.Name), quoteLiteral(n.Type), n.Port, quoteLiteral(n.Host), n.Primary, n.Preferred, n.ID()))
	}
	return fmt.Sprintf("SELECT * FROM (VALUES %s) AS v(%s)", strings.Join(rows, ", "), cols)
}

// rebalanceStatusSQL is the pgxc_rebalance_status view: the moves this
// coordinator runs, with their progress, and the tables of the database
// whose move runs elsewhere or was cut short (xlctl rebalance --resume).
func rebalanceStatusSQL(env *Env) string {
	const cols = "coordinator, table_name, target_nodes, phase, source_node, dest_node, buckets_total, buckets_done, rows_copied, bytes_copied, rows_per_sec, started"
	var rows []string
	here := map[string]bool{}
	var moves []MoveStatus
	if env.Moves != nil {
		moves = env.Moves()
	}
	for _, m := range moves {
		target := ""
		if m.Target != "" {
			target = "{" + m.Target + "}"
		}
		if env.Rel != nil {
			for _, t := range env.Rel.Tables {
				if t.QualifiedName() == m.Table && t.Target != nil {
					target = "{" + strings.Join(t.Target, ",") + "}"
				}
			}
		}
		here[m.Table] = true
		if m.BucketsTotal == 0 && m.Rows == 0 && m.Coordinator != "" && strings.HasPrefix(m.Phase, "running on") {
			// Recorded at the gtm: its progress is its coordinator's.
			rows = append(rows, fmt.Sprintf("(%s::name, %s::text, %s::text, %s::text, %s::name, %s::name, NULL::int4, NULL::int4, NULL::int8, NULL::int8, NULL::float8, %s::timestamptz)",
				quoteLiteral(m.Coordinator), quoteLiteral(m.Table), quoteLiteral(target), quoteLiteral(m.Phase), quoteLiteral(m.Source), quoteLiteral(m.Dest),
				quoteLiteral(m.Started.UTC().Format(time.RFC3339Nano))))
			continue
		}
		rows = append(rows, fmt.Sprintf("(%s::name, %s::text, %s::text, %s::text, %s::name, %s::name, %d, %d, %d::int8, %d::int8, %.1f::float8, %s::timestamptz)",
			quoteLiteral(m.Coordinator), quoteLiteral(m.Table), quoteLiteral(target), quoteLiteral(m.Phase), quoteLiteral(m.Source), quoteLiteral(m.Dest), m.BucketsTotal, m.BucketsDone,
			m.Rows, m.Bytes, m.RowsPerSec, quoteLiteral(m.Started.UTC().Format(time.RFC3339Nano))))
	}
	if env.Rel != nil {
		var cut []*catalog.Table
		for _, t := range env.Rel.Tables {
			if t.Target != nil && !here[t.QualifiedName()] {
				cut = append(cut, t)
			}
		}
		sort.Slice(cut, func(i, j int) bool { return cut[i].QualifiedName() < cut[j].QualifiedName() })
		for _, t := range cut {
			rows = append(rows, fmt.Sprintf("(NULL::name, %s::text, %s::text, 'elsewhere or cut short', NULL::name, NULL::name, NULL::int4, NULL::int4, NULL::int8, NULL::int8, NULL::float8, NULL::timestamptz)",
				quoteLiteral(t.QualifiedName()), quoteLiteral("{"+strings.Join(t.Target, ",")+"}")))
		}
	}
	if len(rows) == 0 {
		return `SELECT NULL::name AS coordinator, NULL::text AS table_name, NULL::text AS target_nodes, NULL::text AS phase,
			NULL::name AS source_node, NULL::name AS dest_node, NULL::int4 AS buckets_total, NULL::int4 AS buckets_done, NULL::int8 AS rows_copied, NULL::int8 AS bytes_copied,
			NULL::float8 AS rows_per_sec, NULL::timestamptz AS started WHERE false`
	}
	return fmt.Sprintf("SELECT * FROM (VALUES %s) AS v(%s)", strings.Join(rows, ", "), cols)
}

// statActivitySQL is the pgxc_stat_activity view: the backends of every
// datanode, with the coordinator and the session of this coordinator that
// hold them.
func statActivitySQL(env *Env) (string, error) {
	const cols = "node_name, pid, datname, usename, application_name, state, query, backend_start, xact_start, query_start, wait_event_type, wait_event, backend_type, coordinator, session_id"
	var acts []BackendActivity
	if env.StatActivity != nil {
		var err error
		if acts, err = env.StatActivity(); err != nil {
			return "", err
		}
	}
	if len(acts) == 0 {
		return `SELECT NULL::name AS node_name, NULL::int4 AS pid, NULL::name AS datname, NULL::name AS usename, NULL::text AS application_name,
			NULL::text AS state, NULL::text AS query, NULL::timestamptz AS backend_start, NULL::timestamptz AS xact_start, NULL::timestamptz AS query_start,
			NULL::text AS wait_event_type, NULL::text AS wait_event, NULL::text AS backend_type, NULL::name AS coordinator, NULL::int8 AS session_id WHERE false`, nil
	}
	lit := func(v *string, typ string) string {
		if v == nil {
			return "NULL::" + typ
		}
		return quoteLiteral(*v) + "::" + typ
	}
	rows := make([]string, 0, len(acts))
	for _, a := range acts {
		session := "NULL::int8"
		if a.SessionID != 0 {
			session = strconv.FormatUint(a.SessionID, 10) + "::int8"
		}
		rows = append(rows, fmt.Sprintf("(%s::name, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
			quoteLiteral(a.Node), a.PID, lit(a.Database, "name"), lit(a.User, "name"), lit(a.ApplicationName, "text"), lit(a.State, "text"),
			lit(a.Query, "text"), lit(a.BackendStart, "timestamptz"), lit(a.XactStart, "timestamptz"), lit(a.QueryStart, "timestamptz"),
			lit(a.WaitEventType, "text"), lit(a.WaitEvent, "text"), lit(a.BackendType, "text"), lit(a.Coordinator, "name"), session))
	}
	return fmt.Sprintf("SELECT * FROM (VALUES %s) AS v(%s)", strings.Join(rows, ", "), cols), nil
}

func pgxcGroupSQL(groups []catalog.Group) string {
	if len(groups) == 0 {
		return "SELECT NULL::name AS group_name, NULL::name[] AS group_members WHERE false"
	}
	var rows []string
	for _, g := range groups {
		var ms []string
		for _, m := range g.Members {
			ms = append(ms, quoteLiteral(m))
		}
		rows = append(rows, fmt.Sprintf("(%s::name, ARRAY[%s]::name[])", quoteLiteral(g.Name), strings.Join(ms, ", ")))
	}
	return fmt.Sprintf("SELECT * FROM (VALUES %s) AS v(group_name, group_members)", strings.Join(rows, ", "))
}

// expandViews replaces views over distributed tables by their definitions,
// so that the tables they read are planned like any other.
func expandViews(env *Env, stmt *pg_query.Node) error {
	if env.Rel == nil || len(env.Rel.ViewDefs) == 0 {
		return nil
	}
	cte := map[string]bool{}
	walk(stmt, func(m proto.Message) bool {
		if c, ok := m.(*pg_query.CommonTableExpr); ok {
			cte[c.Ctename] = true
		}
		return true
	})
	for depth := 0; depth < 16; depth++ {
		changed := false
		var err error
		walk(stmt, func(m proto.Message) bool {
			n, ok := m.(*pg_query.Node)
			if !ok || err != nil {
				return err == nil
			}
			rv := n.GetRangeVar()
			if rv == nil {
				return true
			}
			if rv.Schemaname == "" && cte[rv.Relname] {
				return false
			}
			def, ok := env.Rel.ViewDef(rv.Schemaname, rv.Relname, env.SearchPath)
			if !ok {
				return false
			}
			res, perr := pg_query.Parse(def)
			if perr != nil || len(res.Stmts) != 1 || res.Stmts[0].Stmt.GetSelectStmt() == nil {
				err = pgerr.Unsupported("the view %q", rv.Relname)
				return false
			}
			rs := &pg_query.RangeSubselect{Subquery: res.Stmts[0].Stmt, Alias: rv.Alias}
			if rs.Alias == nil {
				rs.Alias = &pg_query.Alias{Aliasname: rv.Relname}
			}
			n.Node = &pg_query.Node_RangeSubselect{RangeSubselect: rs}
			changed = true
			return false
		})
		if err != nil || !changed {
			return err
		}
	}
	return pgerr.Unsupported("views nested more than 16 deep")
}

// textMayNeed tells from a statement's text whether it may mention a
// catalog view, a view over distributed tables, a nested write or a locking
// clause; when it cannot, the walk that finds them is spared.
func textMayNeed(env *Env, l string) bool {
	for _, w := range []string{"pgxc_", "insert", "update", "delete", "merge", " for ", "\nfor ", "\tfor "} {
		if strings.Contains(l, w) {
			return true
		}
	}
	if env.Rel != nil {
		for k := range env.Rel.ViewDefs {
			if i := strings.LastIndexByte(k, '.'); i >= 0 && strings.Contains(l, strings.ToLower(k[i+1:])) {
				return true
			}
		}
	}
	return false
}

func (e *Env) withoutSQL() *Env {
	c := *e
	c.SQL = ""
	return &c
}

// colocated tells whether distributed references of the top query level
// can be joined on each node alone: the same locator (kind, nodes, map,
// distribution type) and every pair linked by equalities of their
// distribution columns. It gives the nodes that can hold joined rows.
func colocated(dist []*relRef, sel *pg_query.SelectStmt) ([]string, bool) {
	first := dist[0].table.Locator
	for _, r := range dist {
		l := r.table.Locator
		if !r.top || (l.Kind != distribution.Hash && l.Kind != distribution.Modulo) || l.Kind != first.Kind ||
			r.table.DistCol < 0 || typeFamily(l.TypeName) == "" || typeFamily(l.TypeName) != typeFamily(first.TypeName) ||
			strings.Join(l.Nodes, ",") != strings.Join(first.Nodes, ",") || !sameMap(&l, &first) || l.Frozen != nil {
			return nil, false
		}
	}
	// Equalities from WHERE and from the JOIN conditions.
	var terms []*pg_query.Node
	terms = append(terms, conjuncts(sel.WhereClause)...)
	onlyDist := true
	var joins func(n *pg_query.Node)
	joins = func(n *pg_query.Node) {
		if j := n.GetJoinExpr(); j != nil {
			terms = append(terms, conjuncts(j.Quals)...)
			if len(j.UsingClause) > 0 {
				l, r := j.Larg.GetRangeVar(), j.Rarg.GetRangeVar()
				for _, u := range j.UsingClause {
					col := strVal(u)
					if l != nil && r != nil {
						terms = append(terms, eqTerm(aliasOf(l), col, aliasOf(r), col))
					}
				}
			}
			joins(j.Larg)
			joins(j.Rarg)
		} else if rv := n.GetRangeVar(); rv == nil || !isDistRef(dist, rv) {
			onlyDist = false
		}
	}
	for _, f := range sel.FromClause {
		joins(f)
	}
	for _, r := range dist {
		if r.nullable && !onlyDist {
			return nil, false
		}
	}
	parent := make([]int, len(dist))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			i = parent[i]
		}
		return i
	}
	refOf := func(cr *pg_query.ColumnRef) int {
		names := columnRefNames(cr)
		if len(names) != 2 {
			return -1
		}
		for i, r := range dist {
			if r.alias == names[0] && names[1] == r.table.Locator.Column {
				return i
			}
		}
		return -1
	}
	for _, t := range terms {
		e := t.GetAExpr()
		if e == nil || e.Kind != pg_query.A_Expr_Kind_AEXPR_OP || len(e.Name) != 1 || strVal(e.Name[0]) != "=" {
			continue
		}
		lc, rc := e.Lexpr.GetColumnRef(), e.Rexpr.GetColumnRef()
		if lc == nil || rc == nil {
			continue
		}
		a, b := refOf(lc), refOf(rc)
		if a >= 0 && b >= 0 {
			parent[find(a)] = find(b)
		}
	}
	root := find(0)
	for i := range dist {
		if find(i) != root {
			return nil, false
		}
	}
	// The nodes every reference may have rows on.
	var nodes []string
	for _, n := range first.Nodes {
		in := true
		for _, r := range dist {
			if !slices.Contains(r.nodes(), n) {
				in = false
			}
		}
		if in {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		nodes = []string{first.Nodes[0]}
	}
	return nodes, true
}

func aliasOf(rv *pg_query.RangeVar) string {
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		return rv.Alias.Aliasname
	}
	return rv.Relname
}

// eqTerm is a.x = b.y.
func eqTerm(a, x, b, y string) *pg_query.Node {
	col := func(t, c string) *pg_query.Node {
		return &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{Fields: []*pg_query.Node{
			{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: t}}},
			{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: c}}}}}}}
	}
	return &pg_query.Node{Node: &pg_query.Node_AExpr{AExpr: &pg_query.A_Expr{Kind: pg_query.A_Expr_Kind_AEXPR_OP,
		Name: []*pg_query.Node{{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: "="}}}}, Lexpr: col(a, x), Rexpr: col(b, y)}}}
}

func isDistRef(dist []*relRef, rv *pg_query.RangeVar) bool {
	for _, r := range dist {
		if r.rv == rv {
			return true
		}
	}
	return false
}

// topN gives the ORDER BY and LIMIT a datanode can apply to the rows of the
// query's only table: the query orders and limits nothing but that table's
// rows (no grouping, DISTINCT, window, set operation), with a constant
// LIMIT (and OFFSET), and its sort keys are expressions of the table's
// columns (output names and positions are resolved).
func topN(env *Env, sel *pg_query.SelectStmt, r *relRef) ([]*pg_query.Node, int64, bool) {
	if sel == nil || !r.sole || !r.top || len(sel.SortClause) == 0 || sel.LimitCount == nil ||
		sel.Op != pg_query.SetOperation_SETOP_NONE || len(sel.DistinctClause) > 0 || len(sel.GroupClause) > 0 ||
		sel.HavingClause != nil || len(sel.WindowClause) > 0 || len(sel.LockingClause) > 0 ||
		sel.LimitOption != pg_query.LimitOption_LIMIT_OPTION_COUNT && sel.LimitOption != pg_query.LimitOption_LIMIT_OPTION_DEFAULT {
		return nil, 0, false
	}
	cnt := sel.LimitCount.GetAConst()
	if cnt == nil || cnt.GetIval() == nil && !cnt.Isnull {
		return nil, 0, false
	}
	if cnt.Isnull {
		return nil, 0, false // LIMIT NULL: no limit
	}
	limit := int64(cnt.GetIval().Ival)
	if sel.LimitOffset != nil {
		off := sel.LimitOffset.GetAConst()
		if off == nil || off.GetIval() == nil {
			return nil, 0, false
		}
		limit += int64(off.GetIval().Ival)
	}
	if limit < 0 || limit > 1<<30 {
		return nil, 0, false
	}
	// Aggregates in the target list make one row of many, a set-returning
	// function many of one: no.
	probe := &pg_query.SelectStmt{TargetList: sel.TargetList, Op: sel.Op}
	if needsMerge(env, probe) || callsSetReturning(env, sel.TargetList) || callsSetReturning(env, sel.SortClause) {
		return nil, 0, false
	}
	var out []*pg_query.Node
	for _, sb := range sel.SortClause {
		by := sb.GetSortBy()
		if by == nil || by.UseOp != nil {
			return nil, 0, false
		}
		expr := by.Node
		if c := expr.GetAConst(); c != nil && c.GetIval() != nil {
			i := int(c.GetIval().Ival) - 1
			if i < 0 || i >= len(sel.TargetList) {
				return nil, 0, false
			}
			expr = sel.TargetList[i].GetResTarget().GetVal()
		} else if cr := expr.GetColumnRef(); cr != nil {
			names := columnRefNames(cr)
			if len(names) == 1 {
				// A bare name in ORDER BY means an output column first.
				for _, t := range sel.TargetList {
					if rt := t.GetResTarget(); rt != nil && rt.Name == names[0] {
						expr = rt.Val
						break
					}
				}
			}
		}
		if expr == nil || !readsOnly(expr, r) {
			return nil, 0, false
		}
		if !readsColumns(expr) {
			// The same for every row, it orders nothing; and a constant
			// would be read as a position, or refused, in ORDER BY.
			continue
		}
		c := proto.Clone(by).(*pg_query.SortBy)
		c.Node = proto.Clone(expr).(*pg_query.Node)
		out = append(out, &pg_query.Node{Node: &pg_query.Node_SortBy{SortBy: c}})
	}
	if len(out) == 0 {
		return nil, 0, false
	}
	return out, limit, true
}

// readsColumns tells whether an expression refers to a column.
func readsColumns(expr *pg_query.Node) bool {
	found := false
	walk(expr, func(m proto.Message) bool {
		if _, ok := m.(*pg_query.ColumnRef); ok {
			found = true
		}
		return !found
	})
	return found
}

// callsSetReturning tells whether any of nodes calls a set-returning function.
func callsSetReturning(env *Env, nodes []*pg_query.Node) bool {
	found := false
	for _, n := range nodes {
		walk(n, func(m proto.Message) bool {
			if fc, ok := m.(*pg_query.FuncCall); ok {
				if _, name := funcName(fc); env.Rel.SetReturning[name] {
					found = true
				}
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// readsOnly tells whether an expression reads nothing but r's columns, with
// no subquery, aggregate, window or volatile function.
func readsOnly(expr *pg_query.Node, r *relRef) bool {
	return computable(expr, func(cr *pg_query.ColumnRef) bool {
		names := columnRefNames(cr)
		col := names[len(names)-1]
		_, isCol := r.table.Column(col)
		return isCol && r.refersTo(cr, col)
	})
}

// computable tells whether an expression can be computed from one row on a
// datanode: every column reference passes isCol, and it holds no
// subquery, parameter, aggregate, window or volatile function.
func computable(expr *pg_query.Node, isCol func(*pg_query.ColumnRef) bool) bool {
	ok := true
	walk(expr, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.SubLink, *pg_query.ParamRef, *pg_query.GroupingFunc:
			ok = false
		case *pg_query.FuncCall:
			_, name := funcName(x)
			if x.Over != nil || x.AggStar || builtinAggregates[name] || name == "random" || name == "nextval" {
				ok = false
			}
		case *pg_query.ColumnRef:
			ok = isCol(x)
		}
		return ok
	})
	return ok
}

// nodesInSubLinks is the set of the Nodes of a statement that are inside a
// subquery of an expression or a LATERAL subquery (which PostgreSQL may run
// once per row).
func nodesInSubLinks(stmt *pg_query.Node) map[*pg_query.Node]bool {
	in := map[*pg_query.Node]bool{}
	mark := func(sub *pg_query.Node) {
		walk(sub, func(m proto.Message) bool {
			if n, ok := m.(*pg_query.Node); ok {
				in[n] = true
			}
			return true
		})
	}
	walk(stmt, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.SubLink:
			mark(x.Subselect)
			return false
		case *pg_query.RangeSubselect:
			if x.Lateral {
				mark(x.Subquery)
				return false
			}
		}
		return true
	})
	return in
}

// systemColumns are PostgreSQL's system columns and their types.
var systemColumns = []struct{ name, typ string }{
	{"ctid", "tid"}, {"xmin", "xid"}, {"xmax", "xid"}, {"cmin", "cid"}, {"cmax", "cid"}, {"tableoid", "oid"},
}

// mentionsColumnOf tells whether a statement names the column col by itself
// or qualified by alias.
func mentionsColumnOf(stmt *pg_query.Node, alias, col string) bool {
	found := false
	walk(stmt, func(m proto.Message) bool {
		if cr, ok := m.(*pg_query.ColumnRef); ok {
			names := columnRefNames(cr)
			if n := len(names); n > 0 && names[n-1] == col && (n == 1 || names[n-2] == alias) {
				found = true
			}
		}
		return !found
	})
	return found
}

// usedColumns names the columns a statement may read: every column name it
// mentions (a name counts for every table), plus "\x00alias" for a whole-row
// reference or star of alias. nil means all columns of every table (an
// unqualified *, a NATURAL join).
func usedColumns(stmt *pg_query.Node) map[string]bool {
	used := map[string]bool{}
	all := false
	walk(stmt, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.ColumnRef:
			names := columnRefNames(x)
			switch {
			case len(names) == 1 && names[0] == "*":
				all = true
			case len(names) >= 2 && names[len(names)-1] == "*":
				used["\x00"+names[len(names)-2]] = true
			default:
				for _, n := range names {
					used[n] = true
				}
				if len(names) == 1 {
					used["\x00"+names[0]] = true // a lone name may be a whole-row reference of a table
				}
			}
		case *pg_query.JoinExpr:
			if x.IsNatural {
				all = true
			}
			for _, u := range x.UsingClause {
				used[strVal(u)] = true
			}
		}
		return !all
	})
	if all {
		return nil
	}
	return used
}

// needsMergeAcrossNodes is needsMerge, except that groups keyed by a
// distribution column (or xc_node_id) never span nodes: such a grouping
// (with its aggregates and HAVING) completes on each node, and only
// ordering, limits, DISTINCT, windows and set operations need the merge.
func needsMergeAcrossNodes(env *Env, s *pg_query.SelectStmt, dist []*relRef) bool {
	if len(s.GroupClause) == 0 || s.GroupDistinct {
		return needsMerge(env, s)
	}
	if s.Op != pg_query.SetOperation_SETOP_NONE || len(s.DistinctClause) > 0 || len(s.WindowClause) > 0 ||
		len(s.SortClause) > 0 || s.LimitCount != nil || s.LimitOffset != nil {
		return true
	}
	keyed := false
	for _, g := range s.GroupClause {
		cr := g.GetColumnRef()
		if cr == nil {
			continue
		}
		if isXCNodeID(cr) {
			keyed = true
		}
		for _, r := range dist {
			if r.table.DistCol >= 0 && (r.table.Locator.Kind == distribution.Hash || r.table.Locator.Kind == distribution.Modulo) &&
				r.refersTo(cr, r.table.Locator.Column) && (len(dist) == 1 || len(columnRefNames(cr)) == 2) {
				keyed = true
			}
		}
	}
	if !keyed {
		return true
	}
	windowed := false
	for _, t := range s.TargetList {
		walk(t, func(m proto.Message) bool {
			if fc, ok := m.(*pg_query.FuncCall); ok && fc.Over != nil {
				windowed = true
			}
			return !windowed
		})
	}
	return windowed
}

// derivedTerms are terms implied for r's rows by an equality joining r to
// another table: with a.x = b.y (in WHERE or an inner join) and a term on
// b.y alone, the same term holds for a.x. They filter r's rows on the
// datanodes; the query keeps its own terms.
func derivedTerms(r *relRef, refs []*relRef) []*pg_query.Node {
	if r.sole || !r.top || r.nullable {
		return nil
	}
	var eqs []*pg_query.Node
	eqs = append(eqs, conjuncts(r.where)...)
	eqs = append(eqs, r.innerQuals...)
	var out []*pg_query.Node
	for _, e := range eqs {
		a := e.GetAExpr()
		if a == nil || a.Kind != pg_query.A_Expr_Kind_AEXPR_OP || len(a.Name) != 1 || strVal(a.Name[0]) != "=" {
			continue
		}
		l, rr := a.Lexpr.GetColumnRef(), a.Rexpr.GetColumnRef()
		if l == nil || rr == nil {
			continue
		}
		ln, rn := columnRefNames(l), columnRefNames(rr)
		if len(ln) != 2 || len(rn) != 2 {
			continue
		}
		if rn[0] == r.alias {
			ln, rn = rn, ln
		}
		if ln[0] != r.alias {
			continue
		}
		var other *relRef
		for _, o := range refs {
			if o != r && o.alias == rn[0] && o.top && !o.nullable && o.where == r.where {
				other = o
			}
		}
		if other == nil {
			continue
		}
		ci, ok1 := r.table.Column(ln[1])
		oi, ok2 := other.table.Column(rn[1])
		if !ok1 || !ok2 || typeFamily(r.table.Columns[ci].TypName) == "" ||
			typeFamily(r.table.Columns[ci].TypName) != typeFamily(other.table.Columns[oi].TypName) {
			continue
		}
		// Only a comparison of the column itself with constants holds for
		// every value equal to it: a cast, function or LIKE can tell
		// numeric 3 from 3.00, float -0 from 0 or 'x' from 'x ' apart. An
		// ordering holds for both only under the same collation.
		sameOrder := r.table.Columns[ci].Collation == other.table.Columns[oi].Collation
		for _, t := range pushableTerms(other) {
			if !comparesColumn(t, other.alias, rn[1], sameOrder) {
				continue
			}
			c := proto.Clone(t).(*pg_query.Node)
			// A quoted literal took the type of the column it was written
			// against: it keeps that type here, where the column may be
			// another of the family ('3000000000' is an int8, not an int4).
			literalType, typed := baseTypeName(other.table.Columns[oi])
			walk(c, func(m proto.Message) bool {
				switch x := m.(type) {
				case *pg_query.TypeCast:
					return false // a literal with its own type
				case *pg_query.ColumnRef:
					x.Fields = []*pg_query.Node{
						{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: r.alias}}},
						{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: ln[1]}}}}
				case *pg_query.Node:
					if k := x.GetAConst(); k != nil && !k.Isnull && k.GetSval() != nil {
						if !typed {
							c = nil
							return false
						}
						x.Node = &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{
							Arg: &pg_query.Node{Node: &pg_query.Node_AConst{AConst: k}}, TypeName: literalType}}
						return false
					}
				}
				return true
			})
			if c != nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// baseTypeName is the type name of a column's type without its modifier.
func baseTypeName(c catalog.Column) (*pg_query.TypeName, bool) {
	t := c.BaseType
	if t == "" {
		t = c.TypName
	}
	res, err := pg_query.Parse("SELECT NULL::" + t)
	if err != nil || len(res.Stmts) != 1 {
		return nil, false
	}
	tc := res.Stmts[0].Stmt.GetSelectStmt().GetTargetList()[0].GetResTarget().GetVal().GetTypeCast()
	if tc == nil {
		return nil, false
	}
	return tc.TypeName, true
}

// comparesColumn tells whether a term compares the column alias.col, as it
// is, with constants: col op const (=, <>, <, <=, >, >=, either way round;
// only = unless ordered), col [NOT] IN (consts), col [NOT] BETWEEN consts, or
// col IS [NOT] NULL.
func comparesColumn(t *pg_query.Node, alias, col string, ordered bool) bool {
	isCol := func(n *pg_query.Node) bool {
		cr := n.GetColumnRef()
		if cr == nil {
			return false
		}
		names := columnRefNames(cr)
		return len(names) == 2 && names[0] == alias && names[1] == col
	}
	var isConst func(n *pg_query.Node) bool
	isConst = func(n *pg_query.Node) bool {
		if n.GetAConst() != nil {
			return true
		}
		if tc := n.GetTypeCast(); tc != nil {
			return isConst(tc.Arg)
		}
		return false
	}
	consts := func(n *pg_query.Node) bool {
		l := n.GetList()
		if l == nil {
			return false
		}
		for _, it := range l.Items {
			if !isConst(it) {
				return false
			}
		}
		return true
	}
	if nt := t.GetNullTest(); nt != nil {
		return isCol(nt.Arg)
	}
	a := t.GetAExpr()
	if a == nil || len(a.Name) != 1 {
		return false
	}
	op := strVal(a.Name[0])
	switch a.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		switch op {
		case "=":
		case "<>", "!=", "<", "<=", ">", ">=":
			if !ordered {
				return false
			}
		default:
			return false
		}
		return isCol(a.Lexpr) && isConst(a.Rexpr) || isConst(a.Lexpr) && isCol(a.Rexpr)
	case pg_query.A_Expr_Kind_AEXPR_IN:
		return (op == "=" || ordered) && isCol(a.Lexpr) && consts(a.Rexpr)
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		return ordered && isCol(a.Lexpr) && consts(a.Rexpr)
	}
	return false
}

// sameMap tells whether two locators over the same nodes send every bucket
// to the same node.
func sameMap(a, b *distribution.Locator) bool {
	if a.Map == nil && b.Map == nil {
		return true
	}
	return slices.Equal(a.Map.Full(len(a.Nodes)), b.Map.Full(len(b.Nodes)))
}
