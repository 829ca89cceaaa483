package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/pgerr"
)

// relRef is one mention of a relation in a statement.
type relRef struct {
	holder *pg_query.Node // the Node that holds the RangeVar; nil for a statement's target
	rv     *pg_query.RangeVar
	table  *catalog.Table // nil when not in the distribution catalog
	alias  string         // the name columns are qualified with
	where  *pg_query.Node // the WHERE clause of the query level whose FROM holds it
	sole   bool           // the only FROM item of that level
	top    bool           // in the FROM of the statement's top level
	// nullable: on the nullable side of an outer join, where each node would
	// add NULL-extended rows of its own.
	nullable bool
	pinned   []string // nodes its rows can be on under where; nil: all of its nodes
	// pinnedBy is the constant or parameter of a `col = value` term that
	// pinned the reference to one node.
	pinnedBy *pg_query.Node
	// innerQuals are the conditions of the inner joins of its query level.
	innerQuals []*pg_query.Node
	// sample is the Node holding the TABLESAMPLE clause the reference is
	// read with, if any: each datanode samples its own rows.
	sample *pg_query.Node
}

func (r *relRef) distributed() bool {
	return r.table != nil && r.table.Locator.Kind != distribution.Replication
}

func (r *relRef) replicated() bool {
	return r.table != nil && r.table.Locator.Kind == distribution.Replication
}

// nodes are the nodes that hold rows of the reference the query can see.
func (r *relRef) nodes() []string {
	if r.pinned != nil {
		return r.pinned
	}
	return r.table.Locator.Nodes
}

type fromInfo struct {
	where      *pg_query.Node
	sole       bool
	top        bool
	nullable   bool
	innerQuals []*pg_query.Node
}

// collectRefs finds every relation a statement mentions, with the WHERE
// clause that filters it. The top level is stmt's own FROM (or USING).
func collectRefs(env *Env, stmt *pg_query.Node) ([]*relRef, error) {
	cte := map[string]bool{}
	from := map[*pg_query.RangeVar]fromInfo{}
	var holders []*pg_query.Node
	samples := map[*pg_query.RangeVar]*pg_query.Node{}
	var topSel proto.Message
	switch {
	case stmt.GetSelectStmt() != nil:
		topSel = stmt.GetSelectStmt()
	case stmt.GetUpdateStmt() != nil:
		topSel = stmt.GetUpdateStmt()
	case stmt.GetDeleteStmt() != nil:
		topSel = stmt.GetDeleteStmt()
	}
	register := func(owner proto.Message, items []*pg_query.Node, where *pg_query.Node) {
		var quals []*pg_query.Node
		var collect func(n *pg_query.Node)
		collect = func(n *pg_query.Node) {
			if j := n.GetJoinExpr(); j != nil {
				if j.Jointype == pg_query.JoinType_JOIN_INNER {
					quals = append(quals, conjuncts(j.Quals)...)
				}
				collect(j.Larg)
				collect(j.Rarg)
			}
		}
		for _, it := range items {
			collect(it)
		}
		var add func(n *pg_query.Node, nullable bool)
		add = func(n *pg_query.Node, nullable bool) {
			if rv := n.GetRangeVar(); rv != nil {
				from[rv] = fromInfo{where: where, sole: len(items) == 1 && items[0] == n, top: owner == topSel, nullable: nullable, innerQuals: quals}
			} else if rv := n.GetRangeTableSample().GetRelation().GetRangeVar(); rv != nil {
				from[rv] = fromInfo{where: where, sole: len(items) == 1 && items[0] == n, top: owner == topSel, nullable: nullable, innerQuals: quals}
			} else if j := n.GetJoinExpr(); j != nil {
				switch j.Jointype {
				case pg_query.JoinType_JOIN_LEFT:
					add(j.Larg, nullable)
					add(j.Rarg, true)
				case pg_query.JoinType_JOIN_RIGHT:
					add(j.Larg, true)
					add(j.Rarg, nullable)
				case pg_query.JoinType_JOIN_FULL:
					add(j.Larg, true)
					add(j.Rarg, true)
				default:
					add(j.Larg, nullable)
					add(j.Rarg, nullable)
				}
			}
		}
		for _, it := range items {
			add(it, false)
		}
	}
	walk(stmt, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.CommonTableExpr:
			cte[x.Ctename] = true
		case *pg_query.SelectStmt:
			register(x, x.FromClause, x.WhereClause)
		case *pg_query.UpdateStmt:
			register(x, x.FromClause, x.WhereClause)
		case *pg_query.DeleteStmt:
			register(x, x.UsingClause, x.WhereClause)
		case *pg_query.LockingClause:
			return false // FOR UPDATE OF names FROM items, it reads nothing
		case *pg_query.Node:
			if x.GetRangeVar() != nil {
				holders = append(holders, x)
				return false
			}
			if rv := x.GetRangeTableSample().GetRelation().GetRangeVar(); rv != nil {
				samples[rv] = x
			}
		}
		return true
	})
	// One walk found the FROM items, the WITH names and the relations; the
	// relations are resolved now that every WITH name is known.
	var refs []*relRef
	var err error
	for _, n := range holders {
		rv := n.GetRangeVar()
		if rv.Schemaname == "" && cte[rv.Relname] {
			if t, _ := env.Rel.Resolve("", rv.Relname, env.SearchPath); t != nil {
				return nil, pgerr.Unsupported("a WITH query named like the distributed table %q", rv.Relname)
			}
			continue
		}
		ref, e := resolveRef(env, rv)
		if e != nil {
			return nil, e
		}
		ref.holder = n
		ref.sample = samples[rv]
		if fi, ok := from[rv]; ok {
			ref.where, ref.sole, ref.top, ref.nullable, ref.innerQuals = fi.where, fi.sole, fi.top, fi.nullable, fi.innerQuals
		}
		refs = append(refs, ref)
	}
	_ = err
	for _, r := range refs {
		if r.distributed() {
			r.pinned, r.pinnedBy = pinNodes(r, r.where, env)
		}
	}
	return refs, nil
}

// withSample puts the TABLESAMPLE clause r is read with, if any, around the
// only FROM item of a remote query of r: each node samples its own rows,
// and together they are a sample of the table.
func withSample(r *relRef, sel *pg_query.SelectStmt) {
	if r.sample == nil {
		return
	}
	ts := proto.Clone(r.sample.GetRangeTableSample()).(*pg_query.RangeTableSample)
	ts.Relation = sel.FromClause[0]
	sel.FromClause[0] = &pg_query.Node{Node: &pg_query.Node_RangeTableSample{RangeTableSample: ts}}
}

// resolveRef looks a RangeVar up in the catalog.
func resolveRef(env *Env, rv *pg_query.RangeVar) (*relRef, error) {
	t, distView := env.Rel.Resolve(rv.Schemaname, rv.Relname, env.SearchPath)
	if distView {
		return nil, pgerr.Unsupported("views over distributed tables are not supported yet (view %q)", rv.Relname)
	}
	if t != nil && t.Locator.Rewriting {
		return nil, &distribution.MovingError{Bucket: -1}
	}
	ref := &relRef{rv: rv, table: t, alias: rv.Relname}
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		ref.alias = rv.Alias.Aliasname
	}
	return ref, nil
}

// refersTo tells whether a ColumnRef names column col of the reference.
func (r *relRef) refersTo(cr *pg_query.ColumnRef, col string) bool {
	names := columnRefNames(cr)
	switch len(names) {
	case 1:
		return names[0] == col
	case 2:
		return names[0] == r.alias && names[1] == col
	case 3:
		return names[0] == r.rv.Schemaname && names[1] == r.rv.Relname && names[2] == col && r.rv.Alias == nil
	}
	return false
}

// pinNodes finds the nodes a WHERE clause confines a hash or modulo table's
// rows to: `col = const` or `col IN (consts)` as a top-level AND term.
func pinNodes(r *relRef, where *pg_query.Node, env *Env) ([]string, *pg_query.Node) {
	params := env.Params
	loc := &r.table.Locator
	if loc.Kind != distribution.Hash && loc.Kind != distribution.Modulo || r.table.DistCol < 0 {
		return nil, nil
	}
	col := loc.Column
	typ := loc.TypeName
	nodeOf := func(v *pg_query.Node) (string, bool) {
		text, isNull, ok := constText(v, typ)
		if pr := v.GetParamRef(); pr != nil && int(pr.Number) >= 1 && int(pr.Number) <= len(params) {
			p := params[pr.Number-1]
			if p.Deferred {
				// One node, the value's: the executor finds it by the
				// plan's Route. The first stands for it meanwhile.
				if !deferredPin(p.Type, typ) {
					return "", false
				}
				return loc.Nodes[0], true
			}
			if typeFamily(p.Type) == "" || typeFamily(p.Type) != typeFamily(typ) {
				return "", false
			}
			text, isNull = env.paramValue(p)
			ok = true
		}
		if !ok || isNull {
			return "", false
		}
		return nodeOfText(loc, typ, text)
	}
	for _, c := range conjuncts(where) {
		e := c.GetAExpr()
		if e == nil || len(e.Name) != 1 || strVal(e.Name[0]) != "=" {
			continue
		}
		switch e.Kind {
		case pg_query.A_Expr_Kind_AEXPR_OP:
			l, rr := e.Lexpr, e.Rexpr
			if cr := rr.GetColumnRef(); cr != nil && l.GetColumnRef() == nil {
				l, rr = rr, l
			}
			cr := l.GetColumnRef()
			if cr == nil || !r.refersTo(cr, col) {
				continue
			}
			if n, ok := nodeOf(rr); ok {
				return []string{n}, rr
			}
		case pg_query.A_Expr_Kind_AEXPR_IN:
			cr := e.Lexpr.GetColumnRef()
			list := e.Rexpr.GetList()
			if cr == nil || list == nil || !r.refersTo(cr, col) {
				continue
			}
			set := map[string]bool{}
			ok := true
			for _, it := range list.Items {
				n, good := nodeOf(it)
				if !good {
					ok = false
					break
				}
				set[n] = true
			}
			if !ok {
				continue
			}
			var out []string
			for _, n := range loc.Nodes {
				if set[n] {
					out = append(out, n)
				}
			}
			return out, nil
		}
	}
	return nil, nil
}

// isSpecial tells whether a RangeVar names one of the catalog views the
// coordinator answers itself.
func isSpecial(rv *pg_query.RangeVar) bool {
	if rv.Schemaname != "" && rv.Schemaname != "pg_catalog" {
		return false
	}
	switch rv.Relname {
	case "pgxc_node", "pgxc_group", "pgxc_class", "pgxc_rebalance_status", "pgxc_stat_activity":
		return true
	}
	return false
}

// checkNestedWrites refuses INSERT, UPDATE or DELETE of catalog tables
// nested in a statement (data-modifying WITH): they would run on one node.
func checkNestedWrites(env *Env, stmt *pg_query.Node, top proto.Message) error {
	var err error
	walk(stmt, func(m proto.Message) bool {
		if err != nil {
			return false
		}
		var rv *pg_query.RangeVar
		switch x := m.(type) {
		case *pg_query.InsertStmt:
			if x != top {
				rv = x.Relation
			}
		case *pg_query.UpdateStmt:
			if x != top {
				rv = x.Relation
			}
		case *pg_query.DeleteStmt:
			if x != top {
				rv = x.Relation
			}
		case *pg_query.MergeStmt:
			err = pgerr.Unsupported("MERGE is not supported yet")
			return false
		}
		if rv != nil {
			if t, view := env.Rel.Resolve(rv.Schemaname, rv.Relname, env.SearchPath); t != nil || view {
				err = pgerr.Unsupported("data-modifying statements in WITH over distributed tables")
			}
		}
		return true
	})
	return err
}

// callsVolatile names a volatile function a tree calls, if any.
func callsVolatile(env *Env, m proto.Message) string {
	found := ""
	walk(m, func(x proto.Message) bool {
		if fc, ok := x.(*pg_query.FuncCall); ok {
			if _, name := funcName(fc); env.Rel.Volatile[name] {
				found = name
			}
		}
		return found == ""
	})
	return found
}
